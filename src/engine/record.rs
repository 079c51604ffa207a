//! The order record the engine keeps for every order that is not final, made compact because
//! there is one per resting order (a million resting orders must fit in little memory, issue 16):
//! the hot part (the request's fields that matching, holds and the open-order views read every
//! time, the executed amounts, the hold) inline, and the rare parts (client order id, relative
//! prices, conditional close, iceberg display, expiry and start times, trigger state, parent) in
//! one [`OrderExtras`] allocated only for an order that has one of them: a plain limit order
//! allocates nothing. Readers use accessors (`o.cl_ord_id()`, `o.stop()`…) that answer "none"
//! when there are no extras.
//!
//! The record's serialized form and its `Debug` form (what checkpoints, the `closed_orders`
//! table and `Exchange::digest` see) are those of the full record it replaced, field for field
//! (the request as a whole [`NewOrder`]), so a record reassembled from them is the same record
//! and every answer rendered from one is unchanged.

use super::amend::AmendRecord;
use super::markets::{AssetIdx, PairIdx};
use super::order::{
    AccountId, CancelReason, CloseOrder, NewOrder, Offset, OrderKind, OrderSeq, RareParts, SelfTrade, Side, Status, StopState, TimeInForce,
    Trigger,
};

/// The request's fields every order uses (the rest are in [`OrderExtras`]); names as in
/// [`NewOrder`]. Packed to eight-byte alignment: the i128 `volume` would otherwise align the
/// whole record to sixteen bytes and pad it (fields are read by value, as all are `Copy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(packed(8))]
#[allow(clippy::repr_packed_without_abi)] // Rust's own layout is wanted (fields reordered); no FFI
pub struct OrderReq {
    pub account: AccountId,
    pub pair: PairIdx,
    pub side: Side,
    pub kind: OrderKind,
    /// Limit price in ticks; 0 for market orders.
    pub price: u64,
    pub volume: i128,
    pub post_only: bool,
    pub fee_in_base: bool,
    pub time_in_force: TimeInForce,
    pub self_trade: SelfTrade,
    pub userref: Option<i32>,
    pub trigger: Trigger,
    /// `viqc` (see [`NewOrder::quote_volume`]).
    pub quote_volume: bool,
}

/// The parts of an order few orders have: the request's rare fields and the rare state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderExtras {
    pub cl_ord_id: Option<String>,
    /// `*-limit`: the limit price once triggered, in ticks (0 otherwise or while relative;
    /// only the triggered kinds have one, and they have extras anyway: their trigger state).
    pub price2: u64,
    pub price_offset: Option<Offset>,
    pub price2_offset: Option<Offset>,
    pub close: Option<CloseOrder>,
    pub display_volume: Option<i128>,
    pub expire_ns: Option<u64>,
    pub start_ns: Option<u64>,
    /// Triggered kinds: the trigger state (see `engine::triggers`).
    pub stop: Option<StopState>,
    /// A conditional close: the order whose execution placed it (Kraken's `refid`).
    pub parent: Option<OrderSeq>,
    /// Iceberg: the part of the remaining volume shown in the book now.
    pub shown: i128,
    /// The amounts too large for the record's eight bytes each (`Order::amount`); the others
    /// are 0 here.
    pub wide: Option<Box<[i128; AMOUNTS]>>,
    /// An amended order's amend history (OrderAmends), oldest first: the original entry, then
    /// each amend. It lives with the order, so it leaves the engine when the order closes (into
    /// the `closed_orders` row) instead of staying in a map of every order ever amended.
    pub amends: Vec<AmendRecord>,
}

impl OrderExtras {
    /// Whether every part is absent (equal to `NO_EXTRAS`), checked field by field: it runs for
    /// every order placed, and comparing with `NO_EXTRAS` compared strings and boxes.
    fn is_empty(&self) -> bool {
        let OrderExtras {
            cl_ord_id,
            price2,
            price_offset,
            price2_offset,
            close,
            display_volume,
            expire_ns,
            start_ns,
            stop,
            parent,
            shown,
            wide,
            amends,
        } = self;
        cl_ord_id.is_none()
            && *price2 == 0
            && price_offset.is_none()
            && price2_offset.is_none()
            && close.is_none()
            && display_volume.is_none()
            && expire_ns.is_none()
            && start_ns.is_none()
            && stop.is_none()
            && parent.is_none()
            && *shown == 0
            && wide.is_none()
            && amends.is_empty()
    }
}

