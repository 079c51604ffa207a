//! Restart time with and without engine checkpoints (BENCHMARKS.md §8). Builds a data directory
//! of `RESTART_COMMANDS` logged commands (default 1,000,000; 20,000 with CI=true) straight into
//! the SQLite command log: 100 accounts with deposits, then a stream of limit orders around a mid
//! price on XBTUSD (about a third cross and trade) and cancels of resting ones, each applied to an
//! engine first so every record is one the server accepts. Then: a checkpoint is built from the
//! log (as the checkpoint thread builds one), `RESTART_TAIL` more commands are logged after it
//! (default a tenth, rounded to the 8,192-record batches), and `calamari serve` is started twice,
//! timed from spawn to its "listening" line: with the checkpoints moved aside (the whole log
//! replayed) and with them (checkpoint + tail).
//!
//! `cargo bench --bench restart` (or `RESTART_COMMANDS=10000000 cargo bench --bench restart`).

use calamari::config::Config;
use calamari::engine::account::FIRST_USER;
use calamari::engine::markets::Markets;
use calamari::engine::order::{NewOrder, Side};
use calamari::engine::{Applied, CancelTarget, Command, Envelope, Exchange};
use calamari::storage::HistoryStore;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command as Proc, Stdio};
use std::time::Instant;

const SEED: u64 = 7;
const ACCOUNTS: u32 = 100;

struct Gen {
    ex: Exchange,
    t: u64,
    rng: u64,
    live: Vec<(u32, u32)>, // (account, order seq)
}

