//! History leaves the engine here. Every trade record and ledger entry the engine makes is
//! numbered from a counter kept in the state, folded into a running hash (so the digest still
//! covers the whole history without the engine keeping it) and put into the outbox, which the
//! sequencer's engine thread drains after each batch and hands to the storage thread with the
//! batch's log records: both are written in one transaction, before the batch's replies go out
//! (`storage::history`). The outbox itself is not state: it is not in the digest nor in a
//! checkpoint (a restart re-emits the tail after its checkpoint, and the rows are written again,
//! idempotently, by sequence number).
//!
//! Closed orders leave the same way: an order that closed (filled, canceled, expired) during a
//! command is emitted once, as it stands at the end of that command, numbered by its closing
//! (`next_closed`), folded in, and written into the `closed_orders` table keyed by its seq.

use super::account::{LedgerEntry, TradeRecord};
use super::order::Order;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Records made since the last drain, in the order they were made.
#[derive(Clone, Debug, Default)]
pub struct HistoryOut {
    pub trades: Vec<TradeRecord>,
    pub ledger: Vec<LedgerEntry>,
    pub closed_orders: Vec<ClosedOrder>,
}

/// An order as it closed, with the number of its closing (the n-th order to close, from 0).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosedOrder {
    pub n: u64,
    pub order: Order,
}

impl HistoryOut {
    pub fn is_empty(&self) -> bool {
        self.trades.is_empty() && self.ledger.is_empty() && self.closed_orders.is_empty()
    }

    /// Appends a later drain's records (the storage thread's group commit).
    pub fn extend(&mut self, more: HistoryOut) {
        self.trades.extend(more.trades);
        self.ledger.extend(more.ledger);
        self.closed_orders.extend(more.closed_orders);
    }
}

/// The state history leaves behind in the engine: the next sequence numbers and a running
/// SHA-256 over every record emitted, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryCounters {
    pub next_trade: u64,
    pub next_ledger: u64,
    pub next_closed: u64,
    pub hash: [u8; 32],
}

impl HistoryCounters {
    fn fold(&mut self, tag: u8, record: &impl Serialize) {
        let bytes = postcard::to_allocvec(record).expect("history records serialize");
        let mut h = Sha256::new();
        h.update(self.hash);
        h.update([tag]);
        h.update(&bytes);
        self.hash = h.finalize().into();
    }

    /// Numbers a trade record (its `seq` must be [`HistoryCounters::next_trade`]) and folds it in.
    pub fn trade(&mut self, t: &TradeRecord) {
        debug_assert_eq!(t.seq, self.next_trade);
        self.next_trade += 1;
        self.fold(b't', t);
    }

    /// The same for a ledger entry.
    pub fn ledger(&mut self, e: &LedgerEntry) {
        debug_assert_eq!(e.seq, self.next_ledger);
        self.next_ledger += 1;
        self.fold(b'l', e);
    }

    /// The same for a closed order.
    pub fn closed(&mut self, c: &ClosedOrder) {
        debug_assert_eq!(c.n, self.next_closed);
        self.next_closed += 1;
        self.fold(b'o', c);
    }
}

/// Where a history table's re-emitted records start being kept (the next sequence the table
/// lacks): trades, ledger entries, closings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HistoryNext {
    pub trades: u64,
    pub ledger: u64,
    pub closed: u64,
}
