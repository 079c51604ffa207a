//! The WebSocket bounds added after tests/ws_limits.rs, through the real server and real
//! sockets: connection *attempts* per address (a draining counter: past the burst the upgrade is
//! answered HTTP 429 until it drains), and the /metrics counters of clients refused (per-address
//! cap, attempt rate, frame too big) and dropped (slow client, write deadline, request rate),
//! each driven by the event it counts and read back exactly.

mod common;

use common::ws::{flood_books, flood_pings, server_with, tiny_window, try_open as open, try_send as send, until_closed, Socket};
use common::{ok, Server};
use serde_json::json;
use std::net::TcpStream;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::{self, WebSocket};

fn refused_429(r: Result<Socket, tungstenite::Error>) -> String {
    match r {
        Err(tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status(), 429);
            String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default()).to_string()
        }
        Err(e) => panic!("expected HTTP 429, got {e}"),
        Ok(_) => panic!("the connection was accepted"),
    }
}

fn refused(s: &Server, reason: &str) -> u64 {
    s.metric(&format!("calamari_ws_refused_total{{reason=\"{reason}\"}}")).unwrap_or_else(|| panic!("refused {reason} in /metrics")) as u64
}

fn dropped(s: &Server, reason: &str) -> u64 {
    s.metric(&format!("calamari_ws_dropped_total{{reason=\"{reason}\"}}")).unwrap_or_else(|| panic!("dropped {reason} in /metrics")) as u64
}

#[test]
fn connection_attempts_are_limited_per_address_and_every_refusal_is_counted() {
    let (s, _cfg) = server_with(
        "connection_attempt_burst = 5\nconnection_attempts_per_second = 2\nmax_connections_per_address = 2\nmax_message_bytes = 4096",
        false,
    );
    for reason in ["per_address_cap", "attempt_rate", "frame_too_big"] {
        assert_eq!(refused(&s, reason), 0, "{reason} shown at 0 from the start");
    }
    for reason in ["slow_client", "write_deadline", "request_rate"] {
        assert_eq!(dropped(&s, reason), 0, "{reason} shown at 0 from the start");
    }
    // Five attempts within the burst: two stay open, the third is over the open cap (an attempt all the same).
    let mut held = vec![open(&s).unwrap(), open(&s).unwrap()];
    assert!(refused_429(open(&s)).contains("connections"));
    assert_eq!(refused(&s, "per_address_cap"), 1);
    held.pop().unwrap().close(None).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // Attempt 4 takes the freed slot; attempt 5 meets the cap again; the 6th is over the attempt rate.
    let t0 = Instant::now();
    held.push(open(&s).unwrap());
    assert!(refused_429(open(&s)).contains("connections"));
    let text = refused_429(open(&s));
    assert!(text.contains("attempts"), "{text}");
    assert_eq!((refused(&s, "per_address_cap"), refused(&s, "attempt_rate")), (2, 1));
    // REST from the same address is not affected.
    ok(&s.public("Time", ""));
    // It drains at 2 a second: after a second there is room again (the open slots permitting).
    held.pop().unwrap().close(None).unwrap();
    std::thread::sleep(Duration::from_millis(1100).saturating_sub(t0.elapsed()));
    let mut ws = open(&s).expect("room again after the counter drained");
    assert_eq!(refused(&s, "attempt_rate"), 1);

    // A frame over max_message_bytes ends the connection and is counted.
    send(&mut ws, json!({"method": "ping", "req_id": 1, "pad": "x".repeat(5000)}));
    until_closed(&mut ws, 5);
    let end = Instant::now() + Duration::from_secs(5);
    while refused(&s, "frame_too_big") == 0 {
        assert!(Instant::now() < end, "frame_too_big not counted");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(refused(&s, "frame_too_big"), 1);
}

#[test]
fn a_request_flood_is_counted_as_a_drop_for_request_rate() {
    let (s, _cfg) = server_with("messages_per_second = 1\nmessage_burst = 5\nclose_after_refused = 2", false);
    let mut ws = open(&s).unwrap();
    flood_pings(&mut ws, 20);
    until_closed(&mut ws, 5);
    let end = Instant::now() + Duration::from_secs(5);
    while dropped(&s, "request_rate") == 0 {
        assert!(Instant::now() < end, "request_rate not counted");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(dropped(&s, "request_rate"), 1, "one connection closed");
    assert_eq!(dropped(&s, "slow_client") + dropped(&s, "write_deadline"), 0);
}

/// A client that asks for book snapshots and never reads, until the server drops it; returns it.
fn flood_without_reading(s: &Server) -> WebSocket<TcpStream> {
    let mut slow = tiny_window(s);
    flood_books(&mut slow, 4000, Duration::from_millis(2), &AtomicBool::new(false));
    slow
}

fn wait_dropped(s: &Server, reason: &str) -> u64 {
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let n = dropped(s, reason);
        if n > 0 {
            return n;
        }
        assert!(Instant::now() < end, "{reason} never counted");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_client_that_never_reads_is_counted_by_what_dropped_it() {
    // A short queue and a long deadline: the queue fills first.
    let (s, _cfg) = server_with("client_queue = 16\nwrite_timeout_ms = 60000\nmessages_per_second = 1000\nmessage_burst = 1000", true);
    let _slow = flood_without_reading(&s);
    assert_eq!(wait_dropped(&s, "slow_client"), 1);
    assert_eq!(dropped(&s, "write_deadline"), 0, "the last writes to a dropped client are not counted again");
    drop(s);

    // A long queue and a short deadline: a write times out first.
    let (s, _cfg) = server_with("client_queue = 100000\nwrite_timeout_ms = 300\nmessages_per_second = 1000\nmessage_burst = 1000", true);
    let _slow = flood_without_reading(&s);
    assert_eq!(wait_dropped(&s, "write_deadline"), 1);
    assert_eq!(dropped(&s, "slow_client"), 0);
}