static NO_EXTRAS: OrderExtras = OrderExtras {
    cl_ord_id: None,
    price2: 0,
    price_offset: None,
    price2_offset: None,
    close: None,
    display_volume: None,
    expire_ns: None,
    start_ns: None,
    stop: None,
    parent: None,
    shown: 0,
    wide: None,
    amends: Vec::new(),
};

#[derive(Clone)]
pub struct Order {
    pub seq: OrderSeq,
    pub req: OrderReq,
    pub status: Status,
    pub reason: Option<CancelReason>,
    pub hold_asset: AssetIdx,
    pub open_ns: u64,
    pub close_ns: u64,
    /// The executed amounts and the hold (see [`Amounts`]), eight bytes each: an amount that
    /// does not fit in an i64 is `WIDE` here and kept exactly in the extras (`amount`).
    amt: [i64; AMOUNTS],
    /// Index into the exchange's trade records of each fill of this order (inline, not with the
    /// extras: most orders that trade would need the extras for it alone; a `ThinVec`, one
    /// pointer and no allocation until the first fill, its length and capacity in its buffer).
    pub trades: thin_vec::ThinVec<u32>,
    /// The price the order may trade to, as its hold was reserved (a market buy's worst ask at
    /// placement; what a scheduled market buy is protected at when it starts).
    pub held_limit: u64,
    /// The rare parts, only for an order that has one.
    extras: Option<Box<OrderExtras>>,
    /// Its neighbours in its level's queue while it rests in a book (`engine::queue`). Derived,
    /// not state: not serialized, compared or digested (a restore relinks the queues,
    /// `Exchange::relink_queues`).
    pub(super) queue: super::queue::Neighbours,
}

impl Order {
    /// A new open order, nothing filled yet, holding `hold_remaining` of `hold_asset` (the
    /// request read in place: only its rare parts, if any, are copied).
    pub fn opened(seq: OrderSeq, req: &NewOrder, open_ns: u64, hold_asset: AssetIdx, hold_remaining: i128) -> Order {
        // The common order (no rare part, a hold that fits inline) as one expression, built
        // where the caller keeps it: built, changed and returned, the record was copied on its
        // way out (0.9% of the engine benchmark's instructions).
        match i64::try_from(hold_remaining) {
            Ok(hold) if hold != WIDE && !req.has_rare_parts() => {
                let mut amt = [0; AMOUNTS];
                amt[HOLD_REMAINING] = hold;
                return Order::bare(seq, req, open_ns, hold_asset, amt);
            }
            _ => {}
        }
        let mut o = Order::bare(seq, req, open_ns, hold_asset, [0; AMOUNTS]);
        if req.has_rare_parts() {
            o.set_request(req);
        }
        o.set_hold_remaining(hold_remaining);
        o
    }

    /// An open order's record with these amounts and no rare part (`opened`'s two paths).
    #[inline(always)]
    fn bare(seq: OrderSeq, req: &NewOrder, open_ns: u64, hold_asset: AssetIdx, amt: [i64; AMOUNTS]) -> Order {
        Order {
            seq,
            req: hot(req),
            status: Status::Open,
            reason: None,
            hold_asset,
            open_ns,
            close_ns: 0,
            amt,
            trades: thin_vec::ThinVec::new(),
            held_limit: 0,
            extras: None,
            queue: super::queue::Neighbours::NONE,
        }
    }

    /// Replaces the request (an amend or a requote in place); the rare state is kept.
    pub fn set_request(&mut self, req: &NewOrder) {
        self.req = hot(req);
        if self.extras.is_none() && !req.has_rare_parts() {
            return;
        }
        let RareParts { cl_ord_id, price2, price_offset, price2_offset, close, display_volume, expire_ns, start_ns } = req.rare();
        let (stop, parent, shown) = (self.stop().cloned(), self.parent(), self.shown());
        let wide = self.extras.as_mut().and_then(|x| x.wide.take());
        let amends = self.extras.as_mut().map(|x| std::mem::take(&mut x.amends)).unwrap_or_default();
        let x = OrderExtras {
            cl_ord_id: cl_ord_id.clone(),
            price2: *price2,
            price_offset: *price_offset,
            price2_offset: *price2_offset,
            close: close.clone(),
            display_volume: *display_volume,
            expire_ns: *expire_ns,
            start_ns: *start_ns,
            stop,
            parent,
            shown,
            wide,
            amends,
        };
        self.extras = (!x.is_empty()).then(|| Box::new(x));
    }

