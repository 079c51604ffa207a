//! Market history before the first second: generated from a seed (so a fresh exchange already
//! has OHLC for every interval and a day of public trades), or imported from Kraken's CSV files.
//! Either way it is one logged command per pair, not millions: the generation is a pure,
//! integer-only function of the command's fields, so a replay regenerates the same history.
//!
//! Generation works on "atoms" of several resolutions, newest first and finest first:
//! - the last 24 hours (from a 5-minute boundary) are individual trades, at least one a minute,
//!   on a random walk bridged from the pair's open price (reference / (1 + 24 h change)) to its
//!   reference price, so the board's 24 h change holds and the last trade is the reference;
//! - older periods are candles of 5, 15, 30, 60, 240 minutes and then one day, each band long
//!   enough for 720 candles of its interval and aligned to the next band's size.
//!
//! Every interval's candles are then aggregated from the same atoms, so the 60-minute candles are
//! exactly the aggregation of the 1-minute ones where both exist, the daily candle of today opens
//! at today's first trade (Ticker's `o`), and the weekly and 15-day candles reach 720 back.

use super::market_data::{Candle, PublicTrade, INTERVALS, MAX_CANDLES, NS};
use super::markets::Pair;
use super::order::{OrderKind, Side};
use super::walk::{self, WalkParams, FP};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// What a generated history depends on (logged in the command, so config changes later do not
/// change a replay).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryParams {
    pub seed: u64,
    /// The history ends here (the market's first start), nanoseconds.
    pub end_ns: u64,
    pub walk: WalkParams,
    /// Mean time between trades, milliseconds.
    pub trade_every_ms: u32,
    /// Mean trade volume, base minimal units.
    pub trade_size: i128,
}

/// Imported rows, as Kraken's downloadable CSV files have them (already in integers).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImportRows {
    /// Time and sales: (time ns, price units, volume units).
    Trades(Vec<(u64, u64, i128)>),
    /// OHLCVT of one interval (minutes): (time s, open, high, low, close, volume, count).
    Candles { interval: u32, rows: Vec<(u64, u64, u64, u64, u64, i128, u64)> },
}

/// Atom sizes (seconds) of the bands after the trades.
const BANDS: [u64; 6] = [300, 900, 1800, 3600, 14_400, 86_400];
const FIFTEEN_DAYS: u64 = 1_296_000;
const WEEK: u64 = 604_800;

fn floor_to(t: u64, step: u64) -> u64 {
    t / step * step
}

