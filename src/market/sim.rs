//! The simulated traders: per pair a reference price that walks by itself (or follows an
//! imported series, see [`Replay`]), a market maker that keeps a ladder around it with one
//! `Requote` command, and takers that send plain market orders at a configured rate.
//!
//! A step is a pure function of the seed, the step number, the simulator's own small state
//! (index prices, when each pair was last re-quoted) and the exchange's state at that moment;
//! everything it does is an ordinary command applied and logged by the sequencer, so a restart
//! replays it and two runs with the same seed and the same user orders give the same market.
//! The simulator's accounts are ordinary accounts funded by deposits (ledger entries); they are
//! exempt from the call restrictions only because they do not come through the API.

use super::config::PairParams;
use crate::engine::history::HistoryParams;
use crate::engine::ladder::Requote;
use crate::engine::markets::PairIdx;
use crate::engine::order::{NewOrder, OrderKind, Side};
use crate::engine::walk::{self, FP, PPB};
use crate::engine::{Command, Exchange};
use crate::sequencer::Driver;
use serde::Serialize;

pub const MAKER: &str = "sim-maker";
pub const TAKER: &str = "sim-taker";
/// Funding per pair and per account, in multiples of a full ladder side's notional.
const FUNDING_LADDERS: i128 = 40;

/// An imported series that drives a pair's reference price: (time ns, price), played from
/// `from_step` at `speed` times real time, looping.
#[derive(Clone, Debug, Serialize)]
pub struct Replay {
    #[serde(skip)]
    pub series: Vec<(u64, u64)>,
    pub points: usize,
    pub from_step: u64,
    pub speed: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct PairState {
    /// The walked reference price, fixed point (price units × FP); 0 until first read.
    pub index_fp: i128,
    /// The pair's next step (each pair steps on its own, so that the engine takes one pair's
    /// work at a time and users' orders interleave).
    pub step: u64,
    /// The step and the best bid of the last re-quote.
    pub quoted_step: Option<u64>,
    pub quoted_bid: u64,
    pub replay: Option<Replay>,
}

/// What a step did, for `market show` and the tests.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct StepReport {
    pub requotes: u32,
    pub taker_orders: u32,
    pub refused: u32,
}

pub struct Simulator {
    pub seed: u64,
    pub step_ms: u64,
    pub params: Vec<PairParams>,
    pub pairs: Vec<PairState>,
    pub totals: StepReport,
}

impl Simulator {
    pub fn new(seed: u64, step_ms: u64, params: Vec<PairParams>) -> Simulator {
        let pairs = params.iter().map(|_| PairState::default()).collect();
        Simulator { seed, step_ms: step_ms.max(1), params, pairs, totals: StepReport::default() }
    }

    /// Forgets the walked prices and quotes (after a reset or a restore): the next step starts
    /// from the exchange's index prices.
    pub fn resync(&mut self) {
        for p in &mut self.pairs {
            p.index_fp = 0;
            p.quoted_step = None;
        }
    }

    /// First run on an exchange: the simulator's accounts, their funding and each pair's history
    /// (pairs that already traded keep theirs). Nothing when the accounts exist.
    pub fn genesis(&self, d: &mut Driver<'_>) -> Result<bool, String> {
        if d.state().account_by_name(MAKER).is_some() {
            return Ok(false);
        }
        let err = |e: crate::error::KrakenError| e.to_string();
        let mut ids = Vec::new();
        for name in [MAKER, TAKER] {
            match d.submit(Command::CreateAccount { name: name.into() }).map_err(err)? {
                crate::engine::Applied::AccountCreated(id) => ids.push(id),
                _ => return Err("account not created".into()),
            }
        }
        let markets = d.state().markets.clone();
        let mut quote_needed = vec![0i128; markets.assets.len()];
        for (i, pair) in markets.pairs.iter().enumerate() {
            let p = &self.params[i];
            let side = p.level_size * p.levels as i128 * FUNDING_LADDERS;
            let notional = crate::money::div_ceil(side * pair.reference_price as i128, pair.cost_divisor);
            quote_needed[pair.quote as usize] += notional;
            for id in &ids {
                d.submit(Command::Deposit { account: *id, asset: pair.base, amount: side }).map_err(err)?;
            }
            if !d.state().market_data[i].has_live_trades() {
                let params = HistoryParams {
                    seed: walk::rng(self.seed, &[i as u64, 0]).next_u64_pub(),
                    end_ns: d.now,
                    walk: p.walk,
                    trade_every_ms: p.trade_every_ms.min(u32::MAX as u64) as u32,
                    trade_size: p.trade_size,
                };
                if let Err(e) = d.submit(Command::History { pair: i as PairIdx, params }) {
                    tracing::warn!(pair = %pair.altname, error = %e, "no generated history for this pair");
                }
            }
        }
        for (asset, amount) in quote_needed.into_iter().enumerate().filter(|(_, a)| *a > 0) {
            for id in &ids {
                d.submit(Command::Deposit { account: *id, asset: asset as u16, amount }).map_err(err)?;
            }
        }
        Ok(true)
    }

    /// Steps completed by every pair.
    pub fn steps(&self) -> u64 {
        self.pairs.iter().map(|p| p.step).min().unwrap_or(0)
    }

    /// One step of every pair, in pair order.
    pub fn run_step(&mut self, d: &mut Driver<'_>) -> StepReport {
        let mut total = StepReport::default();
        for i in 0..self.params.len() {
            let r = self.step_pair(d, i);
            total.requotes += r.requotes;
            total.taker_orders += r.taker_orders;
            total.refused += r.refused;
        }
        total
    }

