//! `history.db`: the history tables (`history`) in their own database file beside `calamari.db`,
//! written by their own thread (`sequencer::history_writer`), so that the log's group commit
//! never waits for a history flush nor shares its WAL and checkpoints with one.
//!
//! Its `meta` table holds `history_upto` (the rows of every log record up to it are here),
//! `log_epoch` (the log generation the rows belong to) and `rows_format` (the bodies' form). A flush is one transaction with
//! `synchronous=NORMAL`: never synced by itself (the rows are re-derivable by a replay of the
//! log). What may be lost to a power cut is bounded by two guards:
//! * a start uses an engine checkpoint only at or below the `history_upto` that survived
//!   (`recovery::checkpoint::recover_at_start`), and the replay from it rewrites what is missing;
//! * the checkpoint thread caps its build at [`durable_upto`], which reads `history_upto` and then
//!   fsyncs `history.db` and its WAL, so the checkpoint it writes is never beyond durable rows.
//!
//! A file of another log generation (a reset or snapshot restore replaced the log, then the
//! process died before `history.db` was replaced) is emptied at open and rebuilt by the replay;
//! so is a missing file, and one whose rows are of an older form (`rows_format`; after an
//! upgrade: the engine checkpoints of the old build are refused too, so that start replays the
//! whole log anyway). A `calamari.db` from before this file (history tables inside it) has its
//! rows moved here at the first open, synced before they leave `calamari.db`. `history_schema`
//! says the tables' layout: a file from before the trades' `public_id` is upgraded in place at
//! open (`history::upgrade`, no replay needed).

use super::history::{self, SCHEMA};
use super::sqlite::{backend, connect, connect_read_only, DB_FILE};
use super::{HistoryStore, StorageError};
use crate::engine::outbox::{HistoryNext, HistoryOut};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;

/// The history database's file name in the data directory.
pub const HISTORY_FILE: &str = "history.db";
const EPOCH_META: &str = "log_epoch";
/// The form of the rows' bodies: a file of another form is emptied at open and rebuilt by the
/// start's replay (the bodies are postcard, which reads only the form it was written in).
/// 2: a closed order's body ends with its amend history.
const ROWS_META: &str = "rows_format";
const ROWS_FORMAT: u64 = 2;
const TABLES: [&str; 3] = ["trades", "ledger_entries", "closed_orders"];

/// The writable history database (one owner: the server's start, then the history thread).
pub struct HistoryDb {
    conn: Connection,
}

fn io(path: &Path, e: std::io::Error) -> StorageError {
    StorageError::Backend(format!("{}: {e}", path.display()))
}

fn meta(conn: &Connection, key: &str) -> Result<Option<u64>, StorageError> {
    let v: Option<Option<String>> =
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional().map_err(backend)?;
    Ok(v.flatten().and_then(|s| s.parse().ok()))
}

fn set_meta(conn: &Connection, key: &str, value: u64) -> Result<(), StorageError> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![key, value.to_string()],
    )
    .map_err(backend)?;
    Ok(())
}

fn has_table(conn: &Connection, schema: &str, table: &str) -> Result<bool, StorageError> {
    let sql = format!("SELECT COUNT(*) FROM {schema}.sqlite_master WHERE type = 'table' AND name = ?1");
    conn.query_row(&sql, [table], |r| r.get::<_, i64>(0)).map(|n| n > 0).map_err(backend)
}

impl HistoryDb {
    /// Opens (creating) `history.db` for the log of generation `log_epoch`: moves the history
    /// tables out of a `calamari.db` that still holds them, and empties the tables when the file
    /// belongs to another generation (its `history_upto` is then 0: the replay rebuilds them).
    pub fn open(data_dir: &Path, log_epoch: u64) -> Result<HistoryDb, StorageError> {
        let path = data_dir.join(HISTORY_FILE);
        let created = !path.exists();
        let conn = connect(&path)?;
        conn.execute_batch(SCHEMA).map_err(backend)?;
        if created {
            // The new file's directory entry is durable before anything relies on the file.
            std::fs::File::open(data_dir).and_then(|d| d.sync_all()).map_err(|e| io(data_dir, e))?;
        }
        let mut db = HistoryDb { conn };
        db.move_from_log(data_dir)?;
        if db.epoch()? != Some(log_epoch) {
            if db.epoch()?.is_some() {
                tracing::warn!(history_epoch = ?db.epoch()?, log_epoch, "history.db belongs to another log generation; rebuilt by the replay");
            }
            db.reset(log_epoch)?;
        } else if meta(&db.conn, ROWS_META)? != Some(ROWS_FORMAT) {
            tracing::warn!(rows_format = ?meta(&db.conn, ROWS_META)?, ROWS_FORMAT, "history.db rows are of an older form; rebuilt by the replay");
            db.reset(log_epoch)?;
        }
        db.upgrade()?;
        // Flushes are not synced (`synchronous=NORMAL`: the WAL is synced at its checkpoints).
        db.conn.pragma_update(None, "synchronous", "NORMAL").map_err(backend)?;
        Ok(db)
    }

