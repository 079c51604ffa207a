//! `loadgen`: HTTP load against a real Calamari server, for BENCHMARKS.md. wrk and oha cannot
//! sign Kraken requests, so this is our own closed-loop generator; for public endpoints it drives
//! wrk. Every mode starts `calamari serve` (the binary beside it) on a fresh data directory on
//! 127.0.0.1:0 and checks, after the load, that the server's audit (conservation, holds, books)
//! still passes. Every answer is classified: OK (`{"error":[]…}`), a Kraken error (an envelope
//! whose errors are Kraken strings), or not Kraken at all (transport error, non-200, anything
//! else); a run with any answer of the last kind fails.
//!
//! * `loadgen [throughput] [--clients 16] [--seconds 10] [--markdown FILE]`: signed load
//!   ([`throughput`]): GET Time (the baseline), signed Balance, signed durable AddOrder, and
//!   AddOrder + CancelOrder of resting orders, with `--limits off`.
//! * `loadgen public [--seconds 10] [--connections 16] [--markdown FILE]`: wrk against the public
//!   endpoints ([`public`]), GET Time the baseline.
//! * `loadgen market` / `loadgen market-day`: the simulated market's cost to users' AddOrder
//!   latency (off, default rate, 10x side by side) and its storage per simulated day ([`market`]).
//! * `loadgen flood`: the call restrictions under a flood of invalid requests from thousands of
//!   loopback addresses ([`flood`]).
//!
//! `--markdown FILE` writes the mode's results table to FILE too; `scripts/load` puts the tables
//! into BENCHMARKS.md.

mod conn;
mod flood;
mod market;
mod public;
mod throughput;

use base64::Engine as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
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

