//! One pair's order book: price levels in price order, each a FIFO queue of resting orders
//! (price-time priority). The book keeps the volume and the count per level and each level's
//! ends; the orders themselves live in the exchange's arena (`orders`), and each level's queue is
//! linked through their records (`queue`): a cancel unlinks its order at once, in O(1), so every
//! order in a queue is open and rests at that price (no tombstones to skip). So the methods that
//! change a queue are given the arena.
//! Each level remembers when its volume last changed (Depth's per-level timestamp): the methods
//! that change a level are given the command's time and stamp it.

use super::levels::Levels;
use super::order::{OrderSeq, Side};
use super::orders::Orders;
use super::queue::Links;
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Clone)]
pub struct Level {
    /// The level's FIFO, through the orders' records (see `queue`).
    links: Links,
    /// Sum of the remaining volume of the orders at this level.
    pub volume: i128,
    /// Number of orders at this level.
    pub live: u32,
    /// When the level's volume last changed (engine time, ns).
    pub changed_ns: u64,
    /// The level's price (set by `Levels`, which lends it to its iterators; fits in padding).
    pub(super) price: u64,
}

impl Level {
    /// An empty level at `price`.
    pub(super) fn at(price: u64) -> Level {
        Level { price, ..Level::default() }
    }
}

#[derive(Debug, Clone)]
pub struct Book {
    /// The levels of each side, by price (`levels`: a window by price near the best).
    bids: Levels,
    asks: Levels,
    /// Orders resting here (every level's queue).
    live: usize,
    /// Bumped on every change (derived, not state): the market-data publisher's cue that this
    /// book must be captured after the batch.
    version: u64,
    /// The best bid and ask (derived, not state): kept as levels come and go, so that reading
    /// them (the spread after every command, each step of matching) costs no tree descent; a
    /// side's is looked up again only when its best level empties. `check_invariants` compares
    /// them with the levels.
    best_bid: Option<u64>,
    best_ask: Option<u64>,
    /// A restored book's queues, by level, until `Exchange::relink_queues` links them through
    /// the restored orders (empty otherwise).
    unlinked: Vec<(Side, u64, Vec<OrderSeq>)>,
    /// The top (best bid, best ask) as `Exchange::note_spread` last noted it into the pair's
    /// spread history (derived, not state; `None` in a new or restored book): the spread is
    /// noted after every order placed or ended and the top has rarely moved, so that call
    /// compares two words here instead of the history's last entry.
    noted: Option<(u64, u64)>,
}

impl Default for Book {
    fn default() -> Self {
        Book {
            bids: Levels::new(true),
            asks: Levels::new(false),
            live: 0,
            version: 0,
            best_bid: None,
            best_ask: None,
            unlinked: Vec::new(),
            noted: None,
        }
    }
}

/// A level as checkpoints keep it: its orders front first (the links are rebuilt on restore).
#[derive(Serialize, Deserialize)]
struct LevelForm {
    price: u64,
    orders: Vec<OrderSeq>,
    volume: i128,
    changed_ns: u64,
}

/// A book as checkpoints keep it (`Book::form`).
#[derive(Serialize, Deserialize)]
pub struct BookForm {
    bids: Vec<LevelForm>,
    asks: Vec<LevelForm>,
    version: u64,
}

impl<'de> Deserialize<'de> for Book {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = BookForm::deserialize(d)?;
        let mut book = Book { version: f.version, ..Book::default() };
        for (side, levels) in [(Side::Buy, f.bids), (Side::Sell, f.asks)] {
            for l in levels {
                let level =
                    Level { volume: l.volume, live: l.orders.len() as u32, changed_ns: l.changed_ns, price: l.price, ..Level::default() };
                book.live += l.orders.len();
                *book.side_mut(side).get_or_insert_default(l.price) = level;
                book.unlinked.push((side, l.price, l.orders));
            }
        }
        book.best_bid = book.bids.last();
        book.best_ask = book.asks.first();
        Ok(book)
    }
}

impl Book {
    /// The serialized form (the queues read through the orders' arena).
    pub fn form(&self, orders: &Orders) -> BookForm {
        debug_assert!(self.unlinked.is_empty(), "a restored book is relinked before it is saved");
        let form = |m: &Levels| -> Vec<LevelForm> {
            m.iter()
                .map(|(p, l)| LevelForm { price: *p, orders: l.links.iter(orders).collect(), volume: l.volume, changed_ns: l.changed_ns })
                .collect()
        };
        BookForm { bids: form(&self.bids), asks: form(&self.asks), version: self.version }
    }

