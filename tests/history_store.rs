//! The trade and ledger history lives in the history tables of `history.db`, written by the
//! history thread after the command log (`storage::history_db`). Through the real server: the history endpoints (every
//! filter, `ofs`, ids as bounds, the Query* forms, ClosedOrders over its filters and QueryOrders
//! over open and closed orders) answer the same
//! before and after a kill -9 and restart without a checkpoint, with a checkpoint and the log
//! after it, and after the history rows were lost (a database from before the tables: a whole
//! replay writes them again); the restarted server's digest equals `calamari replay`'s.
//! The rows are written after the acknowledgement (`sequencer::history_buffer`): a read right
//! after one still sees them, and a kill -9 before their flush loses only rows a restart writes
//! again from the log, also when a checkpoint was taken meanwhile (it stops at `history_upto`).

mod common;
use common::{err, ok, Key, Server, BIN};
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
    out.extend(order_answers(s, k));
    out
}

/// QueryTrades and QueryLedgers refuse, for the whole call, an id that is another account's or
/// not an id at all, even beside one of the caller's own.
fn foreign_ids_refused(s: &Server, mine: &Key, theirs: &Key) {
    let th = ok(&s.private(theirs, "TradesHistory", &[])).clone();
    let (their_trade, own_trade) =
        (keys_of(&th["trades"])[0].clone(), keys_of(&ok(&s.private(mine, "TradesHistory", &[]))["trades"])[0].clone());
    let led = ok(&s.private(theirs, "Ledgers", &[])).clone();
    let (their_entry, own_entry) =
        (keys_of(&led["ledger"])[0].clone(), keys_of(&ok(&s.private(mine, "Ledgers", &[]))["ledger"])[0].clone());
    for txid in [format!("{own_trade},{their_trade}"), format!("{own_trade},NOT-AN-ID")] {
        assert_eq!(err(&s.private(mine, "QueryTrades", &[("txid", &txid)])), "EGeneral:Invalid arguments:txid", "{txid}");
    }
    for id in [format!("{own_entry},{their_entry}"), format!("{own_entry},NOT-AN-ID")] {
        assert_eq!(err(&s.private(mine, "QueryLedgers", &[("id", &id)])), "EGeneral:Invalid arguments:id", "{id}");
    }
    assert_eq!(keys_of(ok(&s.private(mine, "QueryTrades", &[("txid", &own_trade)]))), vec![own_trade]);
    assert_eq!(keys_of(ok(&s.private(mine, "QueryLedgers", &[("id", &own_entry)]))), vec![own_entry]);
}

/// Everything the order endpoints answer one account: ClosedOrders over its filters (ids and
/// times as bounds, `closetime`, `userref`, `cl_ord_id`, `ofs`, `without_count`) and QueryOrders
/// over open and closed orders.
fn order_answers(s: &Server, k: &Key) -> Vec<Value> {
    let mut out = Vec::new();
    let co = ok(&s.private(k, "ClosedOrders", &[])).clone();
    let closed = keys_of(&co["closed"]);
    assert!(closed.len() >= 6, "{co}");
    let close_time = |i: usize| co["closed"][&closed[i]]["closetm"].to_string();
    let (t5, t1) = (close_time(5), close_time(1));
    out.push(co.clone());
    out.push(ok(&s.private(k, "ClosedOrders", &[("ofs", "3"), ("consolidate_taker", "true")])).clone());
    out.push(ok(&s.private(k, "ClosedOrders", &[("start", &closed[5]), ("end", &closed[1]), ("without_count", "true")])).clone());
    for ct in ["open", "close", "both"] {
        out.push(ok(&s.private(k, "ClosedOrders", &[("start", &t5), ("end", &t1), ("closetime", ct)])).clone());
    }
    let by_userref = ok(&s.private(k, "ClosedOrders", &[("userref", "7")])).clone();
    assert!(by_userref["count"].as_u64().unwrap() >= 1, "{by_userref}");
    out.push(by_userref);
    let by_cl = ok(&s.private(k, "ClosedOrders", &[("cl_ord_id", "keep-1")])).clone();
    assert_eq!(by_cl["count"], 1, "{by_cl}");
    out.push(by_cl);
    let oo = ok(&s.private(k, "OpenOrders", &[])).clone();
    let open = keys_of(&oo["open"]);
    out.push(oo);
    let mut ids = vec![closed[0].clone(), closed[3].clone()];
    ids.extend(open.first().cloned());
    let qo = ok(&s.private(k, "QueryOrders", &[("txid", &ids.join(",")), ("trades", "true")])).clone();
    assert_eq!(keys_of(&qo).len(), ids.len(), "{qo}");
    out.push(qo);
    out.push(ok(&s.private(k, "QueryOrders", &[("txid", &ids.join(",")), ("userref", "7")])).clone());
    out
}