    /// The request as it was placed (or last amended), reassembled.
    pub fn new_order(&self) -> NewOrder {
        let r = &self.req;
        let x = self.extras.as_deref();
        NewOrder {
            account: r.account,
            pair: r.pair,
            side: r.side,
            kind: r.kind,
            price: r.price,
            volume: r.volume,
            post_only: r.post_only,
            fee_in_base: r.fee_in_base,
            time_in_force: r.time_in_force,
            self_trade: r.self_trade,
            userref: r.userref,
            trigger: r.trigger,
            quote_volume: r.quote_volume,
            rare: x.and_then(|x| {
                RareParts {
                    cl_ord_id: x.cl_ord_id.clone(),
                    price2: x.price2,
                    price_offset: x.price_offset,
                    price2_offset: x.price2_offset,
                    close: x.close.clone(),
                    display_volume: x.display_volume,
                    expire_ns: x.expire_ns,
                    start_ns: x.start_ns,
                }
                .boxed()
            }),
        }
    }

    /// The rare parts, all absent for an order that has none (one test for readers of several).
    pub fn rare(&self) -> &OrderExtras {
        self.extras.as_deref().unwrap_or(&NO_EXTRAS)
    }

    /// The extras box, if the record has one (it may hold none of the rare parts: an equal
    /// record may have none; `outbox` tests the parts it folds).
    #[inline]
    pub(super) fn extras(&self) -> Option<&OrderExtras> {
        self.extras.as_deref()
    }

    /// The rare parts, created empty on first use.
    pub fn extras_mut(&mut self) -> &mut OrderExtras {
        self.extras.get_or_insert_with(Box::default)
    }

    pub fn cl_ord_id(&self) -> Option<&str> {
        self.extras.as_ref()?.cl_ord_id.as_deref()
    }
    /// `*-limit`: the limit price once triggered, in ticks (0 otherwise or while relative).
    pub fn price2(&self) -> u64 {
        self.extras.as_ref().map_or(0, |x| x.price2)
    }
    pub fn set_price2(&mut self, price2: u64) {
        if price2 != 0 || self.extras.is_some() {
            self.extras_mut().price2 = price2;
        }
    }
    pub fn price_offset(&self) -> Option<Offset> {
        self.extras.as_ref()?.price_offset
    }
    pub fn price2_offset(&self) -> Option<Offset> {
        self.extras.as_ref()?.price2_offset
    }
    pub fn close(&self) -> Option<&CloseOrder> {
        self.extras.as_ref()?.close.as_ref()
    }
    pub fn display_volume(&self) -> Option<i128> {
        self.extras.as_ref()?.display_volume
    }
    pub fn expire_ns(&self) -> Option<u64> {
        self.extras.as_ref()?.expire_ns
    }
    pub fn start_ns(&self) -> Option<u64> {
        self.extras.as_ref()?.start_ns
    }
    /// Triggered kinds: the trigger state (see `engine::triggers`).
    pub fn stop(&self) -> Option<&StopState> {
        self.extras.as_ref()?.stop.as_ref()
    }
    pub fn stop_mut(&mut self) -> Option<&mut StopState> {
        self.extras.as_mut()?.stop.as_mut()
    }
    pub fn set_stop(&mut self, stop: StopState) {
        self.extras_mut().stop = Some(stop);
    }
    /// A conditional close: the order whose execution placed it (Kraken's `refid`).
    /// The amend history (empty for an order never amended; else the original entry first).
    pub fn amends(&self) -> &[AmendRecord] {
        self.extras.as_ref().map_or(&[], |x| &x.amends)
    }
    /// Whether the order was amended in place (Kraken's `amended`, and `misc` "amended").
    pub fn amended(&self) -> bool {
        !self.amends().is_empty()
    }
    pub fn parent(&self) -> Option<OrderSeq> {
        self.extras.as_ref()?.parent
    }
    /// Iceberg: the part of the remaining volume shown in the book now (0 for other orders).
    pub fn shown(&self) -> i128 {
        self.extras.as_ref().map_or(0, |x| x.shown)
    }
    /// Index into the exchange's trade records of each fill of this order.
    pub fn trades(&self) -> &[u32] {
        &self.trades
    }
    pub fn set_shown(&mut self, shown: i128) {
        if shown != 0 || self.extras.is_some() {
            self.extras_mut().shown = shown;
        }
    }

