//! Engine checkpoints through the real server: a restart from a checkpoint answers the history
//! queries (ClosedOrders, TradesHistory, Ledgers, Balance) exactly as before it and says in its
//! log where its state came from; a damaged (corrupt, truncated) newest checkpoint falls back to
//! the previous one, then to the whole log, each refusal named in the log; kill -9 while
//! checkpoints are being written under load loses nothing; the checkpoint thread writes by command
//! count; `calamari log prune` archives what a checkpoint covers and the server still starts.

mod common;
use common::{ok, Key, Server, BIN};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn config(dir: &Path, every_commands: u64, every_seconds: u64) -> PathBuf {
    let path = dir.join("checkpoints.toml");
    let text = format!(
        "[storage]\ncheckpoint_every_commands = {every_commands}\ncheckpoint_every_seconds = {every_seconds}\ncheckpoints_kept = 2\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Starts the server on `dir` with its stderr (info level) in `log`; returns once it listens.
fn start(dir: &Path, cfg: &Path, log: &Path) -> Server {
    let mut child = Command::new(BIN)
        .args(["--data-dir", dir.to_str().unwrap(), "serve", "--listen", "127.0.0.1:0", "--market", "off", "--limits", "off"])
        .args(["--config", cfg.to_str().unwrap()])
        .env("RUST_LOG", "info,calamari::request=off")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(log).unwrap()))
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("server output").unwrap();
        if line.contains("listening on") {
            break line.split_whitespace().find(|w| w.starts_with("http://")).unwrap().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Server::attach(child, url, dir)
}

fn audit(s: &Server) -> Value {
    let v: Value = serde_json::from_str(s.cli(&["audit"]).trim()).unwrap();
    assert_eq!(v["ok"], true, "{v}");
    v
}

fn cli_json(s: &Server, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_str(s.cli(&all).trim()).unwrap()
}

fn replay(dir: &Path) -> Value {
    let out = Command::new(BIN).arg("--data-dir").arg(dir).arg("replay").output().unwrap();
    assert!(out.status.success(), "replay: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Crossing orders between two accounts: trades, ledger entries, closed and canceled orders.
fn trade(s: &Server, a: &Key, b: &Key, rounds: usize) {
    for i in 0..rounds {
        let price = format!("{}", 50_000 + (i % 7) * 10);
        ok(&s.private(
            a,
            "AddOrder",
            &[("pair", "XBTUSD"), ("type", "sell"), ("ordertype", "limit"), ("price", &price), ("volume", "0.01")],
        ));
        ok(&s.private(
            b,
            "AddOrder",
            &[("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "limit"), ("price", &price), ("volume", "0.004")],
        ));
        let rest = s.private(
            b,
            "AddOrder",
            &[("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "limit"), ("price", "40000"), ("volume", "0.002")],
        );
        let txid = ok(&rest)["txid"][0].as_str().unwrap().to_string();
        ok(&s.private(b, "CancelOrder", &[("txid", &txid)]));
    }
}

/// What a client sees of its history.
fn history(s: &Server, keys: &[&Key]) -> Vec<Value> {
    let mut out = Vec::new();
    for k in keys {
        for m in ["ClosedOrders", "TradesHistory", "Ledgers", "Balance", "OpenOrders"] {
            out.push(ok(&s.private(k, m, &[])).clone());
        }
    }
    out
}

fn log_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn checkpoints(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("checkpoints"))
        .map(|d| {
            // Written checkpoints only: one being written is `.tmp-checkpoint-….ckpt` until its
            // rename (counting it let a test go on before the checkpoint existed, under load).
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("checkpoint-") && n.ends_with(".ckpt")))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn restart_from_checkpoints_keeps_history_and_falls_back_from_damaged_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let cfg = config(tmp.path(), 0, 0); // no thread: checkpoints only when asked
    let log = tmp.path().join("1.log");
    let mut s = start(&dir, &cfg, &log);
    let a = s.account("alice", "100000", "5", "all");
    let b = s.account("bob", "100000", "5", "all");
    trade(&s, &a, &b, 6);
    let first = cli_json(&s, &["log", "checkpoint"]);
    let seq1 = first["written"]["seq"].as_u64().expect("a checkpoint");
    trade(&s, &a, &b, 4);
    let second = cli_json(&s, &["log", "checkpoint"]);
    let seq2 = second["written"]["seq"].as_u64().unwrap();
    assert!(seq2 > seq1);
    assert_eq!(cli_json(&s, &["log", "checkpoint"])["written"], Value::Null, "nothing new to cover");
    trade(&s, &a, &b, 3); // a tail after the newest checkpoint
    let before = history(&s, &[&a, &b]);
    let digest = audit(&s)["digest"].clone();
    let status = cli_json(&s, &["log", "status"]);
    assert_eq!(status["checkpoints"].as_array().unwrap().len(), 2, "{status}");
    s.terminate();

    // Offline: the newest checkpoint + the log after it = the whole log's replay.
    let r = replay(&dir);
    assert_eq!(
        (r["ok"].clone(), r["checkpoint"]["equal"].clone(), r["checkpoint"]["seq"].as_u64()),
        (true.into(), true.into(), Some(seq2)),
        "{r}"
    );
    assert_eq!(r["digest"], digest);

    // 1. From the newest checkpoint.
    let log1 = tmp.path().join("2.log");
    let mut s = start(&dir, &cfg, &log1);
    assert_eq!(audit(&s)["digest"], digest);
    assert_eq!(history(&s, &[&a, &b]), before, "history after a restart from a checkpoint");
    let text = log_text(&log1);
    assert!(text.contains("state restored from an engine checkpoint") && text.contains(&format!("seq={seq2}")), "{text}");
    s.terminate();

    // 2. The newest corrupt (one byte of its payload): the previous one, and the log says why.
    let files = checkpoints(&dir);
    assert_eq!(files.len(), 2);
    let mut bytes = std::fs::read(&files[1]).unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 0x40;
    std::fs::write(&files[1], &bytes).unwrap();
    let log2 = tmp.path().join("3.log");
    let mut s = start(&dir, &cfg, &log2);
    assert_eq!(audit(&s)["digest"], digest);
    assert_eq!(history(&s, &[&a, &b]), before);
    let text = log_text(&log2);
    assert!(text.contains("engine checkpoint refused") && text.contains("checksum mismatch"), "{text}");
    assert!(text.contains(&format!("seq={seq1}")), "restored from the previous checkpoint: {text}");
    s.terminate();

    // 3. The previous one truncated too: the whole log.
    let bytes = std::fs::read(&files[0]).unwrap();
    std::fs::write(&files[0], &bytes[..bytes.len() / 2]).unwrap();
    let log3 = tmp.path().join("4.log");
    let mut s = start(&dir, &cfg, &log3);
    assert_eq!(audit(&s)["digest"], digest);
    assert_eq!(history(&s, &[&a, &b]), before);
    let text = log_text(&log3);
    assert!(text.contains("truncated") && text.contains("from the whole command log"), "{text}");
    s.terminate();
}

#[test]
fn kill_9_while_checkpoints_are_written_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let cfg = config(tmp.path(), 40, 0); // a checkpoint every 40 commands, under load
    let mut s = start(&dir, &cfg, &tmp.path().join("0.log"));
    let a = s.account("alice", "1000000", "50", "all");
    let b = s.account("bob", "1000000", "50", "all");
    let mut sources = Vec::new();
    for round in 0..4 {
        let (url, a2, b2) = (s.url.clone(), a.clone(), b.clone());
        let load = std::thread::spawn(move || {
            let mut acked = 0;
            let deadline = Instant::now() + Duration::from_millis(1200 + 300 * round);
            while Instant::now() < deadline {
                let (k, side) = if acked % 2 == 0 { (&a2, "sell") } else { (&b2, "buy") };
                let r = common::try_private(
                    &url,
                    k,
                    "AddOrder",
                    &[("pair", "XBTUSD"), ("type", side), ("ordertype", "limit"), ("price", "50000"), ("volume", "0.001")],
                );
                match r {
                    Ok(v) if v["error"] == serde_json::json!([]) => acked += 1,
                    _ => break, // killed
                }
            }
            acked
        });
        std::thread::sleep(Duration::from_millis(900 + 250 * round));
        s.assert_no_panics();
        s.kill9();
        let acked = load.join().unwrap();
        // A kill can leave a temporary file; a checkpoint file is either whole or absent.
        let r = replay(&dir);
        assert_eq!(r["ok"], true, "round {round}: {r}");
        assert!(r["checkpoint"].is_null() || r["checkpoint"]["equal"] == true, "round {round}: {r}");
        let log = tmp.path().join(format!("{}.log", round + 1));
        s = start(&dir, &cfg, &log);
        let live = audit(&s);
        assert_eq!(live["digest"], replay(&dir)["digest"], "round {round}: the restart differs from the log's replay");
        let text = log_text(&log);
        let source = if text.contains("from an engine checkpoint") { "checkpoint" } else { "log" };
        assert!(text.contains("state restored from"), "round {round}: the log does not say where the state came from: {text}");
        sources.push((acked, source, checkpoints(&dir).len()));
    }
    eprintln!("kill -9 rounds (orders acknowledged, restored from, checkpoints on disk): {sources:?}");
    assert!(sources.iter().any(|(_, src, _)| *src == "checkpoint"), "no restart used a checkpoint: {sources:?}");
    assert!(sources.iter().all(|(_, _, n)| *n <= 2), "more checkpoints kept than configured: {sources:?}");
}

#[test]
fn the_thread_writes_by_count_and_prune_archives_what_a_checkpoint_covers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let cfg = config(tmp.path(), 30, 0);
    let mut s = start(&dir, &cfg, &tmp.path().join("1.log"));
    let a = s.account("alice", "100000", "5", "all");
    let b = s.account("bob", "100000", "5", "all");
    trade(&s, &a, &b, 10); // 40 commands
    let deadline = Instant::now() + Duration::from_secs(20);
    while checkpoints(&dir).is_empty() {
        assert!(Instant::now() < deadline, "the checkpoint thread wrote nothing after 30+ commands");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (okp, out) = s.try_cli(&["log", "prune"]);
    assert!(!okp && out.contains("--before-checkpoint"), "prune needs its flag: {out}");
    let pruned = cli_json(&s, &["log", "prune", "--before-checkpoint"]);
    let removed = pruned["removed"].as_u64().unwrap();
    assert!(removed > 10, "{pruned}");
    let archive = PathBuf::from(pruned["archive"].as_str().unwrap());
    assert!(archive.exists() && archive.starts_with(&dir), "{pruned}");
    let status = cli_json(&s, &["log", "status"]);
    assert_eq!(status["first"], pruned["first"]);
    trade(&s, &a, &b, 2);
    let before = history(&s, &[&a, &b]);
    let digest = audit(&s)["digest"].clone();
    s.terminate();
    let r = replay(&dir);
    assert_eq!(
        (r["ok"].clone(), r["digest"].clone()),
        (true.into(), digest.clone()),
        "replay of a pruned log starts from the checkpoint: {r}"
    );
    let mut s = start(&dir, &cfg, &tmp.path().join("2.log"));
    assert_eq!(audit(&s)["digest"], digest);
    assert_eq!(history(&s, &[&a, &b]), before);
    s.terminate();
}
