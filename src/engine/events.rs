//! Order events the engine reports itself, for the private `executions` channel. Most of what
//! that channel says is read from the state after each batch (`ws::private::capture` diffs each
//! watched account: status, fills, triggers), but three of Kraken's `exec_type`s leave no trace
//! a diff can see: an iceberg showing its next part (`iceberg_refill`), an order changed in
//! place by its market maker's ladder (`restated`: Kraken's "engine initiated amend on the order
//! for maintenance of position or book"), and each of several amends of one order inside one
//! batch (`amended`, once per AmendOrder). The engine pushes these here where they happen.
//!
//! Not state: nothing in the engine reads the list, it is not logged, not replayed and not in
//! `Exchange::digest` (a replay that nobody watches must give the same digest as the live run
//! that somebody watched). The engine thread's capture names the watched accounts
//! ([`OrderEvents::watch`]) and drains the list after every batch, so an unwatched account (the
//! simulator's) costs one set lookup per event and the list never outgrows one batch; with
//! nobody watching (a replay, `calamari replay`) nothing is pushed at all.

use super::order::{AccountId, OrderSeq};
use super::Exchange;
use std::collections::HashSet;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderEventKind {
    /// One AmendOrder: the index of its record in the order's amend history (`Order::amends`).
    Amended { record: usize },
    /// An iceberg's shown part was used up and its next part shown: how much it shows now.
    IcebergRefill { shown: i128 },
    /// A `Requote` re-priced the order in place (same txid, back of the queue): its new limit
    /// price and quantity.
    Restated { price: u64, volume: i128 },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderEvent {
    pub account: AccountId,
    pub order: OrderSeq,
    pub kind: OrderEventKind,
    /// How many fills the order had when it happened (places it among the order's `trade`s).
    pub fills: usize,
    pub time_ns: u64,
}

/// The events of the current batch for the watched accounts.
#[derive(Default)]
pub struct OrderEvents {
    watched: HashSet<AccountId>,
    list: Vec<OrderEvent>,
}

/// Not state: a checkpoint of the engine stores nothing of it (a unit) and a restored engine
/// starts with none, watching nobody until the next capture.
impl serde::Serialize for OrderEvents {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_unit()
    }
}

impl<'de> serde::Deserialize<'de> for OrderEvents {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <()>::deserialize(d).map(|()| OrderEvents::default())
    }
}

impl OrderEvents {
    /// The accounts whose events are kept from now on (replacing the previous set).
    pub fn watch(&mut self, accounts: impl IntoIterator<Item = AccountId>) {
        self.watched.clear();
        self.watched.extend(accounts);
        if self.watched.is_empty() {
            self.list = Vec::new();
        }
    }

    /// The events since the last call, in the order they happened.
    pub fn take(&mut self) -> Vec<OrderEvent> {
        std::mem::take(&mut self.list)
    }
}

impl Exchange {
    /// Notes an event of order `seq` at time `t` if its account is watched.
    pub(super) fn report(&mut self, seq: OrderSeq, kind: OrderEventKind, t: u64) {
        if self.order_events.watched.is_empty() {
            return;
        }
        let o = &self.orders[seq as usize];
        if self.order_events.watched.contains(&o.req.account) {
            let e = OrderEvent { account: o.req.account, order: seq, kind, fills: o.trades().len(), time_ns: t };
            self.order_events.list.push(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_kept_for_an_unwatched_account_and_take_empties_the_list() {
        let mut ev = OrderEvents::default();
        ev.watch([7]);
        ev.list.push(OrderEvent { account: 7, order: 1, kind: OrderEventKind::IcebergRefill { shown: 5 }, fills: 1, time_ns: 9 });
        assert_eq!(ev.take().len(), 1);
        assert!(ev.take().is_empty());
        ev.watch([]);
        assert!(ev.watched.is_empty());
    }

    #[test]
    fn a_checkpoint_stores_none_of_it() {
        let mut ev = OrderEvents::default();
        ev.watch([7]);
        ev.list.push(OrderEvent { account: 7, order: 1, kind: OrderEventKind::IcebergRefill { shown: 5 }, fills: 1, time_ns: 9 });
        assert_eq!(serde_json::to_string(&ev).unwrap(), "null");
        let back: OrderEvents = serde_json::from_str("null").unwrap();
        assert!(back.watched.is_empty() && back.list.is_empty());
    }
}
