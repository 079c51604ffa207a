//! WebSocket API v2 public feeds against the real server, with a real WebSocket client
//! (tungstenite): status on connect, ping/pong, acks, errors, and a book rebuilt from snapshot
//! plus updates whose checksum is recomputed here independently and compared with REST Depth.

mod common;

use common::ws::{next, open, send, wait_for};
use common::{ok, Server};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// The simulated market on (tests run it off by default), the request limits off.
const LIVE: &[&str] = &["--market", "on", "--limits", "off"];

/// Exact decimal text of a JSON number at `dp` places (test-side, independent of the server).
fn fixed(v: &Value, dp: usize) -> String {
    let t = v.to_string();
    let (i, f) = t.split_once('.').unwrap_or((&t, ""));
    assert!(f.len() <= dp, "{t} has more than {dp} decimals");
    format!("{i}.{f:0<dp$}")
}

/// Kraken's checksum, written here from the documentation.
fn checksum(bids: &BTreeMap<String, String>, asks: &BTreeMap<String, String>) -> u32 {
    let mut s = String::new();
    let key = |p: &String| p.parse::<f64>().unwrap();
    let mut a: Vec<_> = asks.iter().collect();
    a.sort_by(|x, y| key(x.0).partial_cmp(&key(y.0)).unwrap());
    let mut b: Vec<_> = bids.iter().collect();
    b.sort_by(|x, y| key(y.0).partial_cmp(&key(x.0)).unwrap());
    for (p, q) in a.into_iter().take(10).chain(b.into_iter().take(10)) {
        s.push_str(p.replace('.', "").trim_start_matches('0'));
        s.push_str(q.replace('.', "").trim_start_matches('0'));
    }
    crc32fast::hash(s.as_bytes())
}

struct Book {
    bids: BTreeMap<String, String>,
    asks: BTreeMap<String, String>,
    pdp: usize,
    ldp: usize,
    depth: usize,
}

impl Book {
    fn apply(&mut self, data: &Value) {
        for (side, map) in [("bids", &mut self.bids), ("asks", &mut self.asks)] {
            for l in data[side].as_array().unwrap() {
                let p = fixed(&l["price"], self.pdp);
                let q = fixed(&l["qty"], self.ldp);
                if q.trim_start_matches(['0', '.']).is_empty() {
                    map.remove(&p);
                } else {
                    map.insert(p, q);
                }
            }
        }
        // Truncate to the subscribed depth, as Kraken's clients do.
        let key = |p: &String| p.parse::<f64>().unwrap();
        let mut b: Vec<String> = self.bids.keys().cloned().collect();
        b.sort_by(|x, y| key(y).partial_cmp(&key(x)).unwrap());
        for p in b.into_iter().skip(self.depth) {
            self.bids.remove(&p);
        }
        let mut a: Vec<String> = self.asks.keys().cloned().collect();
        a.sort_by(|x, y| key(x).partial_cmp(&key(y)).unwrap());
        for p in a.into_iter().skip(self.depth) {
            self.asks.remove(&p);
        }
        assert_eq!(checksum(&self.bids, &self.asks) as u64, data["checksum"].as_u64().unwrap(), "checksum of the rebuilt book");
    }
}

fn quiet_market(s: &Server) -> (usize, usize) {
    let end = Instant::now() + Duration::from_secs(10);
    while ok(&s.public("Depth", "pair=XBTUSD&count=1"))["XXBTZUSD"]["bids"].as_array().unwrap().is_empty() {
        assert!(Instant::now() < end, "the simulator never quoted");
        std::thread::sleep(Duration::from_millis(300));
    }
    s.cli(&["market", "off"]);
    std::thread::sleep(Duration::from_millis(1500));
    let pairs = s.public("AssetPairs", "pair=XBTUSD");
    let pair = &ok(&pairs)["XXBTZUSD"];
    (pair["pair_decimals"].as_u64().unwrap() as usize, pair["lot_decimals"].as_u64().unwrap() as usize)
}

