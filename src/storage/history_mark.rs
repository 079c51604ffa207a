//! The history watermark: the storage thread acknowledges a batch once its log records are
//! synced and writes the batch's history rows (trades, ledger entries, closed orders) later, in a
//! flush of many batches (`sequencer::history_buffer`). A reader of the history tables must still
//! see every row of everything acknowledged before the read arrived, so `HistoryReader` first
//! calls [`HistoryMark::wait_current`]: it takes the acknowledged count at that moment and, if the
//! rows written lag behind it, asks the history thread to flush now and waits on a condvar (never
//! a spin) until they are written, or until storage failed or stopped (an error: the read
//! cannot be answered consistently). Counts are batches in the storage thread's order.

use super::StorageError;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Duration;

/// Shared by the storage thread (writer of the counts) and the history readers.
pub struct HistoryMark {
    acknowledged: AtomicU64,
    state: Mutex<State>,
    cond: Condvar,
    wanted: AtomicBool,
    waker: OnceLock<Box<dyn Fn() + Send + Sync>>,
    /// Flush at least this often while rows wait (`[storage] history_flush_ms`).
    pub flush_ms: AtomicU64,
    /// Flush once this many rows wait (`[storage] history_flush_rows`).
    pub flush_rows: AtomicUsize,
}

#[derive(Default)]
struct State {
    written: u64,
    ended: bool,
    /// Readers waiting on the condvar (the history thread wakes it only for them).
    waiters: usize,
}

impl Default for HistoryMark {
    fn default() -> Self {
        HistoryMark {
            acknowledged: AtomicU64::new(0),
            state: Mutex::default(),
            cond: Condvar::new(),
            wanted: AtomicBool::new(false),
            waker: OnceLock::new(),
            flush_ms: AtomicU64::new(50),
            flush_rows: AtomicUsize::new(20_000),
        }
    }
}

impl HistoryMark {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How the history thread is woken when a reader wants a flush (set once, by the sequencer).
    pub fn set_waker(&self, f: Box<dyn Fn() + Send + Sync>) {
        let _ = self.waker.set(f);
    }

    /// Storage thread: batches up to `n` are acknowledged (before their replies go out).
    pub fn acknowledged(&self, n: u64) {
        self.acknowledged.store(n, Ordering::SeqCst);
    }

    /// Storage thread: the rows of batches up to `n` are written (committed).
    pub fn written(&self, n: u64) {
        let mut s = self.lock();
        if n > s.written {
            s.written = n;
            let waiters = s.waiters;
            drop(s);
            if waiters > 0 {
                self.cond.notify_all();
            }
        }
    }

    /// Storage thread: no more rows will be written (stopped or failed); waiters give up.
    pub fn end(&self) {
        self.lock().ended = true;
        self.cond.notify_all();
    }

    /// Batches acknowledged whose rows are not written yet (`/metrics`: the watermark's lag).
    pub fn lag(&self) -> u64 {
        let acknowledged = self.acknowledged.load(Ordering::SeqCst);
        acknowledged.saturating_sub(self.lock().written)
    }

    /// Storage thread: whether a reader asked for a flush (and clears the request).
    pub fn take_wanted(&self) -> bool {
        self.wanted.load(Ordering::Relaxed) && self.wanted.swap(false, Ordering::AcqRel)
    }

    /// Whether a reader asked for a flush (without clearing it).
    pub fn is_wanted(&self) -> bool {
        self.wanted.load(Ordering::Acquire)
    }

    /// Reader: returns once the rows of every batch acknowledged before this call are written.
    pub fn wait_current(&self) -> Result<(), StorageError> {
        let target = self.acknowledged.load(Ordering::SeqCst);
        let mut s = self.lock();
        while s.written < target {
            if s.ended {
                return Err(StorageError::Backend("history rows of acknowledged commands could not be written".into()));
            }
            self.wanted.store(true, Ordering::Release);
            if let Some(w) = self.waker.get() {
                w();
            }
            // The timeout re-sends the request should a wake-up have raced with the flush.
            s.waiters += 1;
            s = self.cond.wait_timeout(s, Duration::from_millis(20)).unwrap_or_else(|p| p.into_inner()).0;
            s.waiters -= 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_reader_waits_for_the_rows_of_what_was_acknowledged() {
        let m = Arc::new(HistoryMark::default());
        assert!(m.wait_current().is_ok());
        m.acknowledged(3);
        let m2 = m.clone();
        let writer = std::thread::spawn(move || {
            while !m2.take_wanted() {
                std::thread::sleep(Duration::from_millis(1));
            }
            m2.written(3);
        });
        assert!(m.wait_current().is_ok());
        writer.join().unwrap();
        m.acknowledged(4);
        m.end();
        assert!(m.wait_current().is_err());
    }
}
