//! One side of a book's price levels, by price. Exists because a `BTreeMap<u64, Level>` was 15%
//! of the engine's instructions: a book rests about one order per level near the best, and a
//! price move (cancel + place elsewhere) usually empties one level and creates another, so every
//! move paid two tree descents, a node insertion and a node removal.
//!
//! Most levels sit within a few hundred ticks of the best, so they live in a *window*: `SPAN`
//! slots indexed by price, one bit per slot saying it is occupied (a find, an insert or a removal
//! is an index and a bit; the next best is a scan of `WORDS` words). Levels outside the window
//! (any price can occur: a bid at 1 tick, an ask at 10^12) are kept in a `BTreeMap`, `far`.
//!
//! The window is circular: it covers prices `base .. base + SPAN` (`base` a multiple of 64),
//! price `p` in slot `p % SPAN` and bit `p % 64` of word `(p / 64) % WORDS`, so moving it by any
//! distance touches only the words that leave it and the levels that move, never the others.
//! It is placed by its side's best (`high_best`: bids, the highest): a quarter of it on the
//! better side of the best, three quarters behind it, where the book rests. It moves to a best
//! that left it when that evicts no more levels than the far accesses since paid for
//! (`credit`, one per access to `far` from outside the window), so a move costs, amortized, no
//! more than the `BTreeMap` would have: an order toggled far beyond the best cannot make the
//! window move its levels out and back at each toggle. An empty window moves for free.
//!
//! Invariants (`check`): no price in `far` is inside the window; a slot is a level exactly when
//! its bit is set; `in_window` counts the bits; every level knows its own price (so iteration
//! lends `&u64` like a map).

use super::book::Level;
use std::collections::BTreeMap;
use std::ops::Bound;

/// Words of the occupied-slot bitmap.
const WORDS: usize = 16;
/// Prices the window covers.
const SPAN: u64 = 64 * WORDS as u64;
/// The highest base: the window's last price is `u64::MAX`.
const MAX_BASE: u64 = 0u64.wrapping_sub(SPAN);

#[derive(Debug, Clone)]
pub struct Levels {
    /// The best is the highest price (bids) or the lowest (asks): where the window is placed.
    high_best: bool,
    /// The window's first price (a multiple of 64).
    base: u64,
    /// `SPAN` once the window is allocated, 0 before (no price is in it).
    span: u64,
    /// The window's levels, price `p` in slot `p % SPAN` (meaningful where its bit is set).
    slots: Vec<Level>,
    /// Occupied slots: bit `p % 64` of word `(p / 64) % WORDS`.
    words: [u64; WORDS],
    /// Levels in the window.
    in_window: usize,
    /// Levels outside the window.
    far: BTreeMap<u64, Level>,
    /// Far accesses not yet spent on moving the window (see the module doc).
    credit: usize,
}

#[inline]
fn bit(p: u64) -> (usize, u64) {
    ((p >> 6) as usize % WORDS, 1u64 << (p & 63))
}

#[inline]
fn slot(p: u64) -> usize {
    (p % SPAN) as usize
}

impl Levels {
    /// An empty side whose best is its highest price (`high_best`, bids) or its lowest (asks).
    pub fn new(high_best: bool) -> Self {
        Levels { high_best, base: 0, span: 0, slots: Vec::new(), words: [0; WORDS], in_window: 0, far: BTreeMap::new(), credit: 0 }
    }

    #[inline]
    fn in_window(&self, p: u64) -> bool {
        p.wrapping_sub(self.base) < self.span
    }

