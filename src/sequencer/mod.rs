//! The single writer. One [`Exchange`] behind one lock: jobs go into a queue, and whichever
//! thread holds the lock (the thread that queued a job, if the engine was free: flat combining,
//! `engine_thread`) takes them in order, stamps each command with the time, applies it, and
//! collects the applied commands of a batch; a second
//! thread makes each batch durable in one storage transaction (group commit) and only then
//! releases the batch's replies. Reads go through the same queue, so no reply, not even a read,
//! shows a state that is not yet durable; the storage thread also keeps the accounts' durable
//! balances ([`BalanceView`]) that signed Balance reads without queueing. A third thread writes
//! the acknowledged batches' history rows to their own database (`history_writer`).
//!
//! If storage fails, nothing more is acknowledged. The server's policy
//! ([`OnStorageFailure::Abort`]) stops the process, so a command whose reply was never sent was
//! never acknowledged and the next start replays what the disk kept. Tests of the fault model
//! (`tests/storage_faults.rs`) run the same threads with [`OnStorageFailure::StopAcknowledging`]:
//! the failed batch's replies are dropped unsent (callers get `EService:Unavailable`), the engine
//! stops applying, and every later job is dropped unrun, so the test process survives to recover
//! from the simulated disk. Both policies release a reply only after `CommandLog::append` returned
//! `Ok`; they differ only in what happens to the process afterwards.
//!
//! [`Sequencer::stop`] is the graceful end (SIGTERM): the engine finishes the jobs queued before
//! it, the storage thread commits the last batch, the history thread writes the rows that wait,
//! and `stop` returns once both have ended.

mod balance_view;
mod engine_thread;
mod history_buffer;
mod history_writer;
mod stats;
mod storage_thread;
pub mod wake;

pub use balance_view::BalanceView;
use stats::RunningFlag;
pub use stats::SequencerStats;

use crate::engine::{Applied, Command, Envelope, Exchange};
use crate::error::KrakenError;
use crate::storage::CommandLog;
use crossbeam_channel::Sender;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::oneshot;

/// A reply held back until the batch it belongs to is durable.
type Deferred = Box<dyn FnOnce() + Send>;
/// A unit of work for the engine thread: given the exchange, the batch's log records and the
/// time, it does its work and returns the deferred reply.
type Job = Box<dyn FnOnce(&mut Exchange, &mut Pending, u64) -> Deferred + Send>;

/// What the jobs of one batch hand to storage.
#[derive(Default)]
pub struct Pending {
    /// Log records of the commands applied, in order.
    pub records: Vec<Vec<u8>>,
    /// The whole log is replaced by `records` (reset, snapshot restore): set by the job that
    /// replaced the state, which clears the records before it.
    pub replace_log: bool,
    /// Copies of the whole database to write once this batch is durable (snapshot save).
    pub snapshots: Vec<std::path::PathBuf>,
    /// The public state of the pairs this batch changed, for the market-data publisher (filled
    /// by the engine thread after the batch's jobs, handed over once the batch is durable).
    pub market: crate::ws::capture::MarketBatch,
    /// The watched accounts' `executions`/`balances` events and new subscriptions' snapshots
    /// (filled by the engine thread after the batch's jobs, handed over once it is durable).
    pub accounts: crate::ws::private::capture::AccountBatch,
    /// The trade records and ledger entries the batch's commands emitted (the engine's outbox,
    /// drained after the batch), written after `records` are synced, in a later flush (`history_buffer`).
    pub history: crate::engine::outbox::HistoryOut,
    /// Every account's balances after a job replaced the whole state (made by the engine thread
    /// after the batch; the storage thread swaps them into the [`BalanceView`] once durable).
    pub balances: Option<Vec<Box<[i128]>>>,
    /// When the state after this batch next has a `Tick` due (`Exchange::next_due_ns`; set by
    /// the engine thread after every batch, 0 until then: "due now").
    pub next_due_ns: u64,
}

impl Pending {
    fn has_control(&self) -> bool {
        self.replace_log || !self.snapshots.is_empty()
    }

    /// Nothing to make durable or to publish: a batch of reads only.
    fn is_quiet(&self) -> bool {
        self.records.is_empty() && !self.has_control() && self.history.is_empty() && self.market.is_empty() && self.accounts.is_empty()
    }
}

