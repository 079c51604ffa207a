//! AmendOrder: an open order changed in place (same txid, same fills), and the amend history
//! OrderAmends reports. Kraken's atomic amend keeps the order's queue priority "where possible";
//! here, as on Kraken's amend guide, an amend that only lowers the quantity keeps the order's
//! place in its price level, while a new limit price or a larger quantity sends it to the back of
//! the queue (at its new price, where it may also trade at once, as any limit order). A quantity
//! at or below what has already filled ends the order: the rest is canceled.
//!
//! Holds stay exact: the amended order holds what its remaining quantity can still cost at the
//! new price, computed on the order's own running exact totals (the same cumulative rounding the
//! fills use), so the hold grows or shrinks by the difference. An amend that needs more than the
//! account has available is refused with `EOrder:Insufficient funds` and changes nothing.
//!
//! Which fields an order accepts is decided per order kind in [`Exchange::amendable`]: limit
//! price and quantity for limit orders and icebergs; quantity, trigger price and (the `-limit`
//! forms) limit price for an armed stop order (`amend_stop`); an iceberg's display quantity and
//! a trailing stop's offsets are refused with `EGeneral:Invalid arguments:<field>`.

use super::ids::IdKind;
use super::order::{AccountId, CancelReason, Offset, Order, OrderKind, OrderSeq, Side, Status};
use super::triggers::{apply_offset, auto_plus, to_tick};
use super::{Applied, Exchange};
use crate::error::KrakenError;
use crate::money::div_ceil;
use serde::{Deserialize, Serialize};

const PPM: i128 = 1_000_000;
/// Amend ids of the "original" entries live in their own half of the id space (the order's
/// sequence with the top bit set), so an order that was never amended needs no stored record.
const ORIGINAL: u64 = 1 << 63;

/// Which order an amend names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AmendTarget {
    Order(OrderSeq),
    ClOrdId(String),
}

/// AmendOrder as validated by the API layer (prices in ticks, quantities in base units).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmendRequest {
    pub account: AccountId,
    pub target: AmendTarget,
    pub order_qty: Option<i128>,
    pub limit_price: Option<u64>,
    pub trigger_price: Option<u64>,
    pub display_qty: Option<i128>,
    /// Refuse a new limit price that would take liquidity.
    pub post_only: bool,
    /// A trailing stop's new offset (`trigger_price=+n` or `+n%`).
    #[serde(default)]
    pub trigger_offset: Option<Offset>,
    /// A trailing-stop-limit's new limit offset (`limit_price=+n`/`-n`, `%`).
    #[serde(default)]
    pub limit_offset: Option<Offset>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AmendKind {
    #[default]
    Original,
    User,
}

impl AmendKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AmendKind::Original => "original",
            AmendKind::User => "user",
        }
    }
}

/// One entry of an order's amend history (OrderAmends).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AmendRecord {
    /// Sequence in the amend id space (ORIGINAL | order seq for the original entry).
    pub id: u64,
    pub kind: AmendKind,
    pub order_qty: i128,
    pub remaining_qty: i128,
    pub limit_price: u64,
    pub post_only: bool,
    pub time_ns: u64,
}

/// The order fields an amend may change, by order kind.
enum Field {
    Quantity,
    LimitPrice,
    TriggerPrice,
    DisplayQuantity,
    /// A trailing stop's offset, a trailing-stop-limit's limit offset.
    TriggerOffset,
    LimitOffset,
}

