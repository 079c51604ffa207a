//! Placing an order: the funds check and hold, price-time matching against the opposite side,
//! self-trade prevention, post-only and immediate-or-cancel, and the settlement of each fill
//! (balances, holds, fees, ledger entries, trade records, public market data).
//!
//! Amounts stay exact by cumulative rounding: each order keeps its running exact cost and fee,
//! and each fill charges the difference between the rounded running totals (first to the pair's
//! `cost_decimals`, Kraken's trade figures, then to the asset's decimals, the ledger's). The total
//! charged is therefore the rounded exact total, never more than the hold reserved at the limit
//! price and the highest taker rate (both rounded up).

use super::account::{LedgerKind, RefId, TradeRecord, FEES};
use super::market_data::{PublicTrade, DAY_NS};
use super::order::{CancelReason, NewOrder, Order, OrderKind, OrderSeq, SelfTrade, Side, Status, TimeInForce};
use super::{Applied, Exchange};
use crate::error::KrakenError;
use crate::money::{div_ceil, div_round_half_up};

const PPM: i128 = 1_000_000;
/// Bounds that keep every product (price × volume × fee rate) far inside i128.
pub const MAX_PRICE: u64 = 1_000_000_000_000_000;
pub const MAX_VOLUME: i128 = 10_000_000_000_000_000;

/// What `execute` reads of the incoming order's request.
#[derive(Clone, Copy)]
struct Taker {
    account: super::order::AccountId,
    pair: super::markets::PairIdx,
    side: Side,
    kind: OrderKind,
    price: u64,
    post_only: bool,
    quote_volume: bool,
    time_in_force: TimeInForce,
    self_trade: SelfTrade,
}

/// Whether the opposite side's best price `best` is within the `limit` of an order on `side`.
#[inline(always)]
fn crosses(side: Side, best: u64, limit: u64) -> bool {
    match side {
        Side::Buy => best <= limit,
        Side::Sell => best >= limit,
    }
}

impl Exchange {
    pub(super) fn place_order(&mut self, req: &NewOrder, t: u64) -> Result<Applied, KrakenError> {
        let account = self.user_account(req.account)?;
        let Some(pair) = self.markets.pairs.get(req.pair as usize) else { return Err(KrakenError::UnknownAssetPair) };
        self.admit_new_order(req)?;
        let lot_step = pair.lot_step();
        if req.quote_volume {
            // viqc: `volume` is quote to spend; market buys only.
            if req.kind != OrderKind::Market || req.side != Side::Buy || req.fee_in_base {
                return Err(KrakenError::invalid("oflags"));
            }
            if req.volume <= 0 || req.volume > MAX_VOLUME {
                return Err(KrakenError::invalid("volume"));
            }
        } else if req.volume <= 0 || !crate::money::is_multiple(req.volume, lot_step) || req.volume > MAX_VOLUME {
            return Err(KrakenError::invalid("volume"));
        }
        // The rare options' checks, and relative prices resolved against the last trade, only
        // for a request that has them (a plain order has no box: one test).
        let resolved;
        let req = match req.rare.as_deref() {
            None => req,
            Some(r) => {
                if req.kind == OrderKind::Market && r.price_offset.is_some() {
                    return Err(KrakenError::invalid("price"));
                }
                if !req.kind.has_limit2() && (r.price2 != 0 || r.price2_offset.is_some()) {
                    return Err(KrakenError::invalid("price2"));
                }
                // Triggered kinds wait armed (`triggers`).
                if r.price_offset.is_some() || r.price2_offset.is_some() {
                    resolved = self.resolve_prices(req, self.market_data[req.pair as usize].last_price)?;
                    &resolved
                } else {
                    req
                }
            }
        };
        if matches!(req.kind, OrderKind::Limit | OrderKind::Iceberg) && (req.price == 0 || req.price > MAX_PRICE) {
            return Err(KrakenError::invalid("price"));
        }
        super::order_flags::check_flags(req, lot_step, t)?;
        if let Some(id) = req.rare.as_deref().and_then(|r| r.cl_ord_id.as_ref()) {
            if account.open_orders.iter().any(|s| self.orders[*s as usize].cl_ord_id() == Some(id)) {
                return Err(KrakenError::invalid("cl_ord_id"));
            }
        }
        if req.kind.is_triggered() {
            return self.arm(req.clone(), t);
        }
        // The price the order may trade down (sell) or up (buy) to.
        let limit = match (req.kind, req.side) {
            (OrderKind::Market, Side::Sell) => 0,
            (OrderKind::Market, Side::Buy) if req.quote_volume => u64::MAX,
            (OrderKind::Market, Side::Buy) => self.worst_ask_for(req.pair, req.volume),
            _ => req.price,
        };
        let (hold_asset, hold) =
            if req.quote_volume { (pair.quote, req.volume) } else { self.hold_in(pair, req.side, req.fee_in_base, limit, req.volume) };
        if account.available(hold_asset) < hold {
            return Err(KrakenError::InsufficientFunds);
        }
        // Checks done: from here on the command applies.
        let seq = self.orders.next_seq();
        let mut order = Order::opened(seq, req, t, hold_asset, hold);
        order.held_limit = limit;
        let scheduled = req.rare.as_deref().is_some_and(|r| r.start_ns.is_some_and(|s| s > t));
        if scheduled {
            order.status = Status::Pending;
        }
        let (slot, order) = self.orders.push_at(order);
        // Timers are for an expiry or a start, both rare parts: an order without extras has none.
        if order.extras().is_some() {
            self.timers.arm_order(order);
        }
        let acct = &mut self.accounts[req.account as usize];
        acct.funds[hold_asset as usize].hold += hold;
        acct.open_orders.insert(seq);
        if !scheduled {
            self.execute_at(slot, limit, t);
        }
        Ok(Applied::OrderPlaced(seq))
    }

