//! The level3 channel through the real server: its token and subscription rules, and a book
//! rebuilt by a plain WebSocket client from the snapshot and the add/modify/delete events that
//! equals the accounts' resting orders (REST OpenOrders) after a random stream of orders, cancels
//! and amends through REST, with Kraken's checksum recomputed on every message from the numbers'
//! own text (the guide's rule: drop `.`, strip leading zeros, asks then bids, order by order).

mod common;

use common::ws::token;
use common::{ok, Key, Server};
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// The shared client's socket, read here as text: the numbers' own text feeds the checksum.
struct Ws {
    ws: common::ws::Socket,
}

fn open(s: &Server) -> Ws {
    Ws { ws: common::ws::open(s) }
}

impl Ws {
    fn send(&mut self, v: Value) {
        common::ws::send(&mut self.ws, v);
    }

    /// The next message's text (heartbeats and status left out) within `secs`.
    fn next(&mut self, secs: f64) -> Option<String> {
        let end = Instant::now() + Duration::from_secs_f64(secs);
        while Instant::now() < end {
            match self.ws.read() {
                Ok(Message::Text(t)) => {
                    let v: Value = serde_json::from_str(t.as_str()).expect("json");
                    if v["channel"] != "heartbeat" && v["channel"] != "status" {
                        return Some(t.to_string());
                    }
                }
                Ok(_) => {}
                Err(tokio_tungstenite::tungstenite::Error::Io(e))
                    if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(e) => panic!("socket: {e}"),
            }
        }
        None
    }

    /// Sends a request and returns its acks (one per symbol), keeping what else came meanwhile.
    fn request(&mut self, v: Value, acks: usize, kept: &mut VecDeque<String>) -> Vec<Value> {
        let id = v["req_id"].clone();
        self.send(v);
        let mut out = Vec::new();
        let end = Instant::now() + Duration::from_secs(5);
        while out.len() < acks && Instant::now() < end {
            if let Some(t) = self.next(0.2) {
                let m: Value = serde_json::from_str(&t).unwrap();
                if m["req_id"] == id {
                    out.push(m);
                } else {
                    kept.push_back(t);
                }
            }
        }
        assert_eq!(out.len(), acks, "acks for {id}");
        out
    }
}

