//! The single writer. One thread owns the [`Exchange`]: it takes jobs from a queue, stamps each
//! command with the time, applies it, and collects the applied commands of a batch; a second
//! thread makes each batch durable in one storage transaction (group commit) and only then
//! releases the batch's replies. Reads go through the same queue, so no reply, not even a read,
//! shows a state that is not yet durable. If storage fails, the process stops: a command whose
//! reply was never sent was never acknowledged.

use crate::engine::{Applied, Command, Envelope, Exchange};
use crate::error::KrakenError;
use crate::storage::CommandLog;
use crossbeam_channel::{Receiver, Sender};
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::oneshot;

/// A reply held back until the batch it belongs to is durable.
type Deferred = Box<dyn FnOnce() + Send>;
/// A unit of work for the engine thread: given the exchange, the batch's log records and the
/// time, it does its work and returns the deferred reply.
type Job = Box<dyn FnOnce(&mut Exchange, &mut Vec<Vec<u8>>, u64) -> Deferred + Send>;

struct Batch {
    records: Vec<Vec<u8>>,
    replies: Vec<Deferred>,
}

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
}

/// Clears a running flag when its thread ends, by return or by panic.
struct RunningFlag<'a>(&'a AtomicBool);

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
        }
    }
}

/// A cheap, cloneable handle to the engine thread.
#[derive(Clone)]
pub struct Sequencer {
    jobs: Sender<Job>,
    pub stats: Arc<SequencerStats>,
}

fn wall_clock_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

impl Sequencer {
    /// Starts the engine and storage threads. `exchange` must already hold the replayed state.
    pub fn start(exchange: Exchange, log: Box<dyn CommandLog>, max_batch: usize) -> Sequencer {
        let (job_tx, job_rx) = crossbeam_channel::bounded::<Job>(65_536);
        let (batch_tx, batch_rx) = crossbeam_channel::bounded::<Batch>(1024);
        let stats = Arc::new(SequencerStats::default());
        let s2 = stats.clone();
        std::thread::Builder::new()
            .name("engine".into())
            .spawn(move || engine_loop(exchange, job_rx, batch_tx, max_batch.max(1), s2))
            .expect("spawn engine thread");
        let s3 = stats.clone();
        std::thread::Builder::new().name("storage".into()).spawn(move || storage_loop(log, batch_rx, s3)).expect("spawn storage thread");
        Sequencer { jobs: job_tx, stats }
    }

    fn submit(&self, job: Job) -> Result<(), KrakenError> {
        self.stats.queue_depth.fetch_add(1, Ordering::Relaxed);
        self.jobs.try_send(job).map_err(|_| {
            // Full or disconnected: the job never entered the queue.
            self.stats.queue_depth.fetch_sub(1, Ordering::Relaxed);
            KrakenError::Unavailable
        })
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
                    records.push(serde_json::to_vec(&env).expect("commands serialize"));
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

fn engine_loop(mut ex: Exchange, jobs: Receiver<Job>, batches: Sender<Batch>, max_batch: usize, stats: Arc<SequencerStats>) {
    let _running = RunningFlag(&stats.engine_running);
    let mut last = 0u64;
    while let Ok(first) = jobs.recv() {
        let mut batch = Batch { records: Vec::new(), replies: Vec::new() };
        let mut job = Some(first);
        let mut n = 0;
        while let Some(j) = job {
            let now = wall_clock_ns().max(last);
            last = now;
            batch.replies.push(j(&mut ex, &mut batch.records, now));
            n += 1;
            job = if n < max_batch { jobs.try_recv().ok() } else { None };
        }
        stats.queue_depth.fetch_sub(n, Ordering::Relaxed);
        if batches.send(batch).is_err() {
            return;
        }
    }
}

fn storage_loop(mut log: Box<dyn CommandLog>, batches: Receiver<Batch>, stats: Arc<SequencerStats>) {
    let _running = RunningFlag(&stats.storage_running);
    while let Ok(first) = batches.recv() {
        let mut records = first.records;
        let mut replies = first.replies;
        // Group commit: whatever queued up while the last commit was syncing goes in this one.
        while let Ok(more) = batches.try_recv() {
            records.extend(more.records);
            replies.extend(more.replies);
            if records.len() >= 8192 {
                break;
            }
        }
        if !records.is_empty() {
            let started = std::time::Instant::now();
            if let Err(e) = log.append(&records) {
                tracing::error!(error = %e, "storage failed; stopping so that nothing unsaved is acknowledged");
                std::process::abort();
            }
            stats.commits.fetch_add(1, Ordering::Relaxed);
            stats.committed_commands.fetch_add(records.len() as u64, Ordering::Relaxed);
            stats.commit_seconds.observe(started.elapsed().as_secs_f64());
            stats.commit_records.observe(records.len() as f64);
        }
        for reply in replies {
            reply();
        }
    }
}