/// A pair's generated history: the public trades (ids from 1) and the candles of every interval.
pub fn generate(pair: &Pair, pair_idx: u16, p: &HistoryParams) -> (Vec<PublicTrade>, Vec<VecDeque<Candle>>) {
    let end_s = p.end_ns / NS;
    let lot = pair.lot_step();
    let reference = pair.reference_price as i128 * FP;
    let (lo, hi) = ((reference / 200).max(pair.tick as i128 * FP), reference * 200);
    let per_minute = (60_000 / p.trade_every_ms.max(1) as i128).max(1);
    let min_volume = crate::money::div_ceil(pair.ordermin.max(1), lot) * lot;
    let size = |r: &mut rand_chacha::ChaCha8Rng| (p.trade_size * walk::uniform(r, 200, 1800) / 1000 / lot * lot).max(min_volume);

    // The trades of the last 24 hours: a free walk from the open price, bridged to the reference.
    let start = floor_to(end_s.saturating_sub(86_400), 300);
    let mut r = walk::rng(p.seed, &[pair_idx as u64, 1]);
    let mut times = Vec::new();
    let mut minute = start;
    while minute * NS < p.end_ns {
        let span = (p.end_ns - minute * NS).min(60 * NS);
        let n = walk::uniform(&mut r, (per_minute / 2).max(1), per_minute * 3 / 2);
        let mut ts: Vec<u64> = (0..n).map(|_| minute * NS + walk::uniform(&mut r, 0, span as i128 - 1) as u64).collect();
        ts.sort_unstable();
        times.extend(ts);
        minute += 60;
    }
    let mut fp = pair.open_price as i128 * FP;
    let mut free = Vec::with_capacity(times.len());
    let mut prev = start * NS;
    for t in &times {
        let ret = walk::step_return(&mut r, &p.walk, (t - prev) / 1_000_000, false);
        fp = walk::apply(fp, ret, lo, hi);
        free.push(fp);
        prev = *t;
    }
    let last_free = *free.last().unwrap_or(&fp);
    let ratio = reference * walk::PPB / last_free.max(1);
    let span = (p.end_ns - start * NS).max(1) as i128;
    let mut trades = Vec::with_capacity(times.len());
    for (i, (t, w)) in times.iter().zip(&free).enumerate() {
        let frac = (*t - start * NS) as i128;
        let corrected = w * (walk::PPB + (ratio - walk::PPB) * frac / span) / walk::PPB;
        let price = if i + 1 == times.len() { pair.reference_price } else { walk::to_ticks(corrected, pair.tick) };
        let taker_side = if walk::uniform(&mut r, 0, 1) == 0 { Side::Buy } else { Side::Sell };
        let taker_kind = if walk::uniform(&mut r, 0, 4) == 0 { OrderKind::Limit } else { OrderKind::Market };
        trades.push(PublicTrade { price, volume: size(&mut r), time_ns: *t, taker_side, taker_kind, trade_id: i as u64 + 1 });
    }

    // Older bands, walking back from the first trade's price.
    let mut atoms: Vec<Candle> = Vec::new();
    let mut band_end = start;
    let mut close = trades.first().map_or(pair.open_price, |t| t.price) as i128 * FP;
    let mut r = walk::rng(p.seed, &[pair_idx as u64, 2]);
    for (k, atom) in BANDS.iter().enumerate() {
        let band_start = if k + 1 < BANDS.len() {
            band_end.min(floor_to(end_s.saturating_sub(720 * atom), BANDS[k + 1]))
        } else {
            let fifteen = floor_to(end_s, FIFTEEN_DAYS).saturating_sub(719 * FIFTEEN_DAYS);
            let weeks = floor_to(end_s, WEEK).saturating_sub(719 * WEEK);
            band_end.min(fifteen).min(weeks)
        };
        let expected = (*atom as i128 * 1000 / p.trade_every_ms.max(1) as i128).max(1);
        let atom_sd = p.walk.vol_ppm as i128 * 1000 * ((*atom as u128 * 1_000_000_000_000 / 86_400).isqrt() as i128) / 1_000_000;
        let mut t = band_end;
        while t > band_start && t >= *atom {
            t -= atom;
            let open = walk::apply(close, walk::step_return(&mut r, &p.walk, atom * 1000, true), lo, hi);
            let (o, c) = (walk::to_ticks(open, pair.tick), walk::to_ticks(close, pair.tick));
            let up = walk::gauss(&mut r, atom_sd / 3).abs();
            let down = walk::gauss(&mut r, atom_sd / 3).abs();
            let high = walk::to_ticks(o.max(c) as i128 * FP * (walk::PPB + up) / walk::PPB, pair.tick);
            let low = walk::to_ticks(o.min(c) as i128 * FP * (walk::PPB - down.min(walk::PPB / 2)) / walk::PPB, pair.tick).min(o.min(c));
            let count = (expected * walk::uniform(&mut r, 500, 1500) / 1000).max(1);
            let volume = (p.trade_size * count * walk::uniform(&mut r, 700, 1300) / 1000 / lot * lot).max(lot);
            let typical = (o as i128 + high as i128 + low as i128 + c as i128) / 4;
            atoms.push(Candle { time: t, open: o, high, low, close: c, value: typical * volume, volume, count: count as u64 });
            close = open;
        }
        band_end = t;
    }
    atoms.reverse();
    let trade_atoms = trades.iter().map(|t| Candle::of_trade(t.time_ns / NS, t.price, t.volume));
    let all: Vec<Candle> = atoms.into_iter().chain(trade_atoms).collect();
    let candles = INTERVALS.iter().map(|m| aggregate(&all, m * 60, end_s)).collect();
    (trades, candles)
}

