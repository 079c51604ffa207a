//! The history tables: the trade records and ledger entries the engine emits (`engine::outbox`),
//! written by the storage thread in the same transaction as the batch's command-log records, so
//! an acknowledged command's history is durable and a read after the acknowledgement sees it.
//! Rows are keyed by the record's sequence number and written with `INSERT OR REPLACE`: a replay
//! (after a checkpoint, or of the whole log) re-emits the same records and rewrites the same rows.
//! The body is the record in postcard; the columns beside it are what the filters use. The read
//! side is `history_read`.

use super::sqlite::backend;
use super::StorageError;
use crate::engine::outbox::HistoryOut;
use rusqlite::{params, Connection};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS trades (
    seq       INTEGER PRIMARY KEY,
    account   INTEGER NOT NULL,
    time_ns   INTEGER NOT NULL,
    pair      INTEGER NOT NULL,
    order_seq INTEGER NOT NULL,
    body      BLOB    NOT NULL
);
CREATE INDEX IF NOT EXISTS trades_account_time ON trades(account, time_ns);
CREATE INDEX IF NOT EXISTS trades_order ON trades(order_seq);
CREATE TABLE IF NOT EXISTS ledger_entries (
    seq     INTEGER PRIMARY KEY,
    account INTEGER NOT NULL,
    time_ns INTEGER NOT NULL,
    asset   INTEGER NOT NULL,
    kind    TEXT    NOT NULL,
    body    BLOB    NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_account_time ON ledger_entries(account, time_ns);
";

fn body(r: &impl serde::Serialize) -> Vec<u8> {
    postcard::to_allocvec(r).expect("history records serialize")
}

/// Writes the records (inside the caller's transaction); rows with the same sequence are replaced.
/// With `after`, only records above those sequences (trades, ledger) are written.
pub(super) fn write(conn: &Connection, h: &HistoryOut, after: (Option<u64>, Option<u64>)) -> Result<(), StorageError> {
    if h.is_empty() {
        return Ok(());
    }
    {
        let mut st = conn
            .prepare_cached("INSERT OR REPLACE INTO trades (seq, account, time_ns, pair, order_seq, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
            .map_err(backend)?;
        for t in h.trades.iter().filter(|t| after.0.is_none_or(|a| t.seq > a)) {
            st.execute(params![t.seq as i64, t.account, t.time_ns as i64, t.pair, t.order as i64, body(t)]).map_err(backend)?;
        }
    }
    let mut st = conn
        .prepare_cached("INSERT OR REPLACE INTO ledger_entries (seq, account, time_ns, asset, kind, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
        .map_err(backend)?;
    for e in h.ledger.iter().filter(|e| after.1.is_none_or(|a| e.seq > a)) {
        st.execute(params![e.seq as i64, e.account, e.time_ns as i64, e.asset, e.kind.as_str(), body(e)]).map_err(backend)?;
    }
    Ok(())
}

/// Empties both tables (inside the caller's transaction: the log is being replaced).
pub(super) fn clear(conn: &Connection) -> Result<(), StorageError> {
    conn.execute_batch("DELETE FROM trades; DELETE FROM ledger_entries;").map_err(backend)
}

/// The highest trade and ledger sequence stored.
pub(super) fn last_seqs(conn: &Connection) -> Result<(Option<u64>, Option<u64>), StorageError> {
    let q = |sql: &str| -> Result<Option<u64>, StorageError> {
        let v: Option<i64> = conn.query_row(sql, [], |r| r.get(0)).map_err(backend)?;
        Ok(v.map(|s| s as u64))
    };
    Ok((q("SELECT MAX(seq) FROM trades")?, q("SELECT MAX(seq) FROM ledger_entries")?))
}