#[test]
fn level3_needs_a_token_and_keeps_krakens_subscription_rules() {
    let s = Server::start();
    let _ = s.account("alice", "1000", "0", "all");
    // Only the WebSockets permission: level3 names no other.
    let ws_only = s.key("alice", "ws-only", "Access WebSockets API");
    let t = token(&s, &ws_only);
    let mut ws = open(&s);
    let mut kept = VecDeque::new();
    let sub = |ws: &mut Ws, params: Value, n: u64, acks: usize, kept: &mut VecDeque<String>| -> Vec<Value> {
        ws.request(json!({"method": "subscribe", "params": params, "req_id": n}), acks, kept)
    };
    let a = &sub(&mut ws, json!({"channel": "level3", "symbol": ["BTC/USD"]}), 1, 1, &mut kept)[0];
    assert_eq!((a["success"].clone(), a["error"].clone()), (json!(false), json!("EGeneral:Invalid arguments")), "{a}");
    let bad = json!({"channel": "level3", "symbol": ["BTC/USD"], "token": "G38a1tGFzqGiUCmnegBcm8d4nfP3tytiNQz6tkCBYXY"});
    assert_eq!(sub(&mut ws, bad, 2, 1, &mut kept)[0]["error"], "ESession:Invalid session");
    let a = &sub(&mut ws, json!({"channel": "level3", "symbol": ["BTC/USD"], "depth": 25, "token": t}), 3, 1, &mut kept)[0];
    assert_eq!(a["error"], "Subscription depth not supported", "{a}");
    let a = &sub(&mut ws, json!({"channel": "level3", "symbol": ["BTC/USD", "FOO/BAR"], "token": t}), 4, 2, &mut kept);
    assert_eq!(a[0]["result"], json!({"channel": "level3", "symbol": "BTC/USD", "depth": 10, "snapshot": true}));
    assert_eq!((a[1]["error"].clone(), a[1]["symbol"].clone()), (json!("Currency pair not supported FOO/BAR"), json!("FOO/BAR")));
    // The empty book's snapshot, checksum of nothing.
    let snap: Value = serde_json::from_str(&kept.pop_front().or_else(|| ws.next(5.0)).expect("snapshot")).unwrap();
    assert_eq!(snap["channel"], "level3");
    assert_eq!(snap["type"], "snapshot");
    assert_eq!(snap["data"][0]["bids"], json!([]));
    assert_eq!(snap["data"][0]["checksum"], json!(0));
    // One depth per symbol per connection.
    let a = &sub(&mut ws, json!({"channel": "level3", "symbol": ["XBT/USD"], "depth": 100, "token": t}), 5, 1, &mut kept)[0];
    assert_eq!(a["error"], "Already subscribed", "{a}");
    // The subscription rate counter: 200 a second for a standard account, depth 1000 costs 100.
    let a =
        sub(&mut ws, json!({"channel": "level3", "symbol": ["ETH/USD", "SOL/USD", "XRP/USD"], "depth": 1000, "token": t}), 6, 3, &mut kept);
    let errors: Vec<&Value> = a.iter().map(|x| &x["error"]).collect();
    // 5 (BTC/USD above, partly drained) + 100 + 100 fits in 200; a third 100 does not.
    assert_eq!(errors, [&Value::Null, &Value::Null, &json!("EGeneral:Too many requests")], "{a:?}");
    std::thread::sleep(Duration::from_millis(1100));
    let a = &sub(&mut ws, json!({"channel": "level3", "symbol": ["XRP/USD"], "depth": 1000, "token": t}), 7, 1, &mut kept)[0];
    assert_eq!(a["success"], true, "drained after a second: {a}");
    let mut kept2 = VecDeque::new();
    let a = &ws.request(
        json!({"method": "unsubscribe", "params": {"channel": "level3", "symbol": ["BTC/USD"], "token": t}, "req_id": 8}),
        1,
        &mut kept2,
    )[0];
    assert_eq!(a["result"], json!({"channel": "level3", "symbol": "BTC/USD", "depth": 10}), "{a}");
    let a = &ws.request(
        json!({"method": "unsubscribe", "params": {"channel": "level3", "symbol": ["BTC/USD"], "token": t}, "req_id": 9}),
        1,
        &mut kept2,
    )[0];
    assert_eq!(a["error"], "Subscription Not Found", "{a}");
    s.assert_no_panics();
}

/// One order as the events carry it, the numbers as their JSON text.
#[derive(serde::Deserialize)]
struct Ev {
    event: Option<String>,
    order_id: String,
    limit_price: Box<RawValue>,
    order_qty: Box<RawValue>,
    timestamp: String,
}

#[derive(serde::Deserialize)]
struct Data {
    symbol: String,
    bids: Vec<Ev>,
    asks: Vec<Ev>,
    checksum: u32,
}

#[derive(serde::Deserialize)]
struct Msg {
    channel: String,
    #[serde(rename = "type")]
    kind: String,
    data: Vec<Data>,
}

/// One price level as the client holds it: the price text and its orders (id, qty text) in queue order.
type Level = (String, Vec<(String, String)>);

/// A client's level3 book: per side, price ticks → its level.
#[derive(Default)]
struct Book {
    sides: [BTreeMap<u64, Level>; 2],
    messages: usize,
}

fn ticks(price: &str) -> u64 {
    price.replace('.', "").parse().unwrap()
}

fn digits(text: &str) -> String {
    text.replace('.', "").trim_start_matches('0').to_string()
}