    pub fn remaining(&self) -> i128 {
        self.req.volume - self.filled()
    }

    /// Amount `i` (one of [`Amounts`]' fields, by index), exact.
    #[inline]
    pub(super) fn amount(&self, i: usize) -> i128 {
        match self.amt[i] {
            WIDE => {
                self.extras.as_ref().and_then(|x| x.wide.as_ref()).map_or_else(|| unreachable!("a wide amount is in the extras"), |w| w[i])
            }
            v => v as i128,
        }
    }

    /// Sets amount `i`: inline when it fits in an i64 (the one place amounts are narrowed, by a
    /// checked conversion), else `WIDE` inline and the value in the extras. The common case (it
    /// fits, and the amount was not wide) always inlined: a fill sets 16 amounts, and the call
    /// (LLVM's choice under `#[inline]`) cost as much as the store; the rest out of line.
    #[inline(always)]
    fn set_amount(&mut self, i: usize, v: i128) {
        match i64::try_from(v) {
            Ok(n) if n != WIDE && self.amt[i] != WIDE => self.amt[i] = n,
            _ => self.set_amount_rare(i, v),
        }
    }

    #[inline(never)]
    fn set_amount_rare(&mut self, i: usize, v: i128) {
        match i64::try_from(v) {
            Ok(n) if n != WIDE => {
                if self.amt[i] == WIDE {
                    let x = self.extras.as_mut().expect("a wide amount is in the extras");
                    let w = x.wide.as_mut().expect("a wide amount is in the extras");
                    w[i] = 0;
                    if w.iter().all(|v| *v == 0) {
                        x.wide = None;
                    }
                }
                self.amt[i] = n;
            }
            _ => {
                self.amt[i] = WIDE;
                self.extras_mut().wide.get_or_insert_with(Default::default)[i] = v;
            }
        }
        debug_assert_eq!(self.amount(i), v);
    }

    /// The amounts' form (for `check_invariants`): an amount is `WIDE` inline exactly when it
    /// does not fit in an i64 (or is the marker itself), and then only there in the extras.
    pub fn check_amounts(&self) -> Result<(), String> {
        let wide = self.extras.as_ref().and_then(|x| x.wide.as_deref());
        for i in 0..AMOUNTS {
            let ok = match (self.amt[i], wide) {
                (WIDE, Some(w)) => i64::try_from(w[i]).map_or(true, |n| n == WIDE),
                (WIDE, None) => false,
                (_, w) => w.is_none_or(|w| w[i] == 0),
            };
            if !ok {
                return Err(format!("order {}: amount {i} kept as {} with {wide:?}", self.seq, self.amt[i]));
            }
        }
        Ok(())
    }

    /// The amounts as they are stored: eight bytes each, [`WIDE`] for one kept in the extras
    /// (what the history fold reads, `outbox`: no widening to i128).
    #[inline]
    pub(super) fn stored_amounts(&self) -> &[i64; AMOUNTS] {
        &self.amt
    }

    /// The executed amounts and the hold, exact. Always inlined, its rare path not: LLVM's
    /// choice moved with unrelated changes elsewhere in the crate (a call here cost the closed
    /// fold 21 M instructions of a check pass of the engine bench, BENCHMARKS §1).
    #[inline(always)]
    pub fn amounts(&self) -> Amounts {
        if self.extras.is_none() {
            // No extras, so no wide amount: all are inline (most orders; this is on the path of
            // every closing, `outbox`).
            let [filled, cost, fee, exact_cost, exact_fee, cost_cd, fee_cd, hold_remaining] = self.amt.map(i128::from);
            return Amounts { filled, cost, fee, exact_cost, exact_fee, cost_cd, fee_cd, hold_remaining };
        }
        self.amounts_with_extras()
    }

    #[inline(never)]
    fn amounts_with_extras(&self) -> Amounts {
        Amounts {
            filled: self.filled(),
            cost: self.cost(),
            fee: self.fee(),
            exact_cost: self.exact_cost(),
            exact_fee: self.exact_fee(),
            cost_cd: self.cost_cd(),
            fee_cd: self.fee_cd(),
            hold_remaining: self.hold_remaining(),
        }
    }

