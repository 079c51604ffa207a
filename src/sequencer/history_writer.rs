//! The history thread: writes the history rows of acknowledged batches to their own database
//! (`storage::history_db`), so that the storage thread's group commit never waits for a history
//! flush. The storage thread hands it each batch's rows once the batch is durable, over a
//! channel; the rows wait in `history_buffer` until a flush is due (time, size, a waiting reader),
//! and each flush moves the readers' watermark (`storage::history_mark`). The thread waits for
//! them as the engine and storage threads do (`wake`: no spin-and-yield), and counts its busy and
//! idle time for `/metrics`. A batch rings the thread only when no row waited before it (its
//! rows' flush deadline starts then; a batch without rows moves the watermark at once): behind
//! waiting rows, a batch's rows (or its watermark) wait for that flush anyway, and the storage
//! thread pays no futex wake-up, nor this thread a context switch, per batch (2.5% of the
//! server's samples under AddOrder load, BENCHMARKS §4). Control messages and a reader's request
//! always ring.
//!
//! A failed write is a storage failure like a failed commit: the process aborts, or (the fault
//! tests) the sequencer stops acknowledging (`storage_failed`: the storage thread acknowledges
//! nothing after it sees it) and waiting readers get an error. What was acknowledged before stays
//! durable in the log; a restart's replay writes its rows.

use super::history_buffer::HistoryBuffer;
use super::wake::Wake;
use super::{OnStorageFailure, SequencerStats};
use crate::engine::outbox::HistoryOut;
use crate::storage::{HistoryStore, StorageError};
use crossbeam_channel::{Receiver, Sender};
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

/// What the storage thread sends the history thread (a waiting reader only raises the
/// watermark's request and rings the thread's [`Wake`]).
pub(super) enum ToHistory {
    /// An acknowledged batch's rows: batch number (the storage thread's count), its last log
    /// record, and when it was handed over (a flush is due `history_flush_ms` after that).
    Rows { batch: u64, seq: u64, rows: HistoryOut, at: Instant },
    /// The log was replaced (generation `epoch`, `seq` records): replace every row by `rows`,
    /// then answer on `done` (the batch is acknowledged only after).
    Replace { batch: u64, seq: u64, epoch: u64, rows: HistoryOut, done: Sender<Result<(), StorageError>> },
    /// Write what waits and end (the storage thread's end).
    Stop,
}

/// The storage thread's handle on the history thread: dropping it (the storage thread's end, by
/// return or panic) has the thread write what waits and waits for it.
pub(super) struct HistoryThread {
    tx: Sender<ToHistory>,
    wake: Arc<Wake>,
    /// Set by the history thread when it waits with no row buffered: the next batch rings it.
    empty: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl HistoryThread {
    /// Starts the thread over `store`; a reader's flush request reaches it through the watermark's waker.
    pub(super) fn start(store: Box<dyn HistoryStore>, stats: Arc<SequencerStats>, on_failure: OnStorageFailure) -> HistoryThread {
        let (tx, rx) = crossbeam_channel::unbounded();
        let wake: Arc<Wake> = Arc::default();
        let waker = wake.clone();
        stats.history_mark.set_waker(Box::new(move || waker.notify()));
        let (w2, empty) = (wake.clone(), Arc::new(AtomicBool::new(true)));
        let e2 = empty.clone();
        let handle = std::thread::Builder::new()
            .name("history".into())
            .spawn(move || history_loop(store, (rx, w2, e2), stats, on_failure))
            .expect("spawn history thread");
        HistoryThread { tx, wake, empty, handle: Some(handle) }
    }

    /// Queues `m` for the thread, waking it if it sleeps unless `m` is a batch behind rows that
    /// already wait for their flush (the thread wakes for that flush by itself).
    pub(super) fn send(&self, m: ToHistory) -> Result<(), StorageError> {
        let joins = matches!(m, ToHistory::Rows { .. });
        self.tx.send(m).map_err(|_| StorageError::Backend("the history thread has ended".into()))?;
        // Pairs with the fence in `history_loop`: either the thread sees this message before it
        // parks, or this sees `empty` and rings (a miss would only delay a flush by a nap).
        fence(Ordering::SeqCst);
        if !joins || self.empty.swap(false, Ordering::AcqRel) {
            self.wake.notify();
        }
        Ok(())
    }
}

impl Drop for HistoryThread {
    fn drop(&mut self) {
        let _ = self.send(ToHistory::Stop);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn history_loop(
    mut store: Box<dyn HistoryStore>,
    (rx, wake, empty): (Receiver<ToHistory>, Arc<Wake>, Arc<AtomicBool>),
    stats: Arc<SequencerStats>,
    on_failure: OnStorageFailure,
) {
    let _ended = Ended(&stats.history_mark);
    let mark = &*stats.history_mark;
    let mut buffer = HistoryBuffer::default();
    loop {
        // Idle until a message, the flush deadline or a reader's request (`is_wanted`).
        let idle = Instant::now();
        if buffer.is_empty() {
            empty.store(true, Ordering::Relaxed);
            fence(Ordering::SeqCst);
        }
        let mut next = wake.recv_until(&rx, buffer.deadline(mark), &|| mark.is_wanted());
        let busy = Instant::now();
        stats.history_wait_ns.fetch_add(busy.duration_since(idle).as_nanos() as u64, Ordering::Relaxed);
        // Everything queued is taken before a flush is considered.
        let (mut written, mut stopped) = (Ok(()), false);
        while written.is_ok() {
            let m = match next {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(_) => {
                    stopped = true;
                    break;
                }
            };
            written = match m {
                ToHistory::Rows { batch, seq, rows, at } => {
                    buffer.push((batch, seq, at), rows, &stats);
                    Ok(())
                }
                ToHistory::Replace { batch, seq, epoch, rows, done } => {
                    buffer.discard();
                    let r = store.replace(&rows, seq, epoch);
                    let failed = r.as_ref().err().map(|e| StorageError::Backend(e.to_string()));
                    if failed.is_none() {
                        buffer.push((batch, seq, Instant::now()), HistoryOut::default(), &stats);
                    }
                    let _ = done.send(r);
                    failed.map_or(Ok(()), Err)
                }
                ToHistory::Stop => {
                    stopped = true;
                    break;
                }
            };
            next = Ok(rx.try_recv().ok());
        }
        if stopped {
            // Stopped (or every sender gone): write what waits and end.
            if let Err(e) = written.and_then(|()| buffer.flush(store.as_mut(), &stats)) {
                fail(e, &stats, on_failure);
            }
            return;
        }
        let flushed = written.and_then(|()| if buffer.due(mark) { buffer.flush(store.as_mut(), &stats) } else { Ok(()) });
        stats.history_busy_ns.fetch_add(busy.elapsed().as_nanos() as u64, Ordering::Relaxed);
        if let Err(e) = flushed {
            return fail(e, &stats, on_failure);
        }
    }
}

/// A failed history write: abort, or stop acknowledging (the storage thread checks the flag
/// before each batch's replies).
fn fail(e: StorageError, stats: &SequencerStats, on_failure: OnStorageFailure) {
    tracing::error!(error = %e, "history write failed; stopping so that nothing more is acknowledged");
    if on_failure == OnStorageFailure::Abort {
        std::process::abort();
    }
    stats.storage_failed.store(true, Ordering::SeqCst);
}

/// Tells the history readers no more rows come once the thread ends (by return or panic).
struct Ended<'a>(&'a crate::storage::history_mark::HistoryMark);

impl Drop for Ended<'_> {
    fn drop(&mut self) {
        self.0.end();
    }
}