impl Book {
    /// Applies one message and checks its checksum, recomputed here from the text alone.
    fn apply(&mut self, text: &str, depth: usize) {
        let m: Msg = serde_json::from_str(text).unwrap();
        assert_eq!(m.channel, "level3");
        let d = &m.data[0];
        assert_eq!(d.symbol, "BTC/USD");
        for (i, evs) in [&d.bids, &d.asks].into_iter().enumerate() {
            let side = &mut self.sides[i];
            if m.kind == "snapshot" {
                side.clear();
            }
            for e in evs {
                assert!(e.order_id.len() == 19 && e.order_id.starts_with('O'), "{}", e.order_id);
                assert!(e.timestamp.ends_with('Z') && e.timestamp.len() == 27, "{}", e.timestamp);
                let (price, qty) = (e.limit_price.get().to_string(), e.order_qty.get().to_string());
                let level = side.entry(ticks(&price)).or_insert_with(|| (price.clone(), Vec::new()));
                match e.event.as_deref() {
                    None | Some("add") => level.1.push((e.order_id.clone(), qty)),
                    Some("modify") => level.1.iter_mut().find(|(o, _)| *o == e.order_id).expect("modify of a known order").1 = qty,
                    Some("delete") => {
                        let n = level.1.len();
                        level.1.retain(|(o, _)| *o != e.order_id);
                        assert_eq!(level.1.len() + 1, n, "delete of a known order {}", e.order_id);
                    }
                    Some(x) => panic!("event {x}"),
                }
            }
            side.retain(|_, (_, l)| !l.is_empty());
            // Kraken: truncate to the subscribed depth after each message.
            while side.len() > depth {
                let worst = if i == 0 { *side.keys().next().unwrap() } else { *side.keys().next_back().unwrap() };
                side.remove(&worst);
            }
        }
        let mut s = String::new();
        for (i, side) in self.sides.iter().enumerate().rev() {
            let levels: Vec<&(String, Vec<(String, String)>)> =
                if i == 0 { side.values().rev().collect() } else { side.values().collect() };
            for (price, orders) in levels.into_iter().take(10) {
                for (_, q) in orders {
                    s.push_str(&digits(price));
                    s.push_str(&digits(q));
                }
            }
        }
        assert_eq!(crc32fast::hash(s.as_bytes()), d.checksum, "checksum after {text}");
        self.messages += 1;
    }

    /// (side, price ticks) → sorted (id, qty text): what can be compared with REST.
    fn orders(&self) -> BTreeMap<(usize, u64), Vec<(String, String)>> {
        let mut out = BTreeMap::new();
        for (i, side) in self.sides.iter().enumerate() {
            for (p, (_, l)) in side {
                let mut l = l.clone();
                l.sort();
                out.insert((i, *p), l);
            }
        }
        out
    }
}

/// The resting orders of the accounts, from REST OpenOrders, as level3 must show them (the top
/// `depth` levels of each side; quantities at the pair's 8 lot decimals, prices at 1).
fn resting(s: &Server, keys: &[&Key], depth: usize) -> BTreeMap<(usize, u64), Vec<(String, String)>> {
    let mut all: BTreeMap<(usize, u64), Vec<(String, String)>> = BTreeMap::new();
    for k in keys {
        let open = ok(&s.private(k, "OpenOrders", &[])).clone();
        for (id, o) in open["open"].as_object().unwrap() {
            let d = &o["descr"];
            let side = if d["type"] == "buy" { 0 } else { 1 };
            let units = |v: &Value| (v.as_str().unwrap().parse::<f64>().unwrap() * 1e8).round() as i64;
            let left = units(&o["vol"]) - units(&o["vol_exec"]);
            let qty = format!("{}.{:08}", left / 100_000_000, left % 100_000_000);
            all.entry((side, ticks(d["price"].as_str().unwrap()))).or_default().push((id.clone(), qty));
        }
    }
    let mut out = BTreeMap::new();
    let bids: Vec<_> = all.iter().filter(|((s, _), _)| *s == 0).rev().take(depth).collect();
    let asks: Vec<_> = all.iter().filter(|((s, _), _)| *s == 1).take(depth).collect();
    for (k, v) in bids.into_iter().chain(asks) {
        let mut v = v.clone();
        v.sort();
        out.insert(*k, v);
    }
    out
}

/// xorshift64*: the stream is the same for a seed.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) % n
    }
}

/// Reads level3 messages into `book` until it equals `want` (or fails after 5 s).
fn converge(ws: &mut Ws, book: &mut Book, kept: &mut VecDeque<String>, depth: usize, want: &BTreeMap<(usize, u64), Vec<(String, String)>>) {
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        while let Some(t) = kept.pop_front() {
            book.apply(&t, depth);
        }
        if book.orders() == *want {
            return;
        }
        assert!(Instant::now() < end, "level3 book {:?}\n!= resting orders {:?}", book.orders(), want);
        if let Some(t) = ws.next(0.1) {
            kept.push_back(t);
        }
    }
}