/// Two limit orders, one with a userref and one with a client id, canceled: closed orders the
/// filters find.
fn canceled(s: &Server, k: &Key, cl: &str) {
    for tag in [("userref", "7"), ("cl_ord_id", cl)] {
        let o = [("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "limit"), ("price", "20000"), ("volume", "0.01"), tag];
        let r = ok(&s.private(k, "AddOrder", &o)).clone();
        ok(&s.private(k, "CancelOrder", &[("txid", r["txid"][0].as_str().unwrap())]));
    }
}

/// Alice and Bob, funded, after twelve fills between them and two canceled orders each.
fn two_traders(s: &Server) -> (Key, Key) {
    let a = s.account("alice", "100000", "5", "all");
    let b = s.account("bob", "100000", "5", "all");
    trade(s, &a, &b, 12, 0);
    canceled(s, &a, "keep-1");
    canceled(s, &b, "keep-1");
    (a, b)
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
    let (a, b) = two_traders(&s);
    foreign_ids_refused(&s, &a, &b);
    let before = (answers(&s, &a), answers(&s, &b), digest(&s));

    // kill -9, no checkpoint: the whole log is replayed, the rows are there already.
    s.kill9();
    assert_eq!(replay_digest(&dir), before.2, "calamari replay differs from the live digest");
    let mut s = start(&dir);
    assert_eq!((answers(&s, &a), answers(&s, &b), digest(&s)), before, "after kill -9 without a checkpoint");

    // A checkpoint, more trading, kill -9: the checkpoint plus the log after it.
    assert!(cli_json(&s, &["log", "checkpoint"])["written"].is_object());
    trade(&s, &a, &b, 5, 3);
    canceled(&s, &a, "keep-2");
    let before = (answers(&s, &a), answers(&s, &b), digest(&s));
    s.kill9();
    let mut s = start(&dir);
    assert_eq!((answers(&s, &a), answers(&s, &b), digest(&s)), before, "after kill -9 with a checkpoint");
    s.kill9();
    assert_eq!(replay_digest(&dir), before.2, "calamari replay after the checkpoint");

    // The rows lost (a database from before the history tables): a whole replay writes them again.
    let db = rusqlite::Connection::open(dir.join("history.db")).unwrap();
    let n: i64 = db.query_row("SELECT COUNT(*) FROM trades", [], |r| r.get(0)).unwrap();
    let counted = before.0[0]["count"].as_i64().unwrap() + before.1[0]["count"].as_i64().unwrap();
    assert_eq!(n, counted, "a row per trade record, each side of each fill");
    let n: i64 = db.query_row("SELECT COUNT(*) FROM closed_orders WHERE account > 1", [], |r| r.get(0)).unwrap();
    let counted = before.0[10]["count"].as_i64().unwrap() + before.1[10]["count"].as_i64().unwrap();
    assert_eq!(n, counted, "a row per closed order");
    db.execute_batch("DELETE FROM trades; DELETE FROM ledger_entries; DELETE FROM closed_orders;").unwrap();
    drop(db);
    std::fs::remove_dir_all(dir.join("checkpoints")).unwrap();
    let mut s = start(&dir);
    assert_eq!((answers(&s, &a), answers(&s, &b), digest(&s)), before, "after the history rows were written again");
    s.terminate();
}

/// A count from `history.db`, or from `calamari.db` for the log's `commands`.
fn db_count(dir: &Path, sql: &str) -> i64 {
    let db = rusqlite::Connection::open(dir.join(if sql.contains("commands") { "calamari.db" } else { "history.db" })).unwrap();
    db.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn kill_9_before_the_history_flush_loses_no_row() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let cfg = dir.join("lazy.toml");
    // No flush by time or size: only reads, control batches and the graceful stop flush.
    let lazy = "[storage]\ncheckpoint_every_commands = 100000000\ncheckpoint_every_seconds = 100000000\n\
                history_flush_ms = 100000000\nhistory_flush_rows = 100000000\n";
    std::fs::write(&cfg, lazy).unwrap();
    let start = |dir: &Path| Server::start_in_with(dir, &["--limits", "off", "--config", cfg.to_str().unwrap()], &[]);
    let mut s = start(&dir);
    let (a, b) = two_traders(&s);
    // A read right after the acknowledgements sees every row (it makes the history thread flush).
    let count = "SELECT COUNT(*) FROM trades WHERE account > 1";
    let seen = answers(&s, &a);
    let rows_seen = db_count(&dir, count);
    assert_eq!(seen[0]["count"].as_i64().unwrap() * 2, rows_seen, "each fill's two sides, all written: {}", seen[0]);
    trade(&s, &a, &b, 4, 5);
    // A checkpoint first has every acknowledged row written, and covers no record past them.
    let w = cli_json(&s, &["log", "checkpoint"]);
    let flushed = db_count(&dir, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'history_upto'");
    assert_eq!(w["written"]["seq"].as_i64(), Some(flushed), "the checkpoint stops at history_upto: {w}");
    let before_ckpt = rows_seen;
    let rows_seen = db_count(&dir, count);
    assert!(rows_seen > before_ckpt, "the checkpoint had the rows written first: {rows_seen} > {before_ckpt}");
    trade(&s, &a, &b, 6, 5);
    canceled(&s, &a, "after-flush");
    let digest_live = digest(&s);
    s.kill9();
    let last = db_count(&dir, "SELECT MAX(seq) FROM commands");
    assert!(last > flushed, "acknowledged records after the last flush: {last} > {flushed}");
    assert_eq!(db_count(&dir, count), rows_seen, "the unflushed rows were lost with the process");
    assert_eq!(replay_digest(&dir), digest_live, "calamari replay after the kill");

    // The restart writes them again from the checkpoint plus the log after it.
    let mut s = start(&dir);
    assert_eq!(digest(&s), digest_live);
    let repaired = (answers(&s, &a), answers(&s, &b));
    let rows_now = db_count(&dir, count);
    assert!(rows_now > rows_seen + 10, "the lost rows are back: {rows_now} > {rows_seen} + 10");
    assert_eq!(repaired.0[0]["count"].as_i64().unwrap() * 2, rows_now, "{}", repaired.0[0]);
    s.kill9();
    // The same answers as a server whose rows all come from one whole replay.
    let db = rusqlite::Connection::open(dir.join("history.db")).unwrap();
    db.execute_batch("DELETE FROM trades; DELETE FROM ledger_entries; DELETE FROM closed_orders;").unwrap();
    drop(db);
    std::fs::remove_dir_all(dir.join("checkpoints")).unwrap();
    let mut s = start(&dir);
    assert_eq!((answers(&s, &a), answers(&s, &b)), repaired, "crash-repaired rows equal a whole replay's");
    s.terminate();
}
