//! The SQLite command log's support for engine checkpoints: replaying only the tail after a
//! sequence number, the log's bounds and generation (`log_epoch` in the metadata table, bumped in
//! the transaction that replaces the whole log), a second read-only handle for the checkpoint
//! thread, and pruning: removing (optionally archiving) the records before a checkpoint, which
//! only an operator's command does (`calamari log prune`), never the server on its own.

use super::sqlite::{backend, connect, SqliteLog, DB_FILE};
use super::{ReplayFn, StorageError};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::{Path, PathBuf};

const EPOCH_META: &str = "log_epoch";

pub(super) fn replay_after(conn: &Connection, after: u64, cap: u64, f: &mut ReplayFn<'_>) -> Result<(), StorageError> {
    let mut stmt = conn.prepare_cached("SELECT seq, body FROM commands WHERE seq > ?1 AND seq <= ?2 ORDER BY seq").map_err(backend)?;
    let mut rows = stmt.query([after as i64, cap.min(i64::MAX as u64) as i64]).map_err(backend)?;
    let mut expected = after + 1;
    while let Some(row) = rows.next().map_err(backend)? {
        let seq = row.get::<_, i64>(0).map_err(backend)? as u64;
        if seq != expected {
            return Err(StorageError::Backend(if expected == after + 1 {
                format!("the command log starts at record {seq}: records {expected}..{} were pruned (an engine checkpoint at or after record {} is needed)", seq - 1, seq - 1)
            } else {
                format!("command log has a gap: record {expected} is missing (next is {seq})")
            }));
        }
        let body = row.get_ref(1).map_err(backend)?.as_blob().map_err(|e| StorageError::Backend(format!("record {seq}: {e}")))?;
        f(seq, body).map_err(StorageError::Replay)?;
        expected = seq + 1;
    }
    Ok(())
}

/// The log's first and last sequence numbers, each read from one end of the table's b-tree.
/// `SELECT MIN(seq), MAX(seq)` in one select is not: SQLite's min/max optimization applies only
/// to a lone MIN or MAX, so that form read every record (70 ms a million records), and the
/// checkpoint thread asks every 500 ms.
pub(super) const BOUNDS: &str = "SELECT (SELECT MIN(seq) FROM commands), (SELECT MAX(seq) FROM commands)";

pub(super) fn bounds(conn: &Connection) -> Result<Option<(u64, u64)>, StorageError> {
    let (first, last): (Option<i64>, Option<i64>) = conn.query_row(BOUNDS, [], |r| Ok((r.get(0)?, r.get(1)?))).map_err(backend)?;
    Ok(first.zip(last).map(|(a, b)| (a as u64, b as u64)))
}

pub(super) fn epoch(conn: &Connection) -> Result<u64, StorageError> {
    let v: Option<Option<String>> =
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [EPOCH_META], |r| r.get(0)).optional().map_err(backend)?;
    Ok(v.flatten().and_then(|s| s.parse().ok()).unwrap_or(0))
}

pub(super) fn bump_epoch(tx: &Connection) -> Result<(), StorageError> {
    let next = epoch(tx)? + 1;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![EPOCH_META, next.to_string()],
    )
    .map_err(backend)?;
    Ok(())
}

pub(super) fn record(conn: &Connection, seq: u64) -> Result<Option<Vec<u8>>, StorageError> {
    conn.query_row("SELECT body FROM commands WHERE seq = ?1", [seq as i64], |r| r.get(0)).optional().map_err(backend)
}

impl SqliteLog {
    /// A second handle on an existing data directory's log, for reading only (the checkpoint
    /// thread, `calamari replay`): WAL readers never block the writer.
    pub fn open_reader(data_dir: &Path) -> Result<SqliteLog, StorageError> {
        let path = data_dir.join(DB_FILE);
        if !path.exists() {
            return Err(StorageError::Backend(format!("{}: no Calamari database here", data_dir.display())));
        }
        SqliteLog::over(connect(&path)?)
    }

    /// Shows (replays, bounds) only the records whose history rows are durable in `data_dir`'s
    /// `history.db` (`history_db::durable_upto`: read, then synced): an engine checkpoint built
    /// through this reader never covers a record whose rows a power cut could still take, so a
    /// start from it re-emits every row lost.
    pub fn cap_at_history(&mut self, data_dir: &Path) -> Result<(), StorageError> {
        let epoch = epoch(&self.conn)?;
        self.cap = super::history_db::durable_upto(data_dir, epoch)?;
        Ok(())
    }
}