    /// A `calamari.db` written before this file: its history rows (and their `history_upto`,
    /// else its last record) move here in one synced transaction, then leave `calamari.db`. A
    /// crash between the two leaves both copies; the next open moves them again.
    fn move_from_log(&mut self, data_dir: &Path) -> Result<(), StorageError> {
        let log_path = data_dir.join(DB_FILE);
        if !log_path.exists() {
            return Ok(());
        }
        let old = connect(&log_path)?;
        let present: Vec<&str> = TABLES.into_iter().filter(|t| has_table(&old, "main", t).unwrap_or(false)).collect();
        if present.is_empty() {
            return Ok(());
        }
        let upto = match meta(&old, history::UPTO_META)? {
            Some(u) => u,
            None => {
                old.query_row("SELECT MAX(seq) FROM commands", [], |r| r.get::<_, Option<i64>>(0)).map_err(backend)?.unwrap_or(0) as u64
            }
        };
        let epoch = meta(&old, EPOCH_META)?.unwrap_or(0);
        let target = log_path.to_str().ok_or_else(|| StorageError::Backend("data directory path is not UTF-8".into()))?;
        self.conn.execute("ATTACH DATABASE ?1 AS old", [target]).map_err(backend)?;
        let moved = (|| {
            let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
            history::clear(&tx)?;
            for t in &present {
                // The old trades table has no `public_id` (filled by `upgrade`).
                let sql = if *t == "trades" {
                    let cols = "seq, account, time_ns, pair, order_seq, body";
                    format!("INSERT INTO main.trades ({cols}) SELECT {cols} FROM old.trades")
                } else {
                    format!("INSERT INTO main.{t} SELECT * FROM old.{t}")
                };
                tx.execute_batch(&sql).map_err(backend)?;
            }
            set_meta(&tx, history::SCHEMA_META, 1)?;
            set_meta(&tx, history::UPTO_META, upto)?;
            set_meta(&tx, EPOCH_META, epoch)?;
            tx.commit().map_err(backend)
        })();
        self.conn.execute("DETACH DATABASE old", []).map_err(backend)?;
        moved?;
        let mut old = old;
        let tx = old.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
        for t in &present {
            tx.execute_batch(&format!("DROP TABLE {t}")).map_err(backend)?;
        }
        tx.execute("DELETE FROM meta WHERE key = ?1", [history::UPTO_META]).map_err(backend)?;
        tx.commit().map_err(backend)?;
        tracing::info!(tables = ?present, upto, "history tables moved from calamari.db to history.db");
        Ok(())
    }

    /// A file from before the public tape's column (or rows just moved in) brought to the
    /// current layout, in one transaction (`history::upgrade`); a new file only gets its index.
    fn upgrade(&mut self) -> Result<(), StorageError> {
        if meta(&self.conn, history::SCHEMA_META)? == Some(history::SCHEMA_VERSION) {
            return Ok(());
        }
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
        history::upgrade(&tx)?;
        set_meta(&tx, history::SCHEMA_META, history::SCHEMA_VERSION)?;
        tx.commit().map_err(backend)
    }

    /// The log generation the rows belong to (`None`: a new file).
    pub fn epoch(&self) -> Result<Option<u64>, StorageError> {
        meta(&self.conn, EPOCH_META)
    }

    /// Empties the tables for log generation `epoch` (`history_upto` 0).
    fn reset(&mut self, epoch: u64) -> Result<(), StorageError> {
        self.replace(&HistoryOut::default(), 0, epoch)
    }

    /// The log record the rows are complete up to (0: none).
    pub fn upto(&self) -> Result<u64, StorageError> {
        Ok(meta(&self.conn, history::UPTO_META)?.unwrap_or(0))
    }

    /// The next trade, ledger and closing sequence the tables lack.
    pub fn next_seqs(&self) -> Result<HistoryNext, StorageError> {
        history::next_seqs(&self.conn)
    }

    /// Writes what a start-up replay re-emitted that the tables lack, complete up to log record
    /// `upto` (the log's last); idempotent.
    pub fn restore(&mut self, h: &HistoryOut, upto: u64) -> Result<(), StorageError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
        let next = history::next_seqs(&tx)?;
        history::write(&tx, std::slice::from_ref(h), next)?;
        history::set_upto(&tx, upto)?;
        tx.commit().map_err(backend)
    }
}

impl HistoryStore for HistoryDb {
    fn flush(&mut self, batches: &[HistoryOut], upto: u64) -> Result<(), StorageError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
        history::write(&tx, batches, HistoryNext::default())?;
        history::set_upto(&tx, upto)?;
        tx.commit().map_err(backend)
    }

    fn replace(&mut self, h: &HistoryOut, upto: u64, epoch: u64) -> Result<(), StorageError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
        history::clear(&tx)?;
        history::write(&tx, std::slice::from_ref(h), HistoryNext::default())?;
        history::set_upto(&tx, upto)?;
        set_meta(&tx, EPOCH_META, epoch)?;
        set_meta(&tx, ROWS_META, ROWS_FORMAT)?;
        tx.commit().map_err(backend)
    }
}

/// The `history_upto` of `data_dir`'s `history.db` for log generation `epoch`, made durable
/// first: read, then `history.db` and its WAL fsynced (every transaction committed before the
/// read is in one of the two files, so it survives a power cut). 0 when the file is of another
/// generation; `u64::MAX` (everything) when there is none: a log kept without history (tests,
/// benches; a server always has the file, and a start refuses a checkpoint past the rows that
/// survived anyway). The checkpoint thread caps its build here.
pub fn durable_upto(data_dir: &Path, epoch: u64) -> Result<u64, StorageError> {
    let path = data_dir.join(HISTORY_FILE);
    if !path.exists() {
        return Ok(u64::MAX);
    }
    let conn = connect_read_only(&path)?;
    let (upto, of) = (meta(&conn, history::UPTO_META)?.unwrap_or(0), meta(&conn, EPOCH_META)?);
    drop(conn);
    if of != Some(epoch) {
        return Ok(0);
    }
    for p in [path.clone(), data_dir.join(format!("{HISTORY_FILE}-wal"))] {
        match std::fs::OpenOptions::new().write(true).open(&p) {
            Ok(f) => f.sync_all().map_err(|e| io(&p, e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&p, e)),
        }
    }
    Ok(upto)
}
