//! Public market data kept per pair: the public trade tape, OHLC candles for Kraken's nine
//! intervals, the spread history and the statistics the Ticker reports. All of it is derived
//! from fills and book changes the engine reports here; nothing reads a clock.

use super::order::{OrderKind, Side};
use std::collections::VecDeque;

/// Kraken's OHLC intervals, in minutes.
pub const INTERVALS: [u64; 9] = [1, 5, 15, 30, 60, 240, 1440, 10080, 21600];
/// Candles kept per interval (Kraken serves the 720 most recent).
pub const MAX_CANDLES: usize = 720;
pub const MAX_SPREADS: usize = 1000;
pub const NS: u64 = 1_000_000_000;
pub const DAY_NS: u64 = 86_400 * NS;

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
    /// How many of the first `trades` came from a generated or imported history (no account
    /// took part in them).
    pub history_len: usize,
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
            histories: 0,
            spreads_noted: 0,
        }
    }

    /// Whether any trade happened here since the history (a history may only replace a history).
    pub fn has_live_trades(&self) -> bool {
        self.trades.len() > self.history_len
    }

    /// Replaces the history: the trades (when given) and the candles of the intervals given.
    pub fn set_history(&mut self, trades: Option<Vec<PublicTrade>>, candles: Vec<Option<VecDeque<Candle>>>) {
        self.histories += 1;
        if let Some(t) = trades {
            self.history_len = t.len();
            self.trades = t;
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

    pub fn record_trade(&mut self, t: PublicTrade) {
        let secs = t.time_ns / NS;
        for (i, minutes) in INTERVALS.iter().enumerate() {
            let start = secs / (minutes * 60) * (minutes * 60);
            let list = &mut self.candles[i];
            match list.back_mut() {
                Some(c) if c.time == start => {
                    c.high = c.high.max(t.price);
                    c.low = c.low.min(t.price);
                    c.close = t.price;
                    c.value += t.price as i128 * t.volume;
                    c.volume += t.volume;
                    c.count += 1;
                }
                _ => {
                    list.push_back(Candle::of_trade(start, t.price, t.volume));
                    if list.len() > MAX_CANDLES {
                        list.pop_front();
                    }
                }
            }
        }
        self.last_price = t.price;
        self.trades.push(t);
    }

    pub fn record_spread(&mut self, time_ns: u64, bid: u64, ask: u64) {
        if self.spreads.back().is_some_and(|&(_, b, a)| b == bid && a == ask) {
            return;
        }
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

    fn trade(price: u64, volume: i128, secs: u64) -> PublicTrade {
        PublicTrade { price, volume, time_ns: secs * NS, taker_side: Side::Buy, taker_kind: OrderKind::Market, trade_id: 1 }
    }

    #[test]
    fn candles_aggregate_by_interval() {
        let mut m = MarketData::new(100, 99);
        m.record_trade(trade(100, 2, 60));
        m.record_trade(trade(110, 1, 61));
        m.record_trade(trade(90, 1, 125));
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
