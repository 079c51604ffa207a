//! The trading commands that end or place several orders at once, each one logged command so
//! that no other command comes between its parts: CancelOrder (by txid, userref or cl_ord_id),
//! CancelAll, AddOrderBatch (2 to 15 orders of one account on one pair, placed in order; an order
//! the engine refuses, e.g. for funds, gets its own error and the rest go on, as Kraken
//! documents), EditOrder (Kraken's legacy cancel + replace: the original is canceled and a new
//! order with a new txid placed, or neither) and CancelOrderBatch (the union of the orders named
//! by txids, userrefs and cl_ord_ids).

use super::order::{AccountId, CancelReason, NewOrder, OrderKind, OrderSeq, Status};
use super::{Applied, CancelTarget, Exchange};
use crate::error::KrakenError;

/// Kraken's AddOrderBatch bounds.
pub const MIN_BATCH: usize = 2;
pub const MAX_BATCH: usize = 15;
/// Kraken's CancelOrderBatch bound (txids, userrefs and cl_ord_ids together).
pub const MAX_CANCEL_BATCH: usize = 50;

impl Exchange {
    pub(super) fn place_batch(&mut self, orders: &[NewOrder], t: u64) -> Result<Applied, KrakenError> {
        let Some(first) = orders.first() else { return Err(KrakenError::invalid("orders")) };
        if orders.len() < MIN_BATCH || orders.len() > MAX_BATCH {
            return Err(KrakenError::invalid("orders"));
        }
        if orders.iter().any(|o| o.account != first.account || o.pair != first.pair) {
            return Err(KrakenError::invalid("pair"));
        }
        self.user_account(first.account)?;
        // Each order is checked and applied whole by `place_order`; one that fails changes nothing.
        let results = orders
            .iter()
            .map(|o| match self.place_order(o, t) {
                Ok(Applied::OrderPlaced(seq)) => Ok(seq),
                Ok(_) => Err(KrakenError::InternalError),
                Err(e) => Err(e),
            })
            .collect();
        Ok(Applied::Batch(results))
    }

    /// The open order an EditOrder names (plain limit orders: not icebergs, stops or orders with
    /// a conditional close).
    pub fn edit_target(&self, account: AccountId, seq: OrderSeq) -> Result<&super::order::Order, KrakenError> {
        self.user_account(account)?;
        match self.orders.get(seq as usize) {
            Some(o) if o.req.account == account && o.is_open() => {
                // Kraken: triggered orders and orders with conditional close terms are not edited.
                if o.req.kind != OrderKind::Limit || o.close().is_some() {
                    return Err(KrakenError::InvalidOrder);
                }
                Ok(o)
            }
            _ => Err(KrakenError::UnknownOrder),
        }
    }

    /// Cancels `target` and places `new` in its stead, whose volume counts what the original has
    /// already executed (Kraken refuses an edit below the executed volume). The new order is
    /// checked and placed while the original's hold is set aside, so a refusal restores it and
    /// changes nothing.
    pub(super) fn edit(&mut self, account: AccountId, target: OrderSeq, new: &NewOrder, t: u64) -> Result<Applied, KrakenError> {
        let o = self.edit_target(account, target)?;
        if new.account != account || new.pair != o.req.pair || new.side != o.req.side {
            return Err(KrakenError::invalid("pair"));
        }
        if new.volume <= o.filled() {
            return Err(KrakenError::InvalidOrder);
        }
        self.admit_cancel(o.req.pair)?;
        let mut replacement = new.clone();
        replacement.volume = new.volume - o.filled();
        if let Some(r) = replacement.rare.as_deref_mut() {
            r.cl_ord_id = None;
        }
        let (asset, held) = (o.hold_asset, o.hold_remaining());
        self.accounts[account as usize].funds[asset as usize].hold -= held;
        self.orders[target as usize].set_hold_remaining(0);
        match self.place_order(&replacement, t) {
            Ok(Applied::OrderPlaced(seq)) => {
                // The original's hold is already released; ending it releases nothing more.
                self.cancel_resting(target, CancelReason::UserRequested, t);
                Ok(Applied::Edited { order: seq })
            }
            other => {
                self.accounts[account as usize].funds[asset as usize].hold += held;
                self.orders[target as usize].set_hold_remaining(held);
                Err(match other {
                    Err(e) => e,
                    Ok(_) => KrakenError::InternalError,
                })
            }
        }
    }

