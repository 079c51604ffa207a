//! The WebSocket API's bounds through the real server and real sockets: too many connections
//! from one address refused (HTTP 429) until one closes; a flood of requests answered with
//! Kraken's `EGeneral:Too many requests` and then closed with 1008; an oversized frame closes the
//! connection; a client that never reads is disconnected while another keeps receiving the
//! book on time and REST orders keep being acknowledged.

mod common;

use common::ok;
use common::ws::{
    flood_books, flood_pings, read, server_with, tiny_window, try_open, try_send, until_closed, wait_for, Got, Socket, FLOOD_PAIRS,
};
use serde_json::json;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::{self, protocol::frame::coding::CloseCode};

#[test]
fn connections_per_address_are_capped_until_one_closes() {
    let (s, _cfg) = server_with("max_connections_per_address = 3", false);
    let mut held: Vec<Socket> = (0..3).map(|_| try_open(&s).expect("within the cap")).collect();
    for ws in held.iter_mut() {
        assert!(matches!(read(ws, 5.0), Got::Json(v) if v["channel"] == "status"));
    }
    match try_open(&s) {
        Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 429),
        Err(e) => panic!("expected HTTP 429, got {e}"),
        Ok(_) => panic!("a fourth connection from one address was accepted"),
    }
    // REST from the same address is not affected.
    ok(&s.public("Time", ""));
    // Closing one gives its slot back.
    let mut gone = held.pop().unwrap();
    gone.close(None).unwrap();
    while !matches!(read(&mut gone, 1.0), Got::Closed(_)) {}
    let end = Instant::now() + Duration::from_secs(5);
    let mut again = loop {
        match try_open(&s) {
            Ok(ws) => break ws,
            Err(_) if Instant::now() < end => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("slot not given back: {e}"),
        }
    };
    assert!(matches!(read(&mut again, 5.0), Got::Json(v) if v["channel"] == "status"));
    s.assert_no_panics();
}

#[test]
fn a_flood_is_refused_then_closed_and_big_frames_are_refused() {
    let (s, _cfg) = server_with("messages_per_second = 1\nmessage_burst = 20\nclose_after_refused = 5\nmax_message_bytes = 4096", false);
    let mut ws = try_open(&s).unwrap();
    assert!(matches!(read(&mut ws, 5.0), Got::Json(v) if v["channel"] == "status"));
    // A well-behaved neighbour on its own connection.
    let mut calm = try_open(&s).unwrap();
    assert!(matches!(read(&mut calm, 5.0), Got::Json(v) if v["channel"] == "status"));

    let sent = flood_pings(&mut ws, 60);
    assert!(sent >= 26, "only {sent} sent");
    let (mut pongs, mut refused, mut closed) = (0, 0, None);
    loop {
        match read(&mut ws, 5.0) {
            Got::Json(v) if v["method"] == "pong" => {
                assert_eq!(refused, 0, "a pong after a refusal: {v}");
                pongs += 1;
            }
            Got::Json(v) => {
                assert_eq!(v["success"], false, "{v}");
                assert_eq!(v["error"], "EGeneral:Too many requests", "{v}");
                assert_eq!(v["method"], "ping", "{v}");
                assert_eq!(v["req_id"], pongs + refused, "acks in request order: {v}");
                refused += 1;
            }
            Got::Closed(code) => {
                closed = Some(code);
                break;
            }
            Got::Nothing => break,
        }
    }
    // The burst of 20 (and whatever drained meanwhile: one a second) answered, then 5 refusals, then 1008.
    assert!((20..=22).contains(&pongs), "{pongs} pongs (of {sent} sent), then {closed:?}");
    assert!((5..=6).contains(&refused), "{refused} refusals after {pongs} pongs (of {sent} sent), then {closed:?}");
    assert_eq!(closed, Some(Some(CloseCode::Policy)), "closed with 1008 after sustained abuse");

    // The neighbour was never refused.
    for i in 0..10 {
        assert!(try_send(&mut calm, json!({"method": "ping", "req_id": 100 + i})));
        assert!(matches!(read(&mut calm, 5.0), Got::Json(v) if v["method"] == "pong" && v["req_id"] == 100 + i));
    }
    // A frame over max_message_bytes ends the connection; the server stays up.
    let big = json!({"method": "ping", "req_id": 1, "pad": "x".repeat(5000)});
    try_send(&mut calm, big);
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        match read(&mut calm, 1.0) {
            Got::Closed(_) => break,
            Got::Json(v) => assert_ne!(v["method"], "pong", "an oversized request was answered: {v}"),
            Got::Nothing => assert!(Instant::now() < end, "oversized frame did not end the connection"),
        }
    }
    let mut fresh = try_open(&s).unwrap();
    assert!(matches!(read(&mut fresh, 5.0), Got::Json(v) if v["channel"] == "status"));
    s.assert_no_panics();
}