    /// The hold an order of `volume` at `limit` needs: (asset, amount).
    pub fn hold_for(&self, req: &super::order::OrderReq, limit: u64, volume: i128) -> (u16, i128) {
        self.hold_in(self.markets.pair(req.pair), req.side, req.fee_in_base, limit, volume)
    }

    /// `hold_for` with the pair at hand and only the request's fields it reads (a placement has
    /// looked the pair up already, and copied no `OrderReq` for it). Always inlined: a placement's
    /// call (LLVM's choice with `#[inline]`) saved and restored six registers around ~40
    /// instructions of arithmetic.
    #[inline(always)]
    fn hold_in(&self, pair: &super::markets::Pair, side: Side, fee_in_base: bool, limit: u64, volume: i128) -> (u16, i128) {
        let max_taker = self.markets.max_taker_ppm();
        match side {
            Side::Buy => {
                // In 64 bits when every factor and product fits (a placement's hold: the 128-bit
                // products are checked for overflow, a long sequence each); the same values.
                if let (Ok(v), Ok(cd), Ok(rate)) = (u64::try_from(volume), u64::try_from(pair.cost_divisor), u64::try_from(max_taker)) {
                    // Written out, not a closure: LLVM called the closure (~29 instructions a
                    // buy, half of them the call's).
                    if let Some(exact) = limit.checked_mul(v) {
                        let fee = if fee_in_base {
                            Some(0)
                        } else {
                            exact.checked_mul(rate).zip(cd.checked_mul(PPM as u64)).map(|(f, d)| f.div_ceil(d))
                        };
                        if let Some(fee) = fee {
                            return (pair.quote, i128::from(exact.div_ceil(cd)) + i128::from(fee));
                        }
                    }
                }
                let exact = pair.exact_cost(limit, volume);
                let fee = if fee_in_base { 0 } else { div_ceil(exact * max_taker, pair.cost_divisor * PPM) };
                (pair.quote, div_ceil(exact, pair.cost_divisor) + fee)
            }
            Side::Sell => {
                let fee = if fee_in_base { div_ceil(volume * max_taker, PPM) } else { 0 };
                (pair.base, volume + fee)
            }
        }
    }

    /// Matches an order that holds its funds and is open against the opposite side, then ends
    /// it or rests the remainder (post-only, STP, IOC and market orders as their flags say).
    pub(super) fn execute(&mut self, seq: OrderSeq, limit: u64, t: u64) {
        let taker = self.orders.slot(seq).expect("an order being executed is held");
        self.execute_at(taker, limit, t);
    }

