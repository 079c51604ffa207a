//! Public market data kept per pair: the public trade tape, OHLC candles for Kraken's nine
//! intervals, the spread history and the statistics the Ticker reports. All of it is derived
//! from fills and book changes the engine reports here; nothing reads a clock.
//!
//! The tape is bounded ([`TapeBound`]): a recorded trade drops, in chunks of at least a quarter
//! of the tape (amortized O(1) a trade), the trades older than its own time minus the bound's span
//! beyond the bound's last `trades`. What every reader of the tape needs stays: the Ticker's
//! today and 24 h windows and `today_open` (the span is 25 h, a day and an hour spare), Trades
//! without `since` and the publisher's full capture (at least the last 1000), the publisher's
//! incremental capture (it runs after every batch; a batch would have to hold more than the bound's
//! trades across more than its span to outrun it, and `ws::capture` turns such a gap into a full
//! capture). The command time is the only clock: replay and checkpoint + tail drop the same
//! trades. A dropped trade is counted (`dropped`, `dropped_until`): what is no longer here is
//! read from history.db's trades table (`api::public`), except a generated or imported history's
//! trades, which were never there (ARCHITECTURE.md, "The public tape is bounded"). The tape's
//! vector grows by halves, not doubled, so its allocation stays nearer what it holds
//! (BENCHMARKS.md §8).

use super::order::{OrderKind, Side};
use std::collections::VecDeque;

/// Kraken's OHLC intervals, in minutes.
pub const INTERVALS: [u64; 9] = [1, 5, 15, 30, 60, 240, 1440, 10080, 21600];
/// Candles kept per interval (Kraken serves the 720 most recent).
pub const MAX_CANDLES: usize = 720;
pub const MAX_SPREADS: usize = 1000;
pub const NS: u64 = 1_000_000_000;
pub const DAY_NS: u64 = 86_400 * NS;

/// How much of a pair's public tape is kept: every trade of the last `span_ns` (of the newest
/// trade's time) and at least the last `trades` (`[storage] tape_keep_trades` and
/// `tape_keep_seconds`; part of the markets, so a checkpoint is refused under another bound).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TapeBound {
    pub trades: usize,
    pub span_ns: u64,
}

impl TapeBound {
    /// The production bound: Trades' largest `count`, the Ticker's day with an hour spare.
    pub const DEFAULT: TapeBound = TapeBound { trades: 1000, span_ns: DAY_NS + 3600 * NS };
}

