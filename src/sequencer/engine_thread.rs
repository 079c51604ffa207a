//! The engine thread: takes jobs from the queue in order, stamps each with the time (after
//! applying any `Tick` that fell due), runs it against the one [`Exchange`], and hands each batch
//! (log records, history, market and account captures, held-back replies) to the storage thread.
//! A batch of reads only, with every earlier batch durable, is answered here without the storage
//! thread. Nothing here waits on I/O except the rare wait for durability before an executions snapshot.

use super::{clock_ns, Batch, MarketSink, Message, Pending, RunningFlag, SequencerStats};
use crate::engine::{Command, Envelope, Exchange};
use crossbeam_channel::{Receiver, Sender};
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub(super) fn engine_loop(
    mut ex: Exchange,
    (jobs, jobs_wake): (Receiver<Message>, Arc<super::wake::Wake>),
    (batches, batches_wake): (Sender<Batch>, Arc<super::wake::Wake>),
    max_batch: usize,
    stats: Arc<SequencerStats>,
    clock: Option<crate::clock::Clock>,
    (market, accounts, level3): (MarketSink, crate::ws::private::capture::AccountSink, Arc<crate::ws::level3_capture::Interest>),
) {
    let _running = RunningFlag(&stats.engine_running);
    let mut tracker = crate::ws::capture::Tracker::new();
    tracker.level3.interest = Some(level3);
    let mut account_tracker = crate::ws::private::capture::Tracker::new();
    let mut last = 0u64;
    let mut sent = 0u64;
    let mut stopping = false;
    while !stopping && !stats.storage_failed.load(Ordering::SeqCst) {
        let Ok(first) = jobs_wake.recv(&jobs) else { break };
        let mut batch = Batch { pending: Pending::default(), replies: Vec::new() };
        let mut next = Some(first);
        let mut n = 0;
        while let Some(message) = next {
            match message {
                Message::Job(j) if stats.storage_failed.load(Ordering::SeqCst) => {
                    n += 1;
                    drop(j);
                }
                Message::Job(j) => {
                    n += 1;
                    let now = clock_ns(&clock).max(last);
                    last = now;
                    tick_if_due(&mut ex, &mut batch.pending.records, now);
                    batch.replies.push(j(&mut ex, &mut batch.pending, now));
                }
                Message::Stop => {
                    stopping = true;
                    break;
                }
            }
            // A state replacement or a snapshot ends its batch, so storage sees it alone.
            next = if n < max_batch && !batch.pending.has_control() { jobs.try_recv().ok() } else { None };
        }
        stats.queue_depth.fetch_sub(n, Ordering::Relaxed);
        batch.pending.next_due_ns = ex.next_due_ns();
        if batch.pending.replace_log {
            tracker.force_full = true;
            account_tracker.reset = true;
            batch.pending.balances = Some(super::BalanceView::copy(&ex));
        }
        if market.get().is_some() {
            batch.pending.market = tracker.capture(&ex, last);
        }
        if let Some((_, watchers)) = accounts.get() {
            let wait_durable = || {
                while stats.durable_batches.load(Ordering::SeqCst) < sent
                    && stats.storage_running.load(Ordering::SeqCst)
                    && !stats.storage_failed.load(Ordering::SeqCst)
                {
                    std::thread::sleep(std::time::Duration::from_micros(200));
                }
            };
            batch.pending.accounts = account_tracker.capture(&mut ex, watchers, last, &wait_durable);
        }
        // After the captures (which read this batch's records), the history leaves the engine.
        batch.pending.history = ex.history_out.take();
        // Reads only, behind batches that are all durable already: answered here, as the storage
        // thread would answer them after committing nothing (one thread hand-off less per read).
        if batch.pending.is_quiet()
            && stats.durable_batches.load(Ordering::SeqCst) == sent
            && stats.storage_running.load(Ordering::SeqCst)
            && !stats.storage_failed.load(Ordering::SeqCst)
        {
            for reply in batch.replies {
                reply();
            }
            continue;
        }
        if batches.send(batch).is_err() {
            break;
        }
        batches_wake.notify();
        sent += 1;
    }
    // Stopped or storage failed: storage gets nothing more, and every job still queued or sent
    // later is dropped unrun, which answers its caller `EService:Unavailable`.
    drop(batches);
    for message in jobs.iter() {
        if let Message::Job(j) = message {
            stats.queue_depth.fetch_sub(1, Ordering::Relaxed);
            drop(j);
        }
    }
}

/// Funding transitions and timers (order expiries and starts, dead man's switches) whose time
/// has come are applied (and logged) before the job that first
/// runs at or after their time, so that every job sees them and a replay repeats them.
fn tick_if_due(ex: &mut Exchange, records: &mut Vec<Vec<u8>>, now: u64) {
    if ex.due(now) {
        let env = Envelope { time_ns: now, key_nonce: None, command: Command::Tick };
        if ex.apply(&env).is_ok() {
            records.push(serde_json::to_vec(&env).expect("commands serialize"));
        }
    }
}
