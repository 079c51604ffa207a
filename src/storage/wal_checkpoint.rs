//! WAL checkpoints off the commit path. SQLite's default runs a checkpoint inside the commit
//! that takes the WAL past 1,000 pages: that commit copies ~4 MB into the database file and
//! syncs it before returning, so every ~1,000 pages one group commit (and every durable reply
//! waiting on it) took 10–25 ms instead of ~1 ms (BENCHMARKS.md §4). The command log's
//! connection therefore runs with `wal_autocheckpoint=0`, and this thread, on its own
//! connection, runs a PASSIVE checkpoint (it never blocks the writer or readers) every
//! [`INTERVAL`]. Durability is unchanged: a commit is durable once its WAL frames are synced
//! (`synchronous=FULL`); a checkpoint only moves them into the database file. The WAL is
//! restarted from its beginning by the writer once a checkpoint has caught up, as before.

use super::StorageError;
use crossbeam_channel::{RecvTimeoutError, Sender};
use std::path::Path;
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the WAL is copied into the database file: about as often as SQLite's own 1,000-page
/// checkpoint ran under durable AddOrder load (~4 MB of WAL a second); every 200 ms cost more
/// database syncs competing with the commits' WAL syncs and lowered AddOrder throughput.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// The checkpoint thread; dropping this stops it (after any checkpoint in progress).
pub struct WalCheckpointer {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl WalCheckpointer {
    /// Starts the thread on its own connection to `path`.
    pub fn start(path: &Path) -> Result<WalCheckpointer, StorageError> {
        let conn = super::sqlite::connect(path)?;
        let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
        let thread = std::thread::Builder::new()
            .name("wal-checkpoint".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                        tracing::warn!(error = %e, "WAL checkpoint failed (retried later)");
                    }
                }
            })
            .map_err(|e| StorageError::Backend(format!("spawn the WAL checkpoint thread: {e}")))?;
        Ok(WalCheckpointer { stop: Some(stop), thread: Some(thread) })
    }
}

impl Drop for WalCheckpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