    /// A side's levels, for a change (bumps the version).
    fn side_mut(&mut self, side: Side) -> &mut Levels {
        self.version = self.version.wrapping_add(1);
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    fn side(&self, side: Side) -> &Levels {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    /// Adds a resting order (held in `orders` at `slot`, resting nowhere yet) at the back of its
    /// level's queue, at time `now` (by slot: its one caller, matching, has it at hand). Always
    /// inlined there (every order that rests).
    #[inline(always)]
    pub fn insert(&mut self, side: Side, price: u64, orders: &mut Orders, slot: u32, remaining: i128, now: u64) {
        debug_assert!(remaining > 0);
        self.live += 1;
        let level = self.side_mut(side).get_or_insert_default(price);
        level.links.push_back(orders, slot);
        level.volume += remaining;
        level.live += 1;
        level.changed_ns = now;
        match side {
            Side::Buy => self.best_bid = Some(self.best_bid.map_or(price, |b| b.max(price))),
            Side::Sell => self.best_ask = Some(self.best_ask.map_or(price, |a| a.min(price))),
        }
    }

    /// Best price on a side: highest bid, lowest ask.
    pub fn best(&self, side: Side) -> Option<u64> {
        match side {
            Side::Buy => self.best_bid,
            Side::Sell => self.best_ask,
        }
    }

    /// A level at `price` was removed: if it was the best, the next one is.
    fn level_gone(&mut self, side: Side, price: u64) {
        match side {
            Side::Buy if self.best_bid == Some(price) => self.best_bid = self.bids.last(),
            Side::Sell if self.best_ask == Some(price) => self.best_ask = self.asks.first(),
            _ => {}
        }
    }

    /// Whether the kept best prices are the levels' ends (an invariant).
    pub fn check_best(&self) -> Result<(), String> {
        self.bids.check().map_err(|e| format!("bid levels: {e}"))?;
        self.asks.check().map_err(|e| format!("ask levels: {e}"))?;
        let (bid, ask) = (self.bids.last(), self.asks.first());
        if (self.best_bid, self.best_ask) != (bid, ask) {
            return Err(format!("kept best bid/ask {:?}/{:?}, levels say {bid:?}/{ask:?}", self.best_bid, self.best_ask));
        }
        Ok(())
    }

    /// The order at the front of the level at a price (the next to trade there).
    pub fn front(&self, side: Side, price: u64, orders: &Orders) -> Option<OrderSeq> {
        self.front_slot(side, price).map(|slot| orders.at(slot).seq)
    }

    /// The top of the book (best bid, best ask, 0 for a side without one) if it is not the one
    /// last noted here, which it now is (`Exchange::note_spread`, which notes it into the pair's
    /// spread history: that history's last entry is then this top, so a top unchanged since
    /// would have been found equal to it there and not noted again).
    #[inline]
    pub fn top_to_note(&mut self) -> Option<(u64, u64)> {
        let top = (self.best_bid.unwrap_or(0), self.best_ask.unwrap_or(0));
        if self.noted == Some(top) {
            return None;
        }
        self.noted = Some(top);
        Some(top)
    }

    /// The slot of the order at the front of the level at `price` (matching reads the maker
    /// there: no lookup by sequence).
    #[inline]
    pub fn front_slot(&self, side: Side, price: u64) -> Option<u32> {
        let level = self.side(side).get(price)?;
        (!level.links.is_empty()).then(|| level.links.front())
    }

    /// The orders of a level, front first.
    pub fn queue<'a>(&self, level: &Level, orders: &'a Orders) -> impl Iterator<Item = OrderSeq> + 'a {
        level.links.iter(orders)
    }

    /// Whether a level's queue is linked both ways and holds as many orders as it counts.
    pub fn check_queue(&self, level: &Level, orders: &Orders) -> Result<(), String> {
        level.links.check(orders, level.live as usize)
    }