fn arg_text(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned().unwrap_or_else(|| default.to_string())
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

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// A `calamari serve` started by loadgen, stopped (and its data directory removed) when dropped,
/// also when loadgen panics.
struct Server {
    child: Child,
    bin: PathBuf,
    data: PathBuf,
    args: Vec<String>,
    url: String,
}

impl Server {
    /// Starts the binary beside loadgen on a fresh data directory on 127.0.0.1:0 with `args`
    /// after `serve`; `files` are written into the data directory first (`{data}` in an argument
    /// is replaced by the directory).
    fn start(args: &[&str], files: &[(&str, String)], stderr: Stdio) -> Server {
        let bin: PathBuf = std::env::current_exe().unwrap().parent().unwrap().join("calamari");
        static STARTED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let data = std::env::temp_dir().join(format!("calamari-loadgen-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data);
        std::fs::create_dir_all(&data).unwrap();
        for (name, text) in files {
            std::fs::write(data.join(name), text).unwrap();
        }
        let dir = data.to_str().unwrap();
        let args: Vec<String> = args.iter().map(|a| a.replace("{data}", dir)).collect();
        let child = Self::spawn(&bin, &data, &args, stderr);
        let mut server = Server { child, bin, data, args, url: String::new() };
        server.wait_listening();
        server
    }

    fn spawn(bin: &PathBuf, data: &std::path::Path, args: &[String], stderr: Stdio) -> Child {
        Command::new(bin)
            .args(["--data-dir", data.to_str().unwrap(), "serve", "--listen", "127.0.0.1:0"])
            // A quiet exchange unless the run asks for the simulated market.
            .args(if args.iter().any(|a| a == "--market") { &[][..] } else { &["--market", "off"][..] })
            .args(args)
            // LOADGEN_RUST_LOG=info measures the server with its request log on.
            .env("RUST_LOG", std::env::var("LOADGEN_RUST_LOG").unwrap_or_else(|_| "warn".into()))
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start calamari")
    }

    fn wait_listening(&mut self) {
        let started = Instant::now();
        self.url = loop {
            if let Ok(text) = std::fs::read_to_string(self.data.join("server.json")) {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                    break v["url"].as_str().unwrap().to_string();
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("calamari serve {:?} exited: {status}", self.args);
            }
            assert!(started.elapsed() < Duration::from_secs(120), "server did not start");
            std::thread::sleep(Duration::from_millis(50));
        };
    }

    /// Stops the server (SIGTERM, as an operator would) and starts it again on the same data
    /// directory with the same arguments, each option in `set` given its new value; returns the
    /// seconds until it listened.
    fn restart(&mut self, set: &[(&str, &str)]) -> f64 {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(self.data.join("server.json"));
        for (option, value) in set {
            match self.args.iter().position(|a| a == option) {
                Some(i) => self.args[i + 1] = value.to_string(),
                None => self.args.extend([option.to_string(), value.to_string()]),
            }
        }
        let started = Instant::now();
        self.child = Self::spawn(&self.bin, &self.data, &self.args, Stdio::inherit());
        self.wait_listening();
        started.elapsed().as_secs_f64()
    }

    fn cli(&self, args: &[&str]) -> String {
        cli(&self.bin, &self.data, args)
    }

    /// A funded account at `tier` with an all-permission key.
    fn account_with_key(&self, name: &str, tier: &str) -> Arc<Key> {
        self.cli(&["account", "create", name]);
        self.cli(&["account", "tier", name, tier]);
        self.cli(&["deposit", "--account", name, "USD", "100000000"]);
        self.cli(&["deposit", "--account", name, "XBT", "1000"]);
        let out = self.cli(&["key", "create", "--account", name, "--name", "load", "--permissions", "all", "--json"]);
        let v: serde_json::Value = serde_json::from_str(out.trim()).expect("key json");
        let secret = base64::engine::general_purpose::STANDARD.decode(v["secret"].as_str().unwrap()).unwrap();
        Arc::new(Key { key: v["key"].as_str().unwrap().to_string(), secret })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("flood") => flood::flood(),
        Some("public") => public::public(),
        Some("market") => market::side_by_side(),
        Some("market-day") => market::simulated_day(),
        _ => throughput::throughput(),
    }
}

/// How the server answered one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Ok,
    /// A Kraken envelope with Kraken error strings (e.g. `EOrder:Insufficient funds`).
    KrakenError,
    /// Anything else: a transport error, a non-200 status, a body that is not the envelope.
    NotKraken,
}

fn classify(result: &Result<String, String>) -> Answer {
    let Ok(body) = result else { return Answer::NotKraken };
    if body.starts_with("{\"error\":[]") {
        return Answer::Ok;
    }
    let Ok(v) = serde_json::from_str::<serde_json::Value>(body) else { return Answer::NotKraken };
    let kraken = |e: &serde_json::Value| {
        e.as_str().is_some_and(|e| {
            let (category, text) = e.split_once(':').unwrap_or(("", ""));
            category.len() > 1 && (category.starts_with('E') || category.starts_with('W')) && !text.is_empty()
        })
    };
    match v["error"].as_array() {
        Some(errors) if !errors.is_empty() && errors.iter().all(kraken) => Answer::KrakenError,
        _ => Answer::NotKraken,
    }
}

/// Writes `text` to the file named by `--markdown`, if any.
fn write_markdown(text: &str) {
    let path = arg_text("--markdown", "");
    if !path.is_empty() {
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
}

/// Runs the server's audit (conservation, holds, books) and reads its panic counter; `None`
/// when the audit passes and nothing panicked, else what went wrong.
fn audit_problem(server: &Server) -> Option<String> {
    let metrics = ureq::get(&format!("{}/metrics", server.url)).call().ok().and_then(|r| r.into_string().ok()).unwrap_or_default();
    let panics = metrics.lines().find_map(|l| l.strip_prefix("calamari_panics_total ")).map(str::trim).map(str::to_string);
    let text = server.cli(&["audit"]);
    let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap_or(serde_json::Value::Null);
    if v["ok"] != true {
        return Some(text);
    }
    if panics.as_deref() != Some("0") {
        return Some(format!("calamari_panics_total is {panics:?}, expected \"0\""));
    }
    println!(
        "audit after load: ok ({} orders, {} trades, {} ledger entries); calamari_panics_total 0",
        v["orders"], v["trades"], v["ledger_entries"]
    );
    None
}
