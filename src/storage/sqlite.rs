//! The SQLite backend: one file, `calamari.db`, in the data directory. WAL journal with
//! `synchronous=FULL`, so a committed transaction is on disk when `COMMIT` returns (an
//! acknowledged command is a durable one). The history rows live in their own file
//! (`history_db`). Two connections: the command log's, used only by the
//! sequencer's storage thread, and the key store's, shared behind a mutex. Sequence numbers are
//! assigned here explicitly, so a second process appending to the same log fails on the primary
//! key instead of interleaving.

use super::{CommandLog, KeyRecord, KeyStore, ReplayFn, StorageError};
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, TransactionBehavior};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// The database file's name in the data directory.
pub const DB_FILE: &str = "calamari.db";
/// Schema version written to `PRAGMA user_version`.
const SCHEMA_VERSION: i64 = 5;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS commands (
    seq  INTEGER PRIMARY KEY,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    public_key        TEXT    NOT NULL UNIQUE,
    account_id        INTEGER NOT NULL,
    name              TEXT    NOT NULL,
    permissions       INTEGER NOT NULL,
    secret_ciphertext BLOB    NOT NULL,
    created_at        INTEGER NOT NULL,
    revoked           INTEGER NOT NULL DEFAULT 0,
    nonce             INTEGER NOT NULL DEFAULT 0,
    settings          TEXT    NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX IF NOT EXISTS api_keys_live_name ON api_keys(account_id, name) WHERE revoked = 0;
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT
);
";

pub(super) fn backend(e: rusqlite::Error) -> StorageError {
    StorageError::Backend(e.to_string())
}

/// Nonces are u64; SQLite integers are i64. Stored bit-for-bit (values above 2^63 read back
/// negative in the sqlite shell), compared as u64 in Rust.
fn nonce_to_sql(n: u64) -> i64 {
    n as i64
}

fn nonce_from_sql(n: i64) -> u64 {
    n as u64
}

pub(super) fn connect(path: &Path) -> Result<Connection, StorageError> {
    let conn = Connection::open(path).map_err(backend)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(backend)?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0)).map_err(backend)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StorageError::Backend(format!("{}: could not enable WAL (journal_mode={mode})", path.display())));
    }
    conn.pragma_update(None, "synchronous", "FULL").map_err(backend)?;
    Ok(conn)
}

/// A read-only connection to an existing database (the history reader's).
pub(super) fn connect_read_only(path: &Path) -> Result<Connection, StorageError> {
    use rusqlite::OpenFlags;
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX).map_err(backend)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(backend)?;
    Ok(conn)
}

/// Opens the database, creating the directory, the file and the schema as needed.
pub fn open(data_dir: &Path) -> Result<(SqliteLog, SqliteKeyStore), StorageError> {
    std::fs::create_dir_all(data_dir).map_err(|e| StorageError::Backend(format!("{}: {e}", data_dir.display())))?;
    let path = data_dir.join(DB_FILE);
    let keys = connect(&path)?;
    let version: i64 = keys.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(backend)?;
    if version > SCHEMA_VERSION {
        return Err(StorageError::Backend(format!(
            "{}: schema version {version} is newer than this build's {SCHEMA_VERSION}",
            path.display()
        )));
    }
    keys.execute_batch(SCHEMA).map_err(backend)?;
    // Versions 3 and 4 kept the history tables here; version 5 moved them to `history.db`
    // (`history_db::HistoryDb::open` moves their rows out at the server's next start).
    if version == 1 {
        // Version 2 added key settings.
        keys.execute_batch("ALTER TABLE api_keys ADD COLUMN settings TEXT NOT NULL DEFAULT '{}'").map_err(backend)?;
    }
    keys.pragma_update(None, "user_version", SCHEMA_VERSION).map_err(backend)?;
    Ok((SqliteLog::over(connect(&path)?)?, SqliteKeyStore { conn: Mutex::new(keys) }))
}

/// The command log over its own connection.
pub struct SqliteLog {
    pub(super) conn: Connection,
    next_seq: u64,
    /// The last record a replay or `bounds` shows (`cap_at_history`); `u64::MAX` for all.
    pub(super) cap: u64,
}

