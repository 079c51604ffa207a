//! The history tables: the trade records, ledger entries and closed orders the engine emits
//! (`engine::outbox`), in their own file (`history_db`), written by the history thread in
//! flushes of many acknowledged batches (`sequencer::history_writer`), with `history_upto` in the
//! file's metadata table saying up to which log record they are complete. What makes a command
//! durable is its log record: a start-up replay re-emits the rows the tables lack (`next_seqs`),
//! from an engine checkpoint no later than `history_upto`. Readers wait for the rows of
//! everything acknowledged (`history_mark`).
//! Rows are keyed by the record's sequence number and written with `INSERT OR REPLACE`: a replay
//! (after a checkpoint, or of the whole log) re-emits the same records and rewrites the same rows.
//! The body is the record in postcard; the columns beside it are what the filters use. A taker's
//! trade row carries its fill's public trade id (`public_id`; a maker's is NULL): the public tape
//! the engine no longer holds is read from those rows by pair and time (`trades_public`, see
//! `engine::market_data`). The read side is `history_read`.
//! The columns have no `NOT NULL` (every one is always bound): under `INSERT OR REPLACE`, a
//! `NOT NULL` column without a default makes SQLite treat each insert as one that may abort
//! after writing part of its b-trees (the row and its indexes), so every row opened and closed a
//! statement journal (`subjournalPageIfRequired`, `memjrnlWrite`, `pagerOpenSavepoint`: about
//! a third of the history thread's time under durable AddOrder, BENCHMARKS §4). Files made
//! before keep their constraints and work as before.

use super::sqlite::backend;
use super::StorageError;
use crate::engine::outbox::{HistoryNext, HistoryOut};
use rusqlite::{params, Connection};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT
);
CREATE TABLE IF NOT EXISTS trades (
    seq       INTEGER PRIMARY KEY,
    account   INTEGER,
    time_ns   INTEGER,
    pair      INTEGER,
    order_seq INTEGER,
    body      BLOB,
    public_id INTEGER
);
CREATE INDEX IF NOT EXISTS trades_account_time ON trades(account, time_ns);
CREATE INDEX IF NOT EXISTS trades_order ON trades(order_seq);
CREATE TABLE IF NOT EXISTS ledger_entries (
    seq     INTEGER PRIMARY KEY,
    account INTEGER,
    time_ns INTEGER,
    asset   INTEGER,
    kind    TEXT,
    body    BLOB
);
CREATE INDEX IF NOT EXISTS ledger_account_time ON ledger_entries(account, time_ns);
CREATE TABLE IF NOT EXISTS closed_orders (
    seq       INTEGER PRIMARY KEY,
    n         INTEGER,
    account   INTEGER,
    open_ns   INTEGER,
    close_ns  INTEGER,
    userref   INTEGER,
    cl_ord_id TEXT,
    body      BLOB
);
CREATE INDEX IF NOT EXISTS closed_account_close ON closed_orders(account, close_ns);
CREATE INDEX IF NOT EXISTS closed_n ON closed_orders(n);
";

/// The public tape's index (created after [`SCHEMA`]: a file of schema 1 gets its column first).
pub(super) const PUBLIC_INDEX: &str =
    "CREATE INDEX IF NOT EXISTS trades_public ON trades(pair, time_ns, public_id) WHERE public_id IS NOT NULL";

/// The metadata key of the tables' layout: absent or 1 before `public_id`, [`SCHEMA_VERSION`] after.
pub(super) const SCHEMA_META: &str = "history_schema";
pub(super) const SCHEMA_VERSION: u64 = 2;

/// The record in postcard, written into `buf` (one buffer for a whole flush: no allocation and
/// regrowth per row, which were most of the history thread's malloc and memmove, BENCHMARKS §4).
fn body<'a>(buf: &'a mut Vec<u8>, r: &impl serde::Serialize) -> &'a [u8] {
    buf.clear();
    *buf = postcard::to_extend(r, std::mem::take(buf)).expect("history records serialize");
    buf
}