/// A client that submits several commands in one job, seeing the state after each (the market
/// simulator). Each command is applied and logged exactly like a client's, with the job's time.
pub struct Driver<'a> {
    ex: &'a mut Exchange,
    pending: &'a mut Pending,
    pub now: u64,
}

impl<'a> Driver<'a> {
    /// A driver over an exchange outside the sequencer, at a given time (offline runs and tests
    /// of the simulator; the server's go through [`Sequencer::drive`]).
    pub fn new(ex: &'a mut Exchange, pending: &'a mut Pending, now: u64) -> Driver<'a> {
        Driver { ex, pending, now }
    }

    pub fn state(&self) -> &Exchange {
        self.ex
    }

    pub fn submit(&mut self, command: Command) -> Result<Applied, KrakenError> {
        let env = Envelope { time_ns: self.now, key_nonce: None, command };
        let applied = self.ex.apply(&env)?;
        self.pending.records.push(serde_json::to_vec(&env).expect("commands serialize"));
        Ok(applied)
    }
}

/// What the engine thread's queue carries.
enum Message {
    Job(Job),
    /// Finish what is queued before this, hand the last batch to storage, and stop.
    Stop,
}

/// What the storage thread does when `CommandLog::append` fails. Either way the failed batch is
/// never acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnStorageFailure {
    /// Stop the process (the server): the next start replays what the disk kept.
    Abort,
    /// Stop acknowledging and applying, drop every pending and later reply unsent, keep the
    /// process (the fault-injection tests, which then "restart" from their simulated disk).
    StopAcknowledging,
}

struct Batch {
    pending: Pending,
    replies: Vec<Deferred>,
}

/// Where committed batches' market captures go (the publisher's queue), once one is attached.
pub type MarketSink = Arc<std::sync::OnceLock<wake::Ringing<crate::ws::capture::MarketBatch>>>;

/// A cheap, cloneable handle to the engine thread.
#[derive(Clone)]
pub struct Sequencer {
    jobs: Sender<Message>,
    /// The queue's other end: a thread that queued a job runs the queue if the engine is free.
    queued: crossbeam_channel::Receiver<Message>,
    core: Arc<Mutex<engine_thread::Core>>,
    /// Wakes the engine thread when it waits for a job.
    jobs_wake: Arc<wake::Wake>,
    pub stats: Arc<SequencerStats>,
    storage_thread: Arc<Mutex<Option<JoinHandle<()>>>>,
    market: MarketSink,
    /// The committed public state the REST reads are served from (updated by the storage thread
    /// before it releases a batch's replies; ready once the publisher is attached).
    pub view: Arc<crate::ws::market_view::MarketView>,
    accounts: crate::ws::private::capture::AccountSink,
    /// Which pairs level3 subscribers watch (the engine thread copies their orders after each batch).
    pub level3: Arc<crate::ws::level3_capture::Interest>,
    /// The accounts' durable balances (signed Balance is answered from it, updated by the storage
    /// thread before it releases a batch's replies).
    pub balances: Arc<BalanceView>,
}

fn wall_clock_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

/// The engine's time source: the system clock, or the request path's clock when it is a test's
/// (so that `/admin/clock/advance` also moves deposits' confirmations and withdrawals on).
fn clock_ns(clock: &Option<crate::clock::Clock>) -> u64 {
    match clock {
        Some(c) => c.now_us().saturating_mul(1000),
        None => wall_clock_ns(),
    }
}

impl Sequencer {
    /// Starts the engine and storage threads. `exchange` must already hold the replayed state.
    pub fn start(exchange: Exchange, log: Box<dyn CommandLog>, max_batch: usize) -> Sequencer {
        Sequencer::start_with(exchange, log, max_batch, OnStorageFailure::Abort)
    }

    /// [`Sequencer::start`] with an explicit storage-failure policy.
    pub fn start_with(exchange: Exchange, log: Box<dyn CommandLog>, max_batch: usize, on_failure: OnStorageFailure) -> Sequencer {
        Sequencer::start_clocked(exchange, (log, Box::new(crate::storage::NoHistory)), max_batch, on_failure, None)
    }