impl Exchange {
    /// Whether an open order of this kind accepts the amend of `field`.
    fn amendable(o: &Order, field: Field) -> Result<(), KrakenError> {
        match (o.req.kind, field) {
            (OrderKind::Limit | OrderKind::Iceberg, Field::Quantity | Field::LimitPrice) => Ok(()),
            (OrderKind::Iceberg, Field::DisplayQuantity) => Ok(()),
            // An armed stop: its quantity, its trigger and (the `-limit` forms) its limit price;
            // a trailing stop's offsets, relative (see `amend_stop`).
            (k, Field::Quantity) if k.is_triggered() && o.is_armed() => Ok(()),
            (k, Field::TriggerPrice) if k.is_triggered() && !k.is_trailing() && o.is_armed() => Ok(()),
            (k, Field::LimitPrice) if k.has_limit2() && !k.is_trailing() && o.is_armed() => Ok(()),
            (k, Field::TriggerOffset) if k.is_trailing() && o.is_armed() => Ok(()),
            (OrderKind::TrailingStopLimit, Field::LimitOffset) if o.is_armed() => Ok(()),
            // A fired `-limit` stop rests as the limit order it became: amended as one.
            (k, Field::Quantity | Field::LimitPrice) if k.has_limit2() && o.stop().is_some() && !o.is_armed() => Ok(()),
            // A fired stop's trigger is spent; a trailing stop's trigger is an offset.
            (_, Field::TriggerPrice | Field::TriggerOffset) => Err(KrakenError::invalid("trigger_price")),
            (_, Field::LimitOffset) => Err(KrakenError::invalid("limit_price")),
            (_, Field::DisplayQuantity) => Err(KrakenError::invalid("display_qty")),
            (_, Field::LimitPrice) => Err(KrakenError::invalid("limit_price")),
            (_, Field::Quantity) => Err(KrakenError::invalid("order_qty")),
        }
    }

    /// The open order of `account` an amend of `target` names.
    pub fn amend_target(&self, account: AccountId, target: &AmendTarget) -> Option<OrderSeq> {
        let acct = self.user_account(account).ok()?;
        match target {
            AmendTarget::Order(seq) => self.orders.get(*seq as usize).filter(|o| o.req.account == account && o.is_open()).map(|o| o.seq),
            AmendTarget::ClOrdId(c) => acct.open_orders.iter().copied().find(|s| self.orders[*s as usize].cl_ord_id() == Some(c.as_str())),
        }
    }

    /// When the order was placed or last amended (the age Kraken's amend penalty counts from).
    pub fn last_amended_ns(&self, seq: OrderSeq) -> u64 {
        self.orders.get(seq as usize).map_or(0, |o| o.amends().last().map_or(o.open_ns, |r| r.time_ns.max(o.open_ns)))
    }

    pub fn amend_txid(&self, id: u64) -> String {
        self.ids.encode(IdKind::Amend, id)
    }

    /// The order's amend history, oldest first: the original entry, then each amend. The order
    /// is the engine's (open) or the history table's (closed: no longer in the engine); the
    /// history is in its record either way.
    pub fn amend_history(o: &Order) -> Vec<AmendRecord> {
        match o.amends() {
            [] => vec![Self::original_record(o)],
            h => h.to_vec(),
        }
    }

    fn original_record(o: &Order) -> AmendRecord {
        AmendRecord {
            id: ORIGINAL | o.seq,
            kind: AmendKind::Original,
            order_qty: o.req.volume,
            remaining_qty: o.req.volume,
            limit_price: o.req.price,
            post_only: o.req.post_only,
            time_ns: o.open_ns,
        }
    }

    /// What an order needs held for `remaining` more at `price`, given what it has already been
    /// charged (its running exact cost and fee): the most its future fills can charge.
    fn amended_hold(&self, o: &Order, price: u64, remaining: i128) -> i128 {
        let pair = self.markets.pair(o.req.pair);
        let max_taker = self.markets.max_taker_ppm();
        match o.req.side {
            Side::Buy => {
                let exact = pair.exact_cost(price, remaining);
                let cost = div_ceil(o.exact_cost() + exact, pair.cost_divisor) - o.cost();
                let fee =
                    if o.req.fee_in_base { 0 } else { div_ceil(o.exact_fee() + exact * max_taker, pair.cost_divisor * PPM) - o.fee() };
                cost + fee
            }
            Side::Sell => {
                let fee = if o.req.fee_in_base { div_ceil(o.exact_fee() + remaining * max_taker, PPM) - o.fee() } else { 0 };
                remaining + fee
            }
        }
    }

