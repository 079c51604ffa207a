//! A blocking WebSocket API v2 client for the tests (tungstenite on the real server's `/v2`), so
//! that the WebSocket test files (ws.rs, ws_limits.rs, ws_bounds.rs, ws_private.rs, ws_trading.rs)
//! share one way to connect, send, read the next message within a time, wait for one that
//! matches, subscribe, and collect the acks of a request; and one way to misbehave for the bounds
//! tests: a flood of pings, a client that never reads flooding book requests, and reading until
//! the server ends the connection.

use super::{ok, Key, Server};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::{
    self, client::client, connect, protocol::frame::coding::CloseCode, stream::MaybeTlsStream, Message, WebSocket,
};

pub type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

/// A server with the `[ws]` table given (the rest of the config built in), limits off, the
/// simulated market on if asked; the config's directory lives as long as the returned guard.
pub fn server_with(ws_table: &str, market: bool) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("ws.toml");
    std::fs::write(&cfg, format!("[ws]\n{ws_table}\n")).unwrap();
    let mut args = vec!["--config", cfg.to_str().unwrap(), "--limits", "off"];
    if market {
        args.extend(["--market", "on"]);
    }
    (Server::start_with(&args, &[]), dir)
}

/// The server's WebSocket v2 address.
pub fn url(s: &Server) -> String {
    s.url.replace("http://", "ws://") + "/v2"
}

/// A connection to `/v2`, reads polling every 100 ms; the handshake's error as it came (a refused
/// upgrade is `Error::Http`).
pub fn try_open(s: &Server) -> Result<Socket, tungstenite::Error> {
    let (mut ws, _) = connect(url(s))?;
    if let MaybeTlsStream::Plain(t) = ws.get_mut() {
        t.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    }
    Ok(ws)
}

pub fn open(s: &Server) -> Socket {
    try_open(s).expect("connect /v2")
}

/// Sends `v` as a text frame; panics if the connection cannot take it.
pub fn send<S: Read + Write>(ws: &mut WebSocket<S>, v: Value) {
    ws.send(Message::Text(v.to_string().into())).unwrap();
}

/// Sends `v` as a text frame; whether the connection took it.
pub fn try_send<S: Read + Write>(ws: &mut WebSocket<S>, v: Value) -> bool {
    ws.send(Message::Text(v.to_string().into())).is_ok()
}

/// What a read within a time gave.
pub enum Got {
    Json(Value),
    /// The end of the connection, with the close code if a close frame came.
    Closed(Option<CloseCode>),
    Nothing,
}

/// The next message within `secs`: a JSON text, the end of the connection, or nothing.
pub fn read(ws: &mut Socket, secs: f64) -> Got {
    let end = Instant::now() + Duration::from_secs_f64(secs);
    while Instant::now() < end {
        match ws.read() {
            Ok(Message::Text(t)) => return Got::Json(serde_json::from_str(t.as_str()).expect("json")),
            Ok(Message::Close(f)) => return Got::Closed(f.map(|f| f.code)),
            Ok(_) => continue,
            Err(tungstenite::Error::Io(e)) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => continue,
            Err(_) => return Got::Closed(None),
        }
    }
    Got::Nothing
}

/// The next JSON message within `secs` (heartbeats and status included), or None; panics if the
/// connection ends.
pub fn next(ws: &mut Socket, secs: f64) -> Option<Value> {
    match read(ws, secs) {
        Got::Json(v) => Some(v),
        Got::Closed(c) => panic!("socket closed ({c:?})"),
        Got::Nothing => None,
    }
}

/// The next message matching `pred` within `secs` (others skipped); panics if none comes or the
/// connection ends.
pub fn wait_for(ws: &mut Socket, secs: f64, pred: impl Fn(&Value) -> bool) -> Value {
    let end = Instant::now() + Duration::from_secs_f64(secs);
    while Instant::now() < end {
        match read(ws, 0.3) {
            Got::Json(v) if pred(&v) => return v,
            Got::Closed(c) => panic!("closed ({c:?}) while waiting"),
            _ => {}
        }
    }
    panic!("no matching message within {secs}s");
}

fn is_chatter(v: &Value) -> bool {
    v["channel"] == "heartbeat" || v["channel"] == "status"
}

