//! The history rows of acknowledged batches, held by the history thread (`history_writer`)
//! between flushes. A group commit syncs only the log records (what makes a command durable: a
//! replay re-emits its rows); the rows (trades, ledger entries, closed orders) wait here and are
//! written in their own transaction when a flush is due: every `history_flush_ms` or
//! `history_flush_rows` rows, at the graceful stop, and when a history reader asks
//! (`storage::history_mark`). Writing many batches' rows at once rewrites each account's index
//! pages once per flush instead of once per commit (BENCHMARKS §4). Each batch's rows are kept as
//! they came (not appended into one set of vectors, which moved every record again as they grew).

use super::SequencerStats;
use crate::engine::outbox::HistoryOut;
use crate::storage::history_mark::HistoryMark;
use crate::storage::{HistoryStore, StorageError};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[derive(Default)]
pub(super) struct HistoryBuffer {
    /// The waiting batches' rows, in order (batches without rows are not kept).
    out: Vec<HistoryOut>,
    rows: usize,
    /// When the oldest waiting row was handed over.
    since: Option<Instant>,
    /// Batches (the storage thread's count) whose rows are here or written.
    upto: u64,
    /// The last log record of those batches.
    upto_seq: u64,
}

impl HistoryBuffer {
    /// Takes an acknowledged batch's rows (batch number `n`, its last log record `seq`, handed
    /// over at `at`). With no row waiting after it, the batch's rows (none) are written already:
    /// the watermark (and `history_upto` in `stats`) moves at once.
    pub(super) fn push(&mut self, (n, seq, at): (u64, u64, Instant), h: HistoryOut, stats: &SequencerStats) {
        self.upto = n;
        self.upto_seq = seq;
        let rows = h.trades.len() + h.ledger.len() + h.closed_orders.len();
        if rows > 0 {
            self.out.push(h);
            self.rows += rows;
            self.since.get_or_insert(at);
        } else if self.rows == 0 {
            written(stats, n, seq);
        }
    }

    /// No row waits.
    pub(super) fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// When the next flush is due by time (`None`: nothing waits).
    pub(super) fn deadline(&self, mark: &HistoryMark) -> Option<Instant> {
        self.since.map(|t| t + Duration::from_millis(mark.flush_ms.load(Ordering::Relaxed)))
    }

    /// Whether a flush is due now (time, size, or a waiting reader).
    pub(super) fn due(&self, mark: &HistoryMark) -> bool {
        self.rows >= mark.flush_rows.load(Ordering::Relaxed) || self.deadline(mark).is_some_and(|d| Instant::now() >= d) || mark.is_wanted()
    }

    /// Writes the waiting rows (if any) and tells the readers how far the rows go; counted in
    /// `stats` (`/metrics`: flushes, rows, seconds).
    pub(super) fn flush(&mut self, store: &mut dyn HistoryStore, stats: &SequencerStats) -> Result<(), StorageError> {
        let mark = &*stats.history_mark;
        mark.take_wanted();
        if self.rows > 0 {
            let started = Instant::now();
            store.flush(&self.out, self.upto_seq)?;
            stats.history_flush_seconds.observe(started.elapsed().as_secs_f64());
            stats.history_flushes.fetch_add(1, Ordering::Relaxed);
            stats.history_rows.fetch_add(self.rows as u64, Ordering::Relaxed);
            self.out.clear();
            self.rows = 0;
            self.since = None;
        }
        written(stats, self.upto, self.upto_seq);
        Ok(())
    }

    /// Drops the waiting rows (the log was replaced: the history is being replaced too).
    pub(super) fn discard(&mut self) {
        self.out.clear();
        self.rows = 0;
        self.since = None;
    }
}

/// The rows of batches up to `n` (log records up to `seq`) are written: the readers' watermark
/// and the operator's `history_upto` (`/metrics`, `calamari log status`) move.
fn written(stats: &SequencerStats, n: u64, seq: u64) {
    stats.history_upto.store(seq, Ordering::Relaxed);
    stats.history_mark.written(n);
}
