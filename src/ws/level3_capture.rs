//! The engine side of the `level3` channel: after each batch, on the engine thread, the
//! individual resting orders of the top levels of the pairs some connection subscribed to at
//! level 3 are copied out (id sequence, visible quantity, the time the order last took its
//! place), into the batch's market capture. Pairs nobody watches at level 3 cost one atomic read
//! per batch; a watched pair is copied only when its book changed (or a new subscriber waits for
//! its first picture). Every copy is a complete picture of the top levels, so the publisher
//! ([`super::level3`]) diffs consecutive copies into add/modify/delete and never depends on
//! having seen every batch. The copy reads the exchange after `apply`, as the public capture
//! does: the engine stays a pure state machine.

use crate::engine::ids::IdCodec;
use crate::engine::order::{OrderSeq, Side, Status};
use crate::engine::Exchange;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Kraken's level3 depths (price levels per side).
pub const DEPTHS: [usize; 3] = [10, 100, 1000];

/// Which pairs level3 subscribers watch, at which depths: written by connections, read by the
/// engine thread after each batch.
#[derive(Default)]
pub struct Interest {
    /// Subscriptions in all (the engine thread's fast path: 0 = nothing to copy).
    total: AtomicUsize,
    inner: Mutex<InterestInner>,
}

#[derive(Default)]
struct InterestInner {
    /// pair → subscriptions per depth of [`DEPTHS`].
    pairs: HashMap<u16, [usize; 3]>,
    /// Pairs a new subscriber waits on: copied at the next batch even if unchanged.
    refresh: HashSet<u16>,
}

fn depth_index(depth: usize) -> usize {
    DEPTHS.iter().position(|d| *d == depth).unwrap_or(0)
}

impl Interest {
    fn lock(&self) -> std::sync::MutexGuard<'_, InterestInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A subscription to `pair` at `depth` (`refresh`: it waits for a picture).
    pub fn add(&self, pair: u16, depth: usize, refresh: bool) {
        let mut g = self.lock();
        g.pairs.entry(pair).or_default()[depth_index(depth)] += 1;
        if refresh {
            g.refresh.insert(pair);
        }
        self.total.fetch_add(1, Ordering::SeqCst);
    }

    /// A subscription ended; true when the pair has no level3 subscriber left.
    pub fn remove(&self, pair: u16, depth: usize) -> bool {
        let mut g = self.lock();
        let Some(counts) = g.pairs.get_mut(&pair) else { return true };
        let i = depth_index(depth);
        if counts[i] > 0 {
            counts[i] -= 1;
            self.total.fetch_sub(1, Ordering::SeqCst);
        }
        let gone = counts.iter().all(|c| *c == 0);
        if gone {
            g.pairs.remove(&pair);
        }
        gone
    }

    /// The deepest depth watched on `pair` (0: none).
    pub fn depth(&self, pair: u16) -> usize {
        self.lock().pairs.get(&pair).map(max_depth).unwrap_or(0)
    }
}

fn max_depth(counts: &[usize; 3]) -> usize {
    DEPTHS.iter().zip(counts).filter(|(_, c)| **c > 0).map(|(d, _)| *d).max().unwrap_or(0)
}

/// One resting order as level3 shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct L3Order {
    pub seq: OrderSeq,
    /// What the order shows in the book (an iceberg's display part), base minimal units.
    pub qty: i128,
    /// When the order took its current price and quantity, as far as the engine records it
    /// (placed, re-quoted or last amended).
    pub entered_ns: u64,
}

/// One price level: its orders in queue order (front first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct L3Level {
    pub price: u64,
    pub orders: Vec<L3Order>,
}

/// The top `depth` levels of one pair, best first, after a committed batch.
#[derive(Clone, Debug)]
pub struct L3Capture {
    pub pair: u16,
    pub time_ns: u64,
    pub depth: usize,
    pub bids: Vec<L3Level>,
    pub asks: Vec<L3Level>,
    /// The whole state was replaced (reset, restore): the orders are not a continuation.
    pub reset: bool,
    /// Turns sequences into public order ids (`OXXXXX-XXXXX-XXXXXX`).
    pub ids: IdCodec,
}

/// What the engine thread remembers between batches.
#[derive(Default)]
pub struct L3Tracker {
    /// Set once the publisher is attached (see `Sequencer::level3`).
    pub interest: Option<std::sync::Arc<Interest>>,
    /// Per pair: (book version, depth) of the last copy.
    seen: HashMap<u16, (u64, usize)>,
}

/// The live orders of one level, front first (the queue also holds lazily removed ones).
fn level_orders(ex: &Exchange, side: Side, price: u64, queue: impl Iterator<Item = OrderSeq>) -> Vec<L3Order> {
    let mut out = Vec::new();
    for seq in queue {
        let Some(o) = ex.orders.get(seq as usize) else { continue };
        if o.status != Status::Open || o.req.side != side || o.req.price != price || o.is_armed() {
            continue;
        }
        let qty = o.book_volume();
        if qty <= 0 {
            continue;
        }
        let amended = o.amends().last().map_or(0, |r| r.time_ns);
        out.push(L3Order { seq, qty, entered_ns: o.open_ns.max(amended) });
    }
    out
}

fn side_levels(ex: &Exchange, pair: usize, side: Side, depth: usize) -> Vec<L3Level> {
    ex.books[pair]
        .levels(side)
        .map(|(price, level)| L3Level { price: *price, orders: level_orders(ex, side, *price, ex.books[pair].queue(level, &ex.orders)) })
        .filter(|l| !l.orders.is_empty())
        .take(depth)
        .collect()
}

impl L3Tracker {
    /// Copies of the watched pairs that changed (all watched pairs when `full`: the state was
    /// replaced).
    pub fn capture(&mut self, ex: &Exchange, now_ns: u64, full: bool) -> Vec<L3Capture> {
        let Some(interest) = &self.interest else { return Vec::new() };
        if interest.total.load(Ordering::SeqCst) == 0 {
            self.seen.clear();
            return Vec::new();
        }
        let (pairs, refresh) = {
            let mut g = interest.lock();
            let pairs: Vec<(u16, usize)> = g.pairs.iter().map(|(p, c)| (*p, max_depth(c))).collect();
            (pairs, std::mem::take(&mut g.refresh))
        };
        self.seen.retain(|p, _| pairs.iter().any(|(q, _)| q == p));
        let mut out = Vec::new();
        for (pair, depth) in pairs {
            let p = pair as usize;
            if p >= ex.books.len() || depth == 0 {
                continue;
            }
            let mark = (ex.books[p].version(), depth);
            if !full && !refresh.contains(&pair) && self.seen.get(&pair) == Some(&mark) {
                continue;
            }
            self.seen.insert(pair, mark);
            out.push(L3Capture {
                pair,
                time_ns: now_ns,
                depth,
                bids: side_levels(ex, p, Side::Buy, depth),
                asks: side_levels(ex, p, Side::Sell, depth),
                reset: full,
                ids: ex.ids.clone(),
            });
        }
        out
    }
}