    /// `execute` of the order in slot `taker` (a placement knows the slot it just filled: no
    /// lookup by sequence). The order stays in its slot until the command ends (slots are stable
    /// and closed orders leave at the end), so it is read there, not by sequence.
    ///
    /// Most orders placed do not cross (they rest): that path looks at the opposite best once and
    /// goes on to rest or end the order; the matching loop and the settlement of its fills are
    /// out of line (`match_at`), so the resting path does not carry their registers and frame.
    fn execute_at(&mut self, taker: u32, limit: u64, t: u64) {
        // The request's fields matching reads, copied (not the whole request: no clone per order).
        let (req, wants) = {
            let o = self.orders.at(taker);
            let r = &o.req;
            let req = Taker {
                account: r.account,
                pair: r.pair,
                side: r.side,
                kind: r.kind,
                price: r.price,
                post_only: r.post_only,
                quote_volume: r.quote_volume,
                time_in_force: r.time_in_force,
                self_trade: r.self_trade,
            };
            (req, req.quote_volume || o.remaining() > 0)
        };
        let opposite = req.side.opposite();
        let crossing = self.books[req.pair as usize].best(opposite).is_some_and(|best| crosses(req.side, best, limit));
        if req.post_only && crossing {
            self.finish_at(taker, Status::Canceled, Some(CancelReason::PostOnly), t);
            return;
        }
        // The loop's first test, done here: an order that does not cross skips the call.
        let (stopped, spent) = if crossing && wants { self.match_at(taker, &req, limit, t) } else { (None, false) };
        let o = self.orders.at_mut(taker);
        let remaining = o.remaining();
        if (!req.quote_volume && remaining == 0) || (spent && o.filled() > 0) {
            self.finish_at(taker, Status::Closed, None, t);
        } else if let Some(reason) = stopped {
            self.finish_at(taker, Status::Canceled, Some(reason), t);
        } else if req.kind.is_market() {
            self.finish_at(taker, Status::Canceled, Some(CancelReason::NoLiquidity), t);
        } else if req.time_in_force == TimeInForce::Ioc {
            self.finish_at(taker, Status::Canceled, Some(CancelReason::ImmediateOrCancel), t);
        } else {
            // What it shows in the book: all that remains, unless it is an iceberg (a rare part:
            // an order without extras is not one, and `rest_volume` is not called for it).
            let shown = if o.extras().is_none() { remaining } else { super::order_flags::rest_volume(o) };
            self.books[req.pair as usize].insert(req.side, req.price, &mut self.orders, taker, shown, t);
        }
        self.note_spread(req.pair, t);
    }

    /// The matching loop of `execute_at`: the taker in slot `taker` against the opposite side's
    /// best levels while it crosses and wants more. Returns why self-trade prevention stopped it,
    /// if it did, and whether a viqc budget ran out. Makers are read by slot (the level's front).
    #[inline(never)]
    fn match_at(&mut self, taker: u32, req: &Taker, limit: u64, t: u64) -> (Option<CancelReason>, bool) {
        let opposite = req.side.opposite();
        let pair = req.pair as usize;
        let mut stopped: Option<CancelReason> = None;
        // viqc: the budget ran out (what is left cannot buy one more lot at the next price).
        let mut spent = false;
        while self.orders.at(taker).remaining() > 0 || req.quote_volume {
            let Some(best) = self.books[pair].best(opposite) else { break };
            if !crosses(req.side, best, limit) {
                break;
            }
            let maker_slot = self.books[pair].front_slot(opposite, best).expect("a live level has a queue");
            let maker = self.orders.at(maker_slot);
            let maker_seq = maker.seq;
            if !maker.is_open() || maker.req.price != best {
                // Cannot happen (a cancel unlinks at once; `check_invariants`); never trade with it.
                debug_assert!(false, "order {maker_seq} queued at {best} does not rest there");
                self.books[pair].remove_at(opposite, best, &mut self.orders, maker_slot, 0, t);
                continue;
            }
            if maker.req.account == req.account {
                match req.self_trade {
                    SelfTrade::CancelNewest => {
                        stopped = Some(CancelReason::SelfTrade);
                        break;
                    }
                    SelfTrade::CancelOldest => {
                        self.end_order_at(maker_slot, Status::Canceled, Some(CancelReason::SelfTrade), t);
                        continue;
                    }
                    SelfTrade::CancelBoth => {
                        self.end_order_at(maker_slot, Status::Canceled, Some(CancelReason::SelfTrade), t);
                        stopped = Some(CancelReason::SelfTrade);
                        break;
                    }
                }
            }
            let want = if req.quote_volume {
                self.quote_budget_volume(self.orders.at(taker).seq, best)
            } else {
                self.orders.at(taker).remaining()
            };
            if want <= 0 {
                spent = true;
                break;
            }
            // An iceberg maker offers only its shown part; the hidden rest refills after it.
            let qty = want.min(maker.book_volume());
            let maker_done = qty == maker.remaining();
            self.settle_fill(taker, maker_slot, best, qty, t);
            self.books[pair].fill_front(opposite, best, qty, maker_done, &mut self.orders, t);
            if maker_done {
                self.finish_at(maker_slot, Status::Closed, None, t);
            } else {
                self.iceberg_filled(maker_seq, qty, t);
            }
        }
        (stopped, spent)
    }