#[test]
fn a_book_rebuilt_from_level3_equals_the_resting_orders_after_a_random_stream() {
    // Call restrictions off: the stream and its OpenOrders checks are faster than a key's counter.
    let s = Server::start_with(&["--limits", "off"], &[]);
    let alice = s.account("alice", "1000000", "10", "all");
    let bob = s.account("bob", "1000000", "10", "all");
    let keys = [&alice, &bob];
    let seed: u64 = std::env::var("LEVEL3_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5eed_1e3e);
    let mut rng = Rng(seed | 1);
    let depth = 10;
    let mut ws = open(&s);
    let mut kept = VecDeque::new();
    let t = token(&s, &alice);
    let a = &ws.request(
        json!({"method": "subscribe", "params": {"channel": "level3", "symbol": ["BTC/USD"], "token": t}, "req_id": 1}),
        1,
        &mut kept,
    )[0];
    assert_eq!(a["success"], true, "{a}");
    let mut book = Book::default();
    converge(&mut ws, &mut book, &mut kept, depth, &BTreeMap::new());
    let mut open_ids: Vec<(usize, String)> = Vec::new();
    let steps: usize = std::env::var("LEVEL3_STEPS").ok().and_then(|v| v.parse().ok()).unwrap_or(160);
    for step in 0..steps {
        let who = rng.below(2) as usize;
        let k = keys[who];
        let op = rng.below(10);
        if op < 6 || open_ids.is_empty() {
            // Prices around 50000 over 16 ticks of 1.0, so books pass 10 levels and cross.
            let buy = rng.below(2) == 0;
            let price = if buy { 49_990 + rng.below(16) } else { 50_000 - 5 + rng.below(16) };
            let vol = format!("0.{:03}", 1 + rng.below(20));
            let r = s.private(
                k,
                "AddOrder",
                &[
                    ("pair", "XBTUSD"),
                    ("type", if buy { "buy" } else { "sell" }),
                    ("ordertype", "limit"),
                    ("price", &price.to_string()),
                    ("volume", &vol),
                ],
            );
            if let Some(id) = r["result"]["txid"][0].as_str() {
                open_ids.push((who, id.to_string()));
            }
        } else {
            let i = rng.below(open_ids.len() as u64) as usize;
            let (owner, id) = open_ids[i].clone();
            let k = keys[owner];
            match op {
                6 | 7 => {
                    let _ = s.private(k, "CancelOrder", &[("txid", &id)]);
                    open_ids.remove(i);
                }
                8 => {
                    let qty = format!("0.{:03}", 1 + rng.below(25));
                    let _ = s.private(k, "AmendOrder", &[("txid", &id), ("order_qty", &qty)]);
                }
                _ => {
                    let price = 49_992 + rng.below(16);
                    let _ = s.private(k, "AmendOrder", &[("txid", &id), ("limit_price", &price.to_string())]);
                }
            }
        }
        if step % 20 == 19 {
            converge(&mut ws, &mut book, &mut kept, depth, &resting(&s, &keys, depth));
        }
    }
    let want = resting(&s, &keys, depth);
    converge(&mut ws, &mut book, &mut kept, depth, &want);
    assert!(want.len() >= 6, "the stream left a book worth comparing: {want:?}");
    // A second subscriber, deeper, joining mid-stream from the publisher's picture, agrees.
    let mut ws2 = open(&s);
    let t2 = token(&s, &bob);
    let mut kept2 = VecDeque::new();
    let a = &ws2.request(
        json!({"method": "subscribe", "params": {"channel": "level3", "symbol": ["XBTUSD"], "depth": 100, "token": t2}, "req_id": 2}),
        1,
        &mut kept2,
    )[0];
    assert_eq!(a["result"]["depth"], 100, "{a}");
    let mut book2 = Book::default();
    converge(&mut ws2, &mut book2, &mut kept2, 100, &resting(&s, &keys, 100));
    // Level3 aggregated per level is the REST Depth (top 10 here).
    let depth_rest = s.public("Depth", "pair=XBTUSD&count=10");
    let pairs = depth_rest["result"].as_object().unwrap().values().next().unwrap().clone();
    let level_sum = |side: usize, p: u64| -> f64 {
        book.orders().get(&(side, p)).unwrap_or_else(|| panic!("{p} in {pairs}")).iter().map(|(_, q)| q.parse::<f64>().unwrap()).sum()
    };
    for (side, key) in [(0usize, "bids"), (1, "asks")] {
        for l in pairs[key].as_array().unwrap() {
            // Depth prints prices at the pair's cost decimals ("49998.00000"); level3 at its price decimals.
            let p = (l[0].as_str().unwrap().parse::<f64>().unwrap() * 10.0).round() as u64;
            let v: f64 = l[1].as_str().unwrap().parse().unwrap();
            assert!((level_sum(side, p) - v).abs() < 1e-9, "{key} {p}: level3 {} vs Depth {v}", level_sum(side, p));
        }
    }
    assert!(book.messages > 20, "the first client saw {} messages", book.messages);
    let ids: HashMap<String, ()> = book.orders().values().flatten().map(|(id, _)| (id.clone(), ())).collect();
    assert!(ids.len() >= 6);
    s.assert_no_panics();
}

#[test]
fn level3_shows_an_icebergs_visible_part_no_waiting_stop_and_nothing_private() {
    let s = Server::start();
    let alice = s.account("alice", "100000", "1", "all");
    let bob = s.account("bob", "100000", "1", "all");
    let r = ok(&s.private(
        &alice,
        "AddOrder",
        &[
            ("pair", "XBTUSD"),
            ("type", "buy"),
            ("ordertype", "limit"),
            ("price", "50000"),
            ("volume", "0.15"),
            ("displayvol", "0.01"),
            ("cl_ord_id", "6d1b345e-2821-40e2-ad83-4ecb18a06876"),
        ],
    ))
    .clone();
    let iceberg = r["txid"][0].as_str().unwrap().to_string();
    ok(&s.private(
        &alice,
        "AddOrder",
        &[("pair", "XBTUSD"), ("type", "sell"), ("ordertype", "stop-loss"), ("price", "40000"), ("volume", "0.01")],
    ));
    let r = ok(&s.private(
        &alice,
        "AddOrder",
        &[("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "limit"), ("price", "49000"), ("volume", "0.02"), ("userref", "424242")],
    ))
    .clone();
    let plain = r["txid"][0].as_str().unwrap().to_string();
    // Bob reads alice's order: level3 shows everyone's, but only the public fields.
    let mut ws = open(&s);
    let mut kept = VecDeque::new();
    let t = token(&s, &bob);
    ws.request(
        json!({"method": "subscribe", "params": {"channel": "level3", "symbol": ["BTC/USD"], "token": t}, "req_id": 1}),
        1,
        &mut kept,
    );
    let raw = kept.pop_front().or_else(|| ws.next(5.0)).expect("snapshot");
    let snap: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(snap["type"], "snapshot");
    let bids = snap["data"][0]["bids"].as_array().unwrap();
    assert_eq!(bids.len(), 2, "{raw}");
    assert_eq!((bids[0]["order_id"].clone(), bids[1]["order_id"].clone()), (json!(iceberg), json!(plain)), "best first: {raw}");
    assert!(raw.contains("\"limit_price\":50000.0,\"order_qty\":0.01000000"), "the iceberg's display part only: {raw}");
    assert_eq!(snap["data"][0]["asks"], json!([]), "a stop waiting for its trigger is not in the book: {raw}");
    for secret in ["424242", "6d1b345e-2821-40e2-ad83-4ecb18a06876", "userref", "cl_ord_id", "account"] {
        assert!(!raw.contains(secret), "{secret} in {raw}");
    }
    let mut book = Book::default();
    book.apply(&raw, 10);
    // A fill of part of the shown part: modify; the shown part used up and refilled: the same order
    // (alone at its level, so in place) shows the next 0.01.
    for (vol, want) in [("0.004", "0.00600000"), ("0.006", "0.01000000")] {
        ok(&s.private(&bob, "AddOrder", &[("pair", "XBTUSD"), ("type", "sell"), ("ordertype", "market"), ("volume", vol)]));
        let raw = ws.next(5.0).expect("an update");
        book.apply(&raw, 10);
        let m: Value = serde_json::from_str(&raw).unwrap();
        let ev = &m["data"][0]["bids"][0];
        assert_eq!((ev["event"].clone(), ev["order_id"].clone()), (json!("modify"), json!(iceberg)), "{raw}");
        assert!(raw.contains(&format!("\"order_qty\":{want}")), "{raw}");
    }
    s.assert_no_panics();
}
