//! Trailing stops of one pair, one reference and one side, without scanning them on every
//! price move. A sell trailing stop fires when the reference falls its offset below the highest
//! reference seen since it was placed (its peak); a buy when the reference rises its offset
//! above the lowest (its trough, also called `peak` here).
//!
//! Orders placed at the same reference share a bucket, keyed by that peak. When the reference
//! passes a bucket's peak (above it for sells, below for buys), the bucket's peak becomes the
//! reference; every bucket it passes then has the same peak, so they merge (union by size,
//! the smaller bucket's entries move into the larger one, so each entry moves O(log n) times).
//! Within a bucket the order to fire first is the one with the smallest offset, whatever the
//! peak, so each bucket keeps its absolute and its percentage offsets in ordered sets, and a
//! global ordered set (`front`) holds each bucket's nearest stop price. A price move costs one
//! look at the end of `front` plus the merges and firings it causes.

use super::order::OrderSeq;
use std::collections::{BTreeMap, BTreeSet};

const PPM: u128 = 1_000_000;

#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
struct Bucket {
    peak: u64,
    /// (offset in ticks, order)
    abs: BTreeSet<(u64, OrderSeq)>,
    /// (offset in ppm of the peak, order)
    pct: BTreeSet<(u64, OrderSeq)>,
    /// The entry this bucket has in `front`, if any.
    front: Option<u64>,
    size: usize,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Trailing {
    /// Sell stops (below a rising peak) or buy stops (above a falling trough).
    sell: bool,
    /// Live buckets by peak.
    roots: BTreeMap<u64, u32>,
    buckets: Vec<Bucket>,
    /// Union-find parent of each bucket (a merged bucket points towards the one it joined).
    parent: Vec<u32>,
    /// Each live bucket's nearest stop: (stop price, bucket).
    front: BTreeSet<(u64, u32)>,
    /// The bucket each armed order was put in (follow `parent` to its live bucket).
    member: BTreeMap<OrderSeq, u32>,
}

impl Trailing {
    pub fn new(sell: bool) -> Trailing {
        Trailing { sell, roots: BTreeMap::new(), buckets: Vec::new(), parent: Vec::new(), front: BTreeSet::new(), member: BTreeMap::new() }
    }

    pub fn is_empty(&self) -> bool {
        self.member.is_empty()
    }

    pub fn len(&self) -> usize {
        self.member.len()
    }

    /// The stop price of an offset from `peak` (percentages rounded half up, never below 0).
    pub fn stop_of(sell: bool, peak: u64, value: u64, percent: bool) -> u64 {
        match (sell, percent) {
            (true, false) => peak.saturating_sub(value),
            (false, false) => peak.saturating_add(value),
            (true, true) => ((peak as u128 * PPM.saturating_sub(value as u128) + PPM / 2) / PPM) as u64,
            (false, true) => ((peak as u128 * (PPM + value as u128) + PPM / 2) / PPM).min(u64::MAX as u128) as u64,
        }
    }

    fn root(&self, mut b: u32) -> u32 {
        while self.parent[b as usize] != b {
            b = self.parent[b as usize];
        }
        b
    }

    /// The current peak of an armed order's bucket.
    pub fn peak_of(&self, seq: OrderSeq) -> Option<u64> {
        self.member.get(&seq).map(|b| self.buckets[self.root(*b) as usize].peak)
    }

    /// `a` is nearer to firing than `b`.
    fn nearer(&self, a: u64, b: u64) -> bool {
        if self.sell {
            a > b
        } else {
            a < b
        }
    }

    /// Recomputes a live bucket's entry in `front`.
    fn refresh(&mut self, b: u32) {
        let bucket = &self.buckets[b as usize];
        let mut best: Option<u64> = None;
        if let Some((v, _)) = bucket.abs.first() {
            best = Some(Self::stop_of(self.sell, bucket.peak, *v, false));
        }
        if let Some((v, _)) = bucket.pct.first() {
            let s = Self::stop_of(self.sell, bucket.peak, *v, true);
            if best.is_none_or(|x| self.nearer(s, x)) {
                best = Some(s);
            }
        }
        if let Some(old) = self.buckets[b as usize].front.take() {
            self.front.remove(&(old, b));
        }
        if let Some(s) = best {
            self.front.insert((s, b));
        }
        self.buckets[b as usize].front = best;
    }

