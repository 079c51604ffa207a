//! The SQLite backend: one file, `calamari.db`, in the data directory. WAL journal with
//! `synchronous=FULL`, so a committed transaction is on disk when `COMMIT` returns (an
//! acknowledged command is a durable one). Two connections: the command log's, used only by the
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
const SCHEMA_VERSION: i64 = 2;

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
}

impl SqliteLog {
    /// The log over a connection to a database whose schema exists; numbering continues after
    /// the highest record.
    pub(super) fn over(conn: Connection) -> Result<SqliteLog, StorageError> {
        let last: Option<i64> = conn.query_row("SELECT MAX(seq) FROM commands", [], |r| r.get(0)).map_err(backend)?;
        Ok(SqliteLog { conn, next_seq: last.map_or(1, |s| s as u64 + 1) })
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
        super::sqlite_tail::replay_after(&self.conn, after, f)
    }

    fn bounds(&mut self) -> Result<Option<(u64, u64)>, StorageError> {
        super::sqlite_tail::bounds(&self.conn)
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
mod tests {
    use super::*;
    use crate::storage::open_sqlite;

    fn record(account_id: u32, name: &str, public_key: &str) -> KeyRecord {
        KeyRecord {
            id: 0,
            public_key: public_key.to_string(),
            account_id,
            name: name.to_string(),
            permissions: 0b101,
            secret_ciphertext: vec![1, 2, 3],
            created_at: 1_700_000_000,
            revoked: false,
            nonce: 0,
            settings: "{}".into(),
        }
    }

    fn collect(log: &mut dyn CommandLog) -> Vec<(u64, Vec<u8>)> {
        let mut out = Vec::new();
        log.replay(&mut |seq, b| {
            out.push((seq, b.to_vec()));
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn append_and_replay_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        {
            let (mut log, _) = open_sqlite(&data).unwrap();
            assert!(collect(log.as_mut()).is_empty());
            log.append(&[b"one".to_vec(), b"two".to_vec()]).unwrap();
            log.append(&[]).unwrap();
            log.append(&[vec![0, 255, 0]]).unwrap();
        }
        let (mut log, _) = open_sqlite(&data).unwrap();
        let want = vec![(1, b"one".to_vec()), (2, b"two".to_vec()), (3, vec![0, 255, 0])];
        assert_eq!(collect(log.as_mut()), want);
        log.append(&[b"four".to_vec()]).unwrap();
        assert_eq!(collect(log.as_mut()).last().unwrap(), &(4, b"four".to_vec()));
    }

    #[test]
    fn a_thousand_records_in_one_call() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = open_sqlite(dir.path()).unwrap();
        let batch: Vec<Vec<u8>> = (0..1000u32).map(|i| i.to_le_bytes().to_vec()).collect();
        log.append(&batch).unwrap();
        drop(log);
        let (mut log, _) = open_sqlite(dir.path()).unwrap();
        let got = collect(log.as_mut());
        assert_eq!(got.len(), 1000);
        for (i, (seq, body)) in got.iter().enumerate() {
            assert_eq!(*seq, i as u64 + 1);
            assert_eq!(body, &batch[i]);
        }
    }

    #[test]
    fn replay_stops_at_the_callbacks_error() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = open_sqlite(dir.path()).unwrap();
        log.append(&[b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]).unwrap();
        let mut seen = 0;
        let err = log
            .replay(&mut |seq, _| {
                seen += 1;
                if seq == 2 {
                    Err("record 2 is bad".into())
                } else {
                    Ok(())
                }
            })
            .unwrap_err();
        assert_eq!(seen, 2);
        assert_eq!(err.to_string(), "record 2 is bad");
    }

    #[test]
    fn a_second_writer_cannot_interleave() {
        let dir = tempfile::tempdir().unwrap();
        let (mut a, _) = open_sqlite(dir.path()).unwrap();
        let (mut b, _) = open_sqlite(dir.path()).unwrap();
        a.append(&[b"a1".to_vec()]).unwrap();
        assert!(matches!(b.append(&[b"b1".to_vec()]), Err(StorageError::Backend(_))));
        a.append(&[b"a2".to_vec()]).unwrap();
        let got: Vec<Vec<u8>> = collect(a.as_mut()).into_iter().map(|(_, b)| b).collect();
        assert_eq!(got, vec![b"a1".to_vec(), b"a2".to_vec()]);
    }

    #[test]
    fn database_is_wal_with_full_sync() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _keys) = open(dir.path()).unwrap();
        let mode: String = log.conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
        let sync: i64 = log.conn.pragma_query_value(None, "synchronous", |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(sync, 2, "FULL");
    }

    #[test]
    fn keys_insert_list_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let (_, store) = open_sqlite(dir.path()).unwrap();
        let a = store.insert_key(&record(2, "bot", "PUBA")).unwrap();
        let b = store.insert_key(&record(3, "bot", "PUBB")).unwrap();
        assert_ne!(a, b);
        let keys = store.list_keys().unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0], KeyRecord { id: a, ..record(2, "bot", "PUBA") });
        assert!(store.revoke_key("PUBA").unwrap());
        assert!(!store.revoke_key("PUBA").unwrap(), "already revoked");
        assert!(!store.revoke_key("nope").unwrap());
        let keys = store.list_keys().unwrap();
        assert!(keys[0].revoked && !keys[1].revoked);
        drop(store);
        let (_, store) = open_sqlite(dir.path()).unwrap();
        assert_eq!(store.list_keys().unwrap(), keys, "durable across reopen");
    }

    #[test]
    fn settings_update_and_migration_from_version_1() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
            conn.execute_batch(
                "CREATE TABLE api_keys (id INTEGER PRIMARY KEY AUTOINCREMENT, public_key TEXT NOT NULL UNIQUE,
                 account_id INTEGER NOT NULL, name TEXT NOT NULL, permissions INTEGER NOT NULL, secret_ciphertext BLOB NOT NULL,
                 created_at INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0, nonce INTEGER NOT NULL DEFAULT 0);
                 INSERT INTO api_keys (public_key, account_id, name, permissions, secret_ciphertext, created_at)
                 VALUES ('OLD', 2, 'old', 1, x'01', 5);
                 PRAGMA user_version = 1;",
            )
            .unwrap();
        }
        let (_, store) = open_sqlite(dir.path()).unwrap();
        assert_eq!(store.list_keys().unwrap()[0].settings, "{}", "old keys get empty settings");
        assert!(store.update_settings("OLD", r#"{"nonce_window":5}"#).unwrap());
        assert!(!store.update_settings("NOPE", "{}").unwrap());
        store.revoke_key("OLD").unwrap();
        assert!(!store.update_settings("OLD", "{}").unwrap(), "revoked keys keep their settings");
        drop(store);
        let (_, store) = open_sqlite(dir.path()).unwrap();
        assert_eq!(store.list_keys().unwrap()[0].settings, r#"{"nonce_window":5}"#);
    }

    #[test]
    fn duplicate_live_name_conflicts() {
        let dir = tempfile::tempdir().unwrap();
        let (_, store) = open_sqlite(dir.path()).unwrap();
        store.insert_key(&record(2, "bot", "P1")).unwrap();
        assert!(matches!(store.insert_key(&record(2, "bot", "P2")), Err(StorageError::Conflict)));
        store.insert_key(&record(2, "other", "P3")).unwrap();
        store.revoke_key("P1").unwrap();
        store.insert_key(&record(2, "bot", "P4")).expect("the name is free once the old key is revoked");
        assert_eq!(store.list_keys().unwrap().len(), 3);
    }

    #[test]
    fn nonces_only_rise() {
        let dir = tempfile::tempdir().unwrap();
        let (_, store) = open_sqlite(dir.path()).unwrap();
        let a = store.insert_key(&record(2, "a", "PA")).unwrap();
        let b = store.insert_key(&record(2, "b", "PB")).unwrap();
        let big = u64::MAX - 1; // above i64::MAX: must survive the round trip and compare as u64
        store.save_nonces(&[(a, 100), (b, big), (999, 5)]).unwrap();
        store.save_nonces(&[(a, 50), (b, 7)]).unwrap();
        store.save_nonces(&[]).unwrap();
        let keys = store.list_keys().unwrap();
        assert_eq!((keys[0].nonce, keys[1].nonce), (100, big));
        store.save_nonces(&[(a, 1_616_492_376_594), (b, u64::MAX)]).unwrap();
        let keys = store.list_keys().unwrap();
        assert_eq!((keys[0].nonce, keys[1].nonce), (1_616_492_376_594, u64::MAX));
    }

    #[test]
    fn meta_get_set_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let (_, store) = open_sqlite(dir.path()).unwrap();
        assert_eq!(store.get_meta("id_seed").unwrap(), None);
        store.set_meta("id_seed", "42").unwrap();
        store.set_meta("assets", "XBT,USD").unwrap();
        store.set_meta("id_seed", "43").unwrap();
        drop(store);
        let (_, store) = open_sqlite(dir.path()).unwrap();
        assert_eq!(store.get_meta("id_seed").unwrap().as_deref(), Some("43"));
        assert_eq!(store.get_meta("assets").unwrap().as_deref(), Some("XBT,USD"));
    }

    #[test]
    fn only_ciphertext_reaches_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let sbox = crate::crypto::SecretBox::load_or_create(dir.path()).unwrap();
        let secret = b"PLAIN-SECRET-0123456789-must-never-be-on-disk".to_vec();
        let mut rec = record(2, "bot", "PUBKEY");
        rec.secret_ciphertext = sbox.encrypt(&secret);
        let (_, store) = open_sqlite(dir.path()).unwrap();
        store.insert_key(&rec).unwrap();
        let mut bytes = std::fs::read(dir.path().join(DB_FILE)).unwrap();
        if let Ok(wal) = std::fs::read(dir.path().join(format!("{DB_FILE}-wal"))) {
            bytes.extend(wal); // committed pages may still be in the WAL only
        }
        let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
        assert!(contains(&rec.secret_ciphertext), "the ciphertext is stored");
        assert!(!contains(&secret), "the plain secret is not");
        let stored = &store.list_keys().unwrap()[0];
        assert_eq!(sbox.decrypt(&stored.secret_ciphertext).unwrap(), secret);
    }
}
