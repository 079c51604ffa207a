//! The publisher's REST half: each pair's committed public state (stamped book levels, a day of
//! trades, every kept candle, the recent spreads) and the market states, kept from the same
//! captures as the WebSocket feeds, so that the public REST reads (Ticker, Depth, Trades, Spread,
//! OHLC, SystemStatus, AssetPairs) never queue behind the engine and the last commit.
//!
//! The storage thread applies each committed batch here itself, after the batch is durable and
//! before it releases the batch's replies: a read that starts after an acknowledged order sees it,
//! and no read sees anything not yet durable. A read takes one pair's read lock for a copy or a
//! short computation; the writer (storage) holds a pair's write lock only to splice a capture in.
//! What the view does not keep (a Trades `since` older than its tape, a Ticker window reaching
//! trades it never copied) is answered by the engine, through its queue, as before (with
//! history.db for a `since` older than the engine's bounded tape too: `api::public`). The view
//! keeps the engine's bound (the markets' `TapeBound`).
//!
//! Each pair also keeps its last rendered answers by query shape (Depth of a count, Trades
//! without `since`, Spread, OHLC of an interval within one period): a public read of an unchanged
//! pair is a copy of text, not a rendering of 8–80 KB (BENCHMARKS.md §6). The cache is emptied
//! under the pair's write lock by every capture applied to the pair, and filled under its read
//! lock, so it never outlives the state it was rendered from.

use super::capture::{MarketBatch, PairCapture};
use super::day_window::DayWindow;
use crate::engine::market_data::{Candle, MarketData, TapeBound, WindowStats, DAY_NS, MAX_CANDLES};
use crate::engine::status::MarketStates;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

/// What a kept answer answers: the query's shape, with the part of `now` the answer depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Depth {
        count: usize,
    },
    /// Trades without `since` (a `since` is a client's own cursor: not kept).
    Trades {
        count: usize,
    },
    /// Spread's `last` without entries is the current second.
    Spread {
        since: Option<u64>,
        second: u64,
    },
    /// OHLC's live candle and `last` depend on the current period of the interval.
    Ohlc {
        interval: usize,
        since: u64,
        period: u64,
    },
}

/// Answers kept per pair: a few, the newest first (a handful of query shapes is what clients
/// poll; the bound keeps a client cycling through every count from filling memory).
const KEPT_ANSWERS: usize = 8;

/// One pair's public state as REST shows it.
pub struct PairView {
    /// Best first, at most 1000 a side: (price ticks, volume units, last change ns).
    pub bids: Vec<(u64, i128, u64)>,
    pub asks: Vec<(u64, i128, u64)>,
    /// The tape (a suffix of the engine's: what the markets' `TapeBound` keeps, at least the
    /// last 1000 trades and every trade of the last 25 h), the candles, the last 200 spreads, the last and the configured open price.
    pub md: MarketData,
    /// Every trade of the engine's tape that is not in `md.trades` is at or before this time.
    pub omitted_until: Option<u64>,
    /// Rendered answers of this state, by shape (emptied by `apply`).
    kept: Mutex<Vec<(Shape, Arc<str>)>>,
    /// The Ticker's windows over `md.trades` (today, the last 24 h), moved on by the readings
    /// (under the read lock, hence the mutex).
    windows: Mutex<[DayWindow; 2]>,
}

impl PairView {
    fn empty() -> PairView {
        PairView {
            bids: Vec::new(),
            asks: Vec::new(),
            md: MarketData::new(0, 0),
            omitted_until: None,
            kept: Mutex::new(Vec::new()),
            windows: Mutex::new(Default::default()),
        }
    }