    /// [`Sequencer::start_with`] writing the history rows to `history` (on the history thread:
    /// `history_writer`) and stamping time from `clock` (the server passes its clock when it
    /// is an adjustable test clock; `None` is the system clock).
    pub fn start_clocked(
        exchange: Exchange,
        (log, history): (Box<dyn CommandLog>, Box<dyn crate::storage::HistoryStore>),
        max_batch: usize,
        on_failure: OnStorageFailure,
        clock: Option<crate::clock::Clock>,
    ) -> Sequencer {
        let (job_tx, job_rx) = crossbeam_channel::bounded::<Message>(65_536);
        let (batch_tx, batch_rx) = crossbeam_channel::bounded::<Batch>(1024);
        let stats = Arc::new(SequencerStats::default());
        let s2 = stats.clone();
        let market: MarketSink = Arc::default();
        let m2 = market.clone();
        let view = Arc::new(crate::ws::market_view::MarketView::new(exchange.books.len(), exchange.markets.tape));
        let v2 = view.clone();
        let balances = Arc::new(BalanceView::new(&exchange));
        let b2 = balances.clone();
        let accounts: crate::ws::private::capture::AccountSink = Arc::default();
        let (a2, a3) = (accounts.clone(), accounts.clone());
        let level3: Arc<crate::ws::level3_capture::Interest> = Arc::default();
        let l2 = level3.clone();
        let jobs_wake: Arc<wake::Wake> = Arc::default();
        let batches_wake: Arc<wake::Wake> = Arc::default();
        let (jw, bw, bw2) = (jobs_wake.clone(), batches_wake.clone(), batches_wake);
        let core = Arc::new(Mutex::new(engine_thread::Core::new(exchange, (batch_tx, bw), max_batch.max(1), s2, clock, (m2, a2, l2))));
        let (c2, queued) = (core.clone(), job_rx.clone());
        std::thread::Builder::new()
            .name("engine".into())
            .spawn(move || engine_thread::engine_loop(c2, (job_rx, jw)))
            .expect("spawn engine thread");
        let s3 = stats.clone();
        let m3 = market.clone();
        let history = history_writer::HistoryThread::start(history, stats.clone(), on_failure);
        let storage = std::thread::Builder::new()
            .name("storage".into())
            .spawn(move || storage_thread::storage_loop(log, (batch_rx, bw2), s3, on_failure, (m3, a3), (v2, b2), history))
            .expect("spawn storage thread");
        Sequencer {
            jobs: job_tx,
            queued,
            core,
            jobs_wake,
            stats,
            storage_thread: Arc::new(Mutex::new(Some(storage))),
            market,
            view,
            accounts,
            level3,
            balances,
        }
    }

    /// Hands every later committed batch's market captures to `sink` (the publisher), starting
    /// with a full capture of every pair. Only the first call counts.
    pub fn attach_market(&self, sink: wake::Ringing<crate::ws::capture::MarketBatch>) {
        let _ = self.market.set(sink);
        // A pass through the queue makes the first (full) capture now rather than at the next job.
        let _ = self.submit(Box::new(|_, _, _| Box::new(|| ())));
    }

    /// Hands every later committed batch's private events to `sink` (the private fan-out); the
    /// engine thread captures the accounts `watchers` names. Only the first call counts.
    pub fn attach_accounts(
        &self,
        sink: wake::Ringing<crate::ws::private::capture::AccountBatch>,
        watchers: Arc<crate::ws::private::capture::Watchers>,
    ) {
        let _ = self.accounts.set((sink, watchers));
    }

    /// An empty job: a pass through the engine thread, so that captures (a new subscription's
    /// snapshot) are made now rather than at the next command.
    pub fn nudge(&self) {
        let _ = self.submit(Box::new(|_, _, _| Box::new(|| ())));
    }

    /// The graceful end: every job queued before this call is applied, its batch committed and
    /// its reply released; then the storage thread exits and this returns. Later jobs are
    /// answered `EService:Unavailable` without being applied. Blocking; idempotent.
    pub fn stop(&self) {
        let _ = self.jobs.send(Message::Stop);
        engine_thread::combine(&self.core, &self.queued);
        self.jobs_wake.notify();
        let handle = self.storage_thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }

    fn submit(&self, job: Job) -> Result<(), KrakenError> {
        self.stats.queue_depth.fetch_add(1, Ordering::Relaxed);
        self.jobs.try_send(Message::Job(job)).map_err(|_| {
            // Full or disconnected: the job never entered the queue.
            self.stats.queue_depth.fetch_sub(1, Ordering::Relaxed);
            KrakenError::Unavailable
        })?;
        engine_thread::combine(&self.core, &self.queued);
        Ok(())
    }

