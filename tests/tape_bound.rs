//! The engine's bounded public tape through the real server: with a test bound of the last 4
//! trades (and no time span), 40 trades leave the engine and the publisher's view holding a
//! handful, and Trades paged with `since=last` from 0 (across the boundary between history.db's
//! rows and the tape) returns every trade once, in order, as the unbounded tape would: the
//! reference is the tape as it grew, read after each trade from Trades without `since`. The same
//! after a restart, and `calamari replay` (checkpoint + tail against the whole log) agrees on the
//! digest; the same again after history.db is turned back into a file from before the trades'
//! `public_id` (upgraded in place at the start).

mod common;

use common::{ok, Key, Server, BIN};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const TRADES: u64 = 40;
const KEEP: u64 = 4;

fn config(dir: &Path) -> PathBuf {
    let path = dir.join("tape.toml");
    let text = format!(
        "[storage]\ntape_keep_trades = {KEEP}\ntape_keep_seconds = 0\ncheckpoint_every_commands = 30\ncheckpoint_every_seconds = 3600\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn trade(s: &Server, seller: &Key, buyer: &Key, i: u64) {
    let price = format!("{}", 50_000 + (i * 37) % 500);
    let volume = format!("0.{:04}", 10 + i);
    let sell = [("pair", "XBTUSD"), ("type", "sell"), ("ordertype", "limit"), ("price", &price), ("volume", &volume)];
    ok(&s.private(seller, "AddOrder", &sell));
    ok(&s.private(buyer, "AddOrder", &[("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "market"), ("volume", &volume)]));
}

/// One Trades page: its rows and `last`.
fn page(s: &Server, since: &str, count: usize) -> (Vec<Value>, String) {
    let v = s.public("Trades", &format!("pair=XBTUSD&since={since}&count={count}"));
    let r = ok(&v);
    (r["XXBTZUSD"].as_array().unwrap().clone(), r["last"].as_str().unwrap().to_string())
}

/// Every trade, paged with `since=last` from 0 by `count`: each page as the whole tape's rule
/// gives it (the rows after `since`, the first `count`; `last` the last row's time).
fn paged(s: &Server, count: usize, all: &[Value]) -> Vec<Value> {
    let (mut since, mut out) = ("0".to_string(), Vec::new());
    loop {
        let (rows, last) = page(s, &since, count);
        if rows.is_empty() {
            assert_eq!(last, since, "an empty page keeps the cursor");
            return out;
        }
        let last_s = last.parse::<u64>().unwrap() as f64 / 1e9;
        assert!((last_s - rows.last().unwrap()[2].as_f64().unwrap()).abs() < 1e-5, "last {last} is the last row's time");
        assert_eq!(rows.as_slice(), &all[out.len()..(out.len() + count).min(all.len())], "the page after {since}");
        out.extend(rows);
        since = last;
    }
}

fn tape_len(s: &Server) -> (u64, u64) {
    let v: Value = serde_json::from_str(&s.cli(&["market", "show", "XBTUSD", "--json"])).unwrap();
    (v["tape_trades"].as_u64().unwrap(), v["tape_dropped"].as_u64().unwrap())
}

fn digest(s: &Server) -> String {
    let v: Value = serde_json::from_str(s.cli(&["audit", "--json"]).trim()).unwrap();
    assert_eq!(v["ok"], true, "{v}");
    v["digest"].as_str().unwrap().to_string()
}

#[test]
fn trades_paged_across_the_dropped_tape_equal_the_whole_tape_before_and_after_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path());
    let args = ["--limits", "off", "--config", cfg.to_str().unwrap()];
    let mut s = Server::start_with(&args, &[]);
    let seller = s.account("alice", "0", "10", "all");
    let buyer = s.account("bob", "1000000", "0", "all");

    // The tape as it grew: each trade read back from Trades without `since` (the view's last few).
    let mut grown: BTreeMap<u64, Value> = BTreeMap::new();
    for i in 0..TRADES {
        trade(&s, &seller, &buyer, i);
        let v = s.public("Trades", "pair=XBTUSD");
        for row in ok(&v)["XXBTZUSD"].as_array().unwrap() {
            grown.insert(row[6].as_u64().unwrap(), row.clone());
        }
    }
    let all: Vec<Value> = grown.into_values().collect();
    assert_eq!(all.len() as u64, TRADES);
    assert!(all.iter().enumerate().all(|(i, r)| r[6].as_u64() == Some(i as u64 + 1)), "trade ids 1..=40");

    // The engine holds the bound and less than a third more (drops come in chunks).
    let (held, dropped) = tape_len(&s);
    assert!((KEEP..=KEEP * 4 / 3 + 1).contains(&held), "tape of {held} trades");
    assert_eq!(held + dropped, TRADES);

    // Paged by 7 (pages cross from history.db into the tape) and by the largest count.
    assert_eq!(paged(&s, 7, &all), all);
    assert_eq!(paged(&s, 1000, &all), all);
    // A page starting inside the dropped part and ending inside the tape.
    let (_, since) = page(&s, "0", 31);
    let (rows, last) = page(&s, &since, 9);
    assert_eq!(rows, all[31..40].to_vec());
    assert_eq!(page(&s, &last, 9).0, Vec::<Value>::new());

    let before = digest(&s);
    let dir = s.data_dir.clone();
    s.terminate();
    let out = Command::new(BIN).args(["--data-dir", dir.to_str().unwrap(), "replay", "--config", cfg.to_str().unwrap()]).output().unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!((r["ok"].as_bool(), r["digest"].as_str()), (Some(true), Some(before.as_str())), "replay: {r}");
    assert!(r["checkpoint"].is_null() || r["checkpoint"]["equal"] == true, "checkpoint + tail = whole log: {r}");

    // After a restart the view starts from the engine's bounded tape: the same pages.
    let s2 = Server::start_in_with(&dir, &args, &[]);
    assert_eq!(digest(&s2), before);
    assert_eq!(tape_len(&s2), (held, dropped));
    assert_eq!(paged(&s2, 7, &all), all);
    assert_eq!(paged(&s2, 1000, &all), all);

    // A history.db from before the public tape's column (schema 1): upgraded in place at the
    // next start, the same pages.
    let mut s2 = s2;
    s2.terminate();
    let db = rusqlite::Connection::open(dir.join("history.db")).unwrap();
    db.execute_batch("DROP INDEX trades_public; ALTER TABLE trades DROP COLUMN public_id; DELETE FROM meta WHERE key = 'history_schema';")
        .unwrap();
    drop(db);
    let s3 = Server::start_in_with(&dir, &args, &[]);
    assert_eq!(paged(&s3, 7, &all), all);
    let db = rusqlite::Connection::open(dir.join("history.db")).unwrap();
    let taker_rows: i64 = db.query_row("SELECT COUNT(*) FROM trades WHERE public_id IS NOT NULL", [], |r| r.get(0)).unwrap();
    assert_eq!(taker_rows as u64, TRADES, "one taker row a trade");
    drop(tmp);
}

/// An imported history's trades are not trade rows: once live trades push them out of the tape,
/// a `since` inside the history (or before it) answers from the first live trade on, as
/// ARCHITECTURE.md ("The public tape is bounded") says; the history's length stays shown.
#[test]
fn a_since_inside_a_dropped_history_starts_at_the_first_kept_trade() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path());
    let s = Server::start_with(&["--limits", "off", "--config", cfg.to_str().unwrap()], &[]);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let file = tmp.path().join("history.csv");
    let rows: String = (0..20).map(|i| format!("{},{}.5,0.0{}\n", now - 3600 + 60 * i, 49_000 + i, 1 + i % 9)).collect();
    std::fs::write(&file, rows).unwrap();
    assert!(s.cli(&["import", "XBTUSD", file.to_str().unwrap()]).contains("imported 20 trades"));
    // Before any live trade the tape holds the whole history (imports are not dropped).
    let (history, _) = page(&s, "0", 1000);
    assert_eq!(history.len(), 20);
    let seller = s.account("alice", "0", "10", "all");
    let buyer = s.account("bob", "1000000", "0", "all");
    let mut live = Vec::new();
    for i in 0..10 {
        trade(&s, &seller, &buyer, i);
        live.extend(ok(&s.public("Trades", "pair=XBTUSD&count=1"))["XXBTZUSD"].as_array().unwrap().clone());
    }
    assert!(live.iter().enumerate().all(|(i, r)| r[6].as_u64() == Some(21 + i as u64)), "live ids follow the history's");
    let v: Value = serde_json::from_str(&s.cli(&["market", "show", "XBTUSD", "--json"])).unwrap();
    assert_eq!(v["history_trades"], 20);
    assert!(v["tape_dropped"].as_u64().unwrap() >= 20, "the history left the tape: {v}");
    let inside = format!("{}", (now - 1800) * 1_000_000_000);
    assert_eq!(paged(&s, 3, &live), live);
    for since in ["0", inside.as_str()] {
        let (rows, last) = page(&s, since, 4);
        assert_eq!(rows, live[..4].to_vec(), "from {since}");
        assert_eq!(page(&s, &last, 1000).0, live[4..].to_vec());
    }
}