    /// Brings every bucket the reference `r` has passed to peak `r` (merging them).
    fn follow(&mut self, r: u64) {
        let passed: Vec<(u64, u32)> = if self.sell {
            self.roots.range(..r).map(|(p, b)| (*p, *b)).collect()
        } else {
            self.roots.range(r.saturating_add(1)..).map(|(p, b)| (*p, *b)).collect()
        };
        if passed.is_empty() {
            return;
        }
        let mut group: Vec<u32> = passed.iter().map(|(_, b)| *b).collect();
        for (p, _) in &passed {
            self.roots.remove(p);
        }
        if let Some(b) = self.roots.remove(&r) {
            group.push(b);
        }
        let base = *group.iter().max_by_key(|b| (self.buckets[**b as usize].size, std::cmp::Reverse(**b))).expect("a group");
        for b in group {
            if let Some(old) = self.buckets[b as usize].front.take() {
                self.front.remove(&(old, b));
            }
            if b == base {
                continue;
            }
            let moved = std::mem::take(&mut self.buckets[b as usize]);
            let dest = &mut self.buckets[base as usize];
            dest.abs.extend(moved.abs);
            dest.pct.extend(moved.pct);
            dest.size += moved.size;
            self.parent[b as usize] = base;
        }
        self.buckets[base as usize].peak = r;
        self.roots.insert(r, base);
        self.refresh(base);
    }

    /// Arms an order at the current reference `r`.
    pub fn insert(&mut self, seq: OrderSeq, value: u64, percent: bool, r: u64) {
        self.follow(r);
        let b = match self.roots.get(&r) {
            Some(b) => *b,
            None => {
                let b = self.buckets.len() as u32;
                self.buckets.push(Bucket { peak: r, ..Bucket::default() });
                self.parent.push(b);
                self.roots.insert(r, b);
                b
            }
        };
        let bucket = &mut self.buckets[b as usize];
        if percent {
            bucket.pct.insert((value, seq));
        } else {
            bucket.abs.insert((value, seq));
        }
        bucket.size += 1;
        self.member.insert(seq, b);
        self.refresh(b);
    }

    /// A new offset for an armed order: it stays in its bucket (its peak is kept).
    pub fn reoffset(&mut self, seq: OrderSeq, old: (u64, bool), new: (u64, bool)) {
        let Some(b) = self.member.get(&seq).copied() else { return };
        let b = self.root(b);
        let bucket = &mut self.buckets[b as usize];
        let removed = if old.1 { bucket.pct.remove(&(old.0, seq)) } else { bucket.abs.remove(&(old.0, seq)) };
        debug_assert!(removed, "trailing order {seq} not in its bucket");
        if new.1 {
            bucket.pct.insert((new.0, seq));
        } else {
            bucket.abs.insert((new.0, seq));
        }
        self.refresh(b);
    }

    /// Disarms an order (canceled before it fired).
    pub fn remove(&mut self, seq: OrderSeq, value: u64, percent: bool) {
        let Some(b) = self.member.remove(&seq) else { return };
        let b = self.root(b);
        let bucket = &mut self.buckets[b as usize];
        let removed = if percent { bucket.pct.remove(&(value, seq)) } else { bucket.abs.remove(&(value, seq)) };
        debug_assert!(removed, "trailing order {seq} not in its bucket");
        bucket.size -= 1;
        if bucket.size == 0 {
            let peak = bucket.peak;
            if let Some(old) = bucket.front.take() {
                self.front.remove(&(old, b));
            }
            self.roots.remove(&peak);
        } else {
            self.refresh(b);
        }
    }

