//! The full order record as it was before it was made compact (`engine::record`): the serialized
//! and `Debug` forms, so checkpoints, the digest and `Debug` output stay as they were.

use super::*;

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Order {
    pub seq: OrderSeq,
    #[serde(with = "crate::storage::checkpoint::new_order")]
    pub req: NewOrder,
    pub status: Status,
    pub reason: Option<CancelReason>,
    pub open_ns: u64,
    pub close_ns: u64,
    pub filled: i128,
    pub cost: i128,
    pub fee: i128,
    pub exact_cost: i128,
    pub exact_fee: i128,
    pub cost_cd: i128,
    pub fee_cd: i128,
    pub hold_asset: AssetIdx,
    pub hold_remaining: i128,
    pub trades: Vec<u32>,
    pub stop: Option<StopState>,
    pub parent: Option<OrderSeq>,
    pub shown: i128,
    pub held_limit: u64,
    /// Last, as it was added last (history.db's `rows_format` 2).
    pub amends: Vec<crate::engine::amend::AmendRecord>,
}

impl From<&super::Order> for Order {
    fn from(o: &super::Order) -> Order {
        Order {
            seq: o.seq,
            req: o.new_order(),
            status: o.status,
            reason: o.reason,
            open_ns: o.open_ns,
            close_ns: o.close_ns,
            filled: o.filled(),
            cost: o.cost(),
            fee: o.fee(),
            exact_cost: o.exact_cost(),
            exact_fee: o.exact_fee(),
            cost_cd: o.cost_cd(),
            fee_cd: o.fee_cd(),
            hold_asset: o.hold_asset,
            hold_remaining: o.hold_remaining(),
            trades: o.trades.to_vec(),
            stop: o.stop().cloned(),
            parent: o.parent(),
            shown: o.shown(),
            held_limit: o.held_limit,
            amends: o.amends().to_vec(),
        }
    }
}

impl From<Order> for super::Order {
    fn from(w: Order) -> super::Order {
        let mut o = super::Order::opened(w.seq, &w.req, w.open_ns, w.hold_asset, w.hold_remaining);
        o.status = w.status;
        o.reason = w.reason;
        o.close_ns = w.close_ns;
        o.set_amounts(&super::Amounts {
            filled: w.filled,
            cost: w.cost,
            fee: w.fee,
            exact_cost: w.exact_cost,
            exact_fee: w.exact_fee,
            cost_cd: w.cost_cd,
            fee_cd: w.fee_cd,
            hold_remaining: w.hold_remaining,
        });
        o.trades = w.trades.into();
        o.held_limit = w.held_limit;
        if let Some(stop) = w.stop {
            o.set_stop(stop);
        }
        if let Some(parent) = w.parent {
            o.extras_mut().parent = Some(parent);
        }
        o.set_shown(w.shown);
        if !w.amends.is_empty() {
            o.extras_mut().amends = w.amends;
        }
        o
    }
}
