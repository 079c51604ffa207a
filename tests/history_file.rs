//! `history.db`, the history rows' own file (`storage::history_db`), through the real server: the
//! answers of the history endpoints stay the same when the file is deleted before a start, when a
//! crash fell between a snapshot restore's replacement of the log and that of the history (an
//! older log generation's rows: detected and rebuilt, never served), when a data directory from
//! before the file keeps the tables in `calamari.db` (moved at the start), and when the
//! `history_upto` that survived is below the newest engine checkpoint (that checkpoint is not
//! used: a start from it would never write the rows before it again).

mod common;
use common::{ok, Key, Server};
use rusqlite::Connection;
use serde_json::Value;
use std::path::Path;

fn start(dir: &Path) -> Server {
    let cfg = dir.join("history.toml");
    std::fs::write(&cfg, "[storage]\ncheckpoint_every_commands = 100000000\ncheckpoint_every_seconds = 100000000\n").unwrap();
    Server::start_in_with(dir, &["--limits", "off", "--config", cfg.to_str().unwrap()], &[])
}

/// A server on a new data directory, Alice and Bob funded, after `rounds` fills between them.
fn traded(rounds: usize) -> (tempfile::TempDir, Server, Key, Key) {
    let tmp = tempfile::tempdir().unwrap();
    let s = start(tmp.path());
    let a = s.account("alice", "100000", "5", "all");
    let b = s.account("bob", "100000", "5", "all");
    trade(&s, &a, &b, rounds);
    (tmp, s, a, b)
}

