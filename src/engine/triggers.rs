//! Triggered orders (stop-loss, take-profit, their `-limit` forms, trailing stops) and
//! conditional closes, inside the engine so that they fire deterministically.
//!
//! - Relative prices (`+ - #`, `%`) are resolved here, against the pair's last trade price at
//!   the command's place in the log (or, for a conditional close, the opening order's price).
//! - An untriggered ("armed") order is open, holds what its order will need, and is not on the
//!   book. It waits in an index per pair and reference (`last` trade or `index` price): fixed
//!   triggers in two ordered sets (fire when the reference rises to the price, or falls to it),
//!   trailing stops in [`Trailing`]. A price move looks at the ends of these sets only.
//! - Every trade (reference `last`) and every index move (`Requote`) is noted as an event; after
//!   the command that caused them, [`Exchange::run_triggers`] evaluates the events in order, fires
//!   each order reached exactly once (it becomes the market or limit order it names, with a new
//!   hold: not enough funds then cancels it, reason `Insufficient funds`), and places the
//!   conditional closes of orders that ended. Fills of fired orders are events too: the cascade
//!   is iterative and ends because every order fires at most once and places at most one close.
//!   That evaluation and firing are in the child module `firing`; arming, the index and its
//!   invariants are here.

use super::matching::MAX_PRICE;
use super::order::{CancelReason, NewOrder, Offset, OffsetSign, Order, OrderKind, OrderSeq, Side, Status, StopState, Trigger};
use super::trailing::Trailing;
use super::{Applied, Exchange};
use crate::error::KrakenError;
use crate::money::div_round_half_up;
use std::collections::{BTreeSet, VecDeque};

mod firing;

/// The armed orders of one pair and one reference.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RefIndex {
    /// Fire when the reference rises to the price: (stop, order).
    up: BTreeSet<(u64, OrderSeq)>,
    /// Fire when the reference falls to the price.
    down: BTreeSet<(u64, OrderSeq)>,
    trail_sell: Trailing,
    trail_buy: Trailing,
}

impl RefIndex {
    fn new() -> RefIndex {
        RefIndex { up: BTreeSet::new(), down: BTreeSet::new(), trail_sell: Trailing::new(true), trail_buy: Trailing::new(false) }
    }
    fn is_empty(&self) -> bool {
        self.up.is_empty() && self.down.is_empty() && self.trail_sell.is_empty() && self.trail_buy.is_empty()
    }
    fn len(&self) -> usize {
        self.up.len() + self.down.len() + self.trail_sell.len() + self.trail_buy.len()
    }
}

/// Everything the engine keeps for triggered orders.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Triggers {
    /// Per pair: [last, index].
    index: Vec<[RefIndex; 2]>,
    /// Reference moves not evaluated yet: (pair, reference, price).
    events: VecDeque<(u16, Trigger, u64)>,
    /// Orders whose conditional close is due.
    closes: VecDeque<OrderSeq>,
}

impl Triggers {
    pub fn new(pairs: usize) -> Triggers {
        Triggers {
            index: (0..pairs).map(|_| [RefIndex::new(), RefIndex::new()]).collect(),
            events: VecDeque::new(),
            closes: VecDeque::new(),
        }
    }

    /// A trade or an index move on a pair (ignored when nothing waits on it).
    /// A trailing order's new offset, in place (its peak kept).
    pub(super) fn reoffset(&mut self, pair: u16, reference: Trigger, sell: bool, seq: OrderSeq, old: Offset, new: Offset) {
        let idx = &mut self.index[pair as usize][reference as usize];
        let t = if sell { &mut idx.trail_sell } else { &mut idx.trail_buy };
        t.reoffset(seq, (old.value, old.percent), (new.value, new.percent));
    }

    pub fn note(&mut self, pair: u16, reference: Trigger, price: u64) {
        if !self.index[pair as usize][reference as usize].is_empty() {
            self.events.push_back((pair, reference, price));
        }
    }

    /// An order ended: its conditional close is due if it traded.
    pub fn note_close(&mut self, o: &Order) {
        if o.close().is_some() && o.filled() > 0 {
            self.closes.push_back(o.seq);
        }
    }

    /// Whether anything waits for [`Exchange::run_triggers`] (a reference move noted, a close
    /// due): after most commands (every cancel, every place that did not trade) nothing does,
    /// and the engine skips the call.
    #[inline]
    pub fn pending(&self) -> bool {
        !self.events.is_empty() || !self.closes.is_empty()
    }

    /// How many orders are armed.
    pub fn armed(&self) -> usize {
        self.index.iter().flat_map(|r| r.iter()).map(RefIndex::len).sum()
    }
}

