//! Graceful shutdown (SIGTERM) under concurrent signed load:
//!
//! * requests in flight at the signal finish: several clients have sent the head and half the
//!   body of a signed AddOrder on a connection the server already answered once; after SIGTERM
//!   they send the rest and must get a complete `200` with a txid;
//! * load clients (AddOrder, CancelOrder, admin deposits, one fresh connection per request) never
//!   see a truncated answer: each request either gets its whole answer or is refused before the
//!   server read anything (a connection not yet accepted when the listener closed);
//! * the server exits with status 0 within a few seconds;
//! * storage is synced: after a restart every acknowledged order, cancel and deposit is there,
//!   the audit is ok, and a Balance nonce used just before the signal is refused as reused
//!   (the nonces of reads are flushed on the way out, not only every second).

mod common;
use common::{next_nonce, ok, sign_form, Key, Server, SignedForm};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

const ARGS: &[&str] = &["--limits", "off"];
const SLOW: usize = 4;
const LOAD: usize = 4;

/// The outcome of one raw HTTP exchange.
#[derive(Debug)]
enum Answer {
    Complete(u16, Value),
    /// The connection ended before any byte of an answer.
    Refused,
    /// Some bytes of an answer, then the connection ended: never acceptable.
    Truncated(String),
}

fn host(url: &str) -> String {
    url.trim_start_matches("http://").to_string()
}

fn signed_request(host: &str, k: &Key, method: &str, params: &[(&str, &str)], keep_alive: bool) -> (String, String) {
    let SignedForm { path, body, sign, .. } = sign_form(k, method, params);
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nAPI-Key: {}\r\nAPI-Sign: {sign}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: {}\r\n\r\n",
        k.key,
        body.len(),
        if keep_alive { "keep-alive" } else { "close" }
    );
    (head, body)
}

/// Reads one HTTP/1.1 answer (Content-Length framed) from the stream.
fn read_answer(stream: &mut TcpStream) -> Answer {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let len = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap()))
                .unwrap_or_else(|| panic!("answer without content-length: {head}"));
            if buf.len() >= end + 4 + len {
                let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
                let body = serde_json::from_slice(&buf[end + 4..end + 4 + len]).unwrap_or(Value::Null);
                return Answer::Complete(status, body);
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) if buf.is_empty() => return Answer::Refused,
            Ok(0) | Err(_) => return Answer::Truncated(String::from_utf8_lossy(&buf).to_string()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// One request on a fresh connection.
fn call(host: &str, head: &str, body: &str) -> Answer {
    let Ok(mut s) = TcpStream::connect(host) else { return Answer::Refused };
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    if s.write_all(head.as_bytes()).and_then(|_| s.write_all(body.as_bytes())).is_err() {
        return Answer::Refused;
    }
    read_answer(&mut s)
}

#[derive(Default)]
struct Acked {
    orders: Vec<(usize, String)>,
    canceled: Vec<(usize, String)>,
    deposits: Vec<(usize, String)>,
    refused_before_signal: usize,
    refused_after_signal: usize,
    complete_after_signal: usize,
}

fn load(host: String, k: Key, who: usize, acked: Arc<Mutex<Acked>>, stop: Arc<AtomicBool>, signal: Arc<Mutex<Option<Instant>>>) {
    let mut i = 0u64;
    let mut mine: Vec<String> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let price = format!("{}.0", 49_990 + (i * 7 + who as u64) % 20);
        let side = if (i + who as u64).is_multiple_of(2) { "buy" } else { "sell" };
        let cancel = i.is_multiple_of(3) && !mine.is_empty();
        let (head, body) = if cancel {
            signed_request(&host, &k, "CancelOrder", &[("txid", mine.last().unwrap())], false)
        } else {
            let p = [("pair", "XBTUSD"), ("type", side), ("ordertype", "limit"), ("price", &price), ("volume", "0.001")];
            signed_request(&host, &k, "AddOrder", &p, false)
        };
        let sent = Instant::now();
        let answer = call(&host, &head, &body);
        let signaled = *signal.lock().unwrap();
        let before = signaled.is_none_or(|t| sent < t);
        let mut a = acked.lock().unwrap();
        match answer {
            Answer::Complete(200, v) => {
                if !before {
                    a.complete_after_signal += 1;
                }
                if cancel {
                    let id = mine.pop().unwrap();
                    if v["result"]["count"] == 1 {
                        a.canceled.push((who, id));
                    }
                } else if let Some(id) = v["result"]["txid"][0].as_str() {
                    a.orders.push((who, id.to_string()));
                    mine.push(id.to_string());
                }
            }
            Answer::Complete(status, v) => panic!("HTTP {status}: {v}"),
            Answer::Refused if before => a.refused_before_signal += 1,
            Answer::Refused => {
                a.refused_after_signal += 1;
                return;
            }
            Answer::Truncated(t) => panic!("a request got a truncated answer during shutdown: {t:?}"),
        }
    }
}

