//! The read side of the history tables (`history`): the trade records, ledger entries and closed
//! orders the history endpoints, exports, the console and the executions snapshot show, and the
//! public trades the engine's tape no longer holds (public Trades). One read-only
//! connection of its own to `history.db` behind a mutex (WAL: readers never block the history thread's flushes
//! and see only committed transactions). The rows are written after the acknowledgement, so
//! every read first waits for the rows of everything acknowledged before it (`history_mark`).

use super::sqlite::{backend, connect_read_only};
use super::StorageError;
use crate::engine::account::{LedgerEntry, TradeRecord};
use crate::engine::market_data::PublicTrade;
use crate::engine::markets::PairIdx;
use crate::engine::order::{AccountId, Order, OrderSeq};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// Read-only access to the history tables.
pub struct HistoryReader {
    conn: Mutex<Connection>,
    mark: std::sync::OnceLock<std::sync::Arc<super::history_mark::HistoryMark>>,
}

fn decode<T: serde::de::DeserializeOwned>(bytes: Vec<u8>) -> Result<T, StorageError> {
    postcard::from_bytes(&bytes).map_err(|e| StorageError::Backend(format!("history row: {e}")))
}

/// Time bounds as SQL integers: after `start` (exclusive), up to `end` (inclusive).
fn window(start: Option<u64>, end: Option<u64>) -> (i64, i64) {
    let clamp = |v: u64| v.min(i64::MAX as u64) as i64;
    (start.map_or(-1, clamp), end.map_or(i64::MAX, clamp))
}

impl HistoryReader {
    /// Opens the data directory's `history.db` (its schema must exist: the server opened it first).
    pub fn open(data_dir: &Path) -> Result<HistoryReader, StorageError> {
        let conn = Mutex::new(connect_read_only(&data_dir.join(super::history_db::HISTORY_FILE))?);
        Ok(HistoryReader { conn, mark: Default::default() })
    }

    /// Makes every later read wait for the rows `mark` says are acknowledged but not yet written
    /// (the server's sequencer's; only the first call counts).
    pub fn follow(&self, mark: std::sync::Arc<super::history_mark::HistoryMark>) {
        let _ = self.mark.set(mark);
    }