/// Fixed triggers fire upwards for a buy stop-loss and a sell take-profit.
fn fires_up(kind: OrderKind, side: Side) -> bool {
    kind.is_take_profit() == (side == Side::Sell)
}

/// `#`'s direction for a price (`second`: price2) of an order of this kind and side: a limit
/// away from the market, a stop-loss beyond it, a take-profit towards the gain, a `-limit`'s
/// limit beyond its trigger (up for a buy, down for a sell).
pub fn auto_plus(kind: OrderKind, side: Side, second: bool) -> bool {
    match (kind, second) {
        (OrderKind::Limit | OrderKind::Iceberg | OrderKind::Market, _) => side == Side::Sell,
        (_, true) => side == Side::Buy,
        (k, false) => fires_up(k, side),
    }
}

/// `base` moved by an offset; `None` when the result is not a price.
pub fn apply_offset(base: u64, off: Offset, plus_when_auto: bool) -> Option<u64> {
    let delta = if off.percent { div_round_half_up(base as i128 * off.value as i128, 1_000_000) } else { off.value as i128 };
    let plus = match off.sign {
        OffsetSign::Plus => true,
        OffsetSign::Minus => false,
        OffsetSign::Auto => plus_when_auto,
    };
    let p = if plus { base as i128 + delta } else { base as i128 - delta };
    (p > 0 && p <= MAX_PRICE as i128).then_some(p as u64)
}

/// A price rounded to the pair's tick (half up), at least one tick.
pub(super) fn to_tick(p: u64, tick: u64) -> u64 {
    (((p + tick / 2) / tick) * tick).max(tick)
}

impl Exchange {
    /// The reference price an order watches.
    pub fn reference(&self, pair: u16, trigger: Trigger) -> u64 {
        match trigger {
            Trigger::Last => self.market_data[pair as usize].last_price,
            Trigger::Index => self.index[pair as usize],
        }
    }

    /// The request with its relative prices made absolute against `base` (the last trade, or
    /// the opening order's price for a close). Trailing offsets stay offsets.
    pub(super) fn resolve_prices(&self, req: &NewOrder, base: u64) -> Result<NewOrder, KrakenError> {
        let mut r = req.clone();
        let tick = self.markets.pair(req.pair).tick;
        if let (Some(off), false) = (req.rare().price_offset, req.kind.is_trailing()) {
            if base == 0 {
                return Err(KrakenError::invalid("price"));
            }
            let p = apply_offset(base, off, auto_plus(req.kind, req.side, false)).ok_or_else(|| KrakenError::invalid("price"))?;
            r.price = to_tick(p, tick);
            r.rare_mut().price_offset = None;
        }
        if let (Some(off), false) = (req.rare().price2_offset, req.kind.is_trailing()) {
            if base == 0 {
                return Err(KrakenError::invalid("price2"));
            }
            let p = apply_offset(base, off, auto_plus(req.kind, req.side, true)).ok_or_else(|| KrakenError::invalid("price2"))?;
            r.rare_mut().price2 = to_tick(p, tick);
            r.rare_mut().price2_offset = None;
        }
        Ok(r)
    }

    /// The stop price an order would have now (`peak`: a trailing order's peak).
    pub(super) fn stop_now(&self, req: &NewOrder, peak: u64) -> u64 {
        match (req.kind.is_trailing(), req.rare().price_offset) {
            (true, Some(off)) => Trailing::stop_of(req.side == Side::Sell, peak, off.value, off.percent),
            _ => req.price,
        }
    }

    /// The limit a `*-limit` order gets when it fires at `stop`.
    pub(super) fn limit_at(&self, req: &NewOrder, stop: u64) -> u64 {
        match (req.kind, req.rare().price2_offset) {
            (OrderKind::TrailingStopLimit, Some(off)) => {
                apply_offset(stop, off, false).map_or(0, |p| to_tick(p, self.markets.pair(req.pair).tick))
            }
            (k, _) if k.has_limit2() => req.rare().price2,
            _ => 0,
        }
    }

