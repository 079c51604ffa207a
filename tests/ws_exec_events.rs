//! The `executions` events a diff of the state cannot see, which the engine reports itself
//! (`engine::events`): every amend of a batch, `iceberg_refill`, `restated`; then, through the
//! real server and a real WebSocket client, `expired` on the test clock, `iceberg_refill` among
//! its fills, `restated` by the simulated market's ladder, and `ratecounter` (`maxratecount` in
//! the ack, `ratecount` in updates, equal to the REST view of the same counter).

mod common;
mod engine_model;

use calamari::engine::amend::{AmendRequest, AmendTarget};
use calamari::engine::ladder::Requote;
use calamari::engine::order::{NewOrder, OrderKind, OrderSeq, Side};
use calamari::engine::{Applied, Command, Exchange};
use calamari::ws::private::capture::{Channel, Request, Tracker, Watchers};
use common::ws::{self, open, token, until, Socket};
use common::{ok, Key, Server};
use engine_model::sim::Sim;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const BTC: i128 = 10_000_000_000;
const DOLLAR: i128 = 10_000;

// ---- the engine and the capture, no server ----

fn place(sim: &mut Sim, req: NewOrder) -> OrderSeq {
    match sim.apply(Command::PlaceOrder(req)) {
        Ok(Applied::OrderPlaced(seq)) => seq,
        other => panic!("place: {other:?}"),
    }
}

fn amend(sim: &mut Sim, account: u32, seq: OrderSeq, qty: Option<i128>, price: Option<u64>) {
    let r = AmendRequest {
        account,
        target: AmendTarget::Order(seq),
        order_qty: qty,
        limit_price: price,
        trigger_price: None,
        display_qty: None,
        post_only: false,
        trigger_offset: None,
        limit_offset: None,
    };
    assert!(matches!(sim.apply(Command::Amend(r)), Ok(Applied::Amended(_))));
}

/// The executions entries of one capture (one batch), in order. The batch's history then leaves
/// the engine, as the sequencer's engine thread drains it after each batch.
fn capture(tracker: &mut Tracker, ex: &mut Exchange, w: &Watchers) -> Vec<Value> {
    let now = ex.now_ns;
    let batch = tracker.capture(ex, w, now, &|| {});
    ex.history_out = Default::default();
    batch
        .msgs
        .iter()
        .filter(|m| m.channel == Channel::Executions && m.conn.is_none())
        .flat_map(|m| serde_json::from_str::<Value>(m.text.as_deref().unwrap()).unwrap()["data"].as_array().unwrap().clone())
        .collect()
}

fn kinds(ev: &[Value]) -> Vec<&str> {
    ev.iter().map(|e| e["exec_type"].as_str().unwrap()).collect()
}

fn watch(sim: &mut Sim, account: u32) -> (Tracker, Watchers) {
    let (mut tracker, w) = (Tracker::new(), Watchers::default());
    let ack = std::sync::Arc::from("ack");
    w.watch(Request { conn: 1, account, channel: Channel::Executions, snap_orders: false, snap_trades: false, ack });
    capture(&mut tracker, &mut sim.ex, &w); // the baseline
    (tracker, w)
}

#[test]
fn two_amends_in_one_batch_are_two_amended_events_with_their_own_figures() {
    let mut sim = Sim::new(1, 2, [1_000_000 * DOLLAR, 10 * BTC, 10 * BTC]);
    let a = sim.users[0];
    let (mut tracker, w) = watch(&mut sim, a);
    let o = place(&mut sim, NewOrder::limit(a, 0, Side::Buy, 590_000, BTC));
    sim.advance(1_000_000);
    amend(&mut sim, a, o, Some(BTC / 2), None);
    sim.advance(1_000_000);
    amend(&mut sim, a, o, None, Some(591_000));
    let ev = capture(&mut tracker, &mut sim.ex, &w);
    assert_eq!(kinds(&ev), ["pending_new", "new", "amended", "amended"], "{ev:?}");
    let txid = sim.ex.order_txid(o);
    for (e, qty, price) in [(&ev[2], 0.5, 59000), (&ev[3], 0.5, 59100)] {
        let obj = e.as_object().unwrap();
        assert_eq!(
            obj.keys().map(String::as_str).collect::<Vec<_>>(),
            ["order_id", "exec_type", "order_status", "timestamp", "order_qty", "limit_price", "post_only", "amended", "reason"],
            "{e}"
        );
        assert_eq!(
            (&e["order_id"], &e["order_status"], &e["order_qty"], &e["limit_price"], &e["amended"], &e["reason"]),
            (&json!(txid), &json!("new"), &json!(qty), &json!(price), &json!(true), &json!("User requested")),
            "{e}"
        );
    }
    assert_ne!(ev[2]["timestamp"], ev[3]["timestamp"], "each amend at its own time");
    // The next batch reports nothing more: the list was drained.
    assert!(capture(&mut tracker, &mut sim.ex, &w).is_empty());
}