    /// The highest ask price a market buy of `volume` would reach (the deepest level if the
    /// book is too thin; 0 if there are no asks).
    pub(super) fn worst_ask_for(&self, pair: u16, volume: i128) -> u64 {
        let mut need = volume;
        let mut worst = 0;
        for (price, level) in self.books[pair as usize].levels(Side::Sell) {
            worst = *price;
            need -= level.volume;
            if need <= 0 {
                break;
            }
        }
        worst
    }

    /// Settles one fill of `qty` at `price` between the incoming order and a resting one.
    ///
    /// Two roundings of the cost, both half up and both cumulative per order: the exact cost to the
    /// pair's `cost_decimals`, which is the trade's `cost` as Kraken prints it, then that to the
    /// asset's decimals, which is what the ledger moves. A quote fee is rounded once, to the
    /// asset's decimals (the amount charged), and printed at `cost_decimals`. A fill charges the change in the
    /// order's rounded running totals, so an order's trades sum to its own figures and a buy never
    /// pays more than its hold (rounding to a grid never passes the next grid point up).
    ///
    /// The taker and the maker are given by slot (both are held until the command ends).
    fn settle_fill(&mut self, taker: u32, maker: u32, price: u64, qty: i128, t: u64) {
        let pair_idx = self.orders.at(taker).req.pair;
        let (base, quote, to_cd, cd_to_quote) = {
            let p = self.markets.pair(pair_idx);
            (p.base, p.quote, p.to_cost_decimals, p.cost_to_quote)
        };
        let (buyer, seller) = match self.orders.at(taker).req.side {
            Side::Buy => (taker, maker),
            Side::Sell => (maker, taker),
        };
        debug_assert!(price <= self.orders.at(buyer).req.price || self.orders.at(buyer).req.kind.is_market());
        debug_assert!(price >= self.orders.at(seller).req.price);
        let exact = self.markets.pair(pair_idx).exact_cost(price, qty);
        // The buyer's running total decides the quote amount that changes hands.
        let (cost_cd, cost) = {
            let b = self.orders.at_mut(buyer);
            b.set_exact_cost(b.exact_cost() + exact);
            let cd_total = div_round_half_up(b.exact_cost(), to_cd);
            let quote_total = div_round_half_up(cd_total, cd_to_quote);
            let delta = (cd_total - b.cost_cd(), quote_total - b.cost());
            b.set_cost_cd(cd_total);
            b.set_cost(quote_total);
            delta
        };
        {
            let s = self.orders.at_mut(seller);
            s.set_exact_cost(s.exact_cost() + exact);
            s.set_cost_cd(s.cost_cd() + cost_cd);
            s.set_cost(s.cost() + cost);
        }
        let public_id = self.next_public_trade[pair_idx as usize];
        self.next_public_trade[pair_idx as usize] += 1;
        let day = t / DAY_NS;
        for (slot, is_maker) in [(taker, false), (maker, true)] {
            let account = self.orders.at(slot).req.account;
            let rate = self.fee_ppm(account, is_maker, t);
            let o = self.orders.at_mut(slot);
            let seq = o.seq;
            o.set_filled(o.filled() + qty);
            let (fee_cd, fee) = if o.req.fee_in_base {
                o.set_exact_fee(o.exact_fee() + qty * rate);
                let f = (div_round_half_up(o.exact_fee(), PPM) - o.fee()).min(qty);
                (f, f)
            } else {
                // A fee is a charge: it is rounded once, to the quote asset's decimals (what the
                // ledger moves), and the trade shows that same amount at cost_decimals, so the
                // ledger's fee equals the sum of its trades' fees (the conformance suite checks it).
                o.set_exact_fee(o.exact_fee() + exact * rate);
                let fee = (div_round_half_up(o.exact_fee(), to_cd * cd_to_quote * PPM) - o.fee()).min(cost);
                (fee * cd_to_quote, fee)
            };
            o.set_fee_cd(o.fee_cd() + fee_cd);
            o.set_fee(o.fee() + fee);
            let (side, kind, fee_in_base) = (o.req.side, o.req.kind, o.req.fee_in_base);
            let trade_seq = self.history.next_trade;
            let refid = RefId::Trade(trade_seq);
            let (base_fee, quote_fee) = if fee_in_base { (fee, 0) } else { (0, fee) };
            let (base_amount, quote_amount) = match side {
                Side::Buy => (qty, -cost),
                Side::Sell => (-qty, cost),
            };
            let l1 = self.post(account, base, base_amount, base_fee, LedgerKind::Trade, refid, t);
            let l2 = self.post(account, quote, quote_amount, quote_fee, LedgerKind::Trade, refid, t);
            if fee > 0 {
                let fee_asset = if fee_in_base { base } else { quote };
                self.post(FEES, fee_asset, fee, 0, LedgerKind::Trade, refid, t);
            }
            // What this fill consumes of the order's hold.
            let used = match side {
                Side::Buy => cost + quote_fee,
                Side::Sell => qty + base_fee,
            };
            let o = self.orders.at_mut(slot);
            debug_assert!(used <= o.hold_remaining(), "fill exceeds hold");
            let used = used.min(o.hold_remaining());
            o.set_hold_remaining(o.hold_remaining() - used);
            let hold_asset = o.hold_asset;
            o.trades.push(trade_seq as u32);
            let acct = &mut self.accounts[account as usize];
            acct.funds[hold_asset as usize].hold -= used;
            if quote == self.markets.fee_volume_asset {
                acct.add_volume(day, cost);
            }
            let record = TradeRecord {
                seq: trade_seq,
                account,
                order: seq,
                pair: pair_idx,
                side,
                order_kind: kind,
                price,
                volume: qty,
                cost,
                fee,
                cost_cd,
                fee_cd,
                fee_in_base,
                maker: is_maker,
                time_ns: t,
                public_id,
                ledgers: [l1, l2],
            };
            self.history.trade(&record);
            self.history_out.trades.push(record);
        }
        let taker_order = &self.orders.at(taker).req;
        let public =
            PublicTrade { price, volume: qty, time_ns: t, taker_side: taker_order.side, taker_kind: taker_order.kind, trade_id: public_id };
        let keep = self.markets.tape;
        self.market_data[pair_idx as usize].record_trade(public, keep);
        self.triggers.note(pair_idx, super::order::Trigger::Last, price);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::markets::Markets;

    /// The hold as the 128-bit formula gives it (all `hold_for` did before its 64-bit path).
    fn hold_128(ex: &Exchange, pair: u16, side: Side, fee_in_base: bool, limit: u64, volume: i128) -> (u16, i128) {
        let p = ex.markets.pair(pair);
        let rate = ex.markets.max_taker_ppm();
        match side {
            Side::Buy => {
                let exact = limit as i128 * volume;
                let fee = if fee_in_base { 0 } else { (exact * rate + p.cost_divisor * PPM - 1) / (p.cost_divisor * PPM) };
                (p.quote, (exact + p.cost_divisor - 1) / p.cost_divisor + fee)
            }
            Side::Sell => (p.base, volume + if fee_in_base { (volume * rate + PPM - 1) / PPM } else { 0 }),
        }
    }

    #[test]
    fn holds_in_64_bits_are_the_128_bit_holds() {
        let ex = Exchange::new(Markets::from_config(&crate::config::Config::builtin()).unwrap(), 7);
        // Products that fit 64 bits, a cost that does not, a cost that does and its fee that does not.
        let prices = [1, 7, 880_000, 999_999_999_999, MAX_PRICE];
        let volumes = [0, 1, 999, 10_000, 18_446, 1 << 40, u64::MAX as i128, u64::MAX as i128 + 1, MAX_VOLUME];
        for pair in 0..ex.markets.pairs.len() as u16 {
            for side in [Side::Buy, Side::Sell] {
                for fee_in_base in [false, true] {
                    for &limit in &prices {
                        for &volume in &volumes {
                            let mut req = NewOrder::limit(2, pair, side, limit, volume).hot();
                            req.fee_in_base = fee_in_base;
                            let want = hold_128(&ex, pair, side, fee_in_base, limit, volume);
                            assert_eq!(
                                ex.hold_for(&req, limit, volume),
                                want,
                                "pair {pair} {side:?} base fee {fee_in_base} {limit} × {volume}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn fee_tiers_in_64_bits_are_the_128_bit_tiers() {
        let markets = Markets::from_config(&crate::config::Config::builtin()).unwrap();
        for schedule in [&markets.taker_fees, &markets.maker_fees] {
            for decimals in [0, 2, 4, 8, 18, 19, 20, 30, 38] {
                for volume in [
                    -7_000_000_000,
                    -1,
                    0,
                    1,
                    10_000,
                    49_999_999_999,
                    50_000_000_000,
                    1 << 62,
                    u64::MAX as i128,
                    u64::MAX as i128 + 1,
                    i128::MAX,
                ] {
                    let want = schedule.iter().rposition(|t| t.volume <= volume / 10i128.pow(decimals)).unwrap_or(0);
                    assert_eq!(Markets::tier(schedule, volume, decimals), want, "{volume} at {decimals} decimals");
                }
            }
        }
    }
}
