//! The Ticker's window figures (volume, value for the VWAP, trade count, low, high over the trades
//! at or after a time) kept up to date as the tape grows and the window's start moves on, instead
//! of summed over every trade of the window at each reading.
//!
//! `MarketData::window` walks the tape from the window's start: a day of trades, at each reading.
//! The engine thread read it for every pair that traded in a batch (the WebSocket ticker's 24 h
//! figures), so each batch cost O(trades of the last day): under a steady AddOrder load it was a
//! quarter of the engine thread's time after a few minutes, and it grows with the market's rate
//! (a day at 10x is ~0.5 M trades a pair). The REST view's Ticker did the same per request.
//!
//! A [`DayWindow`] counts the trades `tape[start..end]`: the sums as trades enter and leave, and
//! the low and high as monotonic queues of tape indices (each trade enters and leaves each queue
//! once: amortized O(1) a trade). It reads forward only: a reading from an earlier time than the
//! window has moved to is answered by the walk, exactly as before. It holds indices into a tape
//! its owner keeps (the engine's `MarketData::trades`, or the view's copy); an owner that drops
//! trades from the tape's front says so ([`DayWindow::drained`]), one that replaces the tape
//! starts a new window. The answers equal `MarketData::window`'s (a property test below).

use crate::engine::market_data::{window_of as walk, PublicTrade, WindowStats};
use std::collections::VecDeque;

/// The window over one pair's tape (see the module doc).
#[derive(Clone, Debug, Default)]
pub struct DayWindow {
    /// The trades counted: `tape[start..end]`.
    start: usize,
    end: usize,
    /// The latest time the window was read from: every trade before `start` is before it.
    from_ns: u64,
    volume: i128,
    value: i128,
    count: u64,
    /// Indices of the counted trades whose price is above every later counted trade's: the
    /// front is the high (a later trade at the same price replaces an earlier one).
    highs: VecDeque<usize>,
    /// The same for the low.
    lows: VecDeque<usize>,
}

impl DayWindow {
    /// The figures over the trades of `tape` at or after `from_ns` (`last_price` as low and high
    /// when there are none), moving the window there when `from_ns` is not before its start.
    pub fn at(&mut self, tape: &[PublicTrade], from_ns: u64, last_price: u64) -> WindowStats {
        if tape.len() < self.end {
            // Not the tape this window counted (an owner that replaced it without saying so).
            *self = DayWindow::default();
        }
        if from_ns < self.from_ns {
            return walk(tape, from_ns, last_price);
        }
        for i in self.end..tape.len() {
            self.enter(tape, i);
        }
        self.end = tape.len();
        while self.start < self.end && tape[self.start].time_ns < from_ns {
            self.leave(tape, self.start);
            self.start += 1;
        }
        self.from_ns = from_ns;
        if self.count == 0 {
            debug_assert!(self.highs.is_empty() && self.lows.is_empty() && self.volume == 0);
            return WindowStats { low: last_price, high: last_price, ..WindowStats::default() };
        }
        let (high, low) = (tape[self.highs[0]].price, tape[self.lows[0]].price);
        WindowStats { volume: self.volume, value: self.value, count: self.count, low, high }
    }

    /// The owner dropped the tape's first `n` trades. They must be out of the window already (the
    /// owner keeps every trade the window may still need); if not, the window starts over.
    pub fn drained(&mut self, n: usize) {
        if n > self.start {
            *self = DayWindow { from_ns: self.from_ns, ..DayWindow::default() };
            // Nothing counted and `end` 0: the next reading counts the tape again from its start.
            return;
        }
        self.start -= n;
        self.end -= n;
        for i in self.highs.iter_mut().chain(self.lows.iter_mut()) {
            *i -= n;
        }
    }