#[test]
fn status_ping_and_bad_requests() {
    let s = Server::start();
    let mut ws = open(&s);
    let status = next(&mut ws, 5.0).expect("status on connect");
    assert_eq!(status["channel"], "status");
    assert_eq!(status["data"][0]["api_version"], "v2");
    assert_eq!(status["data"][0]["system"], "online");

    send(&mut ws, json!({"method": "ping", "req_id": 7}));
    let pong = next(&mut ws, 5.0).unwrap();
    assert_eq!(pong["method"], "pong");
    assert_eq!(pong["req_id"], 7);
    assert!(pong["time_in"].as_str().unwrap().ends_with('Z') && pong["time_out"].as_str().unwrap().contains('T'));
    send(&mut ws, json!({"method": "ping"}));
    let pong = next(&mut ws, 5.0).unwrap();
    assert!(pong.get("req_id").is_none(), "{pong}");

    let cases = [
        (
            json!({"method": "subscribe", "params": {"channel": "book", "symbol": ["FOO/USD"]}, "req_id": 1}),
            "Currency pair not supported FOO/USD",
        ),
        (
            json!({"method": "subscribe", "params": {"channel": "book", "symbol": ["BTC/USD"], "depth": 7}, "req_id": 2}),
            "Subscription depth not supported",
        ),
        (
            json!({"method": "subscribe", "params": {"channel": "ohlc", "symbol": ["BTC/USD"], "interval": 2}, "req_id": 3}),
            "Subscription ohlc interval not supported",
        ),
        (json!({"method": "subscribe", "params": {"channel": "nope", "symbol": ["BTC/USD"]}, "req_id": 4}), "Subscription name invalid"),
        (json!({"method": "unsubscribe", "params": {"channel": "trade", "symbol": ["BTC/USD"]}, "req_id": 5}), "Subscription Not Found"),
        (json!({"method": "subscribe", "params": {"channel": "book"}, "req_id": 6}), "Malformed request"),
    ];
    for (req, want) in cases {
        let id = req["req_id"].clone();
        send(&mut ws, req);
        let a = next(&mut ws, 5.0).unwrap();
        assert_eq!(a["success"], false, "{a}");
        assert_eq!(a["error"], want);
        assert_eq!(a["req_id"], id);
    }
    ws.send(Message::Text("not json".into())).unwrap();
    assert_eq!(next(&mut ws, 5.0).unwrap()["error"], "Malformed request");

    // Subscribing twice is refused; the heartbeat comes once subscribed.
    let sub = json!({"method": "subscribe", "params": {"channel": "instrument"}, "req_id": 9});
    send(&mut ws, sub.clone());
    let a = next(&mut ws, 5.0).unwrap();
    assert_eq!(a["success"], true, "{a}");
    assert_eq!(a["result"], json!({"channel": "instrument", "snapshot": true}));
    let inst = next(&mut ws, 5.0).unwrap();
    let btc = inst["data"]["pairs"].as_array().unwrap().iter().find(|p| p["symbol"] == "BTC/USD").expect("BTC/USD").clone();
    assert_eq!(btc["base"], "BTC");
    assert!(btc["price_increment"].is_number() && btc["qty_min"].is_number(), "{btc}");
    assert!(inst["data"]["assets"].as_array().unwrap().iter().any(|a| a["id"] == "BTC"));
    send(&mut ws, sub);
    assert_eq!(next(&mut ws, 5.0).unwrap()["error"], "Already subscribed");
    wait_for(&mut ws, 4.0, |m| m["channel"] == "heartbeat");

    // Unsubscribe answers per symbol with the params to subscribe again; a second one is refused.
    send(
        &mut ws,
        json!({"method": "subscribe", "params": {"channel": "book", "symbol": ["ETH/USD", "XBTUSD"], "depth": 25}, "req_id": 10}),
    );
    let mut acked = Vec::new();
    while acked.len() < 2 {
        let m = next(&mut ws, 5.0).expect("two acks");
        if m["method"] == "subscribe" {
            assert_eq!(m["success"], true, "{m}");
            assert_eq!(m["req_id"], 10);
            acked.push(m["result"]["symbol"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(acked, ["ETH/USD", "BTC/USD"]);
    let unsub = json!({"method": "unsubscribe", "params": {"channel": "book", "symbol": ["BTC/USD"], "depth": 25}, "req_id": 11});
    send(&mut ws, unsub.clone());
    let a = wait_for(&mut ws, 5.0, |m| m["method"] == "unsubscribe");
    assert_eq!(a["result"], json!({"channel": "book", "symbol": "BTC/USD", "depth": 25}), "{a}");
    send(&mut ws, unsub);
    assert_eq!(wait_for(&mut ws, 5.0, |m| m["method"] == "unsubscribe")["error"], "Subscription Not Found");
    s.assert_no_panics();
}

#[test]
fn book_rebuilt_from_snapshot_and_updates_matches_rest() {
    let s = Server::start_with(LIVE, &[]);
    let (pdp, ldp) = quiet_market(&s);
    let mut ws = open(&s);
    send(&mut ws, json!({"method": "subscribe", "params": {"channel": "book", "symbol": ["XBT/USD"], "depth": 10}, "req_id": 1}));
    let a = wait_for(&mut ws, 5.0, |m| m["method"] == "subscribe");
    assert_eq!(a["success"], true, "{a}");
    assert_eq!(a["result"], json!({"channel": "book", "symbol": "BTC/USD", "depth": 10, "snapshot": true}));
    let snap = wait_for(&mut ws, 5.0, |m| m["channel"] == "book");
    assert_eq!(snap["type"], "snapshot");
    let mut book = Book { bids: BTreeMap::new(), asks: BTreeMap::new(), pdp, ldp, depth: 10 };
    book.apply(&snap["data"][0]);
    assert_eq!(book.bids.len(), 10, "a full snapshot");
    let best_bid: f64 = book.bids.keys().map(|p| p.parse::<f64>().unwrap()).fold(0.0, f64::max);

    // Orders through REST: three new bids inside the top 10, one cancelled, then a sell that fills.
    let k = s.account("alice", "1000000", "10", "all");
    let mut txids = Vec::new();
    for i in 1..=3 {
        let price = format!("{:.1$}", best_bid - i as f64 * 10f64.powi(-(pdp as i32)), pdp);
        let r =
            s.private(&k, "AddOrder", &[("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "limit"), ("price", &price), ("volume", "0.5")]);
        txids.push(ok(&r)["txid"][0].as_str().unwrap().to_string());
    }
    ok(&s.private(&k, "CancelOrder", &[("txid", &txids[1])]));
    ok(&s.private(&k, "AddOrder", &[("pair", "XBTUSD"), ("type", "sell"), ("ordertype", "market"), ("volume", "1.2")]));
    let mut updates = 0;
    while let Some(m) = next(&mut ws, 1.5) {
        if m["channel"] == "book" {
            assert_eq!(m["type"], "update");
            assert_eq!(m["data"][0]["symbol"], "BTC/USD");
            assert!(m["data"][0]["timestamp"].as_str().unwrap().ends_with('Z'));
            book.apply(&m["data"][0]);
            updates += 1;
        }
    }
    assert!(updates >= 5, "every committed change is published ({updates} updates)");
    let rest_depth = s.public("Depth", "pair=XBTUSD&count=10");
    let depth = &ok(&rest_depth)["XXBTZUSD"];
    // REST prints Depth prices at cost_decimals and volumes to three decimals (Kraken's numbers):
    // the same prices, and each volume within REST's rounding of the rebuilt one.
    for (side, mine) in [("bids", &book.bids), ("asks", &book.asks)] {
        let rest: Vec<(f64, f64)> = depth[side]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| (l[0].as_str().unwrap().parse().unwrap(), l[1].as_str().unwrap().parse().unwrap()))
            .collect();
        assert_eq!(rest.len(), mine.len(), "{side}: as many levels as REST Depth");
        for (price, volume) in rest {
            let key = format!("{price:.pdp$}");
            let q: f64 =
                mine.get(&key).unwrap_or_else(|| panic!("{side}: REST level {key} missing from the rebuilt book")).parse().unwrap();
            assert!((q - volume).abs() < 0.001 + 1e-9, "{side} {key}: rebuilt {q}, REST {volume}");
        }
    }
    s.assert_no_panics();
}

#[test]
fn trades_ticker_and_ohlc() {
    let s = Server::start_with(LIVE, &[]);
    quiet_market(&s);
    let mut ws = open(&s);
    for (i, params) in [
        json!({"channel": "trade", "symbol": ["BTC/USD"], "snapshot": true}),
        json!({"channel": "ticker", "symbol": ["XBTUSD"]}),
        json!({"channel": "ohlc", "symbol": ["BTC/USD"], "interval": 5}),
    ]
    .into_iter()
    .enumerate()
    {
        send(&mut ws, json!({"method": "subscribe", "params": params, "req_id": i}));
        let a = wait_for(&mut ws, 5.0, |m| m["method"] == "subscribe");
        assert_eq!(a["success"], true, "{a}");
        assert_eq!(a["result"]["symbol"], "BTC/USD");
        let snap = wait_for(&mut ws, 5.0, |m| m["type"] == "snapshot");
        assert_eq!(snap["channel"], params["channel"]);
    }
    let k = s.account("bob", "1000000", "0", "all");
    ok(&s.private(&k, "AddOrder", &[("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "market"), ("volume", "0.01")]));
    let mut seen = Vec::new();
    while let Some(m) = next(&mut ws, 1.5) {
        seen.push(m);
    }
    let find = |channel: &str| seen.iter().find(|m| m["channel"] == channel && m["type"] == "update").cloned().expect(channel);
    let t = find("trade");
    let tr = &t["data"][0];
    assert_eq!(tr["symbol"], "BTC/USD");
    assert_eq!(tr["side"], "buy");
    assert_eq!(tr["ord_type"], "market");
    assert!(tr["price"].is_number() && tr["qty"].is_number() && tr["trade_id"].is_u64(), "{tr}");
    let rest = ok(&s.public("Trades", "pair=XBTUSD"))["XXBTZUSD"].as_array().unwrap().last().unwrap().clone();
    let last = t["data"].as_array().unwrap().last().unwrap();
    assert_eq!(last["trade_id"], rest[6], "the same trade id as REST Trades");
    let tk = find("ticker");
    assert_eq!(tk["data"][0]["last"], t["data"].as_array().unwrap().last().unwrap()["price"]);
    let c = find("ohlc");
    assert_eq!(c["data"][0]["interval"], 5);
    assert!(c["data"][0]["trades"].as_u64().unwrap() >= 1);
    s.assert_no_panics();
}

#[test]
fn market_states_reach_status_and_instrument() {
    let s = Server::start();
    let mut ws = open(&s);
    assert_eq!(next(&mut ws, 5.0).unwrap()["data"][0]["system"], "online");
    send(&mut ws, json!({"method": "subscribe", "params": {"channel": "instrument", "snapshot": false}}));
    assert_eq!(wait_for(&mut ws, 5.0, |m| m["method"] == "subscribe")["result"], json!({"channel": "instrument", "snapshot": false}));
    s.cli(&["market", "status", "XBTUSD", "cancel_only"]);
    let inst = wait_for(&mut ws, 5.0, |m| m["channel"] == "instrument");
    assert_eq!(inst["type"], "update");
    let pair = |m: &Value, sym: &str| m["data"]["pairs"].as_array().unwrap().iter().find(|p| p["symbol"] == sym).unwrap()["status"].clone();
    assert_eq!(pair(&inst, "BTC/USD"), "cancel_only");
    assert_eq!(pair(&inst, "ETH/USD"), "online");
    s.cli(&["market", "status", "--system", "maintenance"]);
    let st = wait_for(&mut ws, 5.0, |m| m["channel"] == "status");
    assert_eq!(st["data"][0]["system"], "maintenance");
    // A new connection is greeted with the state as it is.
    let mut ws2 = open(&s);
    assert_eq!(next(&mut ws2, 5.0).unwrap()["data"][0]["system"], "maintenance");
    s.assert_no_panics();
}