impl Gen {
    fn next(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn apply(&mut self, command: Command, out: &mut Vec<Vec<u8>>) -> Option<Applied> {
        self.t += 1_000_000;
        let env = Envelope { time_ns: self.t, key_nonce: None, command };
        let r = self.ex.apply(&env).ok()?;
        out.push(serde_json::to_vec(&env).unwrap());
        Some(r)
    }

    /// One more command: a limit order (a third of them crossing) or a cancel of a resting one.
    fn step(&mut self, out: &mut Vec<Vec<u8>>) {
        let r = self.next();
        if r.is_multiple_of(2) && !self.live.is_empty() {
            let i = (self.next() % self.live.len() as u64) as usize;
            let (account, seq) = self.live.swap_remove(i);
            if self.ex.open_order(seq as u64).is_some() {
                self.apply(Command::Cancel { account, target: CancelTarget::Order(seq as u64) }, out);
                return;
            }
        }
        let account = FIRST_USER + (self.next() % ACCOUNTS as u64) as u32;
        let side = if r & 4 == 0 { Side::Buy } else { Side::Sell };
        let away = (self.next() % 2_000) as i64 - if r.is_multiple_of(3) { 300 } else { -1 };
        let mid = 500_000i64; // 50,000.0 at pair_decimals 1
        let price = match side {
            Side::Buy => mid - away,
            Side::Sell => mid + away,
        } as u64;
        let volume = (1 + self.next() % 50) as i128 * 100_000; // 0.001 .. 0.05 XBT
        if let Some(Applied::OrderPlaced(seq)) = self.apply(Command::PlaceOrder(NewOrder::limit(account, 0, side, price, volume)), out) {
            if self.ex.open_order(seq).is_some() {
                self.live.push((account, seq as u32));
            }
        }
    }
}

fn build(dir: &Path, n: u64, tail: u64) -> (f64, f64) {
    let markets = Markets::from_config(&Config::builtin()).unwrap();
    let (mut log, keys) = calamari::storage::open_sqlite(dir).unwrap();
    let mut history = calamari::storage::history_db::HistoryDb::open(dir, 0).unwrap();
    keys.set_meta("id_seed", &SEED.to_string()).unwrap();
    let mut g =
        Gen { ex: Exchange::new(markets.clone(), SEED), t: 1_750_000_000_000_000_000, rng: 0x9e37_79b9_7f4a_7c15, live: Vec::new() };
    let mut out = Vec::new();
    for i in 0..ACCOUNTS {
        g.apply(Command::CreateAccount { name: format!("bench{i}") }, &mut out);
        for asset in 0..2u16 {
            g.apply(Command::Deposit { account: FIRST_USER + i, asset, amount: 10i128.pow(16) }, &mut out);
        }
    }
    let started = Instant::now();
    let mut written = out.len() as u64;
    // With the history the commands emitted, as the server's history thread writes them.
    log.append(&out).unwrap();
    history.flush(&[std::mem::take(&mut g.ex.history_out)], written).unwrap();
    let mut checkpoint_s = 0.0;
    while written < n {
        out.clear();
        while out.len() < 8192 && written + (out.len() as u64) < n {
            g.step(&mut out);
        }
        written += out.len() as u64;
        log.append(&out).unwrap();
        history.flush(&[std::mem::take(&mut g.ex.history_out)], written).unwrap();
        if written >= n - tail && checkpoint_s == 0.0 {
            let t = Instant::now();
            let w = calamari::recovery::checkpoint::build(dir, markets.clone(), SEED, 2).unwrap().unwrap();
            checkpoint_s = t.elapsed().as_secs_f64();
            println!(
                "checkpoint at record {}: {:.1} MB, built in {:.2} s (replay {} ms, encode {} ms, digest {} ms, write+fsync {} ms)",
                w.seq,
                w.bytes as f64 / 1e6,
                checkpoint_s,
                w.replay_ms,
                w.encode_ms,
                w.digest_ms,
                w.write_ms
            );
        }
    }
    println!(
        "built {written} records in {:.1} s ({} orders, {} trades, {} ledger entries in the state)",
        started.elapsed().as_secs_f64(),
        g.ex.orders.next_seq(),
        g.ex.history.next_trade,
        g.ex.history.next_ledger
    );
    (started.elapsed().as_secs_f64(), checkpoint_s)
}

/// Starts `calamari serve` on `dir` and returns the seconds until it listens, and its RSS then.
fn start(dir: &Path, checkpoints: bool) -> (f64, u64) {
    let cfg = dir.join(if checkpoints { "on.toml" } else { "off.toml" });
    let every = if checkpoints { 100_000_000 } else { 0 }; // on, but not due during the measurement
    std::fs::write(&cfg, format!("[storage]\ncheckpoint_every_commands = {every}\ncheckpoint_every_seconds = 0\n")).unwrap();
    let started = Instant::now();
    let mut child = Proc::new(env!("CARGO_BIN_EXE_calamari"))
        .args(["--data-dir", dir.to_str().unwrap(), "serve", "--listen", "127.0.0.1:0", "--market", "off"])
        .args(["--config", cfg.to_str().unwrap()])
        .env("RUST_LOG", std::env::var("RESTART_LOG").unwrap_or_else(|_| "warn".into()))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("server output").unwrap();
        if line.contains("listening on") {
            break;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let rss = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0u64);
    let _ = Proc::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let _ = child.wait();
    (secs, rss / 1024)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let n: u64 = std::env::var("RESTART_COMMANDS").ok().and_then(|s| s.parse().ok()).unwrap_or(if ci { 20_000 } else { 1_000_000 });
    let tail: u64 = std::env::var("RESTART_TAIL").ok().and_then(|s| s.parse().ok()).unwrap_or(n / 10);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    build(&dir, n, tail);
    let db = ["calamari.db", "calamari.db-wal", "history.db", "history.db-wal"]
        .iter()
        .map(|f| std::fs::metadata(dir.join(f)).map(|m| m.len()).unwrap_or(0))
        .sum::<u64>();
    // Off: the same directory without its checkpoints (moved aside), so the whole log is replayed.
    std::fs::rename(dir.join("checkpoints"), tmp.path().join("aside")).unwrap();
    let (off, rss_off) = start(&dir, false);
    std::fs::rename(tmp.path().join("aside"), dir.join("checkpoints")).unwrap();
    let (on, rss_on) = start(&dir, true);
    println!("| logged commands | tail after the checkpoint | database | restart, checkpoints off | restart, checkpoints on | ratio | RSS off / on |");
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {n} | {tail} | {:.0} MB | {off:.2} s | {on:.2} s | {:.1}x faster | {rss_off} / {rss_on} MB |",
        db as f64 / 1e6,
        off / on.max(1e-9)
    );
}