    fn enter(&mut self, tape: &[PublicTrade], i: usize) {
        let t = &tape[i];
        self.volume += t.volume;
        self.value += t.price as i128 * t.volume;
        self.count += 1;
        while self.highs.back().is_some_and(|&j| tape[j].price <= t.price) {
            self.highs.pop_back();
        }
        self.highs.push_back(i);
        while self.lows.back().is_some_and(|&j| tape[j].price >= t.price) {
            self.lows.pop_back();
        }
        self.lows.push_back(i);
    }

    fn leave(&mut self, tape: &[PublicTrade], i: usize) {
        let t = &tape[i];
        self.volume -= t.volume;
        self.value -= t.price as i128 * t.volume;
        self.count -= 1;
        if self.highs.front() == Some(&i) {
            self.highs.pop_front();
        }
        if self.lows.front() == Some(&i) {
            self.lows.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::market_data::MarketData;
    use crate::engine::order::{OrderKind, Side};
    use proptest::prelude::*;

    fn trade(price: u64, volume: i128, time_ns: u64) -> PublicTrade {
        PublicTrade { price, volume, time_ns, taker_side: Side::Buy, taker_kind: OrderKind::Limit, trade_id: 0 }
    }

    #[derive(Clone, Debug)]
    enum Step {
        /// Trades appended: (price, volume, time step), times non-decreasing.
        Trades(Vec<(u64, i128, u64)>),
        /// A reading `back` before the newest trade's time (0: at it; beyond: earlier than the window).
        Read(u64),
        /// The owner drops the tape's trades before the newest time minus this.
        Drain(u64),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            3 => prop::collection::vec((1u64..20, 1i128..1000, 0u64..4), 0..12).prop_map(Step::Trades),
            3 => (0u64..40).prop_map(Step::Read),
            1 => (0u64..40).prop_map(Step::Drain),
        ]
    }

    proptest! {
        /// Every reading equals `MarketData::window` over the owner's tape, whatever the order of
        /// appends, readings (forward, or back before the window: the walk), and drains of the
        /// front (of trades out of the window, or of trades still in it: the window starts over).
        #[test]
        fn equals_the_walk(steps in prop::collection::vec(step(), 1..60)) {
            let mut md = MarketData::new(7, 7);
            let mut w = DayWindow::default();
            let mut now = 100u64;
            for s in steps {
                match s {
                    Step::Trades(list) => {
                        for (p, v, dt) in list {
                            now += dt;
                            md.trades.push(trade(p, v, now));
                            md.last_price = p;
                        }
                    }
                    Step::Read(back) => {
                        let from = now.saturating_sub(back);
                        prop_assert_eq!(w.at(&md.trades, from, md.last_price), md.window(from));
                    }
                    Step::Drain(back) => {
                        let n = md.trades.partition_point(|t| t.time_ns < now.saturating_sub(back));
                        md.trades.drain(..n);
                        w.drained(n);
                    }
                }
            }
            let from = now.saturating_sub(5);
            prop_assert_eq!(w.at(&md.trades, from, md.last_price), md.window(from));
        }
    }

    #[test]
    fn high_and_low_leave_with_their_trades() {
        let tape = vec![trade(5, 1, 1), trade(9, 1, 2), trade(3, 1, 3), trade(6, 1, 4)];
        let mut w = DayWindow::default();
        let s = w.at(&tape, 0, 0);
        assert_eq!((s.low, s.high, s.count, s.volume, s.value), (3, 9, 4, 4, 23));
        let s = w.at(&tape, 3, 0);
        assert_eq!((s.low, s.high, s.count), (3, 6, 2));
        let s = w.at(&tape, 4, 0);
        assert_eq!((s.low, s.high, s.count), (6, 6, 1));
        let s = w.at(&tape, 5, 8);
        assert_eq!((s.low, s.high, s.count, s.volume), (8, 8, 0, 0));
        // Back before the window: the walk.
        let s = w.at(&tape, 2, 0);
        assert_eq!((s.low, s.high, s.count), (3, 9, 3));
    }
}