impl SqliteLog {
    /// The log over a connection to a database whose schema exists; numbering continues after
    /// the highest record.
    pub(super) fn over(conn: Connection) -> Result<SqliteLog, StorageError> {
        let last: Option<i64> = conn.query_row("SELECT MAX(seq) FROM commands", [], |r| r.get(0)).map_err(backend)?;
        Ok(SqliteLog { conn, next_seq: last.map_or(1, |s| s as u64 + 1), cap: u64::MAX })
    }
}

impl CommandLog for SqliteLog {
    fn append(&mut self, records: &[Vec<u8>]) -> Result<(), StorageError> {
        if records.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
        {
            let mut stmt = tx.prepare_cached("INSERT INTO commands (seq, body) VALUES (?1, ?2)").map_err(backend)?;
            for (i, body) in records.iter().enumerate() {
                stmt.execute(params![(self.next_seq + i as u64) as i64, body]).map_err(backend)?;
            }
        }
        tx.commit().map_err(backend)?;
        // Only after the commit: a failed append leaves the numbering where it was.
        self.next_seq += records.len() as u64;
        Ok(())
    }

    fn replace_all(&mut self, records: &[Vec<u8>]) -> Result<(), StorageError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
        tx.execute("DELETE FROM commands", []).map_err(backend)?;
        super::sqlite_tail::bump_epoch(&tx)?;
        {
            let mut stmt = tx.prepare_cached("INSERT INTO commands (seq, body) VALUES (?1, ?2)").map_err(backend)?;
            for (i, body) in records.iter().enumerate() {
                stmt.execute(params![i as i64 + 1, body]).map_err(backend)?;
            }
        }
        tx.commit().map_err(backend)?;
        self.next_seq = records.len() as u64 + 1;
        Ok(())
    }

    fn snapshot(&mut self, path: &Path) -> Result<(), StorageError> {
        let target = path.to_str().ok_or_else(|| StorageError::Backend("snapshot path is not UTF-8".into()))?;
        self.conn.execute("VACUUM INTO ?1", [target]).map_err(backend)?;
        Ok(())
    }

    fn replay(&mut self, f: &mut ReplayFn<'_>) -> Result<(), StorageError> {
        self.replay_after(0, f)
    }

    fn replay_after(&mut self, after: u64, f: &mut ReplayFn<'_>) -> Result<(), StorageError> {
        super::sqlite_tail::replay_after(&self.conn, after, self.cap, f)
    }

    fn bounds(&mut self) -> Result<Option<(u64, u64)>, StorageError> {
        Ok(super::sqlite_tail::bounds(&self.conn)?.map(|(first, last)| (first, last.min(self.cap))))
    }

    fn epoch(&mut self) -> Result<u64, StorageError> {
        super::sqlite_tail::epoch(&self.conn)
    }

    fn record(&mut self, seq: u64) -> Result<Option<Vec<u8>>, StorageError> {
        super::sqlite_tail::record(&self.conn, seq)
    }
}

/// API keys and metadata over a mutex-guarded connection.
pub struct SqliteKeyStore {
    conn: Mutex<Connection>,
}

