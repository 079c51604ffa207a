//! AddOrder's flags and options and the dead man's switch through the real server on its test
//! clock (`CALAMARI_TEST_CLOCK=1`, `/admin/clock/advance`): iceberg (Depth shows only the
//! display part, a refill goes to the back of its level), GTD expiry (status `expired` at
//! `expiretm`, hold released), `starttm` (pending, then in the book), viqc, `deadline`, the
//! margin parameters' spot refusals, `userref`/`cl_ord_id`, the three `stptype` modes,
//! CancelAllOrdersAfter (reset by each call, 0 disables, fires at its time), every refusal
//! changing nothing, and a restart that keeps every timer.

mod common;

use common::{err, ok, Key, Server};
use serde_json::{json, Value};

fn advance(s: &Server, seconds: u64) {
    s.admin_post("/admin/clock/advance", json!({ "seconds": seconds })).unwrap();
}

fn start() -> Server {
    Server::start_with(&["--limits", "off"], &[("CALAMARI_TEST_CLOCK", "1")])
}

fn place(s: &Server, k: &Key, params: &[(&str, &str)]) -> String {
    let r = s.private(k, "AddOrder", params);
    ok(&r)["txid"][0].as_str().unwrap_or_else(|| panic!("{r}")).to_string()
}

fn order(s: &Server, k: &Key, txid: &str) -> Value {
    ok(&s.private(k, "QueryOrders", &[("txid", txid)]))[txid].clone()
}

fn num(v: &Value) -> f64 {
    v.as_str().map_or_else(|| v.as_f64().unwrap(), |s| s.parse().unwrap())
}

/// The volume Depth shows at `price` on a side of XBTUSD (0 when there is no such level).
fn depth_at(s: &Server, side: &str, price: f64) -> f64 {
    let d = ok(&s.public("Depth", "pair=XBTUSD&count=50")).clone();
    let levels = d["XXBTZUSD"][side].as_array().unwrap().clone();
    levels.iter().filter(|l| num(&l[0]) == price).map(|l| num(&l[1])).sum()
}

fn hold(s: &Server, k: &Key, asset: &str) -> f64 {
    let b = ok(&s.private(k, "BalanceEx", &[])).clone();
    b[asset]["hold_trade"].as_str().map_or(0.0, |h| h.parse().unwrap())
}

fn digest(s: &Server) -> String {
    let audit: Value = serde_json::from_str(&s.cli(&["audit"])).unwrap();
    assert_eq!(audit["ok"], true, "{audit}");
    audit["digest"].as_str().unwrap().to_string()
}

fn limit<'a>(side: &'a str, price: &'a str, volume: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("pair", "XBTUSD"), ("type", side), ("ordertype", "limit"), ("price", price), ("volume", volume)]
}

fn with<'a>(mut base: Vec<(&'a str, &'a str)>, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    base.extend_from_slice(extra);
    base
}