#[test]
fn a_client_that_never_reads_is_disconnected_and_nobody_else_waits() {
    let (s, _cfg) = server_with("client_queue = 64\nwrite_timeout_ms = 2000\nmessages_per_second = 1000\nmessage_burst = 1000", true);
    let k = s.demo.clone().unwrap();

    let end = Instant::now() + Duration::from_secs(15);
    while ok(&s.public("Depth", "pair=XBTUSD&count=1"))["XXBTZUSD"]["bids"].as_array().unwrap().is_empty() {
        assert!(Instant::now() < end, "the simulator never quoted");
        std::thread::sleep(Duration::from_millis(300));
    }
    let mut fast = try_open(&s).unwrap();
    try_send(&mut fast, json!({"method": "subscribe", "params": {"channel": "book", "symbol": ["BTC/USD"], "depth": 1000}}));
    let snap = wait_for(&mut fast, 15.0, |v| {
        v["channel"] == "book" && v["type"] == "snapshot" && !v["data"][0]["bids"].as_array().unwrap().is_empty()
    });
    let best_bid = snap["data"][0]["bids"][0]["price"].as_f64().unwrap();

    // The slow client subscribes to everything, then keeps asking for every book's snapshot
    // (about 30 KB an answer), and never reads.
    let mut slow = tiny_window(&s);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flood = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            for ch in ["trade", "ticker"] {
                try_send(&mut slow, json!({"method": "subscribe", "params": {"channel": ch, "symbol": FLOOD_PAIRS}}));
            }
            let n = flood_books(&mut slow, 4000, Duration::from_millis(5), &stop);
            (slow, n)
        })
    };

    // A buy at `price` placed over REST, then seen in the fast client's book within `seconds`:
    // how long the acknowledgement took, and how long until it was seen.
    let mut place_and_see = |price: f64, seconds: f64| {
        let sent = Instant::now();
        let r = s.private(
            &k,
            "AddOrder",
            &[("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "limit"), ("price", &format!("{price}")), ("volume", "0.001")],
        );
        ok(&r);
        let ack = sent.elapsed();
        wait_for(&mut fast, seconds, |v| {
            v["channel"] == "book" && v["data"][0]["bids"].as_array().is_some_and(|b| b.iter().any(|l| l["price"].as_f64() == Some(price)))
        });
        (ack, sent.elapsed())
    };

    // Meanwhile: REST orders are acknowledged at once and the fast client sees each in its book.
    let t0 = Instant::now();
    let mut worst_ack = Duration::ZERO;
    let mut worst_seen = Duration::ZERO;
    for i in 0..8 {
        let (ack, seen) = place_and_see((best_bid * (0.80 - 0.01 * i as f64)).floor(), 3.0);
        worst_ack = worst_ack.max(ack);
        worst_seen = worst_seen.max(seen);
        std::thread::sleep(Duration::from_millis(500));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut slow, flooded) = flood.join().unwrap();
    eprintln!(
        "orders: worst ack {worst_ack:?}, worst seen on the fast client {worst_seen:?}, over {:?}; {flooded} requests flooded",
        t0.elapsed()
    );
    assert!(worst_ack < Duration::from_secs(1), "REST acknowledgement took {worst_ack:?}");
    assert!(worst_seen < Duration::from_secs(2), "the fast client saw an order after {worst_seen:?}");

    // The slow client has been dropped: reading what was buffered ends in the connection's end.
    slow.get_mut().set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    until_closed(&mut slow, 20);
    // And the fast client is still served: an order of our own shows in its book (not whatever
    // the simulator does next, which can be nothing for five seconds on a loaded machine).
    place_and_see((best_bid * 0.70).floor(), 5.0);
    s.assert_no_panics();
}