    /// Kraken's relative amend prices (`+n`, `-n`, `#n`, `n%`: "an offset relative to the market
    /// price") on an order that is not a trailing stop, made absolute against the last trade on
    /// the pair's tick, as AddOrder's relative prices are (`resolve_prices`). A trailing stop's
    /// offsets stay offsets (amend_stop.rs).
    fn absolute_amend(&self, o: &Order, r: &AmendRequest) -> Result<AmendRequest, KrakenError> {
        let base = self.market_data[o.req.pair as usize].last_price;
        let tick = self.markets.pair(o.req.pair).tick;
        let (kind, side) = (o.req.kind, o.req.side);
        let absolute = |off: Offset, second: bool, name: &str| {
            let p = if base == 0 { None } else { apply_offset(base, off, auto_plus(kind, side, second)) };
            p.map(|p| to_tick(p, tick)).ok_or_else(|| KrakenError::invalid(name))
        };
        let mut a = r.clone();
        if let Some(off) = r.trigger_offset {
            a.trigger_price = Some(absolute(off, false, "trigger_price")?);
            a.trigger_offset = None;
        }
        if let Some(off) = r.limit_offset {
            // A `-limit` stop's limit is its second price; a limit order's its first.
            a.limit_price = Some(absolute(off, kind.has_limit2(), "limit_price")?);
            a.limit_offset = None;
        }
        Ok(a)
    }