    /// The connection, once the rows of everything acknowledged so far are written.
    fn lock(&self) -> Result<MutexGuard<'_, Connection>, StorageError> {
        if let Some(m) = self.mark.get() {
            m.wait_current()?;
        }
        Ok(self.conn.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn rows<T: serde::de::DeserializeOwned>(&self, sql: &str, args: impl rusqlite::Params) -> Result<Vec<T>, StorageError> {
        let conn = self.lock()?;
        let mut st = conn.prepare_cached(sql).map_err(backend)?;
        let bodies: Vec<Vec<u8>> = st.query_map(args, |r| r.get(0)).map_err(backend)?.collect::<Result<_, _>>().map_err(backend)?;
        bodies.into_iter().map(decode).collect()
    }

    fn one<T: serde::de::DeserializeOwned>(&self, sql: &str, seq: u64) -> Result<Option<T>, StorageError> {
        let conn = self.lock()?;
        let mut st = conn.prepare_cached(sql).map_err(backend)?;
        let body: Option<Vec<u8>> = st.query_row([seq as i64], |r| r.get(0)).optional().map_err(backend)?;
        body.map(decode).transpose()
    }

    /// The account's trades with a time in (start, end], most recent first.
    pub fn trades(&self, account: AccountId, start: Option<u64>, end: Option<u64>) -> Result<Vec<TradeRecord>, StorageError> {
        let (s, e) = window(start, end);
        self.rows("SELECT body FROM trades WHERE account = ?1 AND time_ns > ?2 AND time_ns <= ?3 ORDER BY seq DESC", params![account, s, e])
    }

    pub fn trade(&self, seq: u64) -> Result<Option<TradeRecord>, StorageError> {
        self.one("SELECT body FROM trades WHERE seq = ?1", seq)
    }

    /// Up to `limit` of the account's trades with a sequence in [from, below), oldest first.
    pub fn trades_from(&self, account: AccountId, from: u64, below: u64, limit: usize) -> Result<Vec<TradeRecord>, StorageError> {
        let sql = "SELECT body FROM trades WHERE account = ?1 AND seq >= ?2 AND seq < ?3 ORDER BY seq LIMIT ?4";
        self.rows(sql, params![account, from as i64, below.min(i64::MAX as u64) as i64, limit as i64])
    }

    /// The account's last `n` trades, most recent first.
    pub fn last_trades(&self, account: AccountId, n: usize) -> Result<Vec<TradeRecord>, StorageError> {
        self.rows("SELECT body FROM trades WHERE account = ?1 ORDER BY seq DESC LIMIT ?2", params![account, n as i64])
    }

    /// The order's trades, oldest first.
    pub fn trades_of_order(&self, order: OrderSeq) -> Result<Vec<TradeRecord>, StorageError> {
        self.rows("SELECT body FROM trades WHERE order_seq = ?1 ORDER BY seq", params![order as i64])
    }

    /// Up to `limit` of `pair`'s public trades (its fills' taker rows) with a time in
    /// (after, until] and a public id below `below`, oldest first: the tape the engine dropped.
    pub fn public_trades(&self, pair: PairIdx, after: u64, until: u64, below: u64, limit: usize) -> Result<Vec<PublicTrade>, StorageError> {
        let clamp = |v: u64| v.min(i64::MAX as u64) as i64;
        let sql = "SELECT body FROM trades WHERE pair = ?1 AND public_id IS NOT NULL AND time_ns > ?2 AND time_ns <= ?3 \
                   AND public_id < ?4 ORDER BY time_ns, public_id LIMIT ?5";
        let rows: Vec<TradeRecord> = self.rows(sql, params![pair, clamp(after), clamp(until), clamp(below), limit as i64])?;
        let public = |t: TradeRecord| PublicTrade {
            price: t.price,
            volume: t.volume,
            time_ns: t.time_ns,
            taker_side: t.side,
            taker_kind: t.order_kind,
            trade_id: t.public_id,
        };
        Ok(rows.into_iter().map(public).collect())
    }

    /// The account's ledger entries with a time in (start, end], most recent first.
    pub fn ledger(&self, account: AccountId, start: Option<u64>, end: Option<u64>) -> Result<Vec<LedgerEntry>, StorageError> {
        let (s, e) = window(start, end);
        let sql = "SELECT body FROM ledger_entries WHERE account = ?1 AND time_ns > ?2 AND time_ns <= ?3 ORDER BY seq DESC";
        self.rows(sql, params![account, s, e])
    }

    pub fn ledger_entry(&self, seq: u64) -> Result<Option<LedgerEntry>, StorageError> {
        self.one("SELECT body FROM ledger_entries WHERE seq = ?1", seq)
    }

    /// Up to `limit` of the account's ledger entries with a sequence in [from, below), oldest first.
    pub fn ledger_from(&self, account: AccountId, from: u64, below: u64, limit: usize) -> Result<Vec<LedgerEntry>, StorageError> {
        let sql = "SELECT body FROM ledger_entries WHERE account = ?1 AND seq >= ?2 AND seq < ?3 ORDER BY seq LIMIT ?4";
        self.rows(sql, params![account, from as i64, below.min(i64::MAX as u64) as i64, limit as i64])
    }

    /// A closed order by its sequence.
    pub fn closed_order(&self, seq: OrderSeq) -> Result<Option<Order>, StorageError> {
        self.one("SELECT body FROM closed_orders WHERE seq = ?1", seq)
    }

    /// The account's closed orders, most recently closed first, with the ClosedOrders filters:
    /// the time window (start, end] on the open time, the close time or either
    /// (`closetime` open, close, both), `userref` and `cl_ord_id`.
    pub fn closed_orders(&self, account: AccountId, q: &ClosedQuery) -> Result<Vec<Order>, StorageError> {
        let (s, e) = window(q.start, q.end);
        let time = match q.closetime {
            CloseTime::Open => "open_ns > ?2 AND open_ns <= ?3",
            CloseTime::Close => "close_ns > ?2 AND close_ns <= ?3",
            CloseTime::Both => "((open_ns > ?2 AND open_ns <= ?3) OR (close_ns > ?2 AND close_ns <= ?3))",
        };
        let sql = format!(
            "SELECT body FROM closed_orders WHERE account = ?1 AND {time} AND (?4 IS NULL OR userref = ?4) \
             AND (?5 IS NULL OR cl_ord_id = ?5) ORDER BY n DESC"
        );
        self.rows(&sql, params![account, s, e, q.userref, q.cl_ord_id])
    }
}

/// Which of a closed order's times ClosedOrders' window applies to (`closetime`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseTime {
    Open,
    Close,
    Both,
}

/// ClosedOrders' filters, as [`HistoryReader::closed_orders`] applies them.
#[derive(Clone, Debug)]
pub struct ClosedQuery {
    pub start: Option<u64>,
    pub end: Option<u64>,
    pub closetime: CloseTime,
    pub userref: Option<i32>,
    pub cl_ord_id: Option<String>,
}