#[test]
fn sigterm_drains_in_flight_requests_and_loses_nothing() {
    let mut s = Server::start_with(ARGS, &[]);
    let _tmp = s._tmp_take();
    let dir = s.data_dir.clone();
    let h = host(&s.url);
    let load_keys: Vec<Key> = (0..LOAD).map(|i| s.account(&format!("load{i}"), "100000", "2", "all")).collect();
    let slow_keys: Vec<Key> = (0..SLOW).map(|i| s.account(&format!("slow{i}"), "100000", "2", "all")).collect();
    let reader = s.account("reader", "0", "0", "all");
    let acked = Arc::new(Mutex::new(Acked::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let signal: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));

    // Slow clients: one answered request, then half of the next one, then wait for the signal.
    let half_sent = Arc::new(Barrier::new(SLOW + 1));
    let go_on = Arc::new(Barrier::new(SLOW + 1));
    let mut slow = Vec::new();
    for k in slow_keys.clone() {
        let (h, half_sent, go_on) = (h.clone(), half_sent.clone(), go_on.clone());
        slow.push(std::thread::spawn(move || {
            let mut conn = TcpStream::connect(&h).unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            let (head, body) = signed_request(&h, &k, "Balance", &[], true);
            conn.write_all(format!("{head}{body}").as_bytes()).unwrap();
            assert!(matches!(read_answer(&mut conn), Answer::Complete(200, _)), "first request on the slow connection");
            let p = [("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "limit"), ("price", "40000.0"), ("volume", "0.01")];
            let (head, body) = signed_request(&h, &k, "AddOrder", &p, true);
            let (first, rest) = body.split_at(body.len() / 2);
            conn.write_all(format!("{head}{first}").as_bytes()).unwrap();
            half_sent.wait();
            go_on.wait();
            conn.write_all(rest.as_bytes()).expect("the server closed a connection with a request in flight");
            read_answer(&mut conn)
        }));
    }
    let mut loaders = Vec::new();
    for (who, k) in load_keys.iter().cloned().enumerate() {
        let (h, acked, stop, signal) = (h.clone(), acked.clone(), stop.clone(), signal.clone());
        loaders.push(std::thread::spawn(move || load(h, k, who, acked, stop, signal)));
    }
    let depositor = {
        let (url, token, acked, stop) =
            (s.url.clone(), std::fs::read_to_string(dir.join("admin.token")).unwrap(), acked.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let r = ureq::post(&format!("{url}/admin/deposits"))
                    .set("Authorization", &format!("Bearer {}", token.trim()))
                    .set("Connection", "close")
                    .send_json(json!({ "account": "load0", "asset": "USD", "amount": "1.5" }));
                match r {
                    Ok(r) => {
                        let v: Value = r.into_json().expect("a complete deposit answer");
                        acked.lock().unwrap().deposits.push((0, v["refid"].as_str().unwrap().to_string()));
                    }
                    Err(_) => return,
                }
            }
        })
    };
    half_sent.wait();
    std::thread::sleep(Duration::from_millis(700)); // load runs; the slow requests sit half-read
                                                    // A read just before the signal: its nonce is only in memory until the shutdown flush.
    let read_nonce = next_nonce().to_string();
    let body = format!("nonce={read_nonce}");
    ok(&s.signed(&reader, "Balance", &read_nonce, &body));

    let pid = s.child.as_ref().unwrap().id();
    let t0 = Instant::now();
    *signal.lock().unwrap() = Some(t0);
    assert!(std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap().success());
    std::thread::sleep(Duration::from_millis(300));
    go_on.wait();
    let mut slow_txids = Vec::new();
    for (i, t) in slow.into_iter().enumerate() {
        match t.join().unwrap() {
            Answer::Complete(200, v) => slow_txids.push((i, v["result"]["txid"][0].as_str().unwrap_or_else(|| panic!("{v}")).to_string())),
            other => panic!("request in flight at SIGTERM did not complete: {other:?}"),
        }
    }
    let status = loop {
        if let Some(st) = s.child.as_mut().unwrap().try_wait().unwrap() {
            break st;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "the server did not exit within 10 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    let exit_after = t0.elapsed();
    s.child = None;
    assert!(status.success(), "exit status after SIGTERM: {status}");
    stop.store(true, Ordering::Relaxed);
    for t in loaders {
        t.join().unwrap();
    }
    depositor.join().unwrap();

    // Restart: everything acknowledged is there, the books balance, the read's nonce is used.
    let s2 = Server::start_in_with(&dir, ARGS, &[]);
    let a = acked.lock().unwrap();
    let check_orders = |k: &Key, ids: Vec<&String>| {
        for chunk in ids.chunks(50) {
            let joined = chunk.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",");
            let q = s2.private(k, "QueryOrders", &[("txid", &joined)]);
            for id in chunk {
                assert!(ok(&q).get(id.as_str()).is_some(), "acknowledged order {id} lost over SIGTERM");
            }
        }
    };
    for (who, k) in load_keys.iter().enumerate() {
        check_orders(k, a.orders.iter().filter(|(w, _)| *w == who).map(|(_, t)| t).collect());
        for (_, id) in a.canceled.iter().filter(|(w, _)| *w == who) {
            assert_eq!(ok(&s2.private(k, "QueryOrders", &[("txid", id)]))[id]["status"], "canceled", "acknowledged cancel of {id} lost");
        }
    }
    for (i, id) in &slow_txids {
        check_orders(&slow_keys[*i], vec![id]);
    }
    let refids: Vec<String> = {
        let r = s2.private(&load_keys[0], "Ledgers", &[("type", "deposit")]);
        let count = ok(&r)["count"].as_u64().unwrap() as usize;
        let mut all = Vec::new();
        while all.len() < count {
            let page = s2.private(&load_keys[0], "Ledgers", &[("type", "deposit"), ("ofs", &all.len().to_string())]);
            all.extend(ok(&page)["ledger"].as_object().unwrap().values().map(|e| e["refid"].as_str().unwrap().to_string()));
        }
        all
    };
    for (_, refid) in &a.deposits {
        assert_eq!(refids.iter().filter(|r| *r == refid).count(), 1, "acknowledged deposit {refid} not there exactly once");
    }
    let audit: Value = serde_json::from_str(s2.cli(&["audit"]).trim()).unwrap();
    assert_eq!(audit["ok"], true, "{audit}");
    let reused = s2.signed(&reader, "Balance", &read_nonce, &body);
    assert_eq!(reused["error"][0], "EAPI:Invalid nonce", "a nonce used before SIGTERM was accepted again: {reused}");
    eprintln!(
        "shutdown: exit 0 after {:.0} ms; {SLOW}/{SLOW} half-sent requests completed after the signal; load acked {} orders, {} cancels, \
         {} deposits, all present after restart; {} answers completed after the signal, {} refused after, {} refused unread before; \
         reused nonce refused",
        exit_after.as_secs_f64() * 1000.0,
        a.orders.len(),
        a.canceled.len(),
        a.deposits.len(),
        a.complete_after_signal,
        a.refused_after_signal,
        a.refused_before_signal
    );
}
