//! History leaves the engine here. Every trade record and ledger entry the engine makes is
//! numbered from a counter kept in the state, folded into a running hash (so the digest still
//! covers the whole history without the engine keeping it) and put into the outbox, which the
//! sequencer's engine thread drains after each batch and hands to the storage thread with the
//! batch's log records. The storage thread syncs the log records (what makes a command durable)
//! before the batch's replies go out, and writes the rows shortly after in their own transaction
//! (`sequencer::history_buffer`, `storage::history`); history reads wait for them
//! (`storage::history_mark`). The outbox itself is not state: it is not in the digest nor in a
//! checkpoint (a restart re-emits the tail after its checkpoint, and the rows are written again,
//! idempotently, by sequence number).
//!
//! Closed orders leave the same way: an order that closed (filled, canceled, expired) during a
//! command is emitted once, as it stands at the end of that command, numbered by its closing
//! (`next_closed`), folded in, and written into the `closed_orders` table keyed by its seq.
//!
//! The fold is on the engine's hottest path (a move is a cancel, so most commands close an
//! order), so it is cheap: XXH3-128 (a fixed, specified algorithm, not a cryptographic hash: the
//! digest detects divergence between a live engine and a replay, it does not resist an attacker)
//! over the previous hash, a tag and the record's bytes, in one stack buffer. A trade record or
//! ledger entry is folded as its postcard bytes; a closed order as what its life changed (status,
//! reason, times, fills, cost, fees, hold, final price and volume, parent, trade count): its
//! request is the logged command's, and amends are in the state (`Exchange::amends`), so folding
//! the whole record (~300 postcard bytes with SHA-256 before) bought nothing but time.

use super::account::{LedgerEntry, TradeRecord};
use super::order::Order;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_128;

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
/// XXH3-128 over every record emitted, in order (see the module doc).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryCounters {
    pub next_trade: u64,
    pub next_ledger: u64,
    pub next_closed: u64,
    pub hash: [u8; 16],
}

impl HistoryCounters {
    /// hash = XXH3-128(previous hash, tag, `bytes(buffer)`), where `bytes` writes the record into
    /// the buffer after the first 17 bytes and returns how many it wrote.
    fn fold(&mut self, tag: u8, bytes: impl FnOnce(&mut [u8]) -> usize) {
        let mut buf = [0u8; FOLD_BUFFER];
        buf[..16].copy_from_slice(&self.hash);
        buf[16] = tag;
        let used = bytes(&mut buf[17..]);
        self.hash = xxh3_128(&buf[..17 + used]).to_le_bytes();
    }

    /// A trade record or ledger entry: its postcard bytes (fixed fields, at most ~150 bytes).
    fn fold_postcard(&mut self, tag: u8, record: &impl Serialize) {
        self.fold(tag, |out| postcard::to_slice(record, out).expect("a history record fits the fold's buffer").len());
    }

    /// Numbers a trade record (its `seq` must be [`HistoryCounters::next_trade`]) and folds it in.
    pub fn trade(&mut self, t: &TradeRecord) {
        debug_assert_eq!(t.seq, self.next_trade);
        self.next_trade += 1;
        self.fold_postcard(b't', t);
    }

    /// The same for a ledger entry.
    pub fn ledger(&mut self, e: &LedgerEntry) {
        debug_assert_eq!(e.seq, self.next_ledger);
        self.next_ledger += 1;
        self.fold_postcard(b'l', e);
    }

    /// The same for a closed order.
    pub fn closed(&mut self, c: &ClosedOrder) {
        debug_assert_eq!(c.n, self.next_closed);
        self.next_closed += 1;
        let o = &c.order;
        self.fold(b'o', |out| {
            let mut w = Writer { out, at: 0 };
            w.put(&c.n.to_le_bytes());
            w.put(&o.seq.to_le_bytes());
            w.put(&[o.status as u8]);
            w.put(o.reason.map_or("", |r| r.as_str()).as_bytes());
            w.put(&[0xff]);
            for t in
                [o.open_ns, o.close_ns, o.req.price, o.price2(), o.held_limit, o.parent().map_or(u64::MAX, |p| p), o.trades().len() as u64]
            {
                w.put(&t.to_le_bytes());
            }
            for a in [
                o.req.volume,
                o.filled(),
                o.cost(),
                o.fee(),
                o.exact_cost(),
                o.exact_fee(),
                o.cost_cd(),
                o.fee_cd(),
                o.hold_remaining(),
                o.shown(),
            ] {
                w.put(&a.to_le_bytes());
            }
            w.put(&o.hold_asset.to_le_bytes());
            w.at
        });
    }
}

/// The fold's buffer: the previous hash, the tag and a record (a closed order's summary is 260
/// bytes; postcard trade records and ledger entries stay under 200).
const FOLD_BUFFER: usize = 512;

/// Appends fixed-size fields to the fold's buffer.
struct Writer<'a> {
    out: &'a mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.out[self.at..self.at + bytes.len()].copy_from_slice(bytes);
        self.at += bytes.len();
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

impl HistoryNext {
    /// Keep none: a replay that writes no history (a checkpoint build, an offline check).
    pub const NOTHING: HistoryNext = HistoryNext { trades: u64::MAX, ledger: u64::MAX, closed: u64::MAX };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::account::{LedgerKind, RefId};

    /// The fold's definition, written out: checkpoints carry the hash, so it must not change.
    #[test]
    fn fold_is_xxh3_of_previous_tag_and_postcard_bytes() {
        let mut c = HistoryCounters::default();
        let mut expected = [0u8; 16];
        for seq in 0..3u64 {
            let e = LedgerEntry {
                seq,
                account: 7,
                refid: RefId::Trade(seq * 11),
                time_ns: 1_750_000_000_000_000_000 + seq,
                kind: LedgerKind::Trade,
                asset: 1,
                amount: -12_345_678_900 * (seq as i128 + 1),
                fee: 2_824_691,
                balance: 10i128.pow(20),
            };
            c.ledger(&e);
            let mut bytes = expected.to_vec();
            bytes.push(b'l');
            bytes.extend(postcard::to_allocvec(&e).unwrap());
            expected = xxh3_128(&bytes).to_le_bytes();
            assert_eq!(c.hash, expected, "after ledger entry {seq}");
        }
    }
}