/// What [`prune_before`] did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PruneReport {
    pub removed: u64,
    /// The first record the log holds now.
    pub first: Option<u64>,
    /// Where the removed records were copied (an SQLite file with the same `commands` table).
    pub archive: Option<PathBuf>,
}

/// Removes the records before `seq` (record `seq` itself stays, so the log's numbering and an
/// engine checkpoint's record check survive), in transactions of 10,000 records so the server's
/// commits never wait long. With `archive`, each chunk is first copied into that SQLite file in
/// the same transaction, so a record is always in one of the two.
pub fn prune_before(data_dir: &Path, seq: u64, archive: Option<&Path>) -> Result<PruneReport, StorageError> {
    let mut conn = connect(&data_dir.join(DB_FILE))?;
    if let Some(a) = archive {
        if let Some(parent) = a.parent() {
            std::fs::create_dir_all(parent).map_err(|e| StorageError::Backend(format!("{}: {e}", parent.display())))?;
        }
        let path = a.to_str().ok_or_else(|| StorageError::Backend("archive path is not UTF-8".into()))?;
        conn.execute("ATTACH DATABASE ?1 AS archive", [path]).map_err(backend)?;
        conn.execute_batch("CREATE TABLE IF NOT EXISTS archive.commands (seq INTEGER PRIMARY KEY, body BLOB NOT NULL)").map_err(backend)?;
    }
    let mut removed = 0u64;
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
        let upto: Option<i64> = tx
            .query_row("SELECT MAX(seq) FROM (SELECT seq FROM commands WHERE seq < ?1 ORDER BY seq LIMIT 10000)", [seq as i64], |r| {
                r.get(0)
            })
            .map_err(backend)?;
        let Some(upto) = upto else { break };
        if archive.is_some() {
            tx.execute("INSERT OR REPLACE INTO archive.commands SELECT seq, body FROM commands WHERE seq <= ?1", [upto])
                .map_err(backend)?;
        }
        removed += tx.execute("DELETE FROM commands WHERE seq <= ?1", [upto]).map_err(backend)? as u64;
        tx.commit().map_err(backend)?;
    }
    Ok(PruneReport { removed, first: bounds(&conn)?.map(|(f, _)| f), archive: archive.map(Path::to_path_buf) })
}

#[cfg(test)]
mod tests {
    use crate::storage::{open_sqlite, CommandLog};

    fn tail(log: &mut dyn CommandLog, after: u64) -> Result<Vec<u64>, String> {
        let mut out = Vec::new();
        log.replay_after(after, &mut |seq, _| {
            out.push(seq);
            Ok(())
        })
        .map_err(|e| e.to_string())?;
        Ok(out)
    }

    #[test]
    fn tails_bounds_epochs_and_pruning() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = open_sqlite(dir.path()).unwrap();
        assert_eq!(log.bounds().unwrap(), None);
        let records: Vec<Vec<u8>> = (0..25_000u32).map(|i| i.to_le_bytes().to_vec()).collect();
        log.append(&records).unwrap();
        assert_eq!(log.bounds().unwrap(), Some((1, 25_000)));
        assert_eq!(tail(log.as_mut(), 24_997).unwrap(), vec![24_998, 24_999, 25_000]);
        assert_eq!(log.record(3).unwrap(), Some(2u32.to_le_bytes().to_vec()));
        assert_eq!(log.epoch().unwrap(), 0);

        let archive = dir.path().join("archive").join("a.db");
        let r = super::prune_before(dir.path(), 20_001, Some(&archive)).unwrap();
        assert_eq!((r.removed, r.first), (20_000, Some(20_001)));
        assert_eq!(log.bounds().unwrap(), Some((20_001, 25_000)));
        let err = tail(log.as_mut(), 0).unwrap_err();
        assert!(err.contains("starts at record 20001") && err.contains("pruned"), "{err}");
        assert_eq!(tail(log.as_mut(), 20_000).unwrap().len(), 5_000);
        let mut arch = super::SqliteLog::over(rusqlite::Connection::open(&archive).unwrap()).unwrap();
        assert_eq!(arch.bounds().unwrap(), Some((1, 20_000)), "the archive holds what was removed");
        log.append(&[b"next".to_vec()]).unwrap();
        assert_eq!(log.bounds().unwrap(), Some((20_001, 25_001)), "numbering goes on after a prune");

        log.replace_all(&[b"a".to_vec()]).unwrap();
        assert_eq!((log.epoch().unwrap(), log.bounds().unwrap()), (1, Some((1, 1))), "a replaced log is a new generation");
    }
}
