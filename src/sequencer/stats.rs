//! The sequencer's counters (queue depth, commits, commit sizes and times, history flushes and
//! their lag, whether its threads still run), read by `/metrics` and the benchmarks.

use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// Counters an operator (and the benchmarks) can read; `telemetry` exposes them in `/metrics`.
pub struct SequencerStats {
    pub queue_depth: AtomicUsize,
    pub commits: AtomicU64,
    pub committed_commands: AtomicU64,
    /// Log records per group commit (1, 2, 4, … 8192).
    pub commit_records: Histogram,
    /// Seconds per group commit (append + sync).
    pub commit_seconds: Histogram,
    /// False once the engine thread has ended (returned or panicked).
    pub engine_running: AtomicBool,
    /// False once the storage thread has ended.
    pub storage_running: AtomicBool,
    /// Set once a commit failed (only observable with [`super::OnStorageFailure::StopAcknowledging`]).
    pub storage_failed: AtomicBool,
    /// Batches the storage thread has made durable (the engine thread waits on it before an
    /// executions snapshot reads the history tables).
    pub durable_batches: AtomicU64,
    /// Nanoseconds the storage thread waited for a batch (idle); the rest of its time is commits
    /// and handing out what each batch made durable (the history thread writes the rows).
    pub storage_wait_ns: AtomicU64,
    /// History flushes made by the history thread (`history_writer`), the rows they wrote and their durations.
    pub history_flushes: AtomicU64,
    pub history_rows: AtomicU64,
    /// Seconds per history flush (one unsynced transaction of many batches' rows).
    pub history_flush_seconds: Histogram,
    /// Nanoseconds the history thread waited for rows (idle) and spent taking and writing them.
    pub history_wait_ns: AtomicU64,
    pub history_busy_ns: AtomicU64,
    /// The log record up to which the history rows are written (history.db's `history_upto`
    /// after each flush; the log's last record at the start).
    pub history_upto: AtomicU64,
    /// How far the history rows are written behind the acknowledgements (`history_buffer`).
    pub history_mark: std::sync::Arc<crate::storage::history_mark::HistoryMark>,
}

/// Clears a running flag when its thread ends, by return or by panic.
pub(super) struct RunningFlag<'a>(pub(super) &'a AtomicBool);

impl Drop for RunningFlag<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

impl Default for SequencerStats {
    fn default() -> Self {
        SequencerStats {
            queue_depth: AtomicUsize::new(0),
            commits: AtomicU64::new(0),
            committed_commands: AtomicU64::new(0),
            commit_records: Histogram::new(exponential_buckets(1.0, 2.0, 14)),
            commit_seconds: Histogram::new(crate::telemetry::SECONDS_BUCKETS),
            engine_running: AtomicBool::new(true),
            storage_running: AtomicBool::new(true),
            storage_failed: AtomicBool::new(false),
            durable_batches: AtomicU64::new(0),
            storage_wait_ns: AtomicU64::new(0),
            history_flushes: AtomicU64::new(0),
            history_rows: AtomicU64::new(0),
            history_flush_seconds: Histogram::new(crate::telemetry::SECONDS_BUCKETS),
            history_wait_ns: AtomicU64::new(0),
            history_busy_ns: AtomicU64::new(0),
            history_upto: AtomicU64::new(0),
            history_mark: Default::default(),
        }
    }
}
