//! The checkpoint thread: writes an engine checkpoint every `checkpoint_every_commands` durable
//! records or every `checkpoint_every_seconds` (when there is anything new), from the durable log
//! alone (the newest checkpoint plus the records after it, replayed here on a read-only
//! connection; see `checkpoint::build`). The engine thread is never asked for anything, so a
//! checkpoint costs it no pause at all: the price is CPU on this thread (at low priority) and a
//! second copy of the state in memory while one is built. An operator can ask for one now
//! (`calamari log checkpoint`), which takes the same lock as the thread.

use super::checkpoint::{self, Written};
use crate::engine::markets::Markets;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The `[storage]` table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StorageConfig {
    #[serde(default = "default_every_commands")]
    pub checkpoint_every_commands: u64,
    #[serde(default = "default_every_seconds")]
    pub checkpoint_every_seconds: u64,
    #[serde(default = "default_kept")]
    pub checkpoints_kept: usize,
    /// The history rows of acknowledged commands are written at least this often (ms)…
    #[serde(default = "default_flush_ms")]
    pub history_flush_ms: u64,
    /// …or as soon as this many wait (`sequencer::history_buffer`).
    #[serde(default = "default_flush_rows")]
    pub history_flush_rows: usize,
    /// The engine keeps each pair's public trades of this many seconds (of the newest trade's
    /// time)… (`engine::market_data::TapeBound`; older ones are read from history.db)
    #[serde(default = "default_tape_seconds")]
    pub tape_keep_seconds: u64,
    /// …and at least this many of its last trades. Smaller values are for tests only: Trades
    /// without `since` answers up to 1000 from the tape.
    #[serde(default = "default_tape_trades")]
    pub tape_keep_trades: usize,
}

fn default_tape_seconds() -> u64 {
    crate::engine::market_data::TapeBound::DEFAULT.span_ns / crate::engine::market_data::NS
}
fn default_tape_trades() -> usize {
    crate::engine::market_data::TapeBound::DEFAULT.trades
}

fn default_flush_ms() -> u64 {
    50
}
fn default_flush_rows() -> usize {
    20_000
}

fn default_every_commands() -> u64 {
    1_000_000
}
fn default_every_seconds() -> u64 {
    3600
}
fn default_kept() -> usize {
    2
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            checkpoint_every_commands: default_every_commands(),
            checkpoint_every_seconds: default_every_seconds(),
            checkpoints_kept: default_kept(),
            history_flush_ms: default_flush_ms(),
            history_flush_rows: default_flush_rows(),
            tape_keep_seconds: default_tape_seconds(),
            tape_keep_trades: default_tape_trades(),
        }
    }
}

impl StorageConfig {
    pub fn enabled(&self) -> bool {
        self.checkpoint_every_commands > 0 || self.checkpoint_every_seconds > 0
    }
}

/// The thread's handle (the server keeps one; the admin routes use it).
pub struct Checkpointer {
    data_dir: PathBuf,
    markets: Markets,
    seed: u64,
    pub config: StorageConfig,
    /// One build at a time (the thread's and the operator's).
    building: Mutex<()>,
    /// The last record the newest checkpoint covers.
    pub covered: AtomicU64,
    pub written: AtomicU64,
    pub failed: AtomicU64,
    stop: AtomicBool,
    /// The server's history watermark: a build first has the rows of everything acknowledged
    /// written, so that its cap (`history_upto`, `SqliteLog::cap_at_history`) is the log's end.
    pub history: std::sync::OnceLock<Arc<crate::storage::history_mark::HistoryMark>>,
}

impl Checkpointer {
    /// Starts the thread (when `config` enables checkpoints); `covered` is what the newest
    /// checkpoint already covers (the start-up recovery's).
    pub fn start(data_dir: PathBuf, markets: Markets, seed: u64, config: StorageConfig, covered: u64) -> Arc<Checkpointer> {
        let c = Arc::new(Checkpointer {
            data_dir,
            markets,
            seed,
            config,
            building: Mutex::new(()),
            covered: AtomicU64::new(covered),
            written: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            history: Default::default(),
        });
        if c.config.enabled() {
            let me = c.clone();
            let spawned = std::thread::Builder::new().name("checkpoint".into()).spawn(move || me.run());
            if let Err(e) = spawned {
                tracing::error!(error = %e, "the checkpoint thread could not start; no engine checkpoints");
            }
        }
        c
    }

    /// Asks the thread to end after its current build (it is not waited for).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Builds a checkpoint now (blocking): `None` when the newest one already covers the log.
    pub fn checkpoint_now(&self) -> Result<Option<Written>, String> {
        let _one = self.building.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(mark) = self.history.get() {
            // On failure the build still stops at what is written.
            let _ = mark.wait_current();
        }
        let result = checkpoint::build(&self.data_dir, self.markets.clone(), self.seed, self.config.checkpoints_kept);
        crate::allocator::release_freed_memory();
        match &result {
            Ok(Some(w)) => {
                self.covered.store(w.seq, Ordering::Relaxed);
                self.written.fetch_add(1, Ordering::Relaxed);
                tracing::info!(path = %w.path.display(), seq = w.seq, bytes = w.bytes, replay_ms = w.replay_ms, encode_ms = w.encode_ms,
                    digest_ms = w.digest_ms, write_ms = w.write_ms, removed = w.removed, "engine checkpoint written");
            }
            Ok(None) => {}
            Err(e) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, "engine checkpoint failed; the log is complete, nothing is lost");
            }
        }
        result
    }

    fn last_record(&self, reader: &mut Option<crate::storage::sqlite::SqliteLog>) -> Option<u64> {
        use crate::storage::CommandLog;
        if reader.is_none() {
            *reader = crate::storage::sqlite::SqliteLog::open_reader(&self.data_dir).ok();
        }
        reader.as_mut()?.bounds().ok().flatten().map(|(_, last)| last)
    }

    fn run(&self) {
        lower_priority();
        let mut reader = None;
        let mut since = Instant::now();
        while !self.stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(500));
            let Some(last) = self.last_record(&mut reader) else { continue };
            let covered = self.covered.load(Ordering::Relaxed);
            // After a reset the log is numbered from 1 again: anything not covered counts as new.
            let new = if last >= covered { last - covered } else { last };
            let cfg = &self.config;
            let by_count = cfg.checkpoint_every_commands > 0 && new >= cfg.checkpoint_every_commands;
            let by_time = cfg.checkpoint_every_seconds > 0 && new > 0 && since.elapsed().as_secs() >= cfg.checkpoint_every_seconds;
            if by_count || by_time {
                let _ = self.checkpoint_now();
                since = Instant::now();
            }
        }
    }
}

/// Builds run at a lower CPU priority than the engine, storage and request threads (Linux: the
/// thread's nice value; elsewhere nothing).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    unsafe {
        // SAFETY: setpriority on this thread's own id; no memory is touched.
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}
