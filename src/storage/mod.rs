//! Durable storage behind one small interface, so that the rest of the server does not know which
//! database holds its state. Two concerns live here:
//!
//! * [`CommandLog`]: the exchange is event-sourced. The sequencer applies each command to the
//!   in-memory engine and appends it here as an opaque byte record; on start the records are
//!   replayed in order. Storage never interprets the bytes.
//! * [`KeyStore`]: API keys (secrets only as ciphertext), their last persisted nonces, and a
//!   little metadata about the data directory.
//!
//! Beside the log, the history the commands emitted (trade records, ledger entries, closed
//! orders: `history`, in its own file `history_db`, read by `history_read`), written by its own
//! thread after the log's transactions ([`HistoryStore`]; `history_mark` tells readers how far).
//!
//! SQLite ([`sqlite`]) is the one backend today; the traits are what a PostgreSQL backend would
//! implement.

pub mod checkpoint;
mod history;
pub mod history_db;
pub mod history_mark;
pub mod history_read;
pub mod sqlite;
mod sqlite_tail;
pub use sqlite_tail::{prune_before, PruneReport};

use crate::engine::outbox::HistoryOut;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// The callback [`CommandLog::replay`] feeds: `(seq, bytes)`; an `Err` stops the replay.
pub type ReplayFn<'a> = dyn FnMut(u64, &[u8]) -> Result<(), String> + 'a;

/// The append-only command log. Owned by one thread (the sequencer's storage thread).
pub trait CommandLog: Send {
    /// Appends the records in one transaction and makes them durable (fsync) before returning.
    /// Records get consecutive sequence numbers.
    fn append(&mut self, records: &[Vec<u8>]) -> Result<(), StorageError>;
    /// Calls `f(seq, bytes)` for every record in order. An error from `f` stops the replay and is
    /// returned as [`StorageError::Replay`].
    fn replay(&mut self, f: &mut ReplayFn<'_>) -> Result<(), StorageError>;
    /// Calls `f(seq, bytes)` for every record after `after`, in order (the tail an engine
    /// checkpoint at `after` needs). Fails if record `after + 1` is not there while later ones are
    /// (pruned) or numbering has a gap.
    fn replay_after(&mut self, after: u64, f: &mut ReplayFn<'_>) -> Result<(), StorageError> {
        let mut expected = after + 1;
        self.replay(&mut |seq, bytes| {
            if seq <= after {
                return Ok(());
            }
            if seq != expected {
                return Err(format!("command log has a gap: record {expected} is missing (next is {seq})"));
            }
            expected += 1;
            f(seq, bytes)
        })
    }
    /// The first and last sequence numbers held (none when the log is empty).
    fn bounds(&mut self) -> Result<Option<(u64, u64)>, StorageError> {
        let mut b: Option<(u64, u64)> = None;
        self.replay(&mut |seq, _| {
            b = Some((b.map_or(seq, |(first, _)| first), seq));
            Ok(())
        })?;
        Ok(b)
    }
    /// The log's generation: bumped by every [`CommandLog::replace_all`], so an engine checkpoint
    /// of a replaced log is never taken for one of the new log.
    fn epoch(&mut self) -> Result<u64, StorageError> {
        Ok(0)
    }
    /// One record's bytes, if the log holds it.
    fn record(&mut self, seq: u64) -> Result<Option<Vec<u8>>, StorageError> {
        let mut out = None;
        self.replay(&mut |s, bytes| {
            if s == seq {
                out = Some(bytes.to_vec());
            }
            Ok(())
        })?;
        Ok(out)
    }
    /// Replaces every record by `records` (numbered from 1) in one durable transaction (reset,
    /// snapshot restore).
    fn replace_all(&mut self, _records: &[Vec<u8>]) -> Result<(), StorageError> {
        Err(StorageError::Backend("this log cannot be replaced".into()))
    }
    /// Writes a consistent copy of the whole store (log, keys, metadata) to a new file. The
    /// history is not in it: a snapshot's restore rebuilds it by replaying the copied log.
    fn snapshot(&mut self, _path: &Path) -> Result<(), StorageError> {
        Err(StorageError::Backend("this log cannot be copied".into()))
    }
}

/// Where the history thread writes the history rows (`history_db`; the storage fault tests
/// have their own). Owned by that one thread.
pub trait HistoryStore: Send {
    /// Writes the rows of acknowledged batches (in order) in one transaction (not synced: a replay
    /// re-emits whatever a crash lost), noting that the rows are complete up to log record `upto`.
    fn flush(&mut self, batches: &[HistoryOut], upto: u64) -> Result<(), StorageError>;
    /// Replaces every row by `h` (complete up to log record `upto`) for log generation `epoch`,
    /// once the log itself was replaced (reset, snapshot restore).
    fn replace(&mut self, h: &HistoryOut, upto: u64, epoch: u64) -> Result<(), StorageError>;
}

/// The history of a log that keeps none (tests, benches): rows are dropped.
pub struct NoHistory;

impl HistoryStore for NoHistory {
    fn flush(&mut self, _: &[HistoryOut], _: u64) -> Result<(), StorageError> {
        Ok(())
    }
    fn replace(&mut self, _: &HistoryOut, _: u64, _: u64) -> Result<(), StorageError> {
        Ok(())
    }
}

/// One stored API key. The secret is only ever held here as [`crate::crypto::SecretBox`]
/// ciphertext.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// Assigned by the store on insert (ignored on input).
    pub id: i64,
    pub public_key: String,
    pub account_id: u32,
    pub name: String,
    /// Bits of [`crate::auth::Permissions`].
    pub permissions: u32,
    pub secret_ciphertext: Vec<u8>,
    /// Unix seconds.
    pub created_at: i64,
    pub revoked: bool,
    /// Highest nonce persisted for the key (the command log holds the nonces of writes too).
    pub nonce: u64,
    /// The key's settings as JSON ([`crate::key_settings::StoredSettings`]; secrets in it are
    /// ciphertext).
    pub settings: String,
}