impl SqliteKeyStore {
    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a half-done transaction behind (it rolls
        // back on drop), so a poisoned connection is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl KeyStore for SqliteKeyStore {
    fn insert_key(&self, rec: &KeyRecord) -> Result<i64, StorageError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "INSERT INTO api_keys (public_key, account_id, name, permissions, secret_ciphertext, created_at, revoked, nonce, settings)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .map_err(backend)?;
        let res = stmt.execute(params![
            rec.public_key,
            rec.account_id,
            rec.name,
            rec.permissions,
            rec.secret_ciphertext,
            rec.created_at,
            rec.revoked,
            nonce_to_sql(rec.nonce),
            rec.settings,
        ]);
        match res {
            Ok(_) => Ok(conn.last_insert_rowid()),
            Err(e) if e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) => Err(StorageError::Conflict),
            Err(e) => Err(backend(e)),
        }
    }

    fn meta_with_prefix(&self, prefix: &str) -> Result<Vec<(String, String)>, StorageError> {
        let conn = self.lock();
        let mut stmt =
            conn.prepare_cached("SELECT key, value FROM meta WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key").map_err(backend)?;
        let rows = stmt
            .query_map([prefix], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?.unwrap_or_default())))
            .map_err(backend)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(backend)
    }

    fn replace_meta_prefix(&self, prefix: &str, entries: &[(String, String)]) -> Result<(), StorageError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
        tx.execute("DELETE FROM meta WHERE substr(key, 1, length(?1)) = ?1", [prefix]).map_err(backend)?;
        for (k, v) in entries.iter().filter(|(k, _)| k.starts_with(prefix)) {
            tx.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)", params![k, v]).map_err(backend)?;
        }
        tx.commit().map_err(backend)
    }

    fn replace_keys(&self, keys: &[KeyRecord]) -> Result<(), StorageError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
        tx.execute("DELETE FROM api_keys", []).map_err(backend)?;
        for rec in keys {
            tx.execute(
                "INSERT INTO api_keys (id, public_key, account_id, name, permissions, secret_ciphertext, created_at, revoked, nonce, settings)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    rec.id,
                    rec.public_key,
                    rec.account_id,
                    rec.name,
                    rec.permissions,
                    rec.secret_ciphertext,
                    rec.created_at,
                    rec.revoked,
                    nonce_to_sql(rec.nonce),
                    rec.settings
                ],
            )
            .map_err(backend)?;
        }
        tx.commit().map_err(backend)
    }

    fn list_keys(&self) -> Result<Vec<KeyRecord>, StorageError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, public_key, account_id, name, permissions, secret_ciphertext, created_at, revoked, nonce, settings
                 FROM api_keys ORDER BY id",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(KeyRecord {
                    id: r.get(0)?,
                    public_key: r.get(1)?,
                    account_id: r.get(2)?,
                    name: r.get(3)?,
                    permissions: r.get(4)?,
                    secret_ciphertext: r.get(5)?,
                    created_at: r.get(6)?,
                    revoked: r.get(7)?,
                    nonce: nonce_from_sql(r.get(8)?),
                    settings: r.get(9)?,
                })
            })
            .map_err(backend)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(backend)
    }

    fn revoke_key(&self, public_key: &str) -> Result<bool, StorageError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached("UPDATE api_keys SET revoked = 1 WHERE public_key = ?1 AND revoked = 0").map_err(backend)?;
        Ok(stmt.execute([public_key]).map_err(backend)? > 0)
    }

    fn update_settings(&self, public_key: &str, settings: &str) -> Result<bool, StorageError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached("UPDATE api_keys SET settings = ?2 WHERE public_key = ?1 AND revoked = 0").map_err(backend)?;
        Ok(stmt.execute([public_key, settings]).map_err(backend)? > 0)
    }

    fn update_permissions(&self, public_key: &str, permissions: u32) -> Result<bool, StorageError> {
        let conn = self.lock();
        let mut stmt =
            conn.prepare_cached("UPDATE api_keys SET permissions = ?2 WHERE public_key = ?1 AND revoked = 0").map_err(backend)?;
        Ok(stmt.execute(params![public_key, permissions]).map_err(backend)? > 0)
    }

    fn save_nonces(&self, nonces: &[(i64, u64)]) -> Result<(), StorageError> {
        if nonces.is_empty() {
            return Ok(());
        }
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
        {
            let mut get = tx.prepare_cached("SELECT nonce FROM api_keys WHERE id = ?1").map_err(backend)?;
            let mut set = tx.prepare_cached("UPDATE api_keys SET nonce = ?2 WHERE id = ?1").map_err(backend)?;
            for &(id, n) in nonces {
                let stored: Option<i64> = get.query_row([id], |r| r.get(0)).optional().map_err(backend)?;
                if matches!(stored, Some(s) if n > nonce_from_sql(s)) {
                    set.execute(params![id, nonce_to_sql(n)]).map_err(backend)?;
                }
            }
        }
        tx.commit().map_err(backend)
    }

    fn get_meta(&self, key: &str) -> Result<Option<String>, StorageError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached("SELECT value FROM meta WHERE key = ?1").map_err(backend)?;
        let v: Option<Option<String>> = stmt.query_row([key], |r| r.get(0)).optional().map_err(backend)?;
        Ok(v.flatten())
    }

    fn set_meta(&self, key: &str, value: &str) -> Result<(), StorageError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
            .map_err(backend)?;
        stmt.execute([key, value]).map_err(backend)?;
        Ok(())
    }
}

#[cfg(test)]
#[path = "sqlite_tests.rs"]
mod tests;
