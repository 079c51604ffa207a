//! The storage thread: makes each batch durable (its log records, with whatever batches queued
//! up meanwhile, in one synced transaction: group commit), then shows the batch to the REST
//! market view and the WebSocket publishers, and only then releases its replies. The batch's
//! history rows go to the history thread (`history_writer`), which writes them in a later flush:
//! a commit never waits for one.

use super::history_writer::{HistoryThread, ToHistory};
use super::{Batch, MarketSink, OnStorageFailure, Pending, RunningFlag, SequencerStats};
use crate::engine::outbox::HistoryOut;
use crate::storage::{CommandLog, StorageError};
use crossbeam_channel::Receiver;
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub(super) fn storage_loop(
    mut log: Box<dyn CommandLog>,
    (batches, wake): (Receiver<Batch>, Arc<super::wake::Wake>),
    stats: Arc<SequencerStats>,
    on_failure: OnStorageFailure,
    (market_sink, account_sink): (MarketSink, crate::ws::private::capture::AccountSink),
    (view, balances): (Arc<crate::ws::market_view::MarketView>, Arc<super::BalanceView>),
    history_thread: HistoryThread,
) {
    let _running = RunningFlag(&stats.storage_running);
    let mark = &*stats.history_mark;
    let mut carried: Option<Batch> = None;
    let mut received = 0u64;
    // The log's last record: the history rows handed over are complete up to it.
    let mut last_seq = match log.bounds() {
        Ok(b) => b.map_or(0, |(_, last)| last),
        Err(e) => return fail(e, &stats, on_failure, (Vec::new(), None), &batches),
    };
    // The rows of the log before the start are written (the server's start restored them).
    stats.history_upto.store(last_seq, Ordering::Relaxed);
    loop {
        let first = match carried.take() {
            Some(b) => b,
            None => match timed(&stats.storage_wait_ns, || wake.recv(&batches)) {
                Ok(b) => b,
                Err(_) => break,
            },
        };
        received += 1;
        let control = first.pending.has_control();
        let Pending {
            mut records,
            replace_log,
            snapshots,
            mut market,
            mut accounts,
            mut history,
            balances: full_balances,
            mut next_due_ns,
        } = first.pending;
        let mut replies = first.replies;
        // Group commit: whatever queued up while the last commit was syncing goes in this one
        // (a batch that replaces the log or takes a snapshot is committed on its own).
        while let Some(Ok(more)) = (!control).then(|| batches.try_recv()) {
            if more.pending.has_control() {
                carried = Some(more);
                break;
            }
            received += 1;
            records.extend(more.pending.records);
            market.extend(more.pending.market);
            accounts.extend(more.pending.accounts);
            history.extend(more.pending.history);
            next_due_ns = more.pending.next_due_ns;
            replies.extend(more.replies);
            if records.len() >= 8192 {
                break;
            }
        }
        if !records.is_empty() || replace_log || !history.is_empty() {
            let started = std::time::Instant::now();
            let result = if replace_log { log.replace_all(&records) } else { log.append(&records) };
            if let Err(e) = result {
                return fail(e, &stats, on_failure, (replies, carried), &batches);
            }
            last_seq = if replace_log { records.len() as u64 } else { last_seq + records.len() as u64 };
            stats.commits.fetch_add(1, Ordering::Relaxed);
            stats.committed_commands.fetch_add(records.len() as u64, Ordering::Relaxed);
            stats.commit_seconds.observe(started.elapsed().as_secs_f64());
            stats.commit_records.observe(records.len() as f64);
        }
        // Durable now: the REST views show it before any reply goes out (a read after an
        // acknowledgement sees it), and the publisher's feeds may show it (an unbounded queue:
        // never blocks storage). A replaced state's balances replace the view's (a control
        // batch is committed alone, so its ledger entries are already in the copy).
        match full_balances {
            Some(rows) => balances.replace(rows),
            None => balances.apply(&history.ledger),
        }
        balances.set_next_due(next_due_ns);
        // The rows go to the history thread; a replaced log's replace the history before the
        // batch is acknowledged (a crash between the two is repaired at start: `history_db`).
        let handed = if replace_log {
            replace_history(&mut *log, &history_thread, (received, last_seq), history)
        } else {
            history_thread.send(ToHistory::Rows { batch: received, seq: last_seq, rows: history, at: std::time::Instant::now() })
        };
        if let Err(e) = handed {
            return fail(e, &stats, on_failure, (replies, carried), &batches);
        }
        if !market.is_empty() {
            view.apply(&market);
            if let Some(sink) = market_sink.get() {
                let _ = sink.send(market);
            }
        }
        if !accounts.is_empty() {
            if let Some((sink, _)) = account_sink.get() {
                let _ = sink.send(accounts);
            }
        }
        for path in snapshots {
            if let Err(e) = log.snapshot(&path) {
                tracing::error!(error = %e, path = %path.display(), "snapshot failed");
            }
        }
        if stats.storage_failed.load(Ordering::SeqCst) {
            // The history thread failed: nothing more is acknowledged.
            return fail(StorageError::Backend("history write failed".into()), &stats, on_failure, (replies, carried), &batches);
        }
        mark.acknowledged(received);
        stats.durable_batches.store(received, Ordering::SeqCst);
        for reply in replies {
            reply();
        }
    }
    // The graceful end: dropping `history_thread` has every acknowledged batch's rows written
    // before this thread (and `Sequencer::stop`) ends.
}

/// After the log was replaced: the history thread replaces the rows (with the log's new
/// generation) and answers before the batch is acknowledged.
fn replace_history(
    log: &mut dyn CommandLog,
    history: &HistoryThread,
    (batch, seq): (u64, u64),
    rows: HistoryOut,
) -> Result<(), StorageError> {
    let epoch = log.epoch()?;
    let (done, answer) = crossbeam_channel::bounded(1);
    history.send(ToHistory::Replace { batch, seq, epoch, rows, done })?;
    answer.recv().map_err(|_| StorageError::Backend("the history thread has ended".into()))?
}

/// Runs `f`, adding the nanoseconds it took to `total` (the storage thread's wait for work).
fn timed<T>(total: &std::sync::atomic::AtomicU64, f: impl FnOnce() -> T) -> T {
    let started = std::time::Instant::now();
    let out = f();
    total.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
    out
}

/// A failed commit or history flush: nothing more is acknowledged (abort, or stop serving).
/// Unsent replies answer `EService:Unavailable`; so do the batches still queued.
fn fail(
    e: StorageError,
    stats: &SequencerStats,
    on_failure: OnStorageFailure,
    (replies, carried): (Vec<super::Deferred>, Option<Batch>),
    batches: &Receiver<Batch>,
) {
    tracing::error!(error = %e, "storage failed; stopping so that nothing unsaved is acknowledged");
    if on_failure == OnStorageFailure::Abort {
        std::process::abort();
    }
    stats.storage_failed.store(true, Ordering::SeqCst);
    drop(replies);
    drop(carried);
    for batch in batches.iter() {
        drop(batch);
    }
}
