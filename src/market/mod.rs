//! A live market on a fresh exchange: moving reference prices, market makers' ladders, takers
//! that print trades, and a history before the first second. It lives outside the engine and
//! acts on it only as a client does, through the sequencer: every command it sends is applied,
//! logged and replayed like a user's (see [`sim`] for what it sends and why that is
//! deterministic). `--market off` (or `[market] enabled = false`) keeps a quiet exchange.
//!
//! - [`config`]: the `[market]` settings and their integer form per pair;
//! - [`sim`]: the simulated traders, one step at a time;
//! - [`csv`]: Kraken's downloadable OHLCVT and time-and-sales files, for `calamari import`;
//! - this module: the task that runs steps on a timer (faster with `speed`), and the switch.

pub mod config;
pub mod csv;
pub mod sim;

use crate::api::Shared;
use sim::{Simulator, StepReport};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The running market: the simulator and its switch.
pub struct Market {
    sim: Mutex<Simulator>,
    enabled: AtomicBool,
    pub speed: u64,
    pub steps: AtomicU64,
}

/// Most pair-steps queued at one tick (accelerated runs catch up in bigger jobs).
const MAX_PAIR_STEPS_PER_TICK: u64 = 3000;

impl Market {
    pub fn new(sim: Simulator, enabled: bool, speed: u64) -> Market {
        Market { sim: Mutex::new(sim), enabled: AtomicBool::new(enabled), speed: speed.max(1), steps: AtomicU64::new(0) }
    }

    pub fn sim(&self) -> MutexGuard<'_, Simulator> {
        self.sim.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::SeqCst)
    }

    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::SeqCst);
    }

    /// Queues one engine job that runs `steps` steps of pair `i` (after the genesis, if the
    /// exchange has no simulator accounts yet). One pair per job keeps each job short, so users'
    /// orders wait for at most one pair's work.
    fn queue_pair(
        self: &Arc<Self>,
        state: &Shared,
        i: usize,
        steps: u64,
    ) -> Result<tokio::sync::oneshot::Receiver<Result<StepReport, String>>, String> {
        let me = self.clone();
        state
            .sequencer
            .drive_queued(move |d| {
                let mut sim = me.sim();
                if sim.genesis(d)? {
                    tracing::info!("market: simulator accounts funded and history generated");
                }
                let mut total = StepReport::default();
                for _ in 0..steps {
                    let r = sim.step_pair(d, i);
                    total.requotes += r.requotes;
                    total.taker_orders += r.taker_orders;
                    total.refused += r.refused;
                }
                me.steps.fetch_add(steps, Ordering::Relaxed);
                Ok(total)
            })
            .map_err(|e| e.to_string())
    }

    /// Runs `steps` steps of every pair now (one job per pair) and waits until they are durable.
    pub async fn run(self: &Arc<Self>, state: &Shared, steps: u64) -> Result<(), String> {
        let pairs = self.sim().params.len();
        let mut last = None;
        for i in 0..pairs {
            last = Some(self.queue_pair(state, i, steps)?);
        }
        match last {
            Some(rx) => rx.await.map_err(|e| e.to_string())?.map(|_| ()),
            None => Ok(()),
        }
    }
}

/// The timer: pairs take turns, one pair-step every `step_ms / speed / pairs` of wall time while
/// enabled (so each pair steps every `step_ms / speed`), spread over the period rather than in
/// one burst; when the engine was busy the due steps run in bigger jobs.
pub fn spawn(state: Shared, market: Arc<Market>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let (step_ms, pairs) = {
            let sim = market.sim();
            (sim.step_ms, sim.params.len().max(1) as u64)
        };
        // One pair-step every `period_ns`; the timer ticks at least every 200 µs and runs what
        // is due (several pair-steps a tick when `speed` asks for more).
        let period_ns = (step_ms * 1_000_000 / market.speed / pairs).max(1);
        let mut tick = tokio::time::interval(Duration::from_nanos(period_ns.max(200_000)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut origin = Instant::now();
        let mut done = 0u64;
        let mut cursor = 0u64;
        loop {
            tick.tick().await;
            if !market.enabled() {
                origin = Instant::now();
                done = 0;
                continue;
            }
            let due = (origin.elapsed().as_nanos() as u64 / period_ns + 1).saturating_sub(done).clamp(1, MAX_PAIR_STEPS_PER_TICK);
            // Pair-steps cursor..cursor+due, grouped per pair in turn order.
            let mut counts = vec![0u64; pairs as usize];
            let mut order = Vec::new();
            for k in cursor..cursor + due {
                let i = (k % pairs) as usize;
                if counts[i] == 0 {
                    order.push(i);
                }
                counts[i] += 1;
            }
            let mut last = None;
            let mut failed = None;
            for i in order {
                match market.queue_pair(&state, i, counts[i]) {
                    Ok(rx) => last = Some(rx),
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            let outcome = match (failed, last) {
                (Some(e), _) => Err(e),
                (None, Some(rx)) => rx.await.map_err(|e| e.to_string()).and_then(|r| r.map(|_| ())),
                (None, None) => Ok(()),
            };
            match outcome {
                Ok(()) => {
                    done += due;
                    cursor += due;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "market step failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    })
}
