//! `cargo bench --bench ws_fanout`: N WebSocket clients (default 1000; `WS_CLIENTS`) subscribed to
//! one moving book (BTC/USD, moved by the simulated market with its default figures)
//! for `WS_SECONDS` (default 20) after `WS_WARMUP` (default 10). Reports the update lag from the batch's engine time (the book
//! message's `timestamp`, stamped just before the commit) to the client's receipt, p50/p99/max,
//! the messages delivered, and the server's CPU time (user + system, /proc) per delivered message.
//! Needs `target/release/calamari` (`cargo build --release`); prints one Markdown row.

use futures_util::{SinkExt, StreamExt};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio_tungstenite::tungstenite::Message;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64
}

/// The server's CPU time so far, in clock ticks (utime + stime of /proc/PID/stat).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benches; nothing to list here
    }
    let clients = env("WS_CLIENTS", 1000);
    let seconds = env("WS_SECONDS", 20);
    let root = env!("CARGO_MANIFEST_DIR");
    let data = std::env::temp_dir().join(format!("calamari-ws-fanout-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).unwrap();
    let mut child = Command::new(format!("{root}/target/release/calamari"))
        .args(["--data-dir", data.to_str().unwrap(), "serve", "--listen", "127.0.0.1:0", "--limits", "off", "--market", "on"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start target/release/calamari (cargo build --release first)");
    let started = Instant::now();
    let url = loop {
        if let Ok(Ok(v)) = std::fs::read_to_string(data.join("server.json")).map(|t| serde_json::from_str::<serde_json::Value>(&t)) {
            break v["url"].as_str().unwrap().replace("http://", "ws://") + "/v2";
        }
        assert!(started.elapsed() < Duration::from_secs(120), "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    };
    let pid = child.id();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let lags: Arc<Mutex<Vec<u64>>> = Arc::default();
    let delivered = Arc::new(AtomicU64::new(0));
    let measuring = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (cpu, elapsed, connected) = rt.block_on(async {
        let mut tasks = Vec::new();
        let mut connected = 0;
        for _ in 0..clients {
            let Ok((mut ws, _)) = tokio_tungstenite::connect_async(url.as_str()).await else { continue };
            connected += 1;
            let sub = r#"{"method":"subscribe","params":{"channel":"book","symbol":["BTC/USD"],"depth":10}}"#;
            ws.send(Message::text(sub)).await.unwrap();
            let (lags, delivered, measuring) = (lags.clone(), delivered.clone(), measuring.clone());
            tasks.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                while let Some(Ok(msg)) = ws.next().await {
                    let Message::Text(text) = msg else { continue };
                    if std::env::var("WS_DEBUG").is_ok() && !text.contains("heartbeat") {
                        eprintln!("{}", &text[..text.len().min(150)]);
                    }
                    if !measuring.load(Ordering::Relaxed) {
                        continue;
                    }
                    delivered.fetch_add(1, Ordering::Relaxed);
                    if !text.contains("\"type\":\"update\"") || !text.contains("\"channel\":\"book\"") {
                        continue;
                    }
                    let received = now_ns();
                    if let Some(at) = text.find("\"timestamp\":\"") {
                        let rest = &text[at + 13..];
                        if let Some(sent) = rest.split('"').next().and_then(calamari::calendar::parse_rfc3339) {
                            mine.push(received.saturating_sub(sent));
                        }
                    }
                    if !mine.is_empty() {
                        lags.lock().unwrap().append(&mut mine);
                    }
                }
                lags.lock().unwrap().append(&mut mine);
            }));
        }
        // The simulated market's first steps (genesis, the first ladders) before measuring.
        tokio::time::sleep(Duration::from_secs(env("WS_WARMUP", 10))).await;
        measuring.store(true, Ordering::Relaxed);
        let (cpu0, t0) = (cpu_ticks(pid), Instant::now());
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        measuring.store(false, Ordering::Relaxed);
        let (cpu1, elapsed) = (cpu_ticks(pid), t0.elapsed());
        for t in tasks {
            t.abort();
        }
        (cpu1 - cpu0, elapsed, connected)
    });
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&data);
    let mut lags = lags.lock().unwrap().clone();
    lags.sort_unstable();
    let q = |f: f64| lags.get(((lags.len() as f64 * f) as usize).min(lags.len().saturating_sub(1))).copied().unwrap_or(0) as f64 / 1e6;
    let n = delivered.load(Ordering::Relaxed);
    let tick_us = 1e6 / 100.0; // USER_HZ
    println!("| clients connected | messages delivered | per second | book updates timed | lag p50 ms | lag p99 ms | lag max ms | server CPU µs per message |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {connected} of {clients} | {n} | {:.0} | {} | {:.2} | {:.2} | {:.2} | {:.1} |",
        n as f64 / elapsed.as_secs_f64(),
        lags.len(),
        q(0.5),
        q(0.99),
        q(1.0),
        cpu as f64 * tick_us / n.max(1) as f64
    );
}
