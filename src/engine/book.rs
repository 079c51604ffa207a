//! One pair's order book: price levels in price order, each a FIFO queue of resting orders
//! (price-time priority). The book stores order sequence numbers and the volume per level; the
//! orders themselves live in the exchange. Each level's queue is an intrusive doubly linked list
//! through the book's slab (`queue`): a cancel unlinks its order at once, in O(1), so every order
//! in a queue is open and rests at that price (no tombstones to skip).
//! A resting order's record keeps its queue slot (`Order::qslot`): a removal is told it, so
//! the book keeps no map from order to slot.
//! Each level remembers when its volume last changed (Depth's per-level timestamp): the book is
//! told the command's time (`set_time`, from `Exchange::apply`) and stamps every level it touches.

use super::order::{OrderSeq, Side};
use super::queue::{Links, Slab, NIL};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Default, Clone)]
pub struct Level {
    /// The level's FIFO, through the book's slab (see `queue`).
    links: Links,
    /// Sum of the remaining volume of the orders at this level.
    pub volume: i128,
    /// Number of orders at this level.
    pub live: u32,
    /// When the level's volume last changed (engine time, ns).
    pub changed_ns: u64,
}

#[derive(Debug, Default, Clone)]
pub struct Book {
    bids: BTreeMap<u64, Level>,
    asks: BTreeMap<u64, Level>,
    /// The nodes of the orders resting here (every level's queue).
    slab: Slab,
    /// Bumped on every change (derived, not state): the market-data publisher's cue that this
    /// book must be captured after the batch.
    version: u64,
    /// The time of the command being applied: what a touched level is stamped with.
    now_ns: u64,
}

/// A level as checkpoints keep it: its orders front first (slots are rebuilt on restore).
#[derive(Serialize, Deserialize)]
struct LevelForm {
    price: u64,
    orders: Vec<OrderSeq>,
    volume: i128,
    changed_ns: u64,
}

#[derive(Serialize, Deserialize)]
struct BookForm {
    bids: Vec<LevelForm>,
    asks: Vec<LevelForm>,
    version: u64,
    now_ns: u64,
}

impl Serialize for Book {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let form = |m: &BTreeMap<u64, Level>| -> Vec<LevelForm> {
            m.iter()
                .map(|(p, l)| LevelForm { price: *p, orders: self.queue(l).collect(), volume: l.volume, changed_ns: l.changed_ns })
                .collect()
        };
        BookForm { bids: form(&self.bids), asks: form(&self.asks), version: self.version, now_ns: self.now_ns }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Book {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = BookForm::deserialize(d)?;
        let mut book = Book { version: f.version, now_ns: f.now_ns, ..Book::default() };
        for (side, levels) in [(Side::Buy, f.bids), (Side::Sell, f.asks)] {
            let (map, slab) = match side {
                Side::Buy => (&mut book.bids, &mut book.slab),
                Side::Sell => (&mut book.asks, &mut book.slab),
            };
            for l in levels {
                let mut level = Level { volume: l.volume, live: l.orders.len() as u32, changed_ns: l.changed_ns, ..Level::default() };
                for seq in l.orders {
                    slab.push_back(&mut level.links, seq);
                }
                map.insert(l.price, level);
            }
        }
        Ok(book)
    }
}

impl Book {
    /// The time of the command about to change the book.
    pub fn set_time(&mut self, t: u64) {
        self.now_ns = t;
    }

    /// A side's levels and the slab, for a change (bumps the version).
    fn parts(&mut self, side: Side) -> (&mut BTreeMap<u64, Level>, &mut Slab) {
        self.version = self.version.wrapping_add(1);
        match side {
            Side::Buy => (&mut self.bids, &mut self.slab),
            Side::Sell => (&mut self.asks, &mut self.slab),
        }
    }