    /// Sets every amount (see [`Order::amounts`]).
    pub fn set_amounts(&mut self, a: &Amounts) {
        self.set_filled(a.filled);
        self.set_cost(a.cost);
        self.set_fee(a.fee);
        self.set_exact_cost(a.exact_cost);
        self.set_exact_fee(a.exact_fee);
        self.set_cost_cd(a.cost_cd);
        self.set_fee_cd(a.fee_cd);
        self.set_hold_remaining(a.hold_remaining);
    }
    /// Open in the account's sense: not finished, holding funds (in the book or pending).
    pub fn is_open(&self) -> bool {
        matches!(self.status, Status::Open | Status::Pending)
    }
    /// The volume this order has in its book level: an iceberg's shown part, else what remains.
    pub fn book_volume(&self) -> i128 {
        match self.extras.as_deref() {
            Some(x) if x.display_volume.is_some() => x.shown,
            _ => self.remaining(),
        }
    }
    /// Open and still waiting for its trigger (not on the book).
    pub fn is_armed(&self) -> bool {
        self.is_open() && self.stop().is_some_and(|s| s.armed)
    }
    /// The asset fees are charged in: base with `fcib`, quote otherwise.
    pub fn fee_asset(&self, base: AssetIdx, quote: AssetIdx) -> AssetIdx {
        if self.req.fee_in_base {
            base
        } else {
            quote
        }
    }
}

/// An amount kept inline is this when the value is elsewhere (in the extras: too large for i64).
pub(super) const WIDE: i64 = i64::MIN;
/// How many amounts an order keeps (the fields of [`Amounts`]).
pub const AMOUNTS: usize = 8;

/// An order's executed amounts and hold, as the engine computes with them (i128; the record
/// keeps them in eight bytes each when they fit: `Order::amounts`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Amounts {
    /// Executed base volume.
    pub filled: i128,
    /// Quote charged or credited so far, in quote minimal units.
    pub cost: i128,
    /// Fee charged so far, in the fee asset's minimal units (quote unless `fee_in_base`).
    pub fee: i128,
    /// Running exact cost (units of 10^-(pd+bd) quote), the basis of cumulative rounding.
    pub exact_cost: i128,
    /// Running exact fee (cost or volume units × ppm).
    pub exact_fee: i128,
    /// Cost and (quote) fee so far at the pair's `cost_decimals`, as Kraken prints them (the
    /// sums of the order's trades' `cost_cd`/`fee_cd`; `fee_cd` is in base units with `fcib`).
    pub cost_cd: i128,
    pub fee_cd: i128,
    /// How much of the hold of `hold_asset` is left.
    pub hold_remaining: i128,
}

/// `o.filled()` and `o.set_filled(v)` for each amount (exact i128 values).
macro_rules! amount_accessors {
    ($($i:expr, $get:ident $set:ident);*) => {
        impl Order {
            $(
                #[inline]
                pub fn $get(&self) -> i128 {
                    self.amount($i)
                }
                #[inline]
                pub fn $set(&mut self, v: i128) {
                    self.set_amount($i, v)
                }
            )*
        }
    };
}

amount_accessors!(0, filled set_filled; 1, cost set_cost; 2, fee set_fee; 3, exact_cost set_exact_cost; 4, exact_fee set_exact_fee;
    5, cost_cd set_cost_cd; 6, fee_cd set_fee_cd; HOLD_REMAINING, hold_remaining set_hold_remaining);
/// The hold's index among the amounts (`Order::opened` sets it directly).
const HOLD_REMAINING: usize = 7;

impl NewOrder {
    /// The request's hot part (what [`OrderReq`] keeps).
    pub fn hot(&self) -> OrderReq {
        hot(self)
    }
}

fn hot(r: &NewOrder) -> OrderReq {
    OrderReq {
        account: r.account,
        pair: r.pair,
        side: r.side,
        kind: r.kind,
        price: r.price,
        volume: r.volume,
        post_only: r.post_only,
        fee_in_base: r.fee_in_base,
        time_in_force: r.time_in_force,
        self_trade: r.self_trade,
        userref: r.userref,
        trigger: r.trigger,
        quote_volume: r.quote_volume,
    }
}

/// The full record as it was before it was made compact: the serialized and `Debug` forms.
mod wide;

/// Equal records: no extras and empty extras are the same.
impl PartialEq for Order {
    fn eq(&self, o: &Order) -> bool {
        fn extras(o: &Order) -> OrderExtras {
            let x = o.extras.as_deref().unwrap_or(&NO_EXTRAS);
            // The amounts are compared above, whatever their form.
            OrderExtras { wide: None, ..x.clone() }
        }
        self.seq == o.seq
            && self.req == o.req
            && (self.status, self.reason, self.hold_asset, self.open_ns, self.close_ns)
                == (o.status, o.reason, o.hold_asset, o.open_ns, o.close_ns)
            && self.amounts() == o.amounts()
            && self.held_limit == o.held_limit
            && self.trades == o.trades
            && extras(self) == extras(o)
    }
}