#[test]
fn iceberg_shows_its_display_part_and_a_refill_loses_priority() {
    let s = start();
    let alice = s.account("alice", "0", "5", "all");
    let carol = s.account("carol", "0", "5", "all");
    let bob = s.account("bob", "100000", "0", "all");
    let iceberg = [("pair", "XBTUSD"), ("type", "sell"), ("ordertype", "iceberg"), ("price", "30000"), ("volume", "1.5")];

    // Kraken's rules: a display volume, at least 1/15 of the volume, on limit orders only.
    let before = digest(&s);
    assert_eq!(err(&s.private(&alice, "AddOrder", &iceberg)), "EGeneral:Invalid arguments:displayvol");
    assert_eq!(
        err(&s.private(&alice, "AddOrder", &with(iceberg.to_vec(), &[("displayvol", "0.09")]))),
        "EGeneral:Invalid arguments:displayvol"
    );
    assert_eq!(
        err(&s.private(&alice, "AddOrder", &with(iceberg.to_vec(), &[("displayvol", "1.6")]))),
        "EGeneral:Invalid arguments:displayvol"
    );
    let market = [("pair", "XBTUSD"), ("type", "sell"), ("ordertype", "market"), ("volume", "1"), ("displayvol", "0.1")];
    assert_eq!(err(&s.private(&alice, "AddOrder", &market)), "EGeneral:Invalid arguments:displayvol");
    assert_eq!(digest(&s), before, "refusals change nothing");

    // validate answers the descr and places nothing.
    let v = ok(&s.private(&alice, "AddOrder", &with(iceberg.to_vec(), &[("displayvol", "0.1"), ("validate", "true")]))).clone();
    assert_eq!(v, json!({ "descr": { "order": "sell 1.50000000 XBTUSD @ limit 30000.0" } }));
    assert_eq!(digest(&s), before);

    let ice = place(&s, &alice, &with(iceberg.to_vec(), &[("displayvol", "0.1")]));
    let plain = place(&s, &carol, &limit("sell", "30000", "0.2"));
    // Only the display part is visible; the whole order is held.
    assert_eq!(depth_at(&s, "asks", 30000.0), 0.3);
    assert_eq!(hold(&s, &alice, "XXBT"), 1.5);
    let o = order(&s, &alice, &ice);
    assert_eq!(
        (o["status"].as_str(), o["descr"]["ordertype"].as_str(), o["vol"].as_str()),
        (Some("open"), Some("iceberg"), Some("1.50000000"))
    );
    assert_eq!(o["descr"]["order"], "sell 1.50000000 XBTUSD @ limit 30000.0");

    // A taker meets the iceberg first (it was first) but only its display part; the refill
    // goes behind carol's order.
    place(&s, &bob, &limit("buy", "30000", "0.1"));
    assert_eq!(order(&s, &alice, &ice)["vol_exec"], "0.10000000");
    assert_eq!(depth_at(&s, "asks", 30000.0), 0.3, "refilled");
    place(&s, &bob, &limit("buy", "30000", "0.25"));
    assert_eq!(order(&s, &carol, &plain)["status"], "closed", "carol's order now comes first");
    assert_eq!(order(&s, &alice, &ice)["vol_exec"], "0.15000000");
    assert!((depth_at(&s, "asks", 30000.0) - 0.05).abs() < 1e-9);

    // A taker larger than the display part keeps meeting refills until it is done.
    place(&s, &bob, &limit("buy", "30000", "1.0"));
    let o = order(&s, &alice, &ice);
    assert_eq!((o["vol_exec"].as_str(), o["status"].as_str()), (Some("1.15000000"), Some("open")));
    // 0.05 + nine refills of 0.1 + 0.05 of the tenth: 0.05 of it still shows.
    assert!((depth_at(&s, "asks", 30000.0) - 0.05).abs() < 1e-9, "{}", depth_at(&s, "asks", 30000.0));
    assert!((hold(&s, &alice, "XXBT") - 0.35).abs() < 1e-9);
    s.assert_no_panics();
}