/// Every message but heartbeats and status within `secs`.
pub fn drain(ws: &mut Socket, secs: f64) -> Vec<Value> {
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let mut out = Vec::new();
    while Instant::now() < end {
        if let Some(v) = next(ws, 0.1) {
            if !is_chatter(&v) {
                out.push(v);
            }
        }
    }
    out
}

/// The messages but heartbeats and status until one matches `pred` (included), within `secs`.
pub fn until(ws: &mut Socket, secs: f64, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let mut out = Vec::new();
    while Instant::now() < end {
        if let Some(v) = next(ws, 0.1) {
            if is_chatter(&v) {
                continue;
            }
            let hit = pred(&v);
            out.push(v);
            if hit {
                return out;
            }
        }
    }
    panic!("no matching message within {secs}s; got {out:?}");
}

/// A WebSocket token from REST GetWebSocketsToken.
pub fn token(s: &Server, k: &Key) -> String {
    ok(&s.private(k, "GetWebSocketsToken", &[]))["token"].as_str().unwrap().to_string()
}

/// Subscribes with `params` and `req_id`; the ack.
pub fn subscribe(ws: &mut Socket, params: Value, req_id: u64) -> Value {
    send(ws, json!({"method": "subscribe", "params": params, "req_id": req_id}));
    until(ws, 5.0, |v| v["req_id"] == json!(req_id)).pop().unwrap()
}

/// The next `n` messages carrying `req_id` within 10 s (others skipped).
pub fn acks(ws: &mut Socket, req_id: u64, n: usize) -> Vec<Value> {
    let end = Instant::now() + Duration::from_secs(10);
    let mut out = Vec::new();
    while out.len() < n {
        assert!(Instant::now() < end, "only {} of {n} acks for req_id {req_id}: {out:?}", out.len());
        match read(ws, 0.2) {
            Got::Json(v) if v["req_id"] == json!(req_id) => out.push(v),
            Got::Closed(c) => panic!("socket closed ({c:?})"),
            _ => {}
        }
    }
    out
}

/// Sends pings (req_id 0, 1, ...) without reading, at most `n`; how many the connection took
/// before it refused one.
pub fn flood_pings<S: Read + Write>(ws: &mut WebSocket<S>, n: u64) -> u64 {
    (0..n).take_while(|i| try_send(ws, json!({"method": "ping", "req_id": i}))).count() as u64
}

/// The pairs a client that never reads asks the books of.
pub const FLOOD_PAIRS: [&str; 8] = ["BTC/USD", "ETH/USD", "SOL/USD", "XRP/USD", "DOGE/USD", "ADA/USD", "LINK/USD", "BCH/USD"];

/// A WebSocket over a socket with a 4 KiB receive buffer, for a client that never reads.
pub fn tiny_window(s: &Server) -> WebSocket<TcpStream> {
    let addr: std::net::SocketAddr = s.url.trim_start_matches("http://").parse().unwrap();
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    sock.connect(&addr.into()).unwrap();
    let tcp: TcpStream = sock.into();
    tcp.set_write_timeout(Some(Duration::from_millis(500))).unwrap();
    let (ws, _) = client(url(s), tcp).expect("handshake");
    ws
}

/// Without reading: subscribes to and unsubscribes from [`FLOOD_PAIRS`]' books 1000 deep in turn
/// (each snapshot about 30 KB), `pause` apart, until `n` requests went out, `stop` is set, or the
/// connection refuses one; how many went out.
pub fn flood_books<S: Read + Write>(ws: &mut WebSocket<S>, n: u64, pause: Duration, stop: &AtomicBool) -> u64 {
    let mut sent = 0;
    while sent < n && !stop.load(Ordering::Relaxed) {
        let m = if sent % 2 == 0 { "subscribe" } else { "unsubscribe" };
        if !try_send(ws, json!({"method": m, "params": {"channel": "book", "symbol": FLOOD_PAIRS, "depth": 1000}})) {
            break;
        }
        sent += 1;
        std::thread::sleep(pause);
    }
    sent
}

/// Reads (what was buffered, then whatever comes) until the connection ends, with a close frame
/// or an error; panics if it has not within `secs`. The socket's reads must time out.
pub fn until_closed<S: Read + Write>(ws: &mut WebSocket<S>, secs: u64) {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        match ws.read() {
            Ok(Message::Close(_)) => return,
            Ok(_) => {}
            Err(tungstenite::Error::Io(e)) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
        assert!(Instant::now() < end, "the connection was not closed within {secs} s");
    }
}