#[test]
fn an_iceberg_refill_comes_between_the_fills_that_caused_it() {
    let mut sim = Sim::new(2, 2, [1_000_000 * DOLLAR, 10 * BTC, 10 * BTC]);
    let (a, b) = (sim.users[0], sim.users[1]);
    let (mut tracker, w) = watch(&mut sim, a);
    let ice = NewOrder {
        kind: OrderKind::Iceberg,
        ..NewOrder::limit(a, 0, Side::Sell, 600_000, BTC).with_rare(|r| r.display_volume = Some(BTC / 10))
    };
    let ice = place(&mut sim, ice);
    place(&mut sim, NewOrder::limit(b, 0, Side::Buy, 600_000, BTC / 10));
    place(&mut sim, NewOrder::limit(b, 0, Side::Buy, 600_000, BTC / 20));
    let ev = capture(&mut tracker, &mut sim.ex, &w);
    assert_eq!(kinds(&ev), ["pending_new", "new", "trade", "iceberg_refill", "trade"], "{ev:?}");
    let r = &ev[3];
    assert_eq!(
        r.as_object().unwrap().keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "order_id",
            "exec_type",
            "order_status",
            "timestamp",
            "order_qty",
            "display_qty",
            "display_qty_remain",
            "cum_qty",
            "cum_cost",
            "avg_price"
        ],
        "{r}"
    );
    assert_eq!(
        (&r["order_id"], &r["order_status"], &r["order_qty"], &r["display_qty"], &r["display_qty_remain"]),
        (&json!(sim.ex.order_txid(ice)), &json!("partially_filled"), &json!(1), &json!(0.1), &json!(0.1)),
        "{r}"
    );
    assert_eq!((&r["cum_qty"], &r["cum_cost"], &r["avg_price"]), (&json!(0.1), &json!(6000), &json!(60000)), "{r}");
    assert_eq!(ev[4]["cum_qty"], json!(0.15), "the fill after the refill");
    // An account nobody watches costs nothing: its refills are not even kept.
    let ice_b = NewOrder {
        kind: OrderKind::Iceberg,
        ..NewOrder::limit(b, 0, Side::Buy, 590_000, BTC).with_rare(|r| r.display_volume = Some(BTC / 10))
    };
    place(&mut sim, ice_b);
    place(&mut sim, NewOrder::limit(a, 0, Side::Sell, 590_000, BTC / 10));
    let ev = capture(&mut tracker, &mut sim.ex, &w);
    assert_eq!(kinds(&ev), ["pending_new", "new", "trade", "filled"], "only a's own taker order: {ev:?}");
    w.unwatch(a);
    capture(&mut tracker, &mut sim.ex, &w);
    place(&mut sim, NewOrder::limit(b, 0, Side::Buy, 600_000, BTC / 20));
    assert!(sim.ex.order_events.take().is_empty(), "no watcher: nothing pushed");
}

#[test]
fn a_requote_that_reprices_an_order_in_place_is_restated() {
    let mut sim = Sim::new(3, 1, [10_000_000 * DOLLAR, 100 * BTC, 100 * BTC]);
    let m = sim.users[0];
    let (mut tracker, w) = watch(&mut sim, m);
    let q = |bid: u64, ask: u64| Requote {
        account: m,
        pair: 0,
        index: (bid + ask) / 2,
        bid,
        ask,
        step: 1_000,
        levels: 2,
        size: BTC / 10,
        jitter_ppm: 0,
        seed: 7,
    };
    sim.apply(Command::Requote(q(590_000, 600_000))).unwrap();
    let first = capture(&mut tracker, &mut sim.ex, &w);
    assert_eq!(kinds(&first).iter().filter(|k| **k == "new").count(), 4, "{first:?}");
    // One level each side moves: the orders there are re-priced in place (same ids).
    sim.advance(1_000_000_000);
    sim.apply(Command::Requote(q(589_000, 601_000))).unwrap();
    let ev = capture(&mut tracker, &mut sim.ex, &w);
    assert_eq!(kinds(&ev), ["restated", "restated"], "{ev:?}");
    let ids: Vec<&Value> = first.iter().filter(|e| e["exec_type"] == "new").map(|e| &e["order_id"]).collect();
    for e in &ev {
        assert!(ids.contains(&&e["order_id"]), "an order of the first ladder: {e}");
        assert_eq!(
            e.as_object().unwrap().keys().map(String::as_str).collect::<Vec<_>>(),
            ["order_id", "exec_type", "order_status", "timestamp", "order_qty", "limit_price", "amended", "reason"],
            "{e}"
        );
        assert_eq!((&e["order_status"], &e["order_qty"], &e["amended"]), (&json!("new"), &json!(0.1), &json!(false)), "{e}");
        assert_eq!(e["reason"], calamari::ws::private::executions::RESTATED_REASON);
    }
    let mut prices: Vec<i64> = ev.iter().map(|e| e["limit_price"].as_i64().unwrap()).collect();
    prices.sort();
    assert_eq!(prices, [58800, 60200], "the far levels the new ladder asks for");
}