#[test]
fn gtd_expires_at_its_time_and_releases_its_hold() {
    let s = start();
    let k = s.account("alice", "10000", "0", "all");
    let bid = limit("buy", "20000", "0.1");
    let before = digest(&s);
    for (extra, error) in [
        (vec![("timeinforce", "GTD")], "EGeneral:Invalid arguments:expiretm"),
        (vec![("timeinforce", "GTD"), ("expiretm", "1000")], "EGeneral:Invalid arguments:expiretm"),
        (vec![("timeinforce", "GTC"), ("expiretm", "+60")], "EGeneral:Invalid arguments:expiretm"),
        (vec![("timeinforce", "IOC"), ("expiretm", "+60")], "EGeneral:Invalid arguments:expiretm"),
        (vec![("expiretm", "+60"), ("starttm", "+90")], "EGeneral:Invalid arguments:expiretm"),
        (vec![("expiretm", "soon")], "EGeneral:Invalid arguments:expiretm"),
        (vec![("timeinforce", "FOK")], "EGeneral:Invalid arguments:timeinforce"),
        (vec![("timeinforce", "IOC"), ("oflags", "post")], "EGeneral:Invalid arguments:oflags"),
    ] {
        assert_eq!(err(&s.private(&k, "AddOrder", &with(bid.clone(), &extra))), error, "{extra:?}");
    }
    assert_eq!(digest(&s), before, "refusals change nothing");

    let gtd = place(&s, &k, &with(bid.clone(), &[("timeinforce", "GTD"), ("expiretm", "+60")]));
    // expiretm without timeinforce is GTD too (Kraken's older API).
    let legacy = place(&s, &k, &with(bid.clone(), &[("expiretm", "+120")]));
    let o = order(&s, &k, &gtd);
    assert_eq!(o["status"], "open");
    assert!((num(&o["expiretm"]) - num(&o["opentm"]) - 60.0).abs() < 0.01, "{o}");
    assert_eq!(o["starttm"], 0);
    assert!(hold(&s, &k, "ZUSD") > 4000.0);

    advance(&s, 55);
    assert_eq!(order(&s, &k, &gtd)["status"], "open");
    advance(&s, 6);
    let o = order(&s, &k, &gtd);
    assert_eq!((o["status"].as_str(), o["reason"].clone()), (Some("expired"), Value::Null), "{o}");
    assert_eq!(o["closetm"], o["expiretm"], "it ends at its expiry exactly");
    assert_eq!(order(&s, &k, &legacy)["status"], "open");
    let closed = ok(&s.private(&k, "ClosedOrders", &[])).clone();
    assert_eq!(closed["closed"][&gtd]["status"], "expired");
    let held = hold(&s, &k, "ZUSD");
    advance(&s, 60);
    assert_eq!(order(&s, &k, &legacy)["status"], "expired");
    assert!(held > 0.0 && hold(&s, &k, "ZUSD") == 0.0, "each expiry released its hold exactly");
    assert_eq!(ok(&s.private(&k, "Balance", &[]))["ZUSD"], "10000.0000");
    s.assert_no_panics();
}

#[test]
fn a_scheduled_order_is_pending_then_enters_the_book_at_its_start() {
    let s = start();
    let k = s.account("alice", "0", "1", "all");
    let ask = limit("sell", "30000", "0.1");
    let later = place(&s, &k, &with(ask.clone(), &[("starttm", "+30")]));
    let o = order(&s, &k, &later);
    assert_eq!(o["status"], "pending");
    assert!((num(&o["starttm"]) - num(&o["opentm"]) - 30.0).abs() < 0.01, "{o}");
    assert!(o.get("closetm").is_none());
    assert_eq!(ok(&s.private(&k, "OpenOrders", &[]))["open"][&later]["status"], "pending");
    assert_eq!(depth_at(&s, "asks", 30000.0), 0.0, "not in the book yet");
    assert_eq!(hold(&s, &k, "XXBT"), 0.1, "its funds are held meanwhile");
    // starttm=0 is now; a pending order can be canceled.
    let now = place(&s, &k, &with(limit("sell", "31000", "0.1"), &[("starttm", "0")]));
    assert_eq!(order(&s, &k, &now)["status"], "open");
    let other = place(&s, &k, &with(limit("sell", "32000", "0.1"), &[("starttm", "+10")]));
    assert_eq!(ok(&s.private(&k, "CancelOrder", &[("txid", &other)]))["count"], 1);
    assert_eq!(order(&s, &k, &other)["status"], "canceled");
    assert_eq!(err(&s.private(&k, "AddOrder", &with(ask.clone(), &[("starttm", "+x")]))), "EGeneral:Invalid arguments:starttm");

    advance(&s, 31);
    assert_eq!(order(&s, &k, &later)["status"], "open");
    assert_eq!(depth_at(&s, "asks", 30000.0), 0.1);
    assert_eq!(hold(&s, &k, "XXBT"), 0.2);
    s.assert_no_panics();
}