/// The newest 720 candles of one interval (seconds) built from atoms in time order, each atom
/// inside one candle.
pub fn aggregate(atoms: &[Candle], span: u64, end_s: u64) -> VecDeque<Candle> {
    let first = floor_to(end_s, span).saturating_sub((MAX_CANDLES as u64 - 1) * span);
    let mut out: VecDeque<Candle> = VecDeque::new();
    for a in atoms.iter().filter(|a| a.time >= first) {
        let start = floor_to(a.time, span);
        match out.back_mut() {
            Some(c) if c.time == start => {
                c.high = c.high.max(a.high);
                c.low = c.low.min(a.low);
                c.close = a.close;
                c.value += a.value;
                c.volume += a.volume;
                c.count += a.count;
            }
            _ => out.push_back(Candle { time: start, ..a.clone() }),
        }
    }
    while out.len() > MAX_CANDLES {
        out.pop_front();
    }
    out
}

/// Checks imported rows before anything changes: not empty, in time order, positive bounded
/// prices and volumes, each candle's low ≤ open, close ≤ high, a Kraken interval, aligned times.
pub fn check_import(rows: &ImportRows) -> Result<(), crate::error::KrakenError> {
    use crate::engine::{MAX_PRICE, MAX_VOLUME};
    let bad = || crate::error::KrakenError::invalid("rows");
    let price_ok = |p: u64| p > 0 && p <= MAX_PRICE;
    let volume_ok = |v: i128| v > 0 && v <= MAX_VOLUME;
    match rows {
        ImportRows::Trades(list) => {
            let ordered = list.windows(2).all(|w| w[0].0 <= w[1].0);
            if list.is_empty() || !ordered || !list.iter().all(|(_, p, v)| price_ok(*p) && volume_ok(*v)) {
                return Err(bad());
            }
        }
        ImportRows::Candles { interval, rows } => {
            let span = *interval as u64 * 60;
            let ordered = rows.windows(2).all(|w| w[0].0 < w[1].0);
            let each = rows.iter().all(|(t, o, h, l, c, v, _)| {
                t % span == 0
                    && [o, h, l, c].iter().all(|p| price_ok(**p))
                    && l <= o
                    && l <= c
                    && o <= h
                    && c <= h
                    && *v >= 0
                    && *v <= MAX_VOLUME
            });
            if rows.is_empty() || !INTERVALS.contains(&(*interval as u64)) || !ordered || !each {
                return Err(bad());
            }
        }
    }
    Ok(())
}

/// Trades and candles from imported rows; `None` for the candles of intervals a candle file
/// does not determine (finer than its own, or not a multiple of it).
pub fn from_import(rows: &ImportRows) -> (Option<Vec<PublicTrade>>, Vec<Option<VecDeque<Candle>>>) {
    match rows {
        ImportRows::Trades(list) => {
            let trades: Vec<PublicTrade> = list
                .iter()
                .enumerate()
                .map(|(i, (t, price, volume))| PublicTrade {
                    price: *price,
                    volume: *volume,
                    time_ns: *t,
                    // Kraken's time-and-sales files carry no side; call them buys at market.
                    taker_side: Side::Buy,
                    taker_kind: OrderKind::Market,
                    trade_id: i as u64 + 1,
                })
                .collect();
            let end = trades.last().map_or(0, |t| t.time_ns / NS);
            let atoms: Vec<Candle> = trades.iter().map(|t| Candle::of_trade(t.time_ns / NS, t.price, t.volume)).collect();
            let candles = INTERVALS.iter().map(|m| Some(aggregate(&atoms, m * 60, end))).collect();
            (Some(trades), candles)
        }
        ImportRows::Candles { interval, rows } => {
            let span = *interval as u64 * 60;
            let atoms: Vec<Candle> = rows
                .iter()
                .map(|(t, o, h, l, c, v, n)| {
                    let typical = (*o as i128 + *h as i128 + *l as i128 + *c as i128) / 4;
                    Candle { time: *t, open: *o, high: *h, low: *l, close: *c, value: typical * v, volume: *v, count: *n }
                })
                .collect();
            let end = atoms.last().map_or(0, |a| a.time);
            let candles = INTERVALS
                .iter()
                .map(|m| {
                    let s = m * 60;
                    (s >= span && s % span == 0).then(|| aggregate(&atoms, s, end))
                })
                .collect();
            (None, candles)
        }
    }
}