    /// How many levels (the book counts its orders, not its levels: for the tests).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.in_window + self.far.len()
    }

    #[inline]
    pub fn get(&self, p: u64) -> Option<&Level> {
        if self.in_window(p) {
            let (w, b) = bit(p);
            (self.words[w] & b != 0).then(|| &self.slots[slot(p)])
        } else {
            self.far.get(&p)
        }
    }

    #[inline]
    pub fn get_mut(&mut self, p: u64) -> Option<&mut Level> {
        if self.in_window(p) {
            let (w, b) = bit(p);
            (self.words[w] & b != 0).then(|| &mut self.slots[slot(p)])
        } else {
            self.far.get_mut(&p)
        }
    }

    /// The level at `p`, a new empty one if there was none.
    #[inline]
    pub fn get_or_insert_default(&mut self, p: u64) -> &mut Level {
        if !self.in_window(p) {
            self.far_access(p);
        }
        if self.in_window(p) {
            let (w, b) = bit(p);
            let level = &mut self.slots[slot(p)];
            if self.words[w] & b == 0 {
                self.words[w] |= b;
                self.in_window += 1;
                *level = Level::at(p);
            }
            level
        } else {
            self.far.entry(p).or_insert_with(|| Level::at(p))
        }
    }

    /// Removes the level at `p`; whether there was one.
    #[inline]
    pub fn remove(&mut self, p: u64) -> bool {
        if self.in_window(p) {
            let (w, b) = bit(p);
            let was = self.words[w] & b != 0;
            self.words[w] &= !b;
            self.in_window -= was as usize;
            was
        } else {
            self.far.remove(&p).is_some()
        }
    }

    /// The lowest price.
    pub fn first(&self) -> Option<u64> {
        let far = self.far.first_key_value().map(|(p, _)| *p);
        match far {
            Some(f) if f < self.base || self.span == 0 => Some(f),
            _ => self.window_first().or(far),
        }
    }

    /// The highest price.
    pub fn last(&self) -> Option<u64> {
        let far = self.far.last_key_value().map(|(p, _)| *p);
        match far {
            Some(f) if f.wrapping_sub(self.base) >= self.span && (f > self.base || self.span == 0) => Some(f),
            _ => self.window_last().or(far),
        }
    }

    fn window_first(&self) -> Option<u64> {
        if self.in_window == 0 {
            return None;
        }
        let block = self.base >> 6;
        (0..WORDS as u64).find_map(|k| {
            let bits = self.words[(block + k) as usize % WORDS];
            (bits != 0).then(|| ((block + k) << 6) | bits.trailing_zeros() as u64)
        })
    }

    fn window_last(&self) -> Option<u64> {
        if self.in_window == 0 {
            return None;
        }
        let block = self.base >> 6;
        (0..WORDS as u64).rev().find_map(|k| {
            let bits = self.words[(block + k) as usize % WORDS];
            (bits != 0).then(|| ((block + k) << 6) | (63 - bits.leading_zeros()) as u64)
        })
    }

    /// The far parts below and above the window (all of `far` below when there is no window).
    fn far_bounds(&self) -> [(Bound<u64>, Bound<u64>); 2] {
        if self.span == 0 {
            return [(Bound::Unbounded, Bound::Unbounded), (Bound::Excluded(u64::MAX), Bound::Unbounded)];
        }
        [(Bound::Unbounded, Bound::Excluded(self.base)), (Bound::Excluded(self.base + (SPAN - 1)), Bound::Unbounded)]
    }

    /// The levels in ascending price order.
    pub fn iter(&self) -> impl Iterator<Item = (&u64, &Level)> + '_ {
        let [below, above] = self.far_bounds();
        let block = self.base >> 6;
        let window = (0..WORDS as u64).flat_map(move |k| {
            let mut bits = self.words[(block + k) as usize % WORDS];
            std::iter::from_fn(move || {
                (bits != 0).then(|| {
                    let p = ((block + k) << 6) | bits.trailing_zeros() as u64;
                    bits &= bits - 1;
                    let level = &self.slots[slot(p)];
                    (&level.price, level)
                })
            })
        });
        self.far.range(below).chain(window).chain(self.far.range(above))
    }

    /// The levels in descending price order.
    pub fn iter_rev(&self) -> impl Iterator<Item = (&u64, &Level)> + '_ {
        let [below, above] = self.far_bounds();
        let block = self.base >> 6;
        let window = (0..WORDS as u64).rev().flat_map(move |k| {
            let mut bits = self.words[(block + k) as usize % WORDS];
            std::iter::from_fn(move || {
                (bits != 0).then(|| {
                    let top = 63 - bits.leading_zeros() as u64;
                    bits &= !(1u64 << top);
                    let level = &self.slots[slot(((block + k) << 6) | top)];
                    (&level.price, level)
                })
            })
        });
        self.far.range(above).rev().chain(window).chain(self.far.range(below).rev())
    }

    /// `p`, outside the window, is about to be read or made in `far`: one more credit, and the
    /// window moves to the best if the best is outside it and the move is paid for.
    #[cold]
    fn far_access(&mut self, p: u64) {
        self.credit = self.credit.saturating_add(1);
        let best = if self.high_best { self.last().map_or(p, |l| l.max(p)) } else { self.first().map_or(p, |f| f.min(p)) };
        if self.span != 0 && self.in_window(best) {
            return;
        }
        let base = if self.high_best { best.saturating_sub(SPAN / 4 * 3) } else { best.saturating_sub(SPAN / 4) };
        let base = (base & !63).min(MAX_BASE);
        let evicted = self.leaving(base);
        if evicted <= self.credit {
            self.credit -= evicted;
            self.move_window(base);
        }
    }

    /// Whether the window's block `k` (0 = the first) stays in a window at `base`.
    fn stays(&self, k: u64, base: u64) -> bool {
        ((self.base >> 6) + k).wrapping_sub(base >> 6) < WORDS as u64
    }

    /// Levels a window at `base` would leave out of the current one.
    fn leaving(&self, base: u64) -> usize {
        if self.span == 0 {
            return 0;
        }
        let block = self.base >> 6;
        (0..WORDS as u64).filter(|&k| !self.stays(k, base)).map(|k| self.words[(block + k) as usize % WORDS].count_ones() as usize).sum()
    }

    /// Moves the window to start at `base`: the levels it leaves go to `far`, the far levels it
    /// now covers come in.
    fn move_window(&mut self, base: u64) {
        if self.span == 0 {
            self.slots = vec![Level::default(); SPAN as usize];
            self.span = SPAN;
        } else {
            let block = self.base >> 6;
            for k in 0..WORDS as u64 {
                if self.stays(k, base) {
                    continue;
                }
                let w = (block + k) as usize % WORDS;
                let mut bits = std::mem::take(&mut self.words[w]);
                while bits != 0 {
                    let p = ((block + k) << 6) | bits.trailing_zeros() as u64;
                    bits &= bits - 1;
                    self.far.insert(p, std::mem::take(&mut self.slots[slot(p)]));
                    self.in_window -= 1;
                }
            }
        }
        self.base = base;
        while let Some((&p, _)) = self.far.range(base..=base + (SPAN - 1)).next() {
            let level = self.far.remove(&p).expect("just found");
            let (w, b) = bit(p);
            self.words[w] |= b;
            self.slots[slot(p)] = level;
            self.in_window += 1;
        }
    }

    /// The invariants in the module doc.
    pub fn check(&self) -> Result<(), String> {
        if !self.base.is_multiple_of(64) || self.base > MAX_BASE || (self.span != 0 && self.span != SPAN) {
            return Err(format!("window at {} spanning {}", self.base, self.span));
        }
        if self.span == 0 && (self.in_window != 0 || self.words.iter().any(|&w| w != 0)) {
            return Err("levels in a window not allocated".into());
        }
        let bits: usize = self.words.iter().map(|w| w.count_ones() as usize).sum();
        if bits != self.in_window {
            return Err(format!("{bits} slots occupied, {} counted", self.in_window));
        }
        if let Some((p, _)) = self.far.iter().find(|(p, l)| self.in_window(**p) || l.price != **p) {
            return Err(format!("far level {p} inside the window or mislabelled"));
        }
        for k in 0..WORDS as u64 {
            let block = (self.base >> 6) + k;
            let mut bits = self.words[block as usize % WORDS];
            while bits != 0 {
                let p = (block << 6) | bits.trailing_zeros() as u64;
                bits &= bits - 1;
                if self.slots[slot(p)].price != p {
                    return Err(format!("slot of {p} holds the level of {}", self.slots[slot(p)].price));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A price near one of a few centres (0, the middle, the top, and two ordinary prices), or
    /// anywhere: so the window meets both ends of `u64`, far levels and moves of every length.
    fn price() -> impl Strategy<Value = u64> {
        prop_oneof![
            4 => (0usize..5, 0u64..3 * SPAN).prop_map(|(c, d)| {
                let centre = [0, 1 << 40, u64::MAX, 880_000, 880_000 + 5 * SPAN][c];
                if c == 2 { centre - d } else { centre + d }
            }),
            1 => any::<u64>(),
        ]
    }

    #[derive(Debug, Clone)]
    enum Op {
        Upsert(u64, i128),
        Remove(u64),
        Get(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (price(), 1i128..1000).prop_map(|(p, v)| Op::Upsert(p, v)),
            3 => price().prop_map(Op::Remove),
            1 => price().prop_map(Op::Get),
        ]
    }

    fn compare(levels: &Levels, model: &BTreeMap<u64, i128>) -> Result<(), TestCaseError> {
        levels.check().map_err(TestCaseError::fail)?;
        prop_assert_eq!(levels.len(), model.len());
        prop_assert_eq!(levels.first(), model.keys().next().copied());
        prop_assert_eq!(levels.last(), model.keys().next_back().copied());
        let up: Vec<(u64, i128)> = levels.iter().map(|(p, l)| (*p, l.volume)).collect();
        let want: Vec<(u64, i128)> = model.iter().map(|(p, v)| (*p, *v)).collect();
        prop_assert_eq!(&up, &want);
        let down: Vec<(u64, i128)> = levels.iter_rev().map(|(p, l)| (*p, l.volume)).collect();
        prop_assert_eq!(down, want.into_iter().rev().collect::<Vec<_>>());
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        #[test]
        fn levels_behave_as_a_btreemap(high_best in any::<bool>(), ops in proptest::collection::vec(op(), 1..300)) {
            let mut levels = Levels::new(high_best);
            let mut model = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Upsert(p, v) => {
                        let level = levels.get_or_insert_default(p);
                        prop_assert_eq!(level.price, p);
                        level.volume += v;
                        *model.entry(p).or_insert(0) += v;
                    }
                    Op::Remove(p) => prop_assert_eq!(levels.remove(p), model.remove(&p).is_some()),
                    Op::Get(p) => {
                        prop_assert_eq!(levels.get(p).map(|l| l.volume), model.get(&p).copied());
                        if let Some(l) = levels.get_mut(p) {
                            l.volume += 1;
                            *model.get_mut(&p).unwrap() += 1;
                        }
                    }
                }
                compare(&levels, &model)?;
            }
        }
    }

    #[test]
    fn a_level_keeps_its_price_in_its_padding() {
        assert_eq!(std::mem::size_of::<Level>(), 48, "a window slot; 48 KB a side");
    }

    /// The window follows a best that drifts away, and an order toggled far beyond the best does
    /// not move it until the far accesses have paid for the levels it would evict.
    #[test]
    fn the_window_follows_the_best_and_is_paid_for() {
        let mut bids = Levels::new(true);
        for p in 10_000..10_200 {
            bids.get_or_insert_default(p);
        }
        assert_eq!((bids.in_window, bids.far.len()), (200, 0));
        // A drift up, a level a tick: the window moves along (the deep levels that leave it
        // were paid for by the few far accesses it took).
        for p in 10_200..13_000 {
            bids.get_or_insert_default(p);
            bids.remove(p - 200);
        }
        bids.check().unwrap();
        assert!(bids.in_window(12_999) && bids.in_window(12_800), "window at {}", bids.base);
        assert!(bids.far.len() < 10, "{} far", bids.far.len());
        // A bid toggled 10^6 ticks above: it waits in `far` until 200 far accesses paid.
        let base = bids.base;
        for _ in 0..150 {
            bids.get_or_insert_default(2_000_000);
            assert!(bids.remove(2_000_000));
        }
        assert_eq!(bids.base, base, "an unpaid move");
        bids.check().unwrap();
    }
}