// ---- through the server ----

/// A new connection subscribed to `k`'s executions (no snapshot, `extra` params); its ack.
fn subscribe(s: &Server, k: &Key, extra: Value) -> (Socket, Value) {
    let mut ws = open(s);
    let mut params = json!({"channel": "executions", "token": token(s, k), "snap_orders": false});
    params.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let ack = ws::subscribe(&mut ws, params, 1);
    assert_eq!(ack["success"], true, "{ack}");
    (ws, ack)
}

/// The executions update entries of `msgs` about `order`.
fn of(msgs: &[Value], order: &str) -> Vec<Value> {
    msgs.iter()
        .filter(|m| m["channel"] == "executions" && m["type"] == "update")
        .flat_map(|m| m["data"].as_array().unwrap().clone())
        .filter(|e| e["order_id"] == order)
        .collect()
}

fn add(s: &Server, k: &Key, params: &[(&str, &str)]) -> String {
    let mut p = vec![("pair", "XBTUSD")];
    p.extend_from_slice(params);
    ok(&s.private(k, "AddOrder", &p))["txid"][0].as_str().unwrap().to_string()
}

#[test]
fn a_gtd_order_expiring_on_the_test_clock_is_expired_over_the_websocket() {
    let s = Server::start_with(&[], &[("CALAMARI_TEST_CLOCK", "1")]);
    let k = s.account("alice", "10000", "1", "all");
    let (mut ws, _) = subscribe(&s, &k, json!({}));
    let now = ok(&s.public("Time", ""))["unixtime"].as_u64().unwrap();
    let expire = (now + 60).to_string();
    let id = add(
        &s,
        &k,
        &[("type", "buy"), ("ordertype", "limit"), ("price", "30000"), ("volume", "0.01"), ("timeinforce", "GTD"), ("expiretm", &expire)],
    );
    let placed = of(&until(&mut ws, 5.0, |v| v["data"][0]["exec_type"] == "new"), &id);
    assert_eq!(placed[0]["expire_time"], common_rfc3339(now + 60), "{placed:?}");
    s.admin_post("/admin/clock/advance", json!({"seconds": 61})).unwrap();
    // The expiry is applied before the next job the engine runs (any call).
    ok(&s.private(&k, "OpenOrders", &[]));
    let ev = of(&until(&mut ws, 5.0, |v| v["data"][0]["exec_type"] == "expired"), &id);
    let e = ev.last().unwrap();
    assert_eq!(
        e.as_object().unwrap().keys().map(String::as_str).collect::<Vec<_>>(),
        ["order_id", "exec_type", "order_status", "timestamp", "cum_qty", "cum_cost", "avg_price", "fee_usd_equiv"],
        "{e}"
    );
    assert_eq!(
        (&e["order_status"], &e["timestamp"], &e["cum_qty"], &e["cum_cost"], &e["avg_price"], &e["fee_usd_equiv"]),
        (&json!("expired"), &common_rfc3339(now + 60), &json!(0), &json!(0), &json!(0), &json!(0)),
        "{e}"
    );
    let rest = ok(&s.private(&k, "QueryOrders", &[("txid", &id)]))[&id].clone();
    assert_eq!(rest["status"], "expired", "{rest}");
    s.assert_no_panics();
}

fn common_rfc3339(secs: u64) -> Value {
    let s = calamari::ws::channels::rfc3339(secs * 1_000_000_000);
    json!(s)
}

