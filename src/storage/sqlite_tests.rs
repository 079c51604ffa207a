//! The SQLite backend's tests (kept beside it, out of its file to keep that small).
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

#[test]
fn the_logs_bounds_are_read_from_the_ends_not_by_a_scan() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _keys) = open(dir.path()).unwrap();
    log.append(&[b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]).unwrap();
    assert_eq!(log.bounds().unwrap(), Some((1, 3)));
    let plan: Vec<String> = {
        let mut st = log.conn.prepare(&format!("EXPLAIN QUERY PLAN {}", crate::storage::sqlite_tail::BOUNDS)).unwrap();
        st.query_map([], |r| r.get::<_, String>(3)).unwrap().map(|r| r.unwrap()).collect()
    };
    assert!(plan.iter().all(|step| !step.starts_with("SCAN commands")), "{plan:?}");
    assert_eq!(plan.iter().filter(|step| step.starts_with("SEARCH commands")).count(), 2, "{plan:?}");
}
