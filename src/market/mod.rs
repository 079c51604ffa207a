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

/// Most steps one engine job runs when the timer fell behind (accelerated runs).
const MAX_STEPS_PER_JOB: u64 = 200;

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

    /// Runs up to `steps` steps in one engine job (genesis first if the exchange has no
    /// simulator accounts yet); the report sums them.
    pub async fn run(self: &Arc<Self>, state: &Shared, steps: u64) -> Result<StepReport, String> {
        let me = self.clone();
        state
            .sequencer
            .drive(move |d| {
                let mut sim = me.sim();
                if sim.genesis(d)? {
                    tracing::info!("market: simulator accounts funded and history generated");
                }
                let mut total = StepReport::default();
                for _ in 0..steps {
                    let r = sim.run_step(d);
                    total.requotes += r.requotes;
                    total.taker_orders += r.taker_orders;
                    total.refused += r.refused;
                }
                me.steps.fetch_add(steps, Ordering::Relaxed);
                Ok(total)
            })
            .await
            .map_err(|e| e.to_string())?
    }
}

/// The timer: one step every `step_ms / speed` of wall time while enabled, catching up in
/// bigger jobs when the engine was busy.
pub fn spawn(state: Shared, market: Arc<Market>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let step_ms = market.sim().step_ms;
        let period = Duration::from_micros((step_ms * 1000 / market.speed).max(200));
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut origin = Instant::now();
        let mut done = 0u64;
        loop {
            tick.tick().await;
            if !market.enabled() {
                origin = Instant::now();
                done = 0;
                continue;
            }
            let due = (origin.elapsed().as_micros() as u64 / period.as_micros().max(1) as u64 + 1).saturating_sub(done);
            let n = due.clamp(1, MAX_STEPS_PER_JOB);
            match market.run(&state, n).await {
                Ok(_) => done += n,
                Err(e) => {
                    tracing::warn!(error = %e, "market step failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    })
}
