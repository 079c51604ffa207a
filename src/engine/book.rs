//! One pair's order book: price levels in price order, each a FIFO queue of resting orders
//! (price-time priority). The book stores order sequence numbers and the live volume per level;
//! the orders themselves live in the exchange. Cancelled orders are removed lazily: their level
//! volume and live count drop at once, their queue slot is skipped when it reaches the front.
//! Each level remembers when its volume last changed (Depth's per-level timestamp): the book is
//! told the command's time (`set_time`, from `Exchange::apply`) and stamps every level it touches.

use super::order::{OrderSeq, Side};
use std::collections::{BTreeMap, VecDeque};

#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct Level {
    pub queue: VecDeque<OrderSeq>,
    /// Sum of the remaining volume of the live orders at this level.
    pub volume: i128,
    /// Number of live orders at this level (the queue may also hold cancelled ones).
    pub live: u32,
    /// When the level's volume last changed (engine time, ns).
    pub changed_ns: u64,
}

#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct Book {
    bids: BTreeMap<u64, Level>,
    asks: BTreeMap<u64, Level>,
    /// Bumped on every change (derived, not state): the market-data publisher's cue that this
    /// book must be captured after the batch.
    version: u64,
    /// The time of the command being applied: what a touched level is stamped with.
    now_ns: u64,
}

impl Book {
    /// The time of the command about to change the book.
    pub fn set_time(&mut self, t: u64) {
        self.now_ns = t;
    }

    fn side_mut(&mut self, side: Side) -> &mut BTreeMap<u64, Level> {
        self.version = self.version.wrapping_add(1);
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    fn side(&self, side: Side) -> &BTreeMap<u64, Level> {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    /// Adds a resting order at the back of its level's queue.
    pub fn insert(&mut self, side: Side, price: u64, seq: OrderSeq, remaining: i128) {
        debug_assert!(remaining > 0);
        let now = self.now_ns;
        let level = self.side_mut(side).entry(price).or_default();
        level.queue.push_back(seq);
        level.volume += remaining;
        level.live += 1;
        level.changed_ns = now;
    }

    /// Best price on a side: highest bid, lowest ask.
    pub fn best(&self, side: Side) -> Option<u64> {
        match side {
            Side::Buy => self.bids.keys().next_back().copied(),
            Side::Sell => self.asks.keys().next().copied(),
        }
    }

    /// The level at a price, to walk its queue while matching.
    pub fn level_mut(&mut self, side: Side, price: u64) -> Option<&mut Level> {
        self.side_mut(side).get_mut(&price)
    }

    /// Takes `qty` from the live volume at a level; `done` says the order at the front filled
    /// completely and leaves the queue. Empty levels are removed.
    pub fn fill_front(&mut self, side: Side, price: u64, qty: i128, done: bool) {
        let now = self.now_ns;
        let book = self.side_mut(side);
        let level = book.get_mut(&price).expect("filled level exists");
        level.volume -= qty;
        level.changed_ns = now;
        if done {
            level.queue.pop_front();
            level.live -= 1;
        }
        debug_assert!(level.volume >= 0);
        if level.live == 0 {
            book.remove(&price);
        }
    }

    /// Sends the order at the front of a level to its back with `shown` more live volume (an
    /// iceberg refilled from its hidden rest loses its time priority).
    pub fn requeue_front(&mut self, side: Side, price: u64, shown: i128) {
        let level = self.side_mut(side).get_mut(&price).expect("refilled level exists");
        let seq = level.queue.pop_front().expect("a live level has a queue");
        level.queue.push_back(seq);
        level.volume += shown;
    }

    /// Drops the queue entry at the front of a level (a cancelled order reaching the front).
    pub fn pop_stale(&mut self, side: Side, price: u64) {
        if let Some(level) = self.side_mut(side).get_mut(&price) {
            level.queue.pop_front();
        }
    }

    /// Removes a cancelled order's remaining volume from its level (its queue slot is skipped
    /// later, or goes with the level if it was the last live order).
    pub fn cancel(&mut self, side: Side, price: u64, remaining: i128) {
        let now = self.now_ns;
        let book = self.side_mut(side);
        if let Some(level) = book.get_mut(&price) {
            level.volume -= remaining;
            level.changed_ns = now;
            level.live -= 1;
            if level.live == 0 {
                book.remove(&price);
            }
        }
    }

    /// Removes a live order from its level at once, queue slot included (an order re-priced in
    /// place must not be met at its old slot).
    pub fn remove(&mut self, side: Side, price: u64, seq: OrderSeq, remaining: i128) {
        let now = self.now_ns;
        let book = self.side_mut(side);
        if let Some(level) = book.get_mut(&price) {
            level.changed_ns = now;
            if let Some(pos) = level.queue.iter().position(|s| *s == seq) {
                level.queue.remove(pos);
            }
            level.volume -= remaining;
            level.live -= 1;
            if level.live == 0 {
                book.remove(&price);
            }
        }
    }

    /// Lowers a live order's remaining volume where it stands (an amend that keeps its place).
    pub fn reduce(&mut self, side: Side, price: u64, by: i128) {
        if let Some(level) = self.side_mut(side).get_mut(&price) {
            level.volume -= by;
            debug_assert!(level.volume > 0);
        }
    }

    /// Up to `n` aggregated levels from the best price outward.
    pub fn depth(&self, side: Side, n: usize) -> Vec<(u64, i128)> {
        let map = self.side(side);
        match side {
            Side::Buy => map.iter().rev().take(n).map(|(p, l)| (*p, l.volume)).collect(),
            Side::Sell => map.iter().take(n).map(|(p, l)| (*p, l.volume)).collect(),
        }
    }

    /// Up to `n` levels from the best outward with the time each last changed.
    pub fn depth_stamped(&self, side: Side, n: usize) -> Vec<(u64, i128, u64)> {
        self.levels(side).take(n).map(|(p, l)| (*p, l.volume, l.changed_ns)).collect()
    }

    /// Levels from the best outward (for walking the book without changing it).
    pub fn levels(&self, side: Side) -> Box<dyn Iterator<Item = (&u64, &Level)> + '_> {
        match side {
            Side::Buy => Box::new(self.bids.iter().rev()),
            Side::Sell => Box::new(self.asks.iter()),
        }
    }

    /// Changes so far (see the field); equal versions mean an unchanged book.
    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn total_live(&self) -> usize {
        self.bids.values().chain(self.asks.values()).map(|l| l.live as usize).sum()
    }
}

impl super::Exchange {
    /// The time every book stamps the levels a command changes with (`Book::set_time`).
    pub(super) fn set_books_time(&mut self, t: u64) {
        self.books.iter_mut().for_each(|b| b.set_time(t));
    }
}