fn trade(s: &Server, a: &Key, b: &Key, rounds: usize) {
    for i in 0..rounds {
        let price = format!("{}", 50_000 + (i % 5) * 10);
        let sell = [("pair", "XBTUSD"), ("type", "sell"), ("ordertype", "limit"), ("price", price.as_str()), ("volume", "0.01")];
        ok(&s.private(a, "AddOrder", &sell));
        let buy = [("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "market"), ("volume", "0.01")];
        ok(&s.private(b, "AddOrder", &buy));
    }
}

/// What the history endpoints answer both accounts.
fn answers(s: &Server, keys: &[&Key]) -> Vec<Value> {
    let mut out = Vec::new();
    for k in keys {
        for method in ["TradesHistory", "Ledgers", "ClosedOrders"] {
            out.push(ok(&s.private(k, method, &[])).clone());
        }
    }
    out
}

fn count(v: &[Value], i: usize) -> u64 {
    v[i]["count"].as_u64().unwrap()
}

fn history_db(dir: &Path) -> Connection {
    Connection::open(dir.join("history.db")).unwrap()
}

fn remove_history_db(dir: &Path) {
    for f in ["history.db", "history.db-wal", "history.db-shm"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
}

/// The file and its WAL (committed rows may be in the WAL only).
fn copy_history_db(from: &Path, to: &Path) {
    for f in ["history.db", "history.db-wal"] {
        if from.join(f).exists() {
            std::fs::copy(from.join(f), to.join(f)).unwrap();
        }
    }
}

#[test]
fn a_deleted_history_db_is_rebuilt_also_past_a_checkpoint() {
    let (tmp, mut s, a, b) = traded(6);
    let dir = tmp.path();
    assert!(s.cli(&["log", "checkpoint"]).contains("engine checkpoint at record"));
    trade(&s, &a, &b, 3);
    let before = answers(&s, &[&a, &b]);
    assert_eq!(count(&before, 0), 9, "{}", before[0]);
    s.terminate();
    remove_history_db(dir);
    let mut s = start(dir);
    assert_eq!(answers(&s, &[&a, &b]), before, "the whole log's replay wrote every row again");
    s.terminate();
}

#[test]
fn a_crash_between_the_log_and_the_history_replacement_never_serves_the_old_history() {
    let (tmp, mut s, a, b) = traded(2);
    let dir = tmp.path();
    s.cli(&["snapshot", "save", "early"]);
    let early = answers(&s, &[&a, &b]);
    trade(&s, &a, &b, 5);
    let late = answers(&s, &[&a, &b]);
    assert_ne!(late, early);
    s.terminate();
    // The history of the log before the restore, kept aside (log generation 0).
    let aside = dir.join("aside");
    std::fs::create_dir_all(&aside).unwrap();
    copy_history_db(dir, &aside);
    let mut s = start(dir);
    s.cli(&["snapshot", "restore", "early", "--yes"]);
    assert_eq!(answers(&s, &[&a, &b]), early, "the restore replaced the history");
    s.kill9();
    // As if the process died after the log's replacement, before history.db's.
    remove_history_db(dir);
    copy_history_db(&aside, dir);
    let epoch = |c: &Connection| c.query_row("SELECT value FROM meta WHERE key = 'log_epoch'", [], |r| r.get::<_, String>(0)).unwrap();
    let log_epoch = epoch(&Connection::open(dir.join("calamari.db")).unwrap());
    assert_ne!(epoch(&history_db(dir)), log_epoch, "the file kept aside is of the older generation");
    let mut s = start(dir);
    assert_eq!(answers(&s, &[&a, &b]), early, "the older generation's rows were dropped and rebuilt");
    assert_eq!(epoch(&history_db(dir)), log_epoch);
    s.terminate();
}

#[test]
fn history_tables_in_calamari_db_move_to_history_db() {
    let (tmp, mut s, a, b) = traded(4);
    let dir = tmp.path();
    let before = answers(&s, &[&a, &b]);
    s.terminate();
    // The layout of a data directory written before history.db (schema 4): the tables and
    // their history_upto in calamari.db, no history.db.
    let db = Connection::open(dir.join("calamari.db")).unwrap();
    db.execute("ATTACH DATABASE ?1 AS h", [dir.join("history.db").to_str().unwrap()]).unwrap();
    db.execute_batch(
        "CREATE TABLE trades AS SELECT * FROM h.trades;
         CREATE TABLE ledger_entries AS SELECT * FROM h.ledger_entries;
         CREATE TABLE closed_orders AS SELECT * FROM h.closed_orders;
         INSERT INTO meta (key, value) SELECT key, value FROM h.meta WHERE key = 'history_upto';
         DETACH DATABASE h;
         PRAGMA user_version = 4;",
    )
    .unwrap();
    drop(db);
    remove_history_db(dir);
    let mut s = start(dir);
    assert_eq!(answers(&s, &[&a, &b]), before, "the same answers from the moved rows");
    let tables: i64 = Connection::open(dir.join("calamari.db"))
        .unwrap()
        .query_row("SELECT COUNT(*) FROM sqlite_master WHERE name IN ('trades', 'ledger_entries', 'closed_orders')", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tables, 0, "the tables left calamari.db");
    let moved: i64 = history_db(dir).query_row("SELECT COUNT(*) FROM trades", [], |r| r.get(0)).unwrap();
    assert_eq!(moved as u64, count(&before, 0) + count(&before, 3), "each fill's two sides");
    s.terminate();
}

#[test]
fn a_checkpoint_beyond_the_surviving_history_is_not_used() {
    let (tmp, mut s, a, b) = traded(5);
    let dir = tmp.path();
    let w = s.cli(&["--json", "log", "checkpoint"]);
    let seq = serde_json::from_str::<Value>(w.trim()).unwrap()["written"]["seq"].as_u64().unwrap();
    trade(&s, &a, &b, 2);
    let before = answers(&s, &[&a, &b]);
    s.kill9();
    // As if a power cut took history.db's unsynced flushes back to before the checkpoint: rows
    // gone, history_upto below it. A start from the checkpoint would leave them missing.
    let h = history_db(dir);
    h.execute_batch("DELETE FROM trades; DELETE FROM ledger_entries; DELETE FROM closed_orders;").unwrap();
    h.execute("UPDATE meta SET value = ?1 WHERE key = 'history_upto'", [(seq - 1).to_string()]).unwrap();
    drop(h);
    let mut s = start(dir);
    assert_eq!(answers(&s, &[&a, &b]), before, "the start replayed the whole log, not from the checkpoint at {seq}");
    s.terminate();
}

#[test]
fn rows_of_an_older_form_are_rebuilt_by_the_whole_log() {
    let (tmp, mut s, a, b) = traded(3);
    let dir = tmp.path();
    // An order amended, then canceled: its amend history leaves the engine in its closed row.
    let buy = [("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "limit"), ("price", "20000"), ("volume", "0.01")];
    let txid = ok(&s.private(&a, "AddOrder", &buy))["txid"][0].as_str().unwrap().to_string();
    ok(&s.private(&a, "AmendOrder", &[("txid", &txid), ("limit_price", "21000")]));
    ok(&s.private(&a, "CancelOrder", &[("txid", &txid)]));
    assert!(s.cli(&["log", "checkpoint"]).contains("engine checkpoint at record"));
    trade(&s, &a, &b, 2);
    let amends = |s: &Server| ok(&s.private(&a, "OrderAmends", &[("order_id", &txid)])).clone();
    let before = (answers(&s, &[&a, &b]), amends(&s));
    assert_eq!(before.1["count"], 2, "{}", before.1);
    assert_eq!(before.1["amends"][1]["limit_price"], "21000.0");
    s.terminate();
    // The form before `rows_format` 2: a closed order's body without the amend history (the
    // trailing field, a length then its entries), and no `rows_format` in the metadata.
    let db = history_db(dir);
    let rows: Vec<(i64, Vec<u8>)> = db
        .prepare("SELECT seq, body FROM closed_orders")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(rows.len() >= 6, "{}", rows.len());
    let mut cut = 0;
    for (seq, body) in &rows {
        // A record never amended ends with the empty history's length, one 0 byte.
        if body.last() == Some(&0) {
            db.execute("UPDATE closed_orders SET body = ?1 WHERE seq = ?2", rusqlite::params![&body[..body.len() - 1], seq]).unwrap();
            cut += 1;
        }
    }
    assert_eq!(cut, rows.len() - 1, "all but the amended order");
    db.execute("DELETE FROM meta WHERE key = 'rows_format'", []).unwrap();
    drop(db);
    let mut s = start(dir);
    assert_eq!((answers(&s, &[&a, &b]), amends(&s)), before, "every row was written again, also those before the checkpoint");
    s.terminate();
}