    /// The reference moved to `r`: follows it, then takes out every order whose stop it
    /// reached, nearest first, each with the stop price it fired at and its peak.
    pub fn on_move(&mut self, r: u64, fired: &mut Vec<(OrderSeq, u64, u64)>) {
        if self.member.is_empty() {
            return;
        }
        self.follow(r);
        loop {
            let next = if self.sell { self.front.last() } else { self.front.first() };
            let Some(&(stop, b)) = next else { break };
            let reached = if self.sell { r <= stop } else { r >= stop };
            if !reached {
                break;
            }
            let bucket = &mut self.buckets[b as usize];
            let peak = bucket.peak;
            let abs_stop = bucket.abs.first().map(|(v, _)| Self::stop_of(self.sell, peak, *v, false));
            let take_abs = abs_stop == Some(stop);
            let entry = if take_abs { bucket.abs.pop_first() } else { bucket.pct.pop_first() };
            let (_, seq) = entry.expect("front names a live entry");
            bucket.size -= 1;
            self.member.remove(&seq);
            fired.push((seq, stop, peak));
            if bucket.size == 0 {
                if let Some(old) = bucket.front.take() {
                    self.front.remove(&(old, b));
                }
                self.roots.remove(&peak);
            } else {
                self.refresh(b);
            }
        }
    }

    /// Every armed order with its peak (for the invariant checks).
    pub fn members(&self) -> impl Iterator<Item = (OrderSeq, u64)> + '_ {
        self.member.iter().map(|(s, b)| (*s, self.buckets[self.root(*b) as usize].peak))
    }

    /// Consistency of the structure itself: sizes, roots and fronts agree.
    pub fn check(&self) -> Result<(), String> {
        let mut total = 0;
        for (peak, b) in &self.roots {
            let bucket = &self.buckets[*b as usize];
            if bucket.peak != *peak || self.parent[*b as usize] != *b {
                return Err(format!("trailing bucket {b}: peak {} under {peak}", bucket.peak));
            }
            if bucket.size != bucket.abs.len() + bucket.pct.len() || bucket.size == 0 {
                return Err(format!("trailing bucket {b}: size {}", bucket.size));
            }
            total += bucket.size;
        }
        if total != self.member.len() || self.front.len() != self.roots.len() {
            return Err(format!("trailing: {total} in buckets, {} members, {} fronts", self.member.len(), self.front.len()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sell_stop_follows_the_peak_and_fires_once() {
        let mut t = Trailing::new(true);
        t.insert(1, 100, false, 1000); // stop 900
        t.insert(2, 100_000, true, 1000); // 10%: stop 900
        t.insert(3, 50, false, 1000); // stop 950
        let mut fired = Vec::new();
        t.on_move(1100, &mut fired); // peaks follow: stops 1000, 990, 1050
        assert!(fired.is_empty());
        assert_eq!(t.peak_of(1), Some(1100));
        t.on_move(1040, &mut fired);
        assert_eq!(fired, vec![(3, 1050, 1100)]);
        t.insert(4, 10, false, 1040); // new bucket at 1040: stop 1030
        t.on_move(995, &mut fired);
        assert_eq!(fired, vec![(3, 1050, 1100), (4, 1030, 1040), (1, 1000, 1100)]);
        t.on_move(990, &mut fired);
        assert_eq!(fired.last(), Some(&(2, 990, 1100)));
        assert!(t.is_empty());
        t.check().unwrap();
    }

    #[test]
    fn a_buy_stop_follows_the_trough() {
        let mut t = Trailing::new(false);
        t.insert(1, 100, false, 1000);
        t.insert(2, 5, false, 1200);
        let mut fired = Vec::new();
        t.on_move(800, &mut fired); // both troughs at 800: stops 900, 805
        assert_eq!(fired, vec![]);
        t.remove(2, 5, false);
        t.on_move(899, &mut fired);
        assert!(fired.is_empty());
        t.on_move(900, &mut fired);
        assert_eq!(fired, vec![(1, 900, 800)]);
        t.check().unwrap();
    }
}