    /// Places a triggered order, armed (prices already absolute): checks, hold, index.
    pub(super) fn arm(&mut self, req: NewOrder, t: u64) -> Result<Applied, KrakenError> {
        let reference = self.reference(req.pair, req.trigger);
        let trailing = req.kind.is_trailing();
        // A trailing offset is `+n` or `+n%`; its limit's offset `+`/`-`; nothing else relative.
        let offset_ok = |o: Option<Offset>, signs: &[OffsetSign]| o.is_some_and(|o| signs.contains(&o.sign) && o.value <= MAX_PRICE);
        if trailing && !offset_ok(req.rare().price_offset, &[OffsetSign::Plus]) || !trailing && req.rare().price_offset.is_some() {
            return Err(KrakenError::invalid("price"));
        }
        let trailing_limit = req.kind == OrderKind::TrailingStopLimit;
        if trailing_limit && !offset_ok(req.rare().price2_offset, &[OffsetSign::Plus, OffsetSign::Minus])
            || !trailing_limit && req.rare().price2_offset.is_some()
        {
            return Err(KrakenError::invalid("price2"));
        }
        if trailing {
            if reference == 0 {
                return Err(KrakenError::invalid("price"));
            }
        } else if req.price == 0 || req.price > MAX_PRICE {
            return Err(KrakenError::invalid("price"));
        }
        let stop = self.stop_now(&req, reference);
        let limit = self.limit_at(&req, stop);
        if req.kind.has_limit2() && (limit == 0 || limit > MAX_PRICE) {
            return Err(KrakenError::invalid("price2"));
        }
        // A buy holds at its limit, or for the market kinds at the stop price.
        let hold_price = if req.kind.has_limit2() { limit } else { stop.min(MAX_PRICE) };
        let (asset, hold) = self.hold_for(&req.hot(), hold_price, req.volume);
        if self.user_account(req.account)?.available(asset) < hold {
            return Err(KrakenError::InsufficientFunds);
        }
        // Checks done.
        let seq = self.orders.next_seq();
        let scheduled = req.rare().start_ns.is_some_and(|s| s > t);
        let mut order = Order::opened(seq, &req, t, asset, hold);
        order.set_stop(StopState { armed: true, stop, peak: if trailing { reference } else { 0 }, limit });
        if scheduled {
            // Held from now, armed at its start (`start_armed`), as Kraken's scheduled orders.
            order.status = Status::Pending;
        }
        // A GTD stop expires, pending, armed or fired, like any order.
        let order = self.orders.push(order);
        self.timers.arm_order(order);
        let acct = &mut self.accounts[order.req.account as usize];
        acct.funds[asset as usize].hold += hold;
        acct.open_orders.insert(seq);
        if !scheduled {
            self.index_armed(seq);
        }
        Ok(Applied::OrderPlaced(seq))
    }

    /// A scheduled triggered order's start: it is armed from now, a trailing stop's peak being
    /// the reference at its start (its hold follows, by its placing rule: more than the account
    /// has cancels it, reason `Insufficient funds`), and fires at once if the reference is
    /// already there.
    pub(super) fn start_armed(&mut self, seq: OrderSeq, t: u64) {
        let req = self.orders[seq as usize].new_order();
        self.orders[seq as usize].status = Status::Open;
        if req.kind.is_trailing() {
            let reference = self.reference(req.pair, req.trigger);
            let stop = self.stop_now(&req, reference);
            let limit = self.limit_at(&req, stop);
            let hold_price = if req.kind.has_limit2() { limit } else { stop.min(MAX_PRICE) };
            let (asset, need) = self.hold_for(&req.hot(), hold_price, req.volume);
            let o = &self.orders[seq as usize];
            let (account, old) = (req.account, o.hold_remaining());
            debug_assert_eq!(asset, o.hold_asset);
            if need > old && self.accounts[account as usize].available(asset) < need - old {
                self.finish(seq, Status::Canceled, Some(CancelReason::InsufficientFunds), t);
                return;
            }
            let o = &mut self.orders[seq as usize];
            o.set_stop(StopState { armed: true, stop, peak: reference, limit });
            o.set_hold_remaining(need);
            self.accounts[account as usize].funds[asset as usize].hold += need - old;
        }
        self.index_armed(seq);
    }

    /// Puts an armed order in its index (a trailing one at the current reference) and notes the
    /// reference, so that it fires at once if already reached.
    fn index_armed(&mut self, seq: OrderSeq) {
        let o = &self.orders[seq as usize];
        let (pair, side, kind, trigger, offset) = (o.req.pair, o.req.side, o.req.kind, o.req.trigger, o.price_offset());
        let stop = o.stop().map_or(0, |s| s.stop);
        let reference = self.reference(pair, trigger);
        let idx = &mut self.triggers.index[pair as usize][trigger as usize];
        match (kind.is_trailing(), offset) {
            (true, Some(off)) => {
                let t = if side == Side::Sell { &mut idx.trail_sell } else { &mut idx.trail_buy };
                t.insert(seq, off.value, off.percent, reference);
            }
            _ if fires_up(kind, side) => {
                idx.up.insert((stop, seq));
            }
            _ => {
                idx.down.insert((stop, seq));
            }
        }
        self.triggers.note(pair, trigger, reference);
    }

