//! `loadgen`: HTTP load against a real Calamari server, for BENCHMARKS.md. wrk and oha cannot
//! sign Kraken requests, so this is our own closed-loop generator.
//!
//! It starts `calamari serve` (the binary beside it) on a fresh data directory on 127.0.0.1:0,
//! creates one funded account and all-permission key per client through the CLI, then runs, each
//! for `--seconds` with `--clients` threads on keep-alive connections:
//!   1. `GET /0/public/Time` (the baseline: HTTP and the envelope, nothing else);
//!   2. signed `POST /0/private/Balance` (authentication, one engine read);
//!   3. signed, durable `POST /0/private/AddOrder` (limit orders around the mid, about a third
//!      crossing: authentication, validation, matching and a group-committed fsync).
//! It prints requests/s, p50 and p99, and the ratio of each to the baseline; counts any answer
//! that is not a Kraken envelope without errors; and finally runs `calamari audit` to show that
//! balances are conserved after the load. Usage: `loadgen [--clients 16] [--seconds 10]`.

use base64::Engine as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

struct Key {
    key: String,
    secret: Vec<u8>,
}

struct Outcome {
    latencies_us: Vec<u64>,
    errors: u64,
    first_error: Option<String>,
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn cli(bin: &Path, data: &Path, args: &[&str]) -> String {
    let out = Command::new(bin).arg("--data-dir").arg(data).args(args).output().expect("run calamari");
    assert!(out.status.success(), "calamari {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf8")
}

/// Strictly increasing nonces for one key (microseconds, bumped on collision).
fn nonce(last: &mut u64) -> u64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as u64;
    *last = now.max(*last + 1);
    *last
}

fn run_phase(
    url: &str,
    clients: usize,
    seconds: u64,
    keys: &[Arc<Key>],
    request: fn(&ureq::Agent, &str, &Key, &mut u64, u64) -> Result<String, String>,
) -> Outcome {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let counter = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..clients)
        .map(|i| {
            let url = url.to_string();
            let key = keys[i].clone();
            let counter = counter.clone();
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build();
                let mut last_nonce = 0;
                let mut lat = Vec::new();
                let (mut errors, mut first_error) = (0, None);
                while Instant::now() < deadline {
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    let t0 = Instant::now();
                    let body = request(&agent, &url, &key, &mut last_nonce, n);
                    lat.push(t0.elapsed().as_micros() as u64);
                    let ok = match &body {
                        Ok(b) => b.starts_with("{\"error\":[]"),
                        Err(_) => false,
                    };
                    if !ok {
                        errors += 1;
                        first_error.get_or_insert_with(|| format!("{body:?}"));
                    }
                }
                (lat, errors, first_error)
            })
        })
        .collect();
    let mut out = Outcome { latencies_us: Vec::new(), errors: 0, first_error: None };
    for h in handles {
        let (lat, errors, first) = h.join().expect("client thread");
        out.latencies_us.extend(lat);
        out.errors += errors;
        if out.first_error.is_none() {
            out.first_error = first;
        }
    }
    out.latencies_us.sort_unstable();
    out
}

fn time_request(agent: &ureq::Agent, url: &str, _: &Key, _: &mut u64, _: u64) -> Result<String, String> {
    agent.get(&format!("{url}/0/public/Time")).call().map_err(|e| e.to_string())?.into_string().map_err(|e| e.to_string())
}

fn signed(agent: &ureq::Agent, url: &str, key: &Key, method: &str, nonce: u64, params: &str) -> Result<String, String> {
    let path = format!("/0/private/{method}");
    let body = if params.is_empty() { format!("nonce={nonce}") } else { format!("nonce={nonce}&{params}") };
    let sign = calamari::auth::sign(&path, &nonce.to_string(), body.as_bytes(), &key.secret);
    agent
        .post(&format!("{url}{path}"))
        .set("API-Key", &key.key)
        .set("API-Sign", &sign)
        .set("Content-Type", "application/x-www-form-urlencoded")
        .send_string(&body)
        .map_err(|e| e.to_string())?
        .into_string()
        .map_err(|e| e.to_string())
}

