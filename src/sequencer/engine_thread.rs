//! The engine: one [`Exchange`] behind a lock, run by whichever thread holds it (flat
//! combining). A thread that queues a job takes the lock if it is free and runs every job queued
//! (its own and others'), in queue order, batch by batch: it stamps each with the time (after
//! applying any `Tick` that fell due), runs it, and hands each batch (log records, history,
//! market and account captures, held-back replies) to the storage thread. A thread that finds
//! the lock taken leaves its job to the holder, which looks at the queue again after letting go.
//! The engine thread only waits for jobs nobody ran (the timed wake of a quiet server); where
//! other module docs say "the engine thread", they mean whichever thread holds the engine.
//! A batch of reads only, with every earlier batch durable, is answered by the runner without
//! the storage thread. Nothing here waits on I/O except the rare wait for durability before an
//! executions snapshot.

use super::{clock_ns, Batch, MarketSink, Message, Pending, SequencerStats};
use crate::engine::{Command, Envelope, Exchange};
use crossbeam_channel::{Receiver, Sender};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// The engine's state and its hand-over to storage: what the lock guards.
pub(super) struct Core {
    ex: Exchange,
    batches: Option<(Sender<Batch>, Arc<super::wake::Wake>)>,
    max_batch: usize,
    stats: Arc<SequencerStats>,
    clock: Option<crate::clock::Clock>,
    market: MarketSink,
    accounts: crate::ws::private::capture::AccountSink,
    tracker: crate::ws::capture::Tracker,
    account_tracker: crate::ws::private::capture::Tracker,
    last: u64,
    sent: u64,
}

impl Core {
    pub(super) fn new(
        ex: Exchange,
        batches: (Sender<Batch>, Arc<super::wake::Wake>),
        max_batch: usize,
        stats: Arc<SequencerStats>,
        clock: Option<crate::clock::Clock>,
        (market, accounts, level3): (MarketSink, crate::ws::private::capture::AccountSink, Arc<crate::ws::level3_capture::Interest>),
    ) -> Core {
        let mut tracker = crate::ws::capture::Tracker::new();
        tracker.level3.interest = Some(level3);
        Core {
            ex,
            batches: Some(batches),
            max_batch,
            stats,
            clock,
            market,
            accounts,
            tracker,
            account_tracker: crate::ws::private::capture::Tracker::new(),
            last: 0,
            sent: 0,
        }
    }

    /// Runs every job queued, batch by batch, until the queue is empty or a `Stop` came. A job
    /// that panics ends the engine, as the death of its thread did: the state it left is not
    /// trusted; its batch's replies are dropped unsent (their callers get
    /// `EService:Unavailable`), and so is every later job; storage stops after what it has.
    fn run_guarded(&mut self, jobs: &Receiver<Message>) {
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.run(jobs))).is_err() {
            tracing::error!("a job panicked: the engine stops");
            self.end();
            self.run(jobs);
        }
    }

    fn run(&mut self, jobs: &Receiver<Message>) {
        while self.batches.is_some() {
            match jobs.try_recv() {
                Ok(first) => self.run_batch(first, jobs),
                Err(crossbeam_channel::TryRecvError::Empty) => return,
                Err(crossbeam_channel::TryRecvError::Disconnected) => self.end(),
            }
        }
        // Stopped (or storage failed): every job still queued is dropped unrun, which answers
        // its caller `EService:Unavailable`.
        while let Ok(message) = jobs.try_recv() {
            if let Message::Job(j) = message {
                self.stats.queue_depth.fetch_sub(1, Ordering::Relaxed);
                drop(j);
            }
        }
    }

    fn run_batch(&mut self, first: Message, jobs: &Receiver<Message>) {
        let stats = &*self.stats.clone();
        let mut stopping = stats.storage_failed.load(Ordering::SeqCst);
        let mut batch = Batch { pending: Pending::default(), replies: Vec::new() };
        let mut next = Some(first);
        let mut n = 0;
        while let Some(message) = next {
            match message {
                Message::Job(j) if stopping => {
                    n += 1;
                    drop(j);
                }
                Message::Job(j) => {
                    n += 1;
                    let now = clock_ns(&self.clock).max(self.last);
                    self.last = now;
                    tick_if_due(&mut self.ex, &mut batch.pending.records, now);
                    batch.replies.push(j(&mut self.ex, &mut batch.pending, now));
                }
                Message::Stop => {
                    stopping = true;
                    break;
                }
            }
            // A state replacement or a snapshot ends its batch, so storage sees it alone.
            next = if n < self.max_batch && !batch.pending.has_control() { jobs.try_recv().ok() } else { None };
        }
        stats.queue_depth.fetch_sub(n, Ordering::Relaxed);
        let ex = &mut self.ex;
        batch.pending.next_due_ns = ex.next_due_ns();
        if batch.pending.replace_log {
            self.tracker.force_full = true;
            self.account_tracker.reset = true;
            batch.pending.balances = Some(super::BalanceView::copy(ex));
        }
        if self.market.get().is_some() {
            batch.pending.market = self.tracker.capture(ex, self.last);
        }
        if let Some((_, watchers)) = self.accounts.get() {
            let sent = self.sent;
            let wait_durable = || {
                while stats.durable_batches.load(Ordering::SeqCst) < sent
                    && stats.storage_running.load(Ordering::SeqCst)
                    && !stats.storage_failed.load(Ordering::SeqCst)
                {
                    std::thread::sleep(std::time::Duration::from_micros(200));
                }
            };
            batch.pending.accounts = self.account_tracker.capture(ex, watchers, self.last, &wait_durable);
        }
        // After the captures (which read this batch's records), the history leaves the engine.
        batch.pending.history = ex.history_out.take();
        // Reads only, behind batches that are all durable already: answered here, as the storage
        // thread would answer them after committing nothing (one thread hand-off less per read).
        if batch.pending.is_quiet()
            && stats.durable_batches.load(Ordering::SeqCst) == self.sent
            && stats.storage_running.load(Ordering::SeqCst)
            && !stats.storage_failed.load(Ordering::SeqCst)
        {
            for reply in batch.replies {
                reply();
            }
        } else if let Some((tx, wake)) = &self.batches {
            if tx.send(batch).is_ok() {
                wake.notify();
                self.sent += 1;
            } else {
                stopping = true;
            }
        }
        if stopping || stats.storage_failed.load(Ordering::SeqCst) {
            self.end();
        }
    }

    /// Storage gets nothing more (its queue's end lets it finish); no job runs any more.
    fn end(&mut self) {
        self.batches = None;
        self.stats.engine_running.store(false, Ordering::SeqCst);
    }
}