    /// The answer of `shape` rendered from this state: the kept one, or `render`'s, then kept.
    /// Called under the pair's read lock, so no capture can be applied meanwhile.
    pub fn cached(&self, shape: Shape, render: impl FnOnce(&PairView) -> String) -> Arc<str> {
        let lock = || self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, text)) = lock().iter().find(|(s, _)| *s == shape) {
            return text.clone();
        }
        // Rendered outside the cache's lock: readers of other shapes do not wait for it.
        let text: Arc<str> = render(self).into();
        let mut list = lock();
        if !list.iter().any(|(s, _)| *s == shape) {
            list.insert(0, (shape, text.clone()));
            list.truncate(KEPT_ANSWERS);
        }
        drop(list);
        text
    }

    /// How many answers are kept (tests).
    pub fn kept_answers(&self) -> usize {
        self.kept.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The Ticker's figures at `now` (unix ns): since 00:00 UTC and over the last 24 h.
    pub fn ticker_windows(&self, now: u64) -> (WindowStats, WindowStats) {
        let mut w = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let (tape, last) = (&self.md.trades, self.md.last_price);
        let [today, day] = &mut *w;
        (today.at(tape, now / DAY_NS * DAY_NS, last), day.at(tape, now.saturating_sub(DAY_NS), last))
    }

    /// Whether the tape holds every trade after `time_ns` (so a window or a `since` from there is exact).
    pub fn covers(&self, time_ns: u64) -> bool {
        self.omitted_until.is_none_or(|o| o <= time_ns)
    }

    fn apply(&mut self, cap: &PairCapture, wall_ns: u64, keep: TapeBound) {
        self.kept.get_mut().unwrap_or_else(|e| e.into_inner()).clear();
        self.bids.clone_from(&cap.bids);
        self.asks.clone_from(&cap.asks);
        let md = &mut self.md;
        if cap.full {
            *self.windows.get_mut().unwrap_or_else(|e| e.into_inner()) = Default::default();
            md.trades = cap.trades.clone();
            md.candles = cap.candles.iter().map(|l| l.iter().cloned().collect()).collect();
            self.omitted_until = cap.omitted_until;
        } else {
            md.trades.extend(cap.trades.iter().cloned());
            for (list, new) in md.candles.iter_mut().zip(&cap.candles) {
                for c in new {
                    merge_candle(list, c);
                }
            }
        }
        if let Some(s) = &cap.spreads {
            md.spreads = s.iter().copied().collect();
        }
        md.last_price = cap.stats.last;
        md.open_price = cap.open_price;
        // Drop what no read needs any more, in steps of a quarter of the tape (amortized O(1)).
        let cutoff = cap.time_ns.min(wall_ns).saturating_sub(keep.span_ns);
        let old = md.trades.partition_point(|t| t.time_ns < cutoff).min(md.trades.len().saturating_sub(keep.trades));
        if old > 0 && old >= md.trades.len() / 4 {
            let until = md.trades[old - 1].time_ns;
            self.omitted_until = Some(self.omitted_until.map_or(until, |o| o.max(until)));
            md.trades.drain(..old);
            for w in self.windows.get_mut().unwrap_or_else(|e| e.into_inner()) {
                w.drained(old);
            }
        }
    }
}

/// A captured candle into a kept list: the same period replaced, a newer one appended.
fn merge_candle(list: &mut std::collections::VecDeque<Candle>, c: &Candle) {
    if let Some(slot) = list.iter_mut().rev().find(|k| k.time == c.time) {
        *slot = c.clone();
    } else if list.back().is_none_or(|b| b.time < c.time) {
        list.push_back(c.clone());
        if list.len() > MAX_CANDLES {
            list.pop_front();
        }
    }
}

/// Every pair's view and the market states; ready once the first full capture arrived.
pub struct MarketView {
    ready: AtomicBool,
    pairs: Vec<RwLock<PairView>>,
    states: RwLock<MarketStates>,
    /// The tape's bound (the engine's: the view holds no more than a full capture copies).
    keep: TapeBound,
}

impl MarketView {
    pub fn new(pairs: usize, keep: TapeBound) -> MarketView {
        MarketView {
            keep,
            ready: AtomicBool::new(false),
            pairs: (0..pairs).map(|_| RwLock::new(PairView::empty())).collect(),
            states: RwLock::new(MarketStates::new(pairs)),
        }
    }

    /// Whether the view holds the committed state (false until the publisher is attached and its
    /// first full capture committed: reads go to the engine until then).
    pub fn ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// A committed batch's captures, in order (the storage thread, before releasing replies).
    pub fn apply(&self, batch: &MarketBatch) {
        let wall = crate::api::public::now_ns();
        if let Some(s) = &batch.states {
            *self.states.write().unwrap_or_else(|e| e.into_inner()) = s.clone();
        }
        let mut full = 0;
        for cap in &batch.pairs {
            if let Some(lock) = self.pairs.get(cap.pair as usize) {
                lock.write().unwrap_or_else(|e| e.into_inner()).apply(cap, wall, self.keep);
                full += cap.full as usize;
            }
        }
        if full == self.pairs.len() && batch.states.is_some() {
            self.ready.store(true, Ordering::Release);
        }
    }

    /// One pair's view, read-locked (keep the guard short).
    pub fn pair(&self, idx: usize) -> RwLockReadGuard<'_, PairView> {
        self.pairs[idx].read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn states(&self) -> MarketStates {
        self.states.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