#[test]
fn scheduled_orders_are_capped_per_pair_as_kraken_caps_them() {
    // Kraken's figures (`--limits kraken`, the default): 25 scheduled orders per pair for an
    // intermediate account, beside its 80 open orders.
    let s = Server::start();
    let k = s.account("alice", "100000", "0", "all");
    let bid = limit("buy", "10000", "0.001");
    let mut scheduled = Vec::new();
    for _ in 0..25 {
        scheduled.push(place(&s, &k, &with(bid.clone(), &[("starttm", "+3600")])));
    }
    let refused = s.private(&k, "AddOrder", &with(bid.clone(), &[("starttm", "+3600")]));
    assert_eq!(err(&refused), "EOrder:Scheduled orders limit exceeded");
    assert_eq!(ok(&s.private(&k, "OpenOrders", &[]))["open"].as_object().unwrap().len(), 25, "the refusal placed nothing");
    // An order that starts now, another pair, and a batch without a start are not capped by it.
    place(&s, &k, &bid);
    place(
        &s,
        &k,
        &[("pair", "ETHUSD"), ("type", "buy"), ("ordertype", "limit"), ("price", "1000"), ("volume", "0.01"), ("starttm", "+60")],
    );
    // One canceled frees one place; a batch that would pass the cap is refused whole.
    assert_eq!(ok(&s.private(&k, "CancelOrder", &[("txid", &scheduled[0])]))["count"], 1);
    let batch = [
        ("pair", "XBTUSD"),
        ("orders[0][type]", "buy"),
        ("orders[0][ordertype]", "limit"),
        ("orders[0][price]", "10000"),
        ("orders[0][volume]", "0.001"),
        ("orders[0][starttm]", "+600"),
        ("orders[1][type]", "buy"),
        ("orders[1][ordertype]", "limit"),
        ("orders[1][price]", "10001"),
        ("orders[1][volume]", "0.001"),
        ("orders[1][starttm]", "+600"),
    ];
    assert_eq!(err(&s.private(&k, "AddOrderBatch", &batch)), "EOrder:Scheduled orders limit exceeded");
    place(&s, &k, &with(bid.clone(), &[("starttm", "+3600")]));
    assert_eq!(err(&s.private(&k, "AddOrder", &with(bid, &[("starttm", "+3600")]))), "EOrder:Scheduled orders limit exceeded");
    s.assert_no_panics();
}