impl Default for TapeBound {
    fn default() -> Self {
        TapeBound::DEFAULT
    }
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct PublicTrade {
    pub price: u64,
    pub volume: i128,
    pub time_ns: u64,
    pub taker_side: Side,
    pub taker_kind: OrderKind,
    pub trade_id: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Candle {
    /// Start of the candle, unix seconds.
    pub time: u64,
    pub open: u64,
    pub high: u64,
    pub low: u64,
    pub close: u64,
    /// Σ price × volume, for the VWAP.
    pub value: i128,
    pub volume: i128,
    pub count: u64,
}

impl Candle {
    /// The candle of one trade: opening at `time` (unix seconds) with that trade alone.
    pub fn of_trade(time: u64, price: u64, volume: i128) -> Candle {
        Candle { time, open: price, high: price, low: price, close: price, value: price as i128 * volume, volume, count: 1 }
    }
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct MarketData {
    pub trades: Vec<PublicTrade>,
    pub candles: Vec<VecDeque<Candle>>,
    /// (unix seconds, best bid, best ask) whenever the top of the book changed.
    pub spreads: VecDeque<(u64, u64, u64)>,
    pub last_price: u64,
    pub open_price: u64,
    /// How many trades the last generated or imported history held (no account took part in
    /// them): the first `history_len` of the tape when it was set, before any drop.
    pub history_len: usize,
    /// Trades dropped from the tape's front since the last history (`trades[0]` is the
    /// `dropped + 1`-th trade since then).
    pub dropped: u64,
    /// The time of the newest trade dropped: the tape holds every trade after it.
    pub dropped_until: Option<u64>,
    /// Histories set so far (each `History` command bumps it): the publisher's cue that trades or
    /// candles were replaced rather than appended.
    pub histories: u64,
    /// Spread entries noted so far (the publisher's cue that `spreads` moved on).
    pub spreads_noted: u64,
}

/// The Ticker's figures over one window.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WindowStats {
    pub volume: i128,
    pub value: i128,
    pub count: u64,
    pub low: u64,
    pub high: u64,
}

impl MarketData {
    pub fn new(reference_price: u64, open_price: u64) -> MarketData {
        MarketData {
            trades: Vec::new(),
            candles: INTERVALS.iter().map(|_| VecDeque::new()).collect(),
            spreads: VecDeque::new(),
            last_price: reference_price,
            open_price,
            history_len: 0,
            dropped: 0,
            dropped_until: None,
            histories: 0,
            spreads_noted: 0,
        }
    }

    /// Whether any trade happened here since the history (a history may only replace a history).
    pub fn has_live_trades(&self) -> bool {
        self.dropped + self.trades.len() as u64 > self.history_len as u64
    }

    /// The history's trades the tape still holds (all of them until live trades push them out).
    pub fn history_held(&self) -> &[PublicTrade] {
        &self.trades[..(self.history_len as u64).saturating_sub(self.dropped).min(self.trades.len() as u64) as usize]
    }

    /// Whether the tape holds every trade after `time_ns` (so a `since` from there is exact).
    pub fn covers(&self, time_ns: u64) -> bool {
        self.dropped_until.is_none_or(|d| d <= time_ns)
    }

    /// Replaces the history: the trades (when given) and the candles of the intervals given.
    pub fn set_history(&mut self, trades: Option<Vec<PublicTrade>>, candles: Vec<Option<VecDeque<Candle>>>) {
        self.histories += 1;
        if let Some(t) = trades {
            self.history_len = t.len();
            self.trades = t;
            (self.dropped, self.dropped_until) = (0, None);
        }
        for (slot, c) in self.candles.iter_mut().zip(candles) {
            if let Some(c) = c {
                *slot = c;
            }
        }
        if let Some(t) = self.trades.last() {
            self.last_price = t.price;
        } else if let Some(c) = self.candles.iter().find_map(|c| c.back()) {
            self.last_price = c.close;
        }
    }

    /// Appends a trade, then drops what `keep` no longer keeps (see the module doc).
    pub fn record_trade(&mut self, t: PublicTrade, keep: TapeBound) {
        let secs = t.time_ns / NS;
        let value = t.price as i128 * t.volume;
        // The nine intervals written out, each span a constant (a period's start is then a
        // multiplication, not a 64-bit division by a span read from the table), the product
        // computed once and the lists found with one length check.
        if let Some([c1, c5, c15, c30, c60, c240, c1440, c10080, c21600]) = self.candles.get_mut(..INTERVALS.len()) {
            add_to_candle::<{ INTERVALS[0] * 60 }>(c1, secs, t.price, t.volume, value);
            add_to_candle::<{ INTERVALS[1] * 60 }>(c5, secs, t.price, t.volume, value);
            add_to_candle::<{ INTERVALS[2] * 60 }>(c15, secs, t.price, t.volume, value);
            add_to_candle::<{ INTERVALS[3] * 60 }>(c30, secs, t.price, t.volume, value);
            add_to_candle::<{ INTERVALS[4] * 60 }>(c60, secs, t.price, t.volume, value);
            add_to_candle::<{ INTERVALS[5] * 60 }>(c240, secs, t.price, t.volume, value);
            add_to_candle::<{ INTERVALS[6] * 60 }>(c1440, secs, t.price, t.volume, value);
            add_to_candle::<{ INTERVALS[7] * 60 }>(c10080, secs, t.price, t.volume, value);
            add_to_candle::<{ INTERVALS[8] * 60 }>(c21600, secs, t.price, t.volume, value);
        }
        self.last_price = t.price;
        let cutoff = t.time_ns.saturating_sub(keep.span_ns);
        if self.trades.len() == self.trades.capacity() {
            // Grown by halves, not doubled: the bounded tape's allocation stays nearer what it
            // holds (the drops free the front; the capacity stays).
            self.trades.reserve_exact((self.trades.len() / 2).max(64));
        }
        self.trades.push(t);
        self.drop_old(cutoff, keep.trades);
    }

    /// Drops the trades before `cutoff` beyond the last `keep` (at least one), once they are a
    /// quarter of the tape: each trade is moved O(1) times on average. Whether they are is one
    /// look at the quarter's last trade (the tape is in time order), so the search for where the
    /// old trades end runs only when they are dropped, not after every trade.
    fn drop_old(&mut self, cutoff: u64, keep: usize) {
        let len = self.trades.len();
        let (quarter, droppable) = ((len / 4).max(1), len.saturating_sub(keep.max(1)));
        if droppable < quarter || self.trades.get(quarter - 1).is_none_or(|t| t.time_ns >= cutoff) {
            return;
        }
        let old = self.trades.partition_point(|t| t.time_ns < cutoff).min(droppable);
        debug_assert!(old >= quarter);
        self.dropped_until = Some(self.trades[old - 1].time_ns);
        self.dropped += old as u64;
        self.trades.drain(..old);
    }

    /// Notes the top of the book after a command that may have moved it (every order placed or
    /// ended): inlined into the callers, as it mostly finds the top unchanged and returns; the
    /// rare change goes out of line (`push_spread`).
    #[inline]
    pub fn record_spread(&mut self, time_ns: u64, bid: u64, ask: u64) {
        if self.spreads.back().is_some_and(|&(_, b, a)| b == bid && a == ask) {
            return;
        }
        self.push_spread(time_ns, bid, ask);
    }

    #[cold]
    #[inline(never)]
    fn push_spread(&mut self, time_ns: u64, bid: u64, ask: u64) {
        self.spreads.push_back((time_ns / NS, bid, ask));
        self.spreads_noted += 1;
        if self.spreads.len() > MAX_SPREADS {
            self.spreads.pop_front();
        }
    }

    /// Candles of an interval (index into INTERVALS) newer than `since` seconds, the live one
    /// last; when no trade fell in the current period, a flat live candle at the last price.
    pub fn ohlc(&self, interval: usize, since: u64, now_ns: u64) -> Vec<Candle> {
        let span = INTERVALS[interval] * 60;
        let current = now_ns / NS / span * span;
        let mut out: Vec<Candle> = self.candles[interval].iter().filter(|c| c.time > since || c.time == current).cloned().collect();
        if out.last().map(|c| c.time) != Some(current) && current > since.saturating_sub(span) {
            let p = self.last_price;
            out.push(Candle { time: current, open: p, high: p, low: p, close: p, value: 0, volume: 0, count: 0 });
        }
        if out.len() > MAX_CANDLES {
            out.drain(..out.len() - MAX_CANDLES);
        }
        out
    }

    /// Statistics of the trades at or after `from_ns`.
    pub fn window(&self, from_ns: u64) -> WindowStats {
        window_of(&self.trades, from_ns, self.last_price)
    }

    /// Today's opening price: the open of today's daily candle (its first trade), else the last
    /// trade before 00:00 UTC, else the configured open.
    pub fn today_open(&self, now_ns: u64) -> u64 {
        let midnight = now_ns / DAY_NS * DAY_NS;
        if let Some(c) = self.candles[6].back().filter(|c| c.time == midnight / NS) {
            return c.open;
        }
        let before = self.trades.partition_point(|t| t.time_ns < midnight);
        if before > 0 {
            self.trades[before - 1].price
        } else {
            self.open_price
        }
    }
}

/// A trade at `secs` (unix seconds) into its interval's candles, of `SPAN` seconds: the current
/// candle updated, or a new one started (the oldest dropped past `MAX_CANDLES`).
#[inline(always)]
fn add_to_candle<const SPAN: u64>(list: &mut VecDeque<Candle>, secs: u64, price: u64, volume: i128, value: i128) {
    let start = secs / SPAN * SPAN;
    match list.back_mut() {
        Some(c) if c.time == start => {
            c.high = c.high.max(price);
            c.low = c.low.min(price);
            c.close = price;
            c.value += value;
            c.volume += volume;
            c.count += 1;
        }
        _ => {
            list.push_back(Candle::of_trade(start, price, volume));
            if list.len() > MAX_CANDLES {
                list.pop_front();
            }
        }
    }
}

/// Statistics of the trades of a time-ordered `tape` at or after `from_ns`, walked
/// (`last_price` as low and high when there are none).
pub fn window_of(tape: &[PublicTrade], from_ns: u64, last_price: u64) -> WindowStats {
    let start = tape.partition_point(|t| t.time_ns < from_ns);
    let mut s = WindowStats { low: u64::MAX, ..WindowStats::default() };
    for t in &tape[start..] {
        s.volume += t.volume;
        s.value += t.price as i128 * t.volume;
        s.count += 1;
        s.low = s.low.min(t.price);
        s.high = s.high.max(t.price);
    }
    if s.count == 0 {
        s.low = last_price;
        s.high = last_price;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The pruning rule against the whole tape: after every trade the tape is the whole
        /// tape's suffix after `dropped` (the newest dropped at `dropped_until`), it holds every
        /// trade of the span and at least the bound's last trades, it is less than a third over
        /// what it must hold (drops in chunks), and the readers' answers equal the whole tape's:
        /// the window from any time within the span, `today_open` when the newest trade is today,
        /// Trades after any covered `since`. The same trades give the same tape (deterministic).
        #[test]
        fn the_tape_keeps_what_its_readers_need(
            keep in 1usize..12,
            span in 0u64..50,
            gaps in prop::collection::vec((0u64..30, 1u64..100), 1..300),
        ) {
            let bound = TapeBound { trades: keep, span_ns: span * NS };
            let (mut md, mut twin) = (MarketData::new(5, 5), MarketData::new(5, 5));
            let mut all = Vec::new();
            let mut now = 1_000 * NS;
            for (i, (gap, price)) in gaps.into_iter().enumerate() {
                // Now and then a pause of half a day (`today_open` across midnights).
                now += if gap == 29 { DAY_NS / 2 } else { gap * NS / 3 };
                let t = PublicTrade { trade_id: i as u64 + 1, time_ns: now, ..trade(price, 1, 0) };
                all.push(t.clone());
                md.record_trade(t.clone(), bound);
                twin.record_trade(t, bound);
                let d = md.dropped as usize;
                prop_assert_eq!(d + md.trades.len(), all.len());
                prop_assert_eq!(md.trades.iter().map(|t| t.trade_id).collect::<Vec<_>>(), all[d..].iter().map(|t| t.trade_id).collect::<Vec<_>>());
                prop_assert_eq!(md.dropped_until, d.checked_sub(1).map(|i| all[i].time_ns));
                let must = all.iter().filter(|t| t.time_ns >= now.saturating_sub(span * NS)).count().max(keep.min(all.len()));
                prop_assert!(md.trades.len() >= must, "{} held, {} needed", md.trades.len(), must);
                prop_assert!(md.trades.len() * 3 <= must * 4 + 3, "{} held for {} needed", md.trades.len(), must);
                for back in [0, span / 2, span] {
                    let from = now.saturating_sub(back * NS);
                    prop_assert_eq!(md.window(from), window_of(&all, from, md.last_price));
                }
                prop_assert!(md.covers(now - span * NS - 1), "every trade of the span is held");
                for since in [0, now.saturating_sub(span * NS), now] {
                    if md.covers(since) {
                        let start = all.partition_point(|t| t.time_ns <= since);
                        let held = md.trades.partition_point(|t| t.time_ns <= since);
                        prop_assert_eq!(all.len() - start, md.trades.len() - held);
                    }
                }
            }
            let whole = MarketData { trades: all, dropped: 0, dropped_until: None, ..md.clone() };
            for later in [now, now + DAY_NS / 3, now + DAY_NS, now + 3 * DAY_NS] {
                prop_assert_eq!(md.today_open(later), whole.today_open(later));
            }
            prop_assert_eq!(format!("{md:?}"), format!("{twin:?}"));
        }
    }

    fn trade(price: u64, volume: i128, secs: u64) -> PublicTrade {
        PublicTrade { price, volume, time_ns: secs * NS, taker_side: Side::Buy, taker_kind: OrderKind::Market, trade_id: 1 }
    }

    #[test]
    fn candles_aggregate_by_interval() {
        let mut m = MarketData::new(100, 99);
        m.record_trade(trade(100, 2, 60), TapeBound::DEFAULT);
        m.record_trade(trade(110, 1, 61), TapeBound::DEFAULT);
        m.record_trade(trade(90, 1, 125), TapeBound::DEFAULT);
        let one = m.ohlc(0, 0, 130 * NS);
        assert_eq!(one.len(), 2);
        assert_eq!((one[0].open, one[0].high, one[0].low, one[0].close, one[0].count), (100, 110, 100, 110, 2));
        assert_eq!(one[1].time, 120);
        let five = m.ohlc(1, 0, 130 * NS);
        assert_eq!(five.len(), 1);
        assert_eq!(five[0].volume, 4);
        // Nothing traded in the current minute: a flat live candle at the last price.
        let later = m.ohlc(0, 0, 600 * NS);
        assert_eq!(later.last().unwrap().time, 600);
        assert_eq!(later.last().unwrap().close, 90);
        assert_eq!(m.window(61 * NS).count, 2);
        assert_eq!(m.today_open(130 * NS), 100, "today's daily candle opens at its first trade");
        assert_eq!(MarketData::new(100, 99).today_open(130 * NS), 99, "no trade yet: the configured open");
    }
}