    /// Applies a command and, once it is durable, returns what `render` made of the result.
    pub async fn execute<T: Send + 'static>(
        &self,
        key_nonce: Option<(i64, u64)>,
        command: Command,
        render: impl FnOnce(&Exchange, &Applied) -> T + Send + 'static,
    ) -> Result<T, KrakenError> {
        self.execute_gated(key_nonce, command, |_, _, _| Ok(()), render).await
    }

    /// Like [`Sequencer::execute`], with a `gate` that runs on the engine thread just before the
    /// command, seeing the state and the time the command will carry (the trading limits live
    /// there). A gate's refusal is the answer; the command is then neither applied nor logged.
    pub async fn execute_gated<T: Send + 'static>(
        &self,
        key_nonce: Option<(i64, u64)>,
        command: Command,
        gate: impl FnOnce(&Exchange, &Command, u64) -> Result<(), KrakenError> + Send + 'static,
        render: impl FnOnce(&Exchange, &Applied) -> T + Send + 'static,
    ) -> Result<T, KrakenError> {
        let (tx, rx) = oneshot::channel();
        self.submit(Box::new(move |ex, records, now| {
            let env = Envelope { time_ns: now, key_nonce, command };
            let out = match gate(ex, &env.command, now).and_then(|_| ex.apply(&env)) {
                Ok(applied) => {
                    records.records.push(serde_json::to_vec(&env).expect("commands serialize"));
                    Ok(render(ex, &applied))
                }
                Err(e) => Err(e),
            };
            Box::new(move || {
                let _ = tx.send(out);
            })
        }))?;
        rx.await.map_err(|_| KrakenError::Unavailable)?
    }

    /// Runs `f` on the engine thread with a [`Driver`] that applies and logs commands; the answer
    /// comes once they are durable.
    pub async fn drive<T: Send + 'static>(&self, f: impl FnOnce(&mut Driver<'_>) -> T + Send + 'static) -> Result<T, KrakenError> {
        self.drive_queued(f)?.await.map_err(|_| KrakenError::Unavailable)
    }

    /// [`Sequencer::drive`] that queues the job at once and returns the receiver of its answer
    /// (several jobs can be queued in order and only the last one awaited).
    pub fn drive_queued<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Driver<'_>) -> T + Send + 'static,
    ) -> Result<oneshot::Receiver<T>, KrakenError> {
        let (tx, rx) = oneshot::channel();
        self.submit(Box::new(move |ex, pending, now| {
            let out = f(&mut Driver { ex, pending, now });
            Box::new(move || {
                let _ = tx.send(out);
            })
        }))?;
        Ok(rx)
    }

    /// Replaces the whole state and the whole command log (reset, snapshot restore): `exchange`
    /// must be the replay of `records`. Answers once the new log is durable.
    pub async fn replace_state(&self, exchange: Exchange, records: Vec<Vec<u8>>) -> Result<(), KrakenError> {
        let (tx, rx) = oneshot::channel();
        self.submit(Box::new(move |ex, pending, _now| {
            *ex = exchange;
            pending.records = records;
            pending.replace_log = true;
            Box::new(move || {
                let _ = tx.send(());
            })
        }))?;
        rx.await.map_err(|_| KrakenError::Unavailable)
    }

    /// Copies the whole database to `path` once everything queued before is durable.
    pub async fn snapshot(&self, path: std::path::PathBuf) -> Result<(), KrakenError> {
        let (tx, rx) = oneshot::channel();
        self.submit(Box::new(move |_ex, pending, _now| {
            pending.snapshots.push(path);
            Box::new(move || {
                let _ = tx.send(());
            })
        }))?;
        rx.await.map_err(|_| KrakenError::Unavailable)
    }

    /// Both threads are running and no commit failed: what the market view shows is still the
    /// exchange's state (once they stop, reads answer `EService:Unavailable` as writes do).
    pub fn serving(&self) -> bool {
        let st = &self.stats;
        st.engine_running.load(Ordering::Relaxed)
            && st.storage_running.load(Ordering::Relaxed)
            && !st.storage_failed.load(Ordering::Relaxed)
    }

    /// Reads the state, in order with the commands before it.
    pub async fn read<T: Send + 'static>(&self, f: impl FnOnce(&Exchange) -> T + Send + 'static) -> Result<T, KrakenError> {
        let (tx, rx) = oneshot::channel();
        self.submit(Box::new(move |ex, _records, _now| {
            let out = f(ex);
            Box::new(move || {
                let _ = tx.send(out);
            })
        }))?;
        rx.await.map_err(|_| KrakenError::Unavailable)
    }
}