    /// Takes `qty` from the volume at a level; `done` says the order at the front filled
    /// completely and leaves the queue. Empty levels are removed. At time `now`.
    pub fn fill_front(&mut self, side: Side, price: u64, qty: i128, done: bool, orders: &mut Orders, now: u64) {
        let levels = self.side_mut(side);
        let level = levels.get_mut(price).expect("filled level exists");
        level.volume -= qty;
        level.changed_ns = now;
        if done {
            let head = level.links.front();
            level.links.remove(orders, head);
            level.live -= 1;
        }
        debug_assert!(level.volume >= 0);
        if level.live == 0 {
            debug_assert!(level.links.is_empty());
            levels.remove(price);
            self.level_gone(side, price);
        }
        self.live -= done as usize;
    }

    /// Sends the order at the front of a level to its back with `shown` more volume (an
    /// iceberg refilled from its hidden rest loses its time priority).
    pub fn requeue_front(&mut self, side: Side, price: u64, shown: i128, orders: &mut Orders) {
        let level = self.side_mut(side).get_mut(price).expect("refilled level exists");
        let head = level.links.front();
        level.links.remove(orders, head);
        level.links.push_back(orders, head);
        level.volume += shown;
    }

    /// Removes a resting order from its level at once (a cancel, or an order re-priced in
    /// place), with the volume it shows there. Empty levels are removed. At time `now`.
    pub fn remove(&mut self, side: Side, price: u64, orders: &mut Orders, seq: OrderSeq, remaining: i128, now: u64) {
        let slot = orders.slot(seq).expect("a resting order is held");
        self.remove_at(side, price, orders, slot, remaining, now);
    }

    /// [`Book::remove`] of the order in `slot` (a caller that has its slot: no lookup by sequence).
    /// Always inlined (every cancel: `Exchange::end_order_at`).
    #[inline(always)]
    pub fn remove_at(&mut self, side: Side, price: u64, orders: &mut Orders, slot: u32, remaining: i128, now: u64) {
        let levels = self.side_mut(side);
        let level = levels.get_mut(price).expect("a resting order's level exists");
        level.changed_ns = now;
        level.links.remove(orders, slot);
        level.live -= 1;
        level.volume -= remaining;
        if level.live == 0 {
            debug_assert!(level.links.is_empty());
            levels.remove(price);
            self.level_gone(side, price);
        }
        self.live -= 1;
    }

    /// Lowers a live order's remaining volume where it stands (an amend that keeps its place).
    pub fn reduce(&mut self, side: Side, price: u64, by: i128) {
        if let Some(level) = self.side_mut(side).get_mut(price) {
            level.volume -= by;
            debug_assert!(level.volume > 0);
        }
    }

    /// Up to `n` aggregated levels from the best price outward.
    pub fn depth(&self, side: Side, n: usize) -> Vec<(u64, i128)> {
        self.levels(side).take(n).map(|(p, l)| (*p, l.volume)).collect()
    }

    /// Up to `n` levels from the best outward with the time each last changed.
    pub fn depth_stamped(&self, side: Side, n: usize) -> Vec<(u64, i128, u64)> {
        self.levels(side).take(n).map(|(p, l)| (*p, l.volume, l.changed_ns)).collect()
    }

    /// Levels from the best outward (for walking the book without changing it).
    pub fn levels(&self, side: Side) -> Box<dyn Iterator<Item = (&u64, &Level)> + '_> {
        match side {
            Side::Buy => Box::new(self.bids.iter_rev()),
            Side::Sell => Box::new(self.asks.iter()),
        }
    }

    /// Changes so far (see the field); equal versions mean an unchanged book.
    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn total_live(&self) -> usize {
        self.live
    }
}