#[test]
fn iceberg_refill_and_ratecount_reach_the_client_with_rest_s_counter() {
    // The test clock stands still unless moved, so the counter does not drain under the test.
    let s = Server::start_with(&[], &[("CALAMARI_TEST_CLOCK", "1")]);
    let alice = s.account("alice", "100000", "10", "all");
    let bob = s.account("bob", "100000", "10", "all");
    let (mut ws, ack) = subscribe(&s, &alice, json!({"ratecounter": true}));
    let (mut plain, _) = subscribe(&s, &alice, json!({}));
    let (mut quiet, _) = subscribe(&s, &alice, json!({"order_status": false}));
    assert_eq!(ack["result"]["ratecounter"], true, "{ack}");
    // The harness's accounts are intermediate: Kraken's Intermediate threshold (the figure of the
    // docs' example ack too); a starter account gets 60.
    assert_eq!(ack["result"]["maxratecount"], json!(125), "{ack}");
    s.cli(&["account", "tier", "bob", "starter"]);
    let (_, bob_ack) = subscribe(&s, &bob, json!({"ratecounter": true}));
    assert_eq!(bob_ack["result"]["maxratecount"], json!(60), "{bob_ack}");
    let (_, no_rc) = subscribe(&s, &bob, json!({}));
    assert!(no_rc["result"].get("maxratecount").is_none(), "{no_rc}");

    let ice = add(&s, &alice, &[("type", "sell"), ("ordertype", "iceberg"), ("price", "60000"), ("volume", "1"), ("displayvol", "0.1")]);
    add(&s, &bob, &[("type", "buy"), ("ordertype", "limit"), ("price", "60000"), ("volume", "0.1")]);
    let ev = of(&until(&mut ws, 5.0, |v| v["data"][0]["exec_type"] == "iceberg_refill"), &ice);
    assert_eq!(kinds(&ev), ["pending_new", "new", "trade", "iceberg_refill"], "{ev:?}");
    let r = &ev[3];
    assert_eq!(
        (&r["order_status"], &r["display_qty"], &r["display_qty_remain"], &r["cum_qty"]),
        (&json!("partially_filled"), &json!(0.1), &json!(0.1), &json!(0.1)),
        "{r}"
    );
    // Alice's one AddOrder on XBTUSD: her counter there is 1.
    for e in &ev {
        assert_eq!(e["ratecount"], json!(1), "{e}");
    }
    // The subscription without ratecounter gets the same events without it.
    let ev = of(&until(&mut plain, 5.0, |v| v["data"][0]["exec_type"] == "iceberg_refill"), &ice);
    assert_eq!(kinds(&ev), ["pending_new", "new", "trade", "iceberg_refill"]);
    assert!(ev.iter().all(|e| e.get("ratecount").is_none()), "{ev:?}");
    // order_status=false: the fills, not the refill (a status transition).
    let ev = of(&until(&mut quiet, 5.0, |v| v["data"][0]["exec_type"] == "trade"), &ice);
    assert_eq!(kinds(&ev), ["new", "trade"], "{ev:?}");
    // A cancel of a young order costs 8 more (Kraken's table): the next updates say 9.
    ok(&s.private(&alice, "CancelOrder", &[("txid", &ice)]));
    let ev = of(&until(&mut ws, 5.0, |v| v["data"][0]["exec_type"] == "canceled"), &ice);
    assert_eq!(ev.last().unwrap()["ratecount"], json!(9), "{ev:?}");
    let ev = of(&until(&mut quiet, 5.0, |v| v["data"][0]["exec_type"] == "canceled"), &ice);
    assert_eq!(kinds(&ev), ["canceled"], "no refill event in between: {ev:?}");
    s.assert_no_panics();
}

#[test]
fn the_simulated_market_s_requotes_are_restated_to_a_client_watching_its_maker() {
    let s = Server::start_with(&["--market", "on"], &[]);
    // The simulator makes its accounts just after start-up: a key for its maker once it exists.
    let args = ["key", "create", "--account", "sim-maker", "--name", "watch", "--permissions", "all", "--json"];
    let end = Instant::now() + Duration::from_secs(15);
    let out = loop {
        match s.try_cli(&args) {
            (true, out) => break out,
            (false, why) if Instant::now() > end => panic!("no sim-maker account: {why}"),
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    let v: Value = serde_json::from_str(out.lines().next().unwrap_or("")).expect("key json");
    let k = Key { key: v["key"].as_str().unwrap().into(), secret: v["secret"].as_str().unwrap().into() };
    let (mut ws, _) = subscribe(&s, &k, json!({}));
    let ev = until(&mut ws, 30.0, |v| v["data"][0]["exec_type"] == "restated");
    let e = &ev.last().unwrap()["data"][0];
    assert_eq!(
        e.as_object().unwrap().keys().map(String::as_str).collect::<Vec<_>>(),
        ["order_id", "exec_type", "order_status", "timestamp", "order_qty", "limit_price", "amended", "reason"],
        "{e}"
    );
    let id = e["order_id"].as_str().unwrap();
    let rest = ok(&s.private(&k, "QueryOrders", &[("txid", id)]))[id].clone();
    // The order REST shows has the restated price (or has moved again since).
    assert_eq!(rest["descr"]["ordertype"], "limit", "{rest}");
    assert_eq!(e["reason"], calamari::ws::private::executions::RESTATED_REASON);
    s.assert_no_panics();
}
