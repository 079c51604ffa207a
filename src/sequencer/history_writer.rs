//! The history thread: writes the history rows of acknowledged batches to their own database
//! (`storage::history_db`), so that the storage thread's group commit never waits for a history
//! flush. The storage thread hands it each batch's rows once the batch is durable, over a
//! channel; the rows wait in `history_buffer` until a flush is due (time, size, a waiting reader),
//! and each flush moves the readers' watermark (`storage::history_mark`).
//!
//! A failed write is a storage failure like a failed commit: the process aborts, or (the fault
//! tests) the sequencer stops acknowledging (`storage_failed`: the storage thread acknowledges
//! nothing after it sees it) and waiting readers get an error. What was acknowledged before stays
//! durable in the log; a restart's replay writes its rows.

use super::history_buffer::HistoryBuffer;
use super::{OnStorageFailure, SequencerStats};
use crate::engine::outbox::HistoryOut;
use crate::storage::{HistoryStore, StorageError};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;

/// What the storage thread (and a waiting reader) send the history thread.
pub(super) enum ToHistory {
    /// An acknowledged batch's rows: batch number (the storage thread's count) and its last log record.
    Rows { batch: u64, seq: u64, rows: HistoryOut },
    /// The log was replaced (generation `epoch`, `seq` records): replace every row by `rows`,
    /// then answer on `done` (the batch is acknowledged only after).
    Replace { batch: u64, seq: u64, epoch: u64, rows: HistoryOut, done: Sender<Result<(), StorageError>> },
    /// A reader waits (`HistoryMark::wait_current`): look at the watermark's request.
    Wake,
    /// Write what waits and end (the storage thread's end).
    Stop,
}

/// The storage thread's handle on the history thread: dropping it (the storage thread's end, by
/// return or panic) has the thread write what waits and waits for it.
pub(super) struct HistoryThread {
    pub(super) tx: Sender<ToHistory>,
    handle: Option<JoinHandle<()>>,
}

impl HistoryThread {
    /// Starts the thread over `store`; a reader's flush request reaches it through the watermark's waker.
    pub(super) fn start(store: Box<dyn HistoryStore>, stats: Arc<SequencerStats>, on_failure: OnStorageFailure) -> HistoryThread {
        let (tx, rx) = crossbeam_channel::unbounded();
        let waker = tx.clone();
        stats.history_mark.set_waker(Box::new(move || {
            let _ = waker.send(ToHistory::Wake);
        }));
        let handle = std::thread::Builder::new()
            .name("history".into())
            .spawn(move || history_loop(store, rx, stats, on_failure))
            .expect("spawn history thread");
        HistoryThread { tx, handle: Some(handle) }
    }
}

impl Drop for HistoryThread {
    fn drop(&mut self) {
        let _ = self.tx.send(ToHistory::Stop);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn history_loop(mut store: Box<dyn HistoryStore>, rx: Receiver<ToHistory>, stats: Arc<SequencerStats>, on_failure: OnStorageFailure) {
    let _ended = Ended(&stats.history_mark);
    let mark = &*stats.history_mark;
    let mut buffer = HistoryBuffer::default();
    loop {
        let msg = match buffer.deadline(mark) {
            Some(d) => rx.recv_deadline(d),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        let written = match msg {
            Ok(ToHistory::Rows { batch, seq, rows }) => {
                buffer.push((batch, seq), rows, mark);
                Ok(())
            }
            Ok(ToHistory::Replace { batch, seq, epoch, rows, done }) => {
                buffer.discard();
                let r = store.replace(&rows, seq, epoch);
                let failed = r.as_ref().err().map(|e| StorageError::Backend(e.to_string()));
                if failed.is_none() {
                    buffer.push((batch, seq), HistoryOut::default(), mark);
                }
                let _ = done.send(r);
                failed.map_or(Ok(()), Err)
            }
            Ok(ToHistory::Wake) | Err(RecvTimeoutError::Timeout) => Ok(()),
            Ok(ToHistory::Stop) | Err(RecvTimeoutError::Disconnected) => {
                if let Err(e) = buffer.flush(store.as_mut(), &stats) {
                    fail(e, &stats, on_failure);
                }
                return;
            }
        };
        let flushed = written.and_then(|()| if buffer.due(mark) { buffer.flush(store.as_mut(), &stats) } else { Ok(()) });
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