/// Runs the queued jobs if no other thread is running them; a thread that finds the lock taken
/// leaves its jobs to the holder, which looks at the queue again after letting go.
pub(super) fn combine(core: &Mutex<Core>, jobs: &Receiver<Message>) {
    loop {
        let Ok(mut c) = core.try_lock() else { return };
        c.run_guarded(jobs);
        drop(c);
        if jobs.is_empty() {
            return;
        }
    }
}

/// The engine thread: runs what is queued whenever it is woken (or every 50 ms), so that a job
/// is never left waiting for another job to come.
pub(super) fn engine_loop(core: Arc<Mutex<Core>>, (jobs, jobs_wake): (Receiver<Message>, Arc<super::wake::Wake>)) {
    loop {
        jobs_wake.wait_for(&jobs);
        let mut c = core.lock().unwrap_or_else(|e| e.into_inner());
        c.run_guarded(&jobs);
        if c.batches.is_none() {
            return;
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

#[cfg(test)]
mod tests {
    use crate::engine::markets::Markets;
    use crate::engine::Exchange;
    use crate::sequencer::Sequencer;
    use std::sync::atomic::Ordering;
    use std::thread::{self, ThreadId};
    use std::time::{Duration, Instant};

    fn sequencer(dir: &std::path::Path) -> Sequencer {
        let markets = Markets::from_config(&crate::config::Config::builtin()).unwrap();
        let (log, _keys) = crate::storage::open_sqlite(dir).unwrap();
        Sequencer::start(Exchange::new(markets, 1), log, 64)
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
    }

    #[test]
    fn a_job_queued_while_the_engine_is_free_runs_on_the_thread_that_queued_it() {
        let dir = tempfile::tempdir().unwrap();
        let seq = sequencer(dir.path());
        let ran_on = block_on(seq.read(|_| thread::current().id())).unwrap();
        assert_eq!(ran_on, thread::current().id(), "no hand-off to the engine thread");
        seq.stop();
    }

    #[test]
    fn a_job_queued_while_the_engine_runs_is_run_by_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let seq = sequencer(dir.path());
        let (started_tx, started) = std::sync::mpsc::channel::<()>();
        let (go, go_rx) = std::sync::mpsc::channel::<()>();
        let s1 = seq.clone();
        let holder = thread::spawn(move || {
            let id = block_on(s1.read(move |_| {
                started_tx.send(()).unwrap();
                go_rx.recv().unwrap();
                thread::current().id()
            }));
            (id.unwrap(), thread::current().id())
        });
        started.recv().unwrap();
        let s2 = seq.clone();
        let waiter = thread::spawn(move || block_on(s2.read(|_| thread::current().id())).unwrap());
        // The second job is queued (its thread found the engine taken and left it there).
        let deadline = Instant::now() + Duration::from_secs(10);
        while seq.stats.queue_depth.load(Ordering::SeqCst) < 2 {
            assert!(Instant::now() < deadline, "the second job was never queued");
            thread::sleep(Duration::from_millis(1));
        }
        go.send(()).unwrap();
        let (first_ran_on, holder_thread) = holder.join().unwrap();
        let second_ran_on: ThreadId = waiter.join().unwrap();
        assert_eq!(first_ran_on, holder_thread);
        assert_eq!(second_ran_on, holder_thread, "the holder ran the job queued behind its own");
        seq.stop();
    }
}