impl Eq for Order {}

impl std::fmt::Debug for Order {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        wide::Order::from(self).fmt(f)
    }
}

impl serde::Serialize for Order {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        wide::Order::from(self).serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Order {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        wide::Order::deserialize(d).map(Order::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extras_are_empty_exactly_when_equal_to_none_of_them() {
        assert!(NO_EXTRAS.is_empty());
        let some = [
            OrderExtras { cl_ord_id: Some("a".into()), ..NO_EXTRAS.clone() },
            OrderExtras { price2: 1, ..NO_EXTRAS.clone() },
            OrderExtras { expire_ns: Some(0), ..NO_EXTRAS.clone() },
            OrderExtras { parent: Some(0), ..NO_EXTRAS.clone() },
            OrderExtras { shown: 1, ..NO_EXTRAS.clone() },
            OrderExtras { wide: Some(Box::default()), ..NO_EXTRAS.clone() },
            OrderExtras { amends: vec![AmendRecord::default()], ..NO_EXTRAS.clone() },
        ];
        for x in some {
            assert!(!x.is_empty() && x != NO_EXTRAS, "{x:?}");
        }
    }

    #[test]
    fn a_plain_limit_order_has_no_extras_and_the_wire_form_is_the_full_record() {
        let mut req = NewOrder::limit(5, 1, Side::Buy, 100, 7);
        let plain = Order::opened(1, &req, 9, 2, 700);
        assert!(plain.extras.is_none());
        req.rare_mut().cl_ord_id = Some("c".into());
        req.rare_mut().display_volume = Some(3);
        let mut o = Order::opened(2, &req, 9, 2, 700);
        o.set_shown(3);
        o.trades.push(4);
        let back: Order = postcard::from_bytes(&postcard::to_allocvec(&o).unwrap()).unwrap();
        assert_eq!(back, o);
        assert_eq!(back.new_order(), req);
        assert_eq!((back.cl_ord_id(), back.shown(), back.book_volume()), (Some("c"), 3, 3));
        assert!(format!("{o:?}").starts_with("Order { seq: 2, req: NewOrder { account: 5,"));
        // 168 bytes and the eight of its level links (which replaced a 16-byte queue node).
        assert!(std::mem::size_of::<Order>() <= 176, "{}", std::mem::size_of::<Order>());
    }

    #[test]
    fn amounts_past_i64_are_kept_exactly_in_the_extras_and_come_back_inline() {
        let req = NewOrder::limit(5, 1, Side::Buy, 100, 7);
        let mut o = Order::opened(1, &req, 9, 2, 700);
        let big = i64::MAX as i128 * 1_000 + 7;
        o.set_exact_fee(big);
        o.set_cost(i64::MIN as i128); // the inline marker's own value is kept wide too
        o.set_fee(-(i64::MAX as i128));
        assert!(o.extras.as_ref().is_some_and(|x| x.wide.is_some()));
        assert_eq!((o.exact_fee(), o.cost(), o.fee(), o.hold_remaining()), (big, i64::MIN as i128, -(i64::MAX as i128), 700));
        o.check_amounts().unwrap();
        let back: Order = postcard::from_bytes(&postcard::to_allocvec(&o).unwrap()).unwrap();
        assert_eq!(back, o);
        assert_eq!(format!("{back:?}"), format!("{o:?}"));
        assert!(format!("{o:?}").contains(&format!("exact_fee: {big}")));
        o.set_exact_fee(5);
        assert!(o.extras.as_ref().is_some_and(|x| x.wide.is_some()), "the cost is still wide");
        o.set_cost(6);
        assert!(o.extras.as_ref().is_some_and(|x| x.wide.is_none()));
        o.check_amounts().unwrap();
        let mut plain = Order::opened(1, &req, 9, 2, 700);
        plain.set_amounts(&Amounts { exact_fee: 5, cost: 6, fee: -(i64::MAX as i128), hold_remaining: 700, ..Amounts::default() });
        assert_eq!(o, plain, "an emptied extras box equals none");
        assert_eq!(format!("{o:?}"), format!("{plain:?}"));
    }
}