    /// The open orders of `account` a cancel of `target` would end (empty: none).
    pub fn cancel_victims(&self, account: AccountId, target: &CancelTarget) -> Vec<OrderSeq> {
        let Ok(acct) = self.user_account(account) else { return Vec::new() };
        match target {
            CancelTarget::Order(seq) => match self.orders.get(*seq as usize) {
                Some(o) if o.req.account == account && o.is_open() => vec![*seq],
                _ => Vec::new(),
            },
            CancelTarget::UserRef(r) => {
                acct.open_orders.iter().copied().filter(|s| self.orders[*s as usize].req.userref == Some(*r)).collect()
            }
            CancelTarget::ClOrdId(c) => {
                acct.open_orders.iter().copied().filter(|s| self.orders[*s as usize].cl_ord_id() == Some(c.as_str())).collect()
            }
        }
    }

    /// CancelOrder: one order by txid, or every open order with a userref or cl_ord_id.
    pub(super) fn cancel(&mut self, account: AccountId, target: &CancelTarget, t: u64) -> Result<Applied, KrakenError> {
        self.user_account(account)?;
        if let CancelTarget::Order(seq) = target {
            // The common case, without collecting; the order found once (by its slot after).
            // `let … else`, not `ok_or`: see `Exchange::user_account`.
            let Some(slot) = self.orders.slot(*seq) else { return Err(KrakenError::UnknownOrder) };
            let o = self.orders.at(slot);
            if o.req.account != account || !o.is_open() {
                return Err(KrakenError::UnknownOrder);
            }
            self.admit_cancel(o.req.pair)?;
            self.end_order_at(slot, Status::Canceled, Some(CancelReason::UserRequested), t);
            return Ok(Applied::Canceled(1));
        }
        let victims = self.cancel_victims(account, target);
        if victims.is_empty() {
            return Err(KrakenError::UnknownOrder);
        }
        victims.iter().try_for_each(|s| self.admit_cancel(self.orders[*s as usize].req.pair))?;
        for seq in &victims {
            self.cancel_resting(*seq, CancelReason::UserRequested, t);
        }
        Ok(Applied::Canceled(victims.len() as u32))
    }

    /// CancelAll (and a dead man's switch firing): every open order of the account.
    pub(super) fn cancel_all(&mut self, account: AccountId, t: u64) -> Result<Applied, KrakenError> {
        let victims: Vec<OrderSeq> = self.user_account(account)?.open_orders.iter().copied().collect();
        victims.iter().try_for_each(|s| self.admit_cancel(self.orders[*s as usize].req.pair))?;
        for seq in &victims {
            self.cancel_resting(*seq, CancelReason::UserRequested, t);
        }
        Ok(Applied::Canceled(victims.len() as u32))
    }

    /// The open orders a CancelOrderBatch ends: every order any target names, once each, in
    /// the order they are named.
    pub fn batch_victims(&self, account: AccountId, targets: &[CancelTarget]) -> Vec<OrderSeq> {
        let mut victims = Vec::new();
        for target in targets {
            for seq in self.cancel_victims(account, target) {
                if !victims.contains(&seq) {
                    victims.push(seq);
                }
            }
        }
        victims
    }

    pub(super) fn cancel_batch(&mut self, account: AccountId, targets: &[CancelTarget], t: u64) -> Result<Applied, KrakenError> {
        self.user_account(account)?;
        if targets.is_empty() || targets.len() > MAX_CANCEL_BATCH {
            return Err(KrakenError::invalid("orders"));
        }
        let victims = self.batch_victims(account, targets);
        if victims.is_empty() {
            return Err(KrakenError::UnknownOrder);
        }
        victims.iter().try_for_each(|s| self.admit_cancel(self.orders[*s as usize].req.pair))?;
        for seq in &victims {
            self.cancel_resting(*seq, CancelReason::UserRequested, t);
        }
        Ok(Applied::Canceled(victims.len() as u32))
    }
}
