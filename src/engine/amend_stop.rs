//! AmendOrder of an armed (untriggered) stop order: its trigger price (stop-loss, take-profit and
//! their `-limit` forms), its limit price (`-limit` forms), its quantity, and a trailing stop's
//! offsets (`trigger_price=+n`/`+n%`, a trailing-stop-limit's `limit_price=+n`/`-n`). An armed
//! order is on no book, so there is no queue place to keep: a fixed trigger leaves the trigger
//! index and comes back at its new price; a trailing stop keeps its peak and takes its new offset
//! in place. Either fires at once if the reference is already there (as a new stop would). Its
//! hold is recomputed by the rule it was placed with (`Exchange::arm`): a buy holds at its limit,
//! or for the market kinds at its stop price; more than is available is `EOrder:Insufficient
//! funds` and changes nothing. A pending (scheduled) stop is amended the same way and stays out
//! of the index until its start.

use super::amend::{AmendKind, AmendRecord, AmendRequest};
use super::matching::MAX_PRICE;
use super::order::{OffsetSign, OrderSeq, Side, Status};
use super::{Applied, Exchange};
use crate::error::KrakenError;

impl Exchange {
    pub(super) fn amend_armed(&mut self, seq: OrderSeq, r: &AmendRequest, t: u64) -> Result<Applied, KrakenError> {
        let o = &self.orders[seq as usize];
        let st = o.stop().cloned().expect("an armed order has its stop state");
        let with_limit = o.req.kind.has_limit2();
        let trailing = o.req.kind.is_trailing();
        let new_qty = r.order_qty.unwrap_or(o.req.volume);
        let mut req = o.new_order();
        req.volume = new_qty;
        let (new_stop, new_limit) = if trailing {
            if let Some(off) = r.trigger_offset {
                if off.sign != OffsetSign::Plus || off.value == 0 || off.value > MAX_PRICE {
                    return Err(KrakenError::invalid("trigger_price"));
                }
                req.rare_mut().price_offset = Some(off);
            }
            if let Some(off) = r.limit_offset {
                if !matches!(off.sign, OffsetSign::Plus | OffsetSign::Minus) || off.value > MAX_PRICE {
                    return Err(KrakenError::invalid("limit_price"));
                }
                req.rare_mut().price2_offset = Some(off);
            }
            let peak = if o.status == Status::Pending { st.peak } else { self.trailing_peak(o) };
            let stop = self.stop_now(&req, peak);
            (stop, self.limit_at(&req, stop))
        } else {
            let stop = r.trigger_price.unwrap_or(st.stop);
            if stop == 0 || stop > MAX_PRICE {
                return Err(KrakenError::invalid("trigger_price"));
            }
            req.price = stop;
            let limit = if with_limit { r.limit_price.unwrap_or(st.limit) } else { 0 };
            if with_limit {
                req.rare_mut().price2 = limit;
            }
            (stop, limit)
        };
        if with_limit && (new_limit == 0 || new_limit > MAX_PRICE) {
            return Err(KrakenError::invalid("limit_price"));
        }
        let hold_price = if with_limit { new_limit } else { new_stop.min(MAX_PRICE) };
        let (asset, hold) = self.hold_for(&req.hot(), hold_price, new_qty);
        let (account, old_hold) = (req.account, o.hold_remaining());
        debug_assert_eq!(asset, o.hold_asset);
        if hold > old_hold && self.accounts[account as usize].available(asset) < hold - old_hold {
            return Err(KrakenError::InsufficientFunds);
        }
        // Checks done: from here on the command applies.
        let amend_id = self.next_amend_id();
        let record = AmendRecord {
            id: amend_id,
            kind: AmendKind::User,
            order_qty: new_qty,
            remaining_qty: new_qty,
            limit_price: new_stop,
            post_only: r.post_only,
            time_ns: t,
        };
        let indexed = o.status == Status::Open;
        let old_offset = o.price_offset();
        if !trailing {
            self.disarm(seq);
        }
        self.push_amend(seq, record);
        let o = &mut self.orders[seq as usize];
        let (pair, trigger, side) = (req.pair, req.trigger, req.side);
        let new_offset = req.rare().price_offset;
        o.set_request(&req);
        o.set_hold_remaining(hold);
        if let Some(s) = o.stop_mut() {
            s.stop = new_stop;
            s.limit = new_limit;
        }
        self.accounts[account as usize].funds[asset as usize].hold += hold - old_hold;
        if !trailing {
            self.rearm_fixed(seq);
        } else if indexed {
            if let (Some(old), Some(new)) = (old_offset, new_offset) {
                self.triggers.reoffset(pair, trigger, side == Side::Sell, seq, old, new);
            }
            let reference = self.reference(pair, trigger);
            self.triggers.note(pair, trigger, reference);
        }
        Ok(Applied::Amended(amend_id))
    }
}