#[test]
fn viqc_deadline_margin_userref_and_self_trade_modes() {
    let s = start();
    let alice = s.account("alice", "100000", "2", "all");
    let bob = s.account("bob", "1000", "0", "all");
    place(&s, &alice, &limit("sell", "30000", "1"));
    let before = digest(&s);

    // viqc: a market buy spending at most 300 USD, fee included.
    let buy = [("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "market"), ("volume", "300"), ("oflags", "viqc")];
    for (params, error) in [
        (with(limit("buy", "30000", "0.01"), &[("oflags", "viqc")]), "EGeneral:Invalid arguments:viqc"),
        (
            vec![("pair", "XBTUSD"), ("type", "sell"), ("ordertype", "market"), ("volume", "300"), ("oflags", "viqc")],
            "EGeneral:Invalid arguments:viqc",
        ),
        (
            vec![("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "market"), ("volume", "0.01"), ("oflags", "viqc")],
            "EOrder:Cost minimum not met",
        ),
        (with(limit("buy", "20000", "0.01"), &[("leverage", "2")]), "EOrder:Cannot open position"),
        (with(limit("buy", "20000", "0.01"), &[("leverage", "lots")]), "EGeneral:Invalid arguments:leverage"),
        (with(limit("buy", "20000", "0.01"), &[("reduce_only", "true")]), "EOrder:Reduce only:No position exists"),
        (with(limit("buy", "20000", "0.01"), &[("userref", "7"), ("cl_ord_id", "abc")]), "EGeneral:Invalid arguments:cl_ord_id"),
        (with(limit("buy", "20000", "0.01"), &[("deadline", "2020-01-01T00:00:00Z")]), "EService:Deadline elapsed"),
        (with(limit("buy", "20000", "0.01"), &[("deadline", "2999-01-01T00:00:00Z")]), "EGeneral:Invalid arguments:deadline"),
        (with(limit("buy", "20000", "0.01"), &[("deadline", "tomorrow")]), "EGeneral:Invalid arguments:deadline"),
    ] {
        assert_eq!(err(&s.private(&bob, "AddOrder", &params)), error, "{params:?}");
    }
    assert_eq!(digest(&s), before, "refusals change nothing");
    let v = ok(&s.private(&bob, "AddOrder", &with(buy.to_vec(), &[("validate", "true")]))).clone();
    assert_eq!(v["descr"]["order"], "buy 300.00000000 XBTUSD @ market");

    let q = place(&s, &bob, &buy);
    let o = order(&s, &bob, &q);
    let (cost, fee, exec) = (num(&o["cost"]), num(&o["fee"]), num(&o["vol_exec"]));
    assert_eq!((o["status"].as_str(), o["vol"].as_str()), (Some("closed"), Some("300.00000000")), "{o}");
    assert!(o["oflags"].as_str().unwrap().contains("viqc"), "{o}");
    assert!(cost + fee <= 300.0, "{o}");
    assert!(cost + fee > 300.0 - 30000.0 * 0.00000001 * 1.01 - 0.0003, "spends all but less than one lot: {o}");
    assert!((cost - exec * 30000.0).abs() < 0.0001, "{o}");
    assert_eq!(hold(&s, &bob, "ZUSD"), 0.0);

    // A deadline within the next minute is fine; leverage none and reduce_only=false are spot.
    let soon = calamari::api::public::rfc3339(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 30);
    place(&s, &bob, &with(limit("buy", "20000", "0.01"), &[("deadline", &soon), ("leverage", "none"), ("reduce_only", "false")]));

    // cl_ord_id is unique among open orders, free again once the order is closed.
    let first = place(&s, &bob, &with(limit("buy", "20000", "0.01"), &[("cl_ord_id", "grid-1")]));
    assert_eq!(
        err(&s.private(&bob, "AddOrder", &with(limit("buy", "20000", "0.01"), &[("cl_ord_id", "grid-1")]))),
        "EGeneral:Invalid arguments:cl_ord_id"
    );
    ok(&s.private(&bob, "CancelOrder", &[("txid", &first)]));
    place(&s, &bob, &with(limit("buy", "20000", "0.01"), &[("cl_ord_id", "grid-1")]));

    // stptype: the incoming order, the resting one, or both end with "Self trade prevention".
    let t = s.account("trader", "100000", "1", "all");
    for (mode, resting_after, incoming_after) in
        [("cancel-newest", "open", "canceled"), ("cancel-oldest", "canceled", "open"), ("cancel-both", "canceled", "canceled")]
    {
        let resting = place(&s, &t, &limit("sell", "25000", "0.1"));
        let incoming = place(&s, &t, &with(limit("buy", "25000", "0.1"), &[("stptype", mode)]));
        let (r, i) = (order(&s, &t, &resting), order(&s, &t, &incoming));
        assert_eq!((r["status"].as_str(), i["status"].as_str()), (Some(resting_after), Some(incoming_after)), "{mode}");
        for o in [&r, &i] {
            if o["status"] == "canceled" {
                assert_eq!(o["reason"], "Self trade prevention", "{mode}");
            }
        }
        assert_eq!((r["vol_exec"].as_str(), i["vol_exec"].as_str()), (Some("0.00000000"), Some("0.00000000")));
        ok(&s.private(&t, "CancelAll", &[]));
    }
    assert_eq!(
        err(&s.private(&t, "AddOrder", &with(limit("buy", "25000", "0.1"), &[("stptype", "cancel-all")]))),
        "EGeneral:Invalid arguments:stptype"
    );
    s.assert_no_panics();
}

#[test]
fn dead_mans_switch_is_reset_by_each_call_disabled_by_zero_and_fires_at_its_time() {
    let s = start();
    let k = s.account("alice", "10000", "0", "all");
    let secs = |t: &Value| -> u64 {
        let t = t.as_str().unwrap();
        let d = calamari::calendar::days_from_civil(t[0..4].parse().unwrap(), t[5..7].parse().unwrap(), t[8..10].parse().unwrap());
        d as u64 * 86400
            + t[11..13].parse::<u64>().unwrap() * 3600
            + t[14..16].parse::<u64>().unwrap() * 60
            + t[17..19].parse::<u64>().unwrap()
    };
    assert_eq!(err(&s.private(&k, "CancelAllOrdersAfter", &[])), "EGeneral:Invalid arguments:timeout");
    assert_eq!(err(&s.private(&k, "CancelAllOrdersAfter", &[("timeout", "86401")])), "EGeneral:Invalid arguments:timeout");
    assert_eq!(err(&s.private(&k, "CancelAllOrdersAfter", &[("timeout", "-1")])), "EGeneral:Invalid arguments:timeout");

    let a = place(&s, &k, &limit("buy", "20000", "0.1"));
    let b = place(&s, &k, &limit("buy", "21000", "0.1"));
    let r = ok(&s.private(&k, "CancelAllOrdersAfter", &[("timeout", "60")])).clone();
    assert_eq!(r.as_object().unwrap().keys().collect::<Vec<_>>(), ["currentTime", "triggerTime"]);
    assert!(r["currentTime"].as_str().unwrap().ends_with('Z') && r["currentTime"].as_str().unwrap().len() == 20, "{r}");
    assert_eq!(secs(&r["triggerTime"]) - secs(&r["currentTime"]), 60);

    advance(&s, 30);
    let r2 = ok(&s.private(&k, "CancelAllOrdersAfter", &[("timeout", "60")])).clone();
    assert_eq!(secs(&r2["triggerTime"]) - secs(&r2["currentTime"]), 60);
    assert!(secs(&r2["triggerTime"]) >= secs(&r["triggerTime"]) + 30, "reset: {r} then {r2}");
    advance(&s, 40);
    assert_eq!(order(&s, &k, &a)["status"], "open", "the first deadline passed, but the call reset it");

    let off = ok(&s.private(&k, "CancelAllOrdersAfter", &[("timeout", "0")])).clone();
    assert_eq!(off["triggerTime"], "0");
    advance(&s, 60);
    assert_eq!(order(&s, &k, &b)["status"], "open", "0 disabled it");

    ok(&s.private(&k, "CancelAllOrdersAfter", &[("timeout", "10")]));
    advance(&s, 7);
    assert_eq!(order(&s, &k, &a)["status"], "open");
    advance(&s, 4);
    for txid in [&a, &b] {
        let o = order(&s, &k, txid);
        assert_eq!((o["status"].as_str(), o["reason"].as_str()), (Some("canceled"), Some("User requested")), "{o}");
    }
    assert_eq!(hold(&s, &k, "ZUSD"), 0.0);
    // After firing the switch stays off until the next call.
    let c = place(&s, &k, &limit("buy", "20000", "0.1"));
    advance(&s, 30);
    assert_eq!(order(&s, &k, &c)["status"], "open");
    s.assert_no_panics();
}

#[test]
fn a_restart_keeps_expiries_starts_and_the_switch() {
    let mut s = start();
    let k = s.account("alice", "10000", "1", "all");
    let bob = s.account("bob", "10000", "0", "all");
    let gtd = place(&s, &k, &with(limit("buy", "20000", "0.1"), &[("timeinforce", "GTD"), ("expiretm", "+60")]));
    let later = place(&s, &k, &with(limit("sell", "30000", "0.1"), &[("starttm", "+30")]));
    let guarded = place(&s, &bob, &limit("buy", "19000", "0.1"));
    ok(&s.private(&bob, "CancelAllOrdersAfter", &[("timeout", "45")]));
    let before = digest(&s);
    s.terminate();
    let dir = s.data_dir.clone();
    let s2 = Server::start_in_with(&dir, &["--limits", "off"], &[("CALAMARI_TEST_CLOCK", "1")]);
    assert_eq!(digest(&s2), before, "replay gives the same state, timers included");
    assert_eq!(order(&s2, &k, &later)["status"], "pending");
    advance(&s2, 31);
    assert_eq!(order(&s2, &k, &later)["status"], "open");
    assert_eq!(order(&s2, &bob, &guarded)["status"], "open");
    advance(&s2, 15);
    assert_eq!(order(&s2, &bob, &guarded)["status"], "canceled");
    assert_eq!(order(&s2, &k, &gtd)["status"], "open");
    advance(&s2, 15);
    let o = order(&s2, &k, &gtd);
    assert_eq!(o["status"], "expired");
    assert_eq!(o["closetm"], o["expiretm"]);
    let after = digest(&s2);
    let mut s2 = s2;
    s2.terminate();
    let s3 = Server::start_in_with(&dir, &["--limits", "off"], &[("CALAMARI_TEST_CLOCK", "1")]);
    assert_eq!(digest(&s3), after, "the logged ticks replay to the same state");
}
