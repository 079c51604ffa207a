//! The trade and ledger history lives in the database's history tables, written with the
//! command log (`storage::history`). Through the real server: the history endpoints (every
//! filter, `ofs`, ids as bounds, the Query* forms, ClosedOrders with `trades`) answer the same
//! before and after a kill -9 and restart without a checkpoint, with a checkpoint and the log
//! after it, and after the history rows were lost (a database from before the tables: a whole
//! replay writes them again); the restarted server's digest equals `calamari replay`'s.

mod common;
use common::{ok, Key, Server, BIN};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn start(dir: &Path) -> Server {
    let cfg = dir.join("history.toml");
    // Checkpoints only when the test asks for one.
    std::fs::write(&cfg, "[storage]\ncheckpoint_every_commands = 100000000\ncheckpoint_every_seconds = 100000000\n").unwrap();
    Server::start_in_with(dir, &["--limits", "off", "--config", cfg.to_str().unwrap()], &[])
}

fn cli_json(s: &Server, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_str(s.cli(&all).trim()).unwrap()
}

fn trade(s: &Server, a: &Key, b: &Key, rounds: usize, base: usize) {
    for i in 0..rounds {
        let price = format!("{}", 50_000 + ((i + base) % 7) * 10);
        let sell = [("pair", "XBTUSD"), ("type", "sell"), ("ordertype", "limit"), ("price", price.as_str()), ("volume", "0.01")];
        ok(&s.private(a, "AddOrder", &sell));
        let buy = [("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "market"), ("volume", "0.004")];
        ok(&s.private(b, "AddOrder", &buy));
    }
}

fn keys_of(v: &Value) -> Vec<String> {
    v.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
}

/// Everything the history endpoints answer one account, over their filters.
fn answers(s: &Server, k: &Key) -> Vec<Value> {
    let mut out = Vec::new();
    let th = ok(&s.private(k, "TradesHistory", &[])).clone();
    let trades = keys_of(&th["trades"]);
    assert!(trades.len() >= 10, "{th}");
    out.push(th);
    out.push(ok(&s.private(k, "TradesHistory", &[("ofs", "3"), ("ledgers", "true")])).clone());
    out.push(ok(&s.private(k, "TradesHistory", &[("start", &trades[8]), ("end", &trades[2]), ("without_count", "true")])).clone());
    out.push(ok(&s.private(k, "TradesHistory", &[("start", "1"), ("type", "no position")])).clone());
    out.push(ok(&s.private(k, "QueryTrades", &[("txid", &format!("{},{}", trades[0], trades[5]))])).clone());
    let led = ok(&s.private(k, "Ledgers", &[])).clone();
    let ledger = keys_of(&led["ledger"]);
    assert!(ledger.len() >= 10, "{led}");
    out.push(led);
    out.push(ok(&s.private(k, "Ledgers", &[("asset", "XBT"), ("type", "trade"), ("ofs", "2")])).clone());
    out.push(ok(&s.private(k, "Ledgers", &[("type", "deposit")])).clone());
    out.push(ok(&s.private(k, "Ledgers", &[("start", &ledger[9]), ("end", &ledger[1]), ("aclass", "currency")])).clone());
    out.push(ok(&s.private(k, "QueryLedgers", &[("id", &format!("{},{}", ledger[0], ledger[7]))])).clone());
    out.push(ok(&s.private(k, "ClosedOrders", &[("trades", "true")])).clone());
    out.push(ok(&s.private(k, "Balance", &[])).clone());
    out
}

fn digest(s: &Server) -> Value {
    cli_json(s, &["audit"])["digest"].clone()
}

fn replay_digest(dir: &Path) -> Value {
    let out = Command::new(BIN).arg("--data-dir").arg(dir).arg("replay").output().unwrap();
    assert!(out.status.success(), "replay: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice::<Value>(&out.stdout).unwrap()["digest"].clone()
}

#[test]
fn history_answers_survive_kill_9_checkpoints_lost_rows_and_replay() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let mut s = start(&dir);
    let a = s.account("alice", "100000", "5", "all");
    let b = s.account("bob", "100000", "5", "all");
    trade(&s, &a, &b, 12, 0);
    let before = (answers(&s, &a), answers(&s, &b), digest(&s));

    // kill -9, no checkpoint: the whole log is replayed, the rows are there already.
    s.kill9();
    assert_eq!(replay_digest(&dir), before.2, "calamari replay differs from the live digest");
    let mut s = start(&dir);
    assert_eq!((answers(&s, &a), answers(&s, &b), digest(&s)), before, "after kill -9 without a checkpoint");

    // A checkpoint, more trading, kill -9: the checkpoint plus the log after it.
    assert!(cli_json(&s, &["log", "checkpoint"])["written"].is_object());
    trade(&s, &a, &b, 5, 3);
    let before = (answers(&s, &a), answers(&s, &b), digest(&s));
    s.kill9();
    let mut s = start(&dir);
    assert_eq!((answers(&s, &a), answers(&s, &b), digest(&s)), before, "after kill -9 with a checkpoint");
    s.kill9();
    assert_eq!(replay_digest(&dir), before.2, "calamari replay after the checkpoint");

    // The rows lost (a database from before the history tables): a whole replay writes them again.
    let db = rusqlite::Connection::open(dir.join("calamari.db")).unwrap();
    let n: i64 = db.query_row("SELECT COUNT(*) FROM trades", [], |r| r.get(0)).unwrap();
    let counted = before.0[0]["count"].as_i64().unwrap() + before.1[0]["count"].as_i64().unwrap();
    assert_eq!(n, counted, "a row per trade record, each side of each fill");
    db.execute_batch("DELETE FROM trades; DELETE FROM ledger_entries;").unwrap();
    drop(db);
    std::fs::remove_dir_all(dir.join("checkpoints")).unwrap();
    let mut s = start(&dir);
    assert_eq!((answers(&s, &a), answers(&s, &b), digest(&s)), before, "after the history rows were written again");
    s.terminate();
}