/// Writes the records of `batches` (inside the caller's transaction; each statement prepared
/// once); rows with the same sequence are replaced. With `from`, only records from those
/// sequences on (trades, ledger, closings) are written.
pub(super) fn write(conn: &Connection, batches: &[HistoryOut], from: HistoryNext) -> Result<(), StorageError> {
    if batches.iter().all(HistoryOut::is_empty) {
        return Ok(());
    }
    let mut buf = Vec::with_capacity(512);
    {
        let mut st = conn
            .prepare_cached(
                "INSERT OR REPLACE INTO trades (seq, account, time_ns, pair, order_seq, public_id, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .map_err(backend)?;
        for t in batches.iter().flat_map(|h| &h.trades).filter(|t| t.seq >= from.trades) {
            let public = (!t.maker).then_some(t.public_id as i64);
            st.execute(params![t.seq as i64, t.account, t.time_ns as i64, t.pair, t.order as i64, public, body(&mut buf, t)])
                .map_err(backend)?;
        }
    }
    {
        let mut st = conn
            .prepare_cached(
                "INSERT OR REPLACE INTO ledger_entries (seq, account, time_ns, asset, kind, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .map_err(backend)?;
        for e in batches.iter().flat_map(|h| &h.ledger).filter(|e| e.seq >= from.ledger) {
            st.execute(params![e.seq as i64, e.account, e.time_ns as i64, e.asset, e.kind.as_str(), body(&mut buf, e)]).map_err(backend)?;
        }
    }
    let mut st = conn
        .prepare_cached(
            "INSERT OR REPLACE INTO closed_orders (seq, n, account, open_ns, close_ns, userref, cl_ord_id, body) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .map_err(backend)?;
    for c in batches.iter().flat_map(|h| &h.closed_orders).filter(|c| c.n >= from.closed) {
        let o = &c.order;
        let row = params![
            o.seq as i64,
            c.n as i64,
            o.req.account,
            o.open_ns as i64,
            o.close_ns as i64,
            o.req.userref,
            o.cl_ord_id(),
            body(&mut buf, o)
        ];
        st.execute(row).map_err(backend)?;
    }
    Ok(())
}

/// Empties the tables (inside the caller's transaction: the log is being replaced).
pub(super) fn clear(conn: &Connection) -> Result<(), StorageError> {
    conn.execute_batch("DELETE FROM trades; DELETE FROM ledger_entries; DELETE FROM closed_orders;").map_err(backend)
}

/// The next trade, ledger and closing sequence the tables lack (one past the highest stored).
pub(super) fn next_seqs(conn: &Connection) -> Result<HistoryNext, StorageError> {
    let q = |sql: &str| -> Result<u64, StorageError> {
        let v: Option<i64> = conn.query_row(sql, [], |r| r.get(0)).map_err(backend)?;
        Ok(v.map_or(0, |s| s as u64 + 1))
    };
    Ok(HistoryNext {
        trades: q("SELECT MAX(seq) FROM trades")?,
        ledger: q("SELECT MAX(seq) FROM ledger_entries")?,
        closed: q("SELECT MAX(n) FROM closed_orders")?,
    })
}

/// The metadata key: the history tables hold the rows of every log record up to this one.
pub(super) const UPTO_META: &str = "history_upto";

/// Records (inside the caller's transaction) that the tables are complete up to log record `seq`.
pub(super) fn set_upto(conn: &Connection, seq: u64) -> Result<(), StorageError> {
    let mut st = conn
        .prepare_cached("INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
        .map_err(backend)?;
    st.execute(params![UPTO_META, seq.to_string()]).map_err(backend)?;
    Ok(())
}

/// Brings a file of schema 1 (no `public_id`) to [`SCHEMA_VERSION`] inside the caller's
/// transaction: the column added if missing, filled from each taker row's body, the index made.
pub(super) fn upgrade(conn: &Connection) -> Result<(), StorageError> {
    let has_column: bool = conn
        .query_row("SELECT COUNT(*) FROM pragma_table_info('trades') WHERE name = 'public_id'", [], |r| r.get::<_, i64>(0))
        .map_err(backend)?
        > 0;
    if !has_column {
        conn.execute_batch("ALTER TABLE trades ADD COLUMN public_id INTEGER").map_err(backend)?;
    }
    // In chunks by sequence (a read cursor is not kept open across the updates).
    let mut read = conn.prepare("SELECT seq, body FROM trades WHERE seq > ?1 ORDER BY seq LIMIT 10000").map_err(backend)?;
    let mut update = conn.prepare("UPDATE trades SET public_id = ?2 WHERE seq = ?1").map_err(backend)?;
    let mut after = -1i64;
    loop {
        let rows = read.query_map([after], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))).map_err(backend)?;
        let rows: Vec<(i64, Vec<u8>)> = rows.collect::<Result<_, _>>().map_err(backend)?;
        let Some(&(last, _)) = rows.last() else { break };
        for (seq, bytes) in rows {
            let t: crate::engine::account::TradeRecord =
                postcard::from_bytes(&bytes).map_err(|e| StorageError::Backend(format!("history row {seq}: {e}")))?;
            update.execute(params![seq, (!t.maker).then_some(t.public_id as i64)]).map_err(backend)?;
        }
        after = last;
    }
    conn.execute_batch(PUBLIC_INDEX).map_err(backend)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No history column is `NOT NULL` (module doc: with `INSERT OR REPLACE` it cost a statement
    /// journal per row), and every column the writer binds is there.
    #[test]
    fn history_columns_take_no_statement_journal() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        for (table, columns) in [("trades", 7), ("ledger_entries", 6), ("closed_orders", 8)] {
            let mut st = conn.prepare(&format!("PRAGMA table_info({table})")).unwrap();
            let not_null: Vec<(String, bool)> = st.query_map([], |r| Ok((r.get(1)?, r.get(3)?))).unwrap().map(Result::unwrap).collect();
            assert_eq!(not_null.len(), columns, "{table}: {not_null:?}");
            assert!(not_null.iter().all(|(_, n)| !n), "{table}: a NOT NULL column: {not_null:?}");
        }
    }
}