fn balance_request(agent: &ureq::Agent, url: &str, key: &Key, last: &mut u64, _: u64) -> Result<String, String> {
    signed(agent, url, key, "Balance", nonce(last), "")
}

fn add_order_request(agent: &ureq::Agent, url: &str, key: &Key, last: &mut u64, n: u64) -> Result<String, String> {
    // Buys and sells alternate over 60 ticks around 88,000.0; about a third cross and trade.
    let side = if n % 2 == 0 { "buy" } else { "sell" };
    let offset = (n.wrapping_mul(2654435761) % 60) as i64 - 20;
    let price = match side {
        "buy" => 880_000 - offset,
        _ => 880_000 + offset,
    };
    let params = format!("ordertype=limit&type={side}&volume=0.001&pair=XBTUSD&price={}.{}", price / 10, price % 10);
    signed(agent, url, key, "AddOrder", nonce(last), &params)
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn main() {
    let clients = arg("--clients", 16) as usize;
    let seconds = arg("--seconds", 10);
    let bin: PathBuf = std::env::current_exe().unwrap().parent().unwrap().join("calamari");
    let data = std::env::temp_dir().join(format!("calamari-loadgen-{}", std::process::id()));
    std::fs::create_dir_all(&data).unwrap();
    let mut server = Command::new(&bin)
        .args(["--data-dir", data.to_str().unwrap(), "serve", "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start calamari");
    let started = Instant::now();
    let url = loop {
        if let Ok(text) = std::fs::read_to_string(data.join("server.json")) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                break v["url"].as_str().unwrap().to_string();
            }
        }
        assert!(started.elapsed() < Duration::from_secs(60), "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    };
    let keys: Vec<Arc<Key>> = (0..clients)
        .map(|i| {
            let name = format!("load{i}");
            cli(&bin, &data, &["account", "create", &name]);
            cli(&bin, &data, &["deposit", "--account", &name, "USD", "100000000"]);
            cli(&bin, &data, &["deposit", "--account", &name, "XBT", "1000"]);
            let out = cli(&bin, &data, &["key", "create", "--account", &name, "--name", "load", "--permissions", "all", "--json"]);
            let v: serde_json::Value = serde_json::from_str(out.trim()).expect("key json");
            let secret = base64::engine::general_purpose::STANDARD.decode(v["secret"].as_str().unwrap()).unwrap();
            Arc::new(Key { key: v["key"].as_str().unwrap().to_string(), secret })
        })
        .collect();

    println!(
        "loadgen: {clients} clients, {seconds} s per phase, server {url}, {} cores",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    println!("| request | requests/s | ratio to Time | p50 ms | p99 ms | non-OK answers |");
    println!("|---|---:|---:|---:|---:|---:|");
    let phases: [(&str, fn(&ureq::Agent, &str, &Key, &mut u64, u64) -> Result<String, String>); 3] =
        [("GET /0/public/Time", time_request), ("signed Balance", balance_request), ("signed durable AddOrder", add_order_request)];
    let mut baseline = 0.0;
    let mut failed = false;
    for (name, request) in phases {
        let o = run_phase(&url, clients, seconds, &keys, request);
        let rate = o.latencies_us.len() as f64 / seconds as f64;
        if baseline == 0.0 {
            baseline = rate;
        }
        println!(
            "| {name} | {rate:.0} | {:.2} | {:.2} | {:.2} | {} |",
            rate / baseline,
            percentile(&o.latencies_us, 0.50) as f64 / 1000.0,
            percentile(&o.latencies_us, 0.99) as f64 / 1000.0,
            o.errors
        );
        if let Some(e) = o.first_error {
            eprintln!("first non-OK answer in {name}: {e}");
            failed = true;
        }
    }
    let audit = cli(&bin, &data, &["audit"]);
    println!("\naudit after load:\n{}", audit.trim());
    let _ = Command::new("kill").arg("-TERM").arg(server.id().to_string()).status();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&data);
    if failed {
        std::process::exit(1);
    }
}
