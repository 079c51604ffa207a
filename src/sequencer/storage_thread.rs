//! The storage thread: makes each batch durable (log records and history rows in one
//! transaction, with whatever batches queued up meanwhile: group commit), then shows the batch
//! to the REST market view and the WebSocket publishers, and only then releases its replies.

use super::{Batch, MarketSink, OnStorageFailure, Pending, RunningFlag, SequencerStats};
use crate::storage::CommandLog;
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
) {
    let _running = RunningFlag(&stats.storage_running);
    let mut carried: Option<Batch> = None;
    let mut received = 0u64;
    loop {
        let first = match carried.take() {
            Some(b) => b,
            None => match wake.recv(&batches) {
                Ok(b) => b,
                Err(_) => break,
            },
        };
        received += 1;
        let control = first.pending.has_control();
        let Pending { mut records, replace_log, snapshots, mut market, mut accounts, mut history, balances: full_balances } = first.pending;
        let mut replies = first.replies;
        // Group commit: whatever queued up while the last commit was syncing goes in this one
        // (a batch that replaces the log or takes a snapshot is committed on its own).
        while !control {
            let Ok(more) = batches.try_recv() else { break };
            if more.pending.has_control() {
                carried = Some(more);
                break;
            }
            received += 1;
            records.extend(more.pending.records);
            market.extend(more.pending.market);
            accounts.extend(more.pending.accounts);
            history.extend(more.pending.history);
            replies.extend(more.replies);
            if records.len() >= 8192 {
                break;
            }
        }
        if !records.is_empty() || replace_log || !history.is_empty() {
            let started = std::time::Instant::now();
            let result =
                if replace_log { log.replace_all_with_history(&records, &history) } else { log.append_with_history(&records, &history) };
            if let Err(e) = result {
                tracing::error!(error = %e, "storage failed; stopping so that nothing unsaved is acknowledged");
                if on_failure == OnStorageFailure::Abort {
                    std::process::abort();
                }
                stats.storage_failed.store(true, Ordering::SeqCst);
                // Unsent replies answer `EService:Unavailable`; so do the batches still queued.
                drop(replies);
                drop(carried);
                for batch in batches.iter() {
                    drop(batch);
                }
                return;
            }
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
        stats.durable_batches.store(received, Ordering::SeqCst);
        for reply in replies {
            reply();
        }
    }
}