impl super::Exchange {
    /// Links a restored book's queues through the restored orders (a checkpoint keeps each
    /// level's orders by sequence, not their slots); called once after decoding a state.
    pub fn relink_queues(&mut self) {
        for book in &mut self.books {
            for (side, price, seqs) in std::mem::take(&mut book.unlinked) {
                let map = match side {
                    Side::Buy => &mut book.bids,
                    Side::Sell => &mut book.asks,
                };
                let level = map.get_mut(price).expect("an unlinked level is in the book");
                for seq in seqs {
                    let slot = self.orders.slot(seq).unwrap_or_else(|| panic!("order {seq} rests in a book but is not held"));
                    level.links.push_back(&mut self.orders, slot);
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
    use super::super::{CancelTarget, Command, Envelope, Exchange};

    fn queued(ex: &Exchange) -> Vec<u64> {
        let mut v = Vec::new();
        for b in &ex.books {
            for side in [Side::Buy, Side::Sell] {
                for (_, l) in b.levels(side) {
                    v.extend(b.queue(l, &ex.orders));
                }
            }
        }
        v
    }

    /// Applies each command 1 µs after the one before (the first 1 µs after `t`), and asserts it
    /// applied.
    fn stamped(mut t: u64) -> impl FnMut(&mut Exchange, Command) {
        move |ex, command| {
            t += 1_000;
            ex.apply(&Envelope { time_ns: t, key_nonce: None, command }).unwrap();
        }
    }

    /// An exchange with one account funded in every asset, and XBTUSD's reference price and lot.
    fn funded() -> (Exchange, u64, i128) {
        let markets = Markets::from_config(&crate::config::Config::builtin()).unwrap();
        let (price, lot) = (markets.pairs[0].reference_price, markets.pairs[0].ordermin.max(markets.pairs[0].lot_step()));
        let mut ex = Exchange::new(markets, 7);
        let mut apply = stamped(1_750_000_000_000_000_000);
        apply(&mut ex, Command::CreateAccount { name: "q".into() });
        for asset in 0..ex.markets.assets.len() as u16 {
            apply(&mut ex, Command::Deposit { account: FIRST_USER, asset, amount: crate::money::MAX_UNITS });
        }
        (ex, price, lot)
    }

    #[test]
    fn a_restored_book_is_relinked_and_removes_the_same_as_before() {
        let (mut ex, price, lot) = funded();
        let mut apply = stamped(ex.now_ns);
        for i in 0..12u64 {
            let p = price - 1_000 - i % 3;
            apply(&mut ex, Command::PlaceOrder(NewOrder::limit(FIRST_USER, 0, Side::Buy, p, lot)));
        }
        for seq in [2, 5, 6] {
            apply(&mut ex, Command::Cancel { account: FIRST_USER, target: CancelTarget::Order(seq) });
        }
        apply(&mut ex, Command::PlaceOrder(NewOrder::limit(FIRST_USER, 0, Side::Buy, price - 1_000, lot))); // a reused slot
        assert_eq!(queued(&ex), vec![0, 3, 9, 12, 1, 4, 7, 10, 8, 11], "best bid first, each level in time order");
        let bytes = postcard::to_allocvec(&ex).unwrap();
        let mut restored: Exchange = postcard::from_bytes(&bytes).unwrap();
        restored.relink_queues();
        restored.check_invariants().unwrap();
        assert_eq!(queued(&restored), queued(&ex));
        assert_eq!(restored.digest(), ex.digest(), "links are not state");
        let at = ex.now_ns;
        for e in [&mut ex, &mut restored] {
            for (k, seq) in [1, 7, 12, 0].into_iter().enumerate() {
                let command = Command::Cancel { account: FIRST_USER, target: CancelTarget::Order(seq) };
                e.apply(&Envelope { time_ns: at + 1 + k as u64, key_nonce: None, command }).unwrap();
            }
            e.check_invariants().unwrap();
        }
        assert_eq!(restored.digest(), ex.digest());
        assert_eq!(queued(&restored), vec![3, 9, 4, 10, 8, 11]);
        assert_eq!(queued(&restored), queued(&ex));
    }

    /// Levels far from the best (a bid at 1 tick, an ask at 10^12) and near it, as the window
    /// and its far map hold them: price order both ways, the best after cancels, a checkpoint.
    #[test]
    fn levels_near_and_far_keep_price_order_through_cancels_and_a_restore() {
        let (mut ex, price, lot) = funded();
        let mut apply = stamped(ex.now_ns);
        let bids = [1, 2, price - 3_000, price - 1_000, price - 1_001, price - 200_000];
        let asks = [price + 1_000, price + 50_000, 1_000_000_000_000, price + 1_001];
        for (side, prices) in [(Side::Buy, &bids[..]), (Side::Sell, &asks[..])] {
            for &p in prices {
                apply(&mut ex, Command::PlaceOrder(NewOrder::limit(FIRST_USER, 0, side, p, lot)));
            }
        }
        ex.check_invariants().unwrap();
        let prices = |ex: &Exchange, side| ex.books[0].depth(side, 100).into_iter().map(|(p, _)| p).collect::<Vec<_>>();
        let (mut want_bids, mut want_asks) = (bids.to_vec(), asks.to_vec());
        want_bids.sort_unstable_by(|a, b| b.cmp(a));
        want_asks.sort_unstable();
        assert_eq!(prices(&ex, Side::Buy), want_bids, "best first");
        assert_eq!(prices(&ex, Side::Sell), want_asks);
        // The best bid and ask cancelled, then the next: the best follows, near or far.
        for (k, seq) in [3u64, 4, 6, 9].into_iter().enumerate() {
            let at = ex.now_ns + 1 + k as u64;
            let command = Command::Cancel { account: FIRST_USER, target: CancelTarget::Order(seq) };
            ex.apply(&Envelope { time_ns: at, key_nonce: None, command }).unwrap();
            ex.check_invariants().unwrap();
        }
        assert_eq!(ex.books[0].best(Side::Buy), Some(price - 3_000));
        assert_eq!(ex.books[0].best(Side::Sell), Some(price + 50_000));
        let bytes = postcard::to_allocvec(&ex).unwrap();
        let mut restored: Exchange = postcard::from_bytes(&bytes).unwrap();
        restored.relink_queues();
        restored.check_invariants().unwrap();
        assert_eq!(restored.digest(), ex.digest());
        for side in [Side::Buy, Side::Sell] {
            assert_eq!(prices(&restored, side), prices(&ex, side));
            assert_eq!(restored.books[0].best(side), ex.books[0].best(side));
        }
        assert_eq!(prices(&restored, Side::Buy), vec![price - 3_000, price - 200_000, 2, 1]);
        assert_eq!(prices(&restored, Side::Sell), vec![price + 50_000, 1_000_000_000_000]);
    }

    /// The spread history gets an entry when the top moves and only then, as when each note
    /// compared with its last entry: a deeper order placed or canceled adds none, a new best
    /// one, and a restored book (which has noted nothing) adds none for a top already there.
    #[test]
    fn the_spread_is_noted_when_the_top_moves_and_after_a_restore_only_then() {
        let (mut ex, price, lot) = funded();
        let mut apply = stamped(ex.now_ns);
        let noted = |ex: &Exchange| (ex.market_data[0].spreads_noted, ex.market_data[0].spreads.back().map(|s| (s.1, s.2)));
        apply(&mut ex, Command::PlaceOrder(NewOrder::limit(FIRST_USER, 0, Side::Buy, price - 1_000, lot)));
        apply(&mut ex, Command::PlaceOrder(NewOrder::limit(FIRST_USER, 0, Side::Sell, price + 1_000, lot)));
        let before = noted(&ex);
        assert_eq!(before.1, Some((price - 1_000, price + 1_000)));
        // Deeper orders, placed and canceled: the top stays, nothing is noted.
        apply(&mut ex, Command::PlaceOrder(NewOrder::limit(FIRST_USER, 0, Side::Buy, price - 2_000, lot)));
        apply(&mut ex, Command::Cancel { account: FIRST_USER, target: CancelTarget::Order(2) });
        assert_eq!(noted(&ex), before);
        // A new best bid, then back: two entries.
        apply(&mut ex, Command::PlaceOrder(NewOrder::limit(FIRST_USER, 0, Side::Buy, price - 500, lot)));
        assert_eq!(noted(&ex), (before.0 + 1, Some((price - 500, price + 1_000))));
        apply(&mut ex, Command::Cancel { account: FIRST_USER, target: CancelTarget::Order(3) });
        assert_eq!(noted(&ex), (before.0 + 2, before.1));
        // Restored, an order that does not move the top notes nothing either, and both go on alike.
        let bytes = postcard::to_allocvec(&ex).unwrap();
        let mut restored: Exchange = postcard::from_bytes(&bytes).unwrap();
        restored.relink_queues();
        let at = ex.now_ns;
        for e in [&mut ex, &mut restored] {
            let commands = [
                Command::PlaceOrder(NewOrder::limit(FIRST_USER, 0, Side::Sell, price + 3_000, lot)),
                Command::PlaceOrder(NewOrder::limit(FIRST_USER, 0, Side::Sell, price + 900, lot)),
            ];
            for (k, command) in commands.into_iter().enumerate() {
                e.apply(&Envelope { time_ns: at + 1 + k as u64, key_nonce: None, command }).unwrap();
                if k == 0 {
                    assert_eq!(noted(e), (before.0 + 2, before.1), "a top already noted");
                }
            }
            assert_eq!(noted(e), (before.0 + 3, Some((price - 1_000, price + 900))));
        }
        assert_eq!(restored.digest(), ex.digest());
    }
}