    fn side(&self, side: Side) -> &BTreeMap<u64, Level> {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    /// Adds a resting order at the back of its level's queue; returns its queue slot (the
    /// order's `qslot`).
    pub fn insert(&mut self, side: Side, price: u64, seq: OrderSeq, remaining: i128) -> u32 {
        debug_assert!(remaining > 0);
        let now = self.now_ns;
        let (map, slab) = self.parts(side);
        let level = map.entry(price).or_default();
        let slot = slab.push_back(&mut level.links, seq);
        level.volume += remaining;
        level.live += 1;
        level.changed_ns = now;
        slot
    }

    /// Best price on a side: highest bid, lowest ask.
    pub fn best(&self, side: Side) -> Option<u64> {
        match side {
            Side::Buy => self.bids.keys().next_back().copied(),
            Side::Sell => self.asks.keys().next().copied(),
        }
    }

    /// The order at the front of the level at a price (the next to trade there).
    pub fn front(&self, side: Side, price: u64) -> Option<OrderSeq> {
        self.side(side).get(&price).and_then(|l| self.slab.front(&l.links))
    }

    /// The orders of a level, front first.
    pub fn queue<'a>(&'a self, level: &Level) -> impl Iterator<Item = OrderSeq> + 'a {
        self.slab.iter(&level.links)
    }

    /// The orders of a level with their queue slots, front first.
    pub fn queue_slots<'a>(&'a self, level: &Level) -> impl Iterator<Item = (u32, OrderSeq)> + 'a {
        self.slab.iter_slots(&level.links)
    }

    /// Takes `qty` from the volume at a level; `done` says the order at the front filled
    /// completely and leaves the queue. Empty levels are removed.
    pub fn fill_front(&mut self, side: Side, price: u64, qty: i128, done: bool) {
        let now = self.now_ns;
        let (map, slab) = self.parts(side);
        let level = map.get_mut(&price).expect("filled level exists");
        level.volume -= qty;
        level.changed_ns = now;
        if done {
            let seq = slab.front(&level.links).expect("a live level has a queue");
            let head = slab.front_slot(&level.links);
            slab.remove(&mut level.links, head, seq);
            level.live -= 1;
        }
        debug_assert!(level.volume >= 0);
        if level.live == 0 {
            debug_assert!(level.links.is_empty());
            map.remove(&price);
        }
    }

    /// Sends the order at the front of a level to its back with `shown` more volume (an
    /// iceberg refilled from its hidden rest loses its time priority); returns its new slot.
    pub fn requeue_front(&mut self, side: Side, price: u64, shown: i128) -> u32 {
        let (map, slab) = self.parts(side);
        let level = map.get_mut(&price).expect("refilled level exists");
        let seq = slab.front(&level.links).expect("a live level has a queue");
        let head = slab.front_slot(&level.links);
        slab.remove(&mut level.links, head, seq);
        let slot = slab.push_back(&mut level.links, seq);
        level.volume += shown;
        slot
    }

    /// Removes a resting order from its level at once (a cancel, or an order re-priced in
    /// place), with the volume it shows there; `slot` is its queue slot (the order's `qslot`;
    /// `NIL` if it does not know it, then the level is searched). Empty levels are removed.
    pub fn remove(&mut self, side: Side, price: u64, seq: OrderSeq, slot: u32, remaining: i128) {
        let now = self.now_ns;
        let (map, slab) = self.parts(side);
        if let Some(level) = map.get_mut(&price) {
            level.changed_ns = now;
            let slot = if slot == NIL { slab.find(&level.links, seq).unwrap_or(NIL) } else { slot };
            if slab.remove(&mut level.links, slot, seq) {
                level.live -= 1;
            }
            level.volume -= remaining;
            if level.live == 0 {
                debug_assert!(level.links.is_empty());
                map.remove(&price);
            }
        }
    }

    /// Lowers a live order's remaining volume where it stands (an amend that keeps its place).
    pub fn reduce(&mut self, side: Side, price: u64, by: i128) {
        if let Some(level) = self.parts(side).0.get_mut(&price) {
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
        self.slab.len()
    }
}

impl super::Exchange {
    /// The time every book stamps the levels a command changes with (`Book::set_time`).
    pub(super) fn set_books_time(&mut self, t: u64) {
        self.books.iter_mut().for_each(|b| b.set_time(t));
    }

