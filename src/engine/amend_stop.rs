//! AmendOrder of an armed (untriggered) stop order: its trigger price (stop-loss, take-profit and
//! their `-limit` forms), its limit price (`-limit` forms) and its quantity. An armed order is on
//! no book, so there is no queue place to keep: it leaves the trigger index and comes back at its
//! new trigger, and fires at once if the reference is already there (as a new stop would). Its
//! hold is recomputed by the rule it was placed with (`Exchange::arm`): a buy holds at its limit,
//! or for the market kinds at its stop price; more than is available is `EOrder:Insufficient
//! funds` and changes nothing. Trailing stops are not amended here (refused by
//! `Exchange::amendable`).

use super::amend::{AmendKind, AmendRecord, AmendRequest};
use super::matching::MAX_PRICE;
use super::order::OrderSeq;
use super::{Applied, Exchange};
use crate::error::KrakenError;

impl Exchange {
    pub(super) fn amend_armed(&mut self, seq: OrderSeq, r: &AmendRequest, t: u64) -> Result<Applied, KrakenError> {
        let o = &self.orders[seq as usize];
        let st = o.stop.clone().expect("an armed order has its stop state");
        let with_limit = o.req.kind.has_limit2();
        let new_qty = r.order_qty.unwrap_or(o.req.volume);
        let new_stop = r.trigger_price.unwrap_or(st.stop);
        let new_limit = if with_limit { r.limit_price.unwrap_or(st.limit) } else { 0 };
        if new_stop == 0 || new_stop > MAX_PRICE {
            return Err(KrakenError::invalid("trigger_price"));
        }
        let mut req = o.req.clone();
        req.volume = new_qty;
        req.price = new_stop;
        if with_limit {
            req.price2 = new_limit;
        }
        let hold_price = if with_limit { new_limit } else { new_stop };
        let (asset, hold) = self.hold_for(&req, hold_price, new_qty);
        let (account, old_hold) = (req.account, o.hold_remaining);
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
        self.disarm(seq);
        self.push_amend(seq, record);
        let o = &mut self.orders[seq as usize];
        o.req = req;
        o.hold_remaining = hold;
        if let Some(s) = o.stop.as_mut() {
            s.stop = new_stop;
            s.limit = new_limit;
        }
        self.accounts[account as usize].holds[asset as usize] += hold - old_hold;
        self.rearm_fixed(seq);
        Ok(Applied::Amended(amend_id))
    }
}