    /// Takes an armed order out of the index (it is being canceled); false if it is not armed
    /// (it is in its book, or pending).
    pub(super) fn disarm(&mut self, seq: OrderSeq) -> bool {
        let o = &self.orders[seq as usize];
        // A pending (scheduled) order is armed but not indexed yet.
        let Some(st) = o.stop().filter(|_| o.is_armed() && o.status == Status::Open) else { return false };
        let idx = &mut self.triggers.index[o.req.pair as usize][o.req.trigger as usize];
        match (o.req.kind.is_trailing(), o.price_offset()) {
            (true, Some(off)) => {
                let t = if o.req.side == Side::Sell { &mut idx.trail_sell } else { &mut idx.trail_buy };
                t.remove(seq, off.value, off.percent);
            }
            _ => {
                idx.up.remove(&(st.stop, seq));
                idx.down.remove(&(st.stop, seq));
            }
        }
        true
    }

    /// Puts an armed fixed-trigger order (not trailing) back in the index at its stop price, and
    /// lets it fire at once if the reference is already there (an amended trigger).
    pub(super) fn rearm_fixed(&mut self, seq: OrderSeq) {
        let o = &self.orders[seq as usize];
        let Some(st) = o.stop().filter(|_| o.is_armed() && o.status == Status::Open && !o.req.kind.is_trailing()) else {
            return;
        };
        let (pair, trigger, stop) = (o.req.pair, o.req.trigger, st.stop);
        let up = fires_up(o.req.kind, o.req.side);
        let idx = &mut self.triggers.index[pair as usize][trigger as usize];
        if up {
            idx.up.insert((stop, seq));
        } else {
            idx.down.insert((stop, seq));
        }
        let reference = self.reference(pair, trigger);
        self.triggers.note(pair, trigger, reference);
    }

    /// A trailing order's current peak (its placing reference until the index knows better).
    pub fn trailing_peak(&self, o: &Order) -> u64 {
        let idx = &self.triggers.index[o.req.pair as usize][o.req.trigger as usize];
        let t = if o.req.side == Side::Sell { &idx.trail_sell } else { &idx.trail_buy };
        t.peak_of(o.seq).or(o.stop().map(|s| s.peak)).unwrap_or(0)
    }

    /// An armed or fired order's (stop price, limit price) as Kraken shows them in
    /// `stopprice`/`limitprice`: a trailing stop's limit is its peak.
    pub fn stop_and_limit(&self, o: &Order) -> (u64, u64) {
        let Some(st) = o.stop() else { return (0, 0) };
        if !st.armed || !o.req.kind.is_trailing() {
            return (st.stop, if o.req.kind.has_limit2() { st.limit } else { 0 });
        }
        let peak = self.trailing_peak(o);
        let stop = self.stop_now(&o.new_order(), peak);
        let limit = if o.req.kind.has_limit2() { self.limit_at(&o.new_order(), stop) } else { peak };
        (stop, limit)
    }

    /// Invariants of the trigger index: exactly the armed orders that started are in it, once, and no
    /// armed order is on a book.
    pub(super) fn check_triggers(&self) -> Result<(), String> {
        // Pending (scheduled) armed orders wait for their start outside the index.
        let armed: Vec<&Order> = self.orders.iter().filter(|o| o.is_armed() && o.status == Status::Open).collect();
        if armed.len() != self.triggers.armed() {
            return Err(format!("{} armed orders, {} in the trigger index", armed.len(), self.triggers.armed()));
        }
        for o in armed {
            let idx = &self.triggers.index[o.req.pair as usize][o.req.trigger as usize];
            let st = o.stop().expect("armed has a stop");
            let found = match o.req.kind.is_trailing() {
                true => {
                    let t = if o.req.side == Side::Sell { &idx.trail_sell } else { &idx.trail_buy };
                    t.peak_of(o.seq).is_some()
                }
                false if fires_up(o.req.kind, o.req.side) => idx.up.contains(&(st.stop, o.seq)),
                false => idx.down.contains(&(st.stop, o.seq)),
            };
            if !found {
                return Err(format!("armed order {} missing from the trigger index", o.seq));
            }
            // Nothing armed may already be reached by its reference's current price.
            let r = self.reference(o.req.pair, o.req.trigger);
            let (stop, _) = self.stop_and_limit(o);
            let reached = match (o.req.kind.is_trailing(), o.req.side) {
                (true, Side::Sell) => r <= stop,
                (true, Side::Buy) => r >= stop,
                (false, s) if fires_up(o.req.kind, s) => r >= stop,
                _ => r <= stop,
            };
            if reached && self.triggers.events.is_empty() {
                return Err(format!("armed order {} at stop {stop} already reached by {r}", o.seq));
            }
        }
        for per_pair in &self.triggers.index {
            for idx in per_pair {
                idx.trail_sell.check()?;
                idx.trail_buy.check()?;
            }
        }
        Ok(())
    }
}