    /// One step of one pair: its reference price moves, its ladder is re-quoted when needed, and
    /// a taker may trade. Commands the engine refuses (a taker short of funds) are skipped.
    pub fn step_pair(&mut self, d: &mut Driver<'_>, i: usize) -> StepReport {
        let mut report = StepReport::default();
        let (Some(maker), Some(taker)) = (d.state().account_by_name(MAKER), d.state().account_by_name(TAKER)) else {
            return report;
        };
        let n = self.pairs[i].step;
        self.pairs[i].step += 1;
        {
            let p = self.params[i].clone();
            let ex = d.state();
            let pair = ex.markets.pair(i as PairIdx).clone();
            let mut r = walk::rng(self.seed, &[i as u64, n + 1]);
            let st = &mut self.pairs[i];
            if st.index_fp == 0 {
                st.index_fp = ex.index[i] as i128 * FP;
            }
            let reference = pair.reference_price as i128 * FP;
            st.index_fp = match &st.replay {
                Some(rp) => replay_price(rp, n, self.step_ms).map_or(st.index_fp, |p| p as i128 * FP),
                None => walk::apply(st.index_fp, walk::step_return(&mut r, &p.walk, self.step_ms, false), reference / 200, reference * 200),
            };
            let index = walk::to_ticks(st.index_fp, 1);
            let half = st.index_fp * p.spread_ppm as i128 / 2_000_000;
            let bid = ((st.index_fp - half) / FP) as u64 / pair.tick * pair.tick;
            let mut ask = crate::money::div_ceil(st.index_fp + half, FP) as u64;
            ask = ask.div_ceil(pair.tick) * pair.tick;
            if ask <= bid {
                ask = bid + pair.tick;
            }
            let step = ((st.index_fp * p.step_ppm as i128 / 1_000_000 / FP) as u64 / pair.tick * pair.tick).max(pair.tick);
            let (bids, asks) = ladder_counts(ex, maker, i as PairIdx);
            let whole = bids * 2 >= p.levels as usize && asks * 2 >= p.levels as usize;
            let since = st.quoted_step.map_or(u64::MAX, |s| (n - s) * self.step_ms);
            let moved = st.quoted_bid.abs_diff(bid) >= step;
            let due = st.quoted_step.is_none() || !whole || (moved && since >= p.requote_ms) || since >= 60_000;
            if due && bid > 0 {
                let q = Requote {
                    account: maker,
                    pair: i as PairIdx,
                    index,
                    bid,
                    ask,
                    step,
                    levels: p.levels,
                    size: p.level_size,
                    jitter_ppm: p.jitter_ppm,
                    seed: self.seed,
                };
                match d.submit(Command::Requote(q)) {
                    Ok(_) => {
                        report.requotes += 1;
                        let st = &mut self.pairs[i];
                        st.quoted_step = Some(n);
                        st.quoted_bid = bid;
                    }
                    Err(_) => report.refused += 1,
                }
            }
            // step / trade_every takers a step on average: the whole part, and one more with the
            // fraction's probability.
            let expected = self.step_ms as i128 * PPB / p.trade_every_ms.max(1) as i128;
            let takers = expected / PPB + i128::from(walk::uniform(&mut r, 0, PPB - 1) < expected % PPB);
            for _ in 0..takers.min(100) {
                let ex = d.state();
                let base = ex.accounts[maker as usize].funds[pair.base as usize].balance;
                let target = p.level_size * p.levels as i128 * FUNDING_LADDERS;
                // Takers lean towards bringing the maker's inventory back to its funding.
                let lean = ((base - target) * 300_000 / target.max(1)).clamp(-300_000, 300_000);
                let side = if walk::uniform(&mut r, 0, 999_999) < 500_000 + lean { Side::Buy } else { Side::Sell };
                let lot = pair.lot_step();
                let min_volume = crate::money::div_ceil(pair.ordermin.max(1), lot) * lot;
                let volume = (p.trade_size * walk::uniform(&mut r, 200, 1800) / 1000 / lot * lot).max(min_volume);
                let mut order = NewOrder::limit(taker, i as PairIdx, side, 0, volume);
                order.kind = OrderKind::Market;
                match d.submit(Command::PlaceOrder(order)) {
                    Ok(_) => report.taker_orders += 1,
                    Err(_) => report.refused += 1,
                }
            }
        }
        self.totals.requotes += report.requotes;
        self.totals.taker_orders += report.taker_orders;
        self.totals.refused += report.refused;
        report
    }
}

/// The maker's open orders on a pair: (bids, asks).
fn ladder_counts(ex: &Exchange, maker: u32, pair: PairIdx) -> (usize, usize) {
    let mut out = (0, 0);
    for s in &ex.accounts[maker as usize].open_orders {
        let o = &ex.orders[*s as usize];
        if o.req.pair == pair {
            match o.req.side {
                Side::Buy => out.0 += 1,
                Side::Sell => out.1 += 1,
            }
        }
    }
    out
}

/// The series' price at step `n` of a replay (the last point at or before the replayed time).
pub fn replay_price(rp: &Replay, n: u64, step_ms: u64) -> Option<u64> {
    let (first, last) = (rp.series.first()?.0, rp.series.last()?.0);
    let length = (last - first).max(1);
    let elapsed_ns = n.saturating_sub(rp.from_step) * step_ms * 1_000_000 * rp.speed.max(1);
    let at = first + elapsed_ns % (length + 1);
    let i = rp.series.partition_point(|(t, _)| *t <= at);
    rp.series.get(i.saturating_sub(1)).map(|(_, p)| *p)
}

/// A helper so the seed of a pair's history is drawn the same way everywhere.
trait NextU64 {
    fn next_u64_pub(self) -> u64;
}

impl NextU64 for rand_chacha::ChaCha8Rng {
    fn next_u64_pub(mut self) -> u64 {
        rand::RngCore::next_u64(&mut self)
    }
}