    pub(super) fn amend(&mut self, r: &AmendRequest, t: u64) -> Result<Applied, KrakenError> {
        self.user_account(r.account)?;
        let seq = self.amend_target(r.account, &r.target).ok_or(KrakenError::UnknownOrder)?;
        let o = &self.orders[seq as usize];
        // An amend is admitted as the order it makes would be (market states, `status`).
        self.admit_new_order(&o.new_order())?;
        let absolute;
        let r = if !o.req.kind.is_trailing() && (r.trigger_offset.is_some() || r.limit_offset.is_some()) {
            absolute = self.absolute_amend(o, r)?;
            &absolute
        } else {
            r
        };
        let pair = self.markets.pair(o.req.pair);
        let none = r.trigger_offset.is_none() && r.limit_offset.is_none();
        if r.order_qty.is_none() && r.limit_price.is_none() && r.trigger_price.is_none() && r.display_qty.is_none() && none {
            return Err(KrakenError::invalid("order_qty"));
        }
        if r.trigger_offset.is_some() {
            Self::amendable(o, Field::TriggerOffset)?;
        }
        if r.limit_offset.is_some() {
            Self::amendable(o, Field::LimitOffset)?;
        }
        if r.trigger_price.is_some() {
            Self::amendable(o, Field::TriggerPrice)?;
        }
        if r.display_qty.is_some() {
            Self::amendable(o, Field::DisplayQuantity)?;
        }
        if let Some(q) = r.order_qty {
            Self::amendable(o, Field::Quantity)?;
            if q <= 0 || q % pair.lot_step() != 0 || q > super::MAX_VOLUME {
                return Err(KrakenError::invalid("order_qty"));
            }
        }
        if let Some(p) = r.limit_price {
            Self::amendable(o, Field::LimitPrice)?;
            if p == 0 || p > super::MAX_PRICE || p % pair.tick != 0 {
                return Err(KrakenError::invalid("limit_price"));
            }
        }
        if let Some(p) = r.trigger_price {
            if p == 0 || p > super::MAX_PRICE || p % pair.tick != 0 {
                return Err(KrakenError::invalid("trigger_price"));
            }
        }
        if o.is_armed() {
            return self.amend_armed(seq, r, t);
        }
        let (side, old_price, old_qty, filled) = (o.req.side, o.req.price, o.req.volume, o.filled());
        let new_qty = r.order_qty.unwrap_or(old_qty);
        let new_price = r.limit_price.unwrap_or(old_price);
        // An iceberg keeps Kraken's smallest display: 1/15 of its remaining quantity, and shows
        // no more than that quantity.
        let new_display = r.display_qty.or(o.display_volume());
        if let Some(d) = new_display {
            let field = if r.display_qty.is_some() { "display_qty" } else { "order_qty" };
            let too_big = r.display_qty.is_some() && d > new_qty;
            if d % pair.lot_step() != 0 || too_big || d * super::order_flags::ICEBERG_MIN_FRACTION < new_qty - filled {
                return Err(KrakenError::invalid(field));
            }
        }
        let amend_id = self.next_amend;
        let record = AmendRecord {
            id: amend_id,
            kind: AmendKind::User,
            order_qty: new_qty,
            remaining_qty: (new_qty - filled).max(0),
            limit_price: new_price,
            post_only: r.post_only,
            time_ns: t,
        };
        if new_qty <= filled {
            // Kraken: "the remaining quantity will be cancelled".
            self.push_amend(seq, record);
            self.cancel_resting(seq, CancelReason::UserRequested, t);
            return Ok(Applied::Amended(amend_id));
        }
        let remaining = new_qty - filled;
        let price_changed = new_price != old_price;
        let opposite = match side {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        };
        let takes = |best: u64| match side {
            Side::Buy => best <= new_price,
            Side::Sell => best >= new_price,
        };
        // A pending (scheduled) order is in no book yet: it meets the book when it starts.
        let pending = o.status == Status::Pending;
        let crosses = !pending && self.books[o.req.pair as usize].best(opposite).is_some_and(takes);
        if price_changed && (r.post_only || o.req.post_only) && crosses {
            return Err(KrakenError::invalid("post_only"));
        }
        let hold = self.amended_hold(o, new_price, remaining);
        let (account, asset, old_hold, pair_idx) = (o.req.account, o.hold_asset, o.hold_remaining(), o.req.pair);
        if hold > old_hold && self.accounts[account as usize].available(asset) < hold - old_hold {
            return Err(KrakenError::InsufficientFunds);
        }
        // Checks done: from here on the command applies.
        self.push_amend(seq, record);
        let o = &mut self.orders[seq as usize];
        let old_in_book = o.book_volume();
        // A larger display quantity shows more at once: a bigger visible order, at the back.
        let shows_more = r.display_qty.is_some_and(|d| d.min(remaining) > o.shown());
        let keeps_place = !price_changed && new_qty <= old_qty && !shows_more;
        o.req.volume = new_qty;
        o.req.price = new_price;
        o.extras_mut().display_volume = new_display;
        o.held_limit = new_price;
        o.set_hold_remaining(hold);
        // An iceberg keeps its shown part, up to what now remains and its display quantity.
        let shown = match r.display_qty {
            _ if pending => 0,
            Some(d) => d.min(remaining),
            None => o.shown().min(remaining),
        };
        o.set_shown(shown);
        let fired_limit = o.req.kind.has_limit2();
        if let Some(st) = o.stop_mut().filter(|_| fired_limit) {
            // A fired `-limit` stop: its limit price is the one amended.
            st.limit = new_price;
            o.set_price2(new_price);
            // An absolute limit now, also for a trailing-stop-limit's fired order.
            o.extras_mut().price2_offset = None;
        }
        let new_in_book = o.book_volume();
        self.accounts[account as usize].funds[asset as usize].hold += hold - old_hold;
        if pending {
            return Ok(Applied::Amended(amend_id));
        }
        let book = &mut self.books[pair_idx as usize];
        if keeps_place {
            book.reduce(side, old_price, old_in_book - new_in_book);
            self.note_spread(pair_idx, t);
        } else {
            // To the back of the queue at its price, trading first if it now crosses.
            book.remove(side, old_price, &mut self.orders, seq, old_in_book, t);
            self.execute(seq, new_price, t);
        }
        Ok(Applied::Amended(amend_id))
    }

    /// The id the next amend gets.
    pub(super) fn next_amend_id(&self) -> u64 {
        self.next_amend
    }

    pub(super) fn push_amend(&mut self, seq: OrderSeq, record: AmendRecord) {
        self.next_amend += 1;
        let o = &mut self.orders[seq as usize];
        let t = record.time_ns;
        if o.amends().is_empty() {
            let original = Self::original_record(o);
            o.extras_mut().amends.push(original);
        }
        let history = &mut o.extras_mut().amends;
        history.push(record);
        let index = history.len() - 1;
        self.report(seq, super::events::OrderEventKind::Amended { record: index }, t);
    }
}