    /// Tells every resting order its queue slot again (after a restore, which rebuilds the
    /// books' slabs; until then a removal searches its level).
    pub fn relink_queues(&mut self) {
        for book in &self.books {
            for side in [Side::Buy, Side::Sell] {
                for (_, level) in book.levels(side) {
                    for (slot, seq) in book.queue_slots(level) {
                        if let Some(o) = self.orders.get_mut(seq as usize) {
                            o.qslot = slot;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::account::FIRST_USER;
    use super::super::markets::Markets;
    use super::super::order::{NewOrder, Side};
    use super::super::queue::NIL;
    use super::super::{CancelTarget, Command, Envelope, Exchange};

    fn queued(ex: &Exchange) -> Vec<(u64, u32, u32)> {
        let mut v = Vec::new();
        for b in &ex.books {
            for side in [Side::Buy, Side::Sell] {
                for (_, l) in b.levels(side) {
                    v.extend(b.queue_slots(l).map(|(slot, seq)| (seq, slot, ex.orders[seq as usize].qslot)));
                }
            }
        }
        v
    }

    #[test]
    fn a_restored_book_is_relinked_and_removes_the_same_before_it() {
        let markets = Markets::from_config(&crate::config::Config::builtin()).unwrap();
        let (price, lot) = (markets.pairs[0].reference_price, markets.pairs[0].ordermin.max(markets.pairs[0].lot_step()));
        let mut ex = Exchange::new(markets, 7);
        let mut t = 1_750_000_000_000_000_000u64;
        let mut apply = |ex: &mut Exchange, command: Command| {
            t += 1_000;
            ex.apply(&Envelope { time_ns: t, key_nonce: None, command }).unwrap();
        };
        apply(&mut ex, Command::CreateAccount { name: "q".into() });
        for asset in 0..ex.markets.assets.len() as u16 {
            apply(&mut ex, Command::Deposit { account: FIRST_USER, asset, amount: crate::money::MAX_UNITS });
        }
        for i in 0..12u64 {
            let p = price - 1_000 - i % 3;
            apply(&mut ex, Command::PlaceOrder(NewOrder::limit(FIRST_USER, 0, Side::Buy, p, lot)));
        }
        for seq in [2, 5, 6] {
            apply(&mut ex, Command::Cancel { account: FIRST_USER, target: CancelTarget::Order(seq) });
        }
        apply(&mut ex, Command::PlaceOrder(NewOrder::limit(FIRST_USER, 0, Side::Buy, price - 1_000, lot))); // a reused slot
        let live = queued(&ex);
        assert!(live.len() == 10 && live.iter().all(|(_, slot, q)| slot == q), "{live:?}");
        let bytes = postcard::to_allocvec(&ex).unwrap();
        let mut restored: Exchange = postcard::from_bytes(&bytes).unwrap();
        assert!(queued(&restored).iter().all(|(_, _, q)| *q == NIL), "slots are not state");
        let mut relinked: Exchange = postcard::from_bytes(&bytes).unwrap();
        relinked.relink_queues();
        assert!(queued(&relinked).iter().all(|(_, slot, q)| slot == q));
        let at = ex.now_ns;
        for e in [&mut ex, &mut restored, &mut relinked] {
            for (k, seq) in [1, 7, 12].into_iter().enumerate() {
                let command = Command::Cancel { account: FIRST_USER, target: CancelTarget::Order(seq) };
                e.apply(&Envelope { time_ns: at + 1 + k as u64, key_nonce: None, command }).unwrap();
            }
            e.check_invariants().unwrap();
        }
        assert_eq!(restored.digest(), ex.digest());
        assert_eq!(relinked.digest(), ex.digest());
        // Slots are not state (a restored slab numbers them afresh); the queues' orders are.
        let seqs = |e: &Exchange| queued(e).into_iter().map(|(seq, _, _)| seq).collect::<Vec<_>>();
        assert_eq!((seqs(&restored), seqs(&relinked)), (seqs(&ex), seqs(&ex)));
        assert!(queued(&relinked).iter().all(|(_, slot, q)| slot == q));
    }
}