impl fmt::Debug for KeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRecord")
            .field("id", &self.id)
            .field("public_key", &self.public_key)
            .field("account_id", &self.account_id)
            .field("name", &self.name)
            .field("permissions", &self.permissions)
            .field("secret_ciphertext", &format_args!("<{} bytes>", self.secret_ciphertext.len()))
            .field("created_at", &self.created_at)
            .field("revoked", &self.revoked)
            .field("nonce", &self.nonce)
            .field("settings", &self.settings)
            .finish()
    }
}

/// API keys and data-directory metadata. Every write is durable before it returns.
pub trait KeyStore: Send + Sync {
    /// Stores a new key and returns its id. A live (non-revoked) key with the same
    /// `(account_id, name)` gives [`StorageError::Conflict`].
    fn insert_key(&self, rec: &KeyRecord) -> Result<i64, StorageError>;
    /// Every key, revoked ones included, in id order.
    fn list_keys(&self) -> Result<Vec<KeyRecord>, StorageError>;
    /// Revokes a key; `true` if a live key was revoked.
    fn revoke_key(&self, public_key: &str) -> Result<bool, StorageError>;
    /// Replaces a live key's settings; `true` if the key exists and is live.
    fn update_settings(&self, public_key: &str, settings: &str) -> Result<bool, StorageError>;
    /// Replaces a live key's permissions (bits of [`crate::auth::Permissions`]); `true` if the key
    /// exists and is live.
    fn update_permissions(&self, public_key: &str, permissions: u32) -> Result<bool, StorageError>;
    /// Raises each key's stored nonce to `max(stored, given)`; unknown ids are ignored.
    fn save_nonces(&self, nonces: &[(i64, u64)]) -> Result<(), StorageError>;
    fn get_meta(&self, key: &str) -> Result<Option<String>, StorageError>;
    /// Metadata entries whose key starts with `prefix`.
    fn meta_with_prefix(&self, _prefix: &str) -> Result<Vec<(String, String)>, StorageError> {
        Ok(Vec::new())
    }
    /// Replaces the metadata entries whose key starts with `prefix` by `entries`, in one transaction.
    fn replace_meta_prefix(&self, _prefix: &str, _entries: &[(String, String)]) -> Result<(), StorageError> {
        Err(StorageError::Backend("this store cannot replace its metadata".into()))
    }
    /// Replaces every key by `keys` (ids kept) in one transaction (reset, snapshot restore).
    fn replace_keys(&self, _keys: &[KeyRecord]) -> Result<(), StorageError> {
        Err(StorageError::Backend("this store cannot replace its keys".into()))
    }
    fn set_meta(&self, key: &str, value: &str) -> Result<(), StorageError>;
}

/// What [`open_sqlite`] returns: the sequencer's command log and the shared key store.
pub type Stores = (Box<dyn CommandLog>, Arc<dyn KeyStore>);

#[derive(thiserror::Error, Debug)]
pub enum StorageError {
    #[error("conflict")]
    Conflict,
    #[error("storage: {0}")]
    Backend(String),
    /// The replay callback refused a record; the text is the callback's own.
    #[error("{0}")]
    Replay(String),
}

/// Opens (creating if needed) `calamari.db` in `data_dir`: the command log for the sequencer and
/// the shared key store.
pub fn open_sqlite(data_dir: &Path) -> Result<Stores, StorageError> {
    let (log, keys) = sqlite::open(data_dir)?;
    Ok((Box::new(log), Arc::new(keys)))
}
