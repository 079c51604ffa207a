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
//! over the previous hash, a tag and the record's fields (`Writer`: each integer as its length
//! and its significant bytes), in one stack buffer. A trade record or ledger entry is folded as every one of its fields; a closed
//! order as what its life changed (status, reason, times, fills, cost, fees, hold, final price
//! and volume, parent, trade count): its request is the logged command's, and amends are in the
//! state (`Exchange::amends`), so folding the whole record (~300 postcard bytes with SHA-256
//! before) bought nothing but time.

use super::account::{LedgerEntry, RefId, TradeRecord};
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

    /// Takes the records out (the drain after a batch), leaving an outbox with room for as many:
    /// the next batch is usually like this one, so its records are not copied again and again
    /// as the vectors regrow from nothing (2.6% of the engine benchmark's instructions were
    /// those copies).
    pub fn take(&mut self) -> HistoryOut {
        let room = HistoryOut {
            trades: Vec::with_capacity(self.trades.len()),
            ledger: Vec::with_capacity(self.ledger.len()),
            closed_orders: Vec::with_capacity(self.closed_orders.len()),
        };
        std::mem::replace(self, room)
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
    /// hash = XXH3-128(previous hash, tag, `bytes(writer)`): the record's fields written by
    /// `bytes` after the first 17 bytes of one stack buffer.
    fn fold(&mut self, tag: u8, bytes: impl FnOnce(&mut Writer<'_>)) {
        let mut buf = [0u8; FOLD_BUFFER];
        buf[..16].copy_from_slice(&self.hash);
        buf[16] = tag;
        let mut w = Writer { out: &mut buf, at: 17 };
        bytes(&mut w);
        let used = w.at;
        self.hash = xxh3_128(&buf[..used]).to_le_bytes();
    }

    /// Numbers a trade record (its `seq` must be [`HistoryCounters::next_trade`]) and folds it in.
    pub fn trade(&mut self, t: &TradeRecord) {
        debug_assert_eq!(t.seq, self.next_trade);
        self.next_trade += 1;
        // Every field, in declaration order (a new field fails to compile here until it is folded).
        let TradeRecord {
            seq,
            account,
            order,
            pair,
            side,
            order_kind,
            price,
            volume,
            cost,
            fee,
            cost_cd,
            fee_cd,
            fee_in_base,
            maker,
            time_ns,
            public_id,
            ledgers,
        } = t;
        self.fold(b't', |w| {
            for v in [*seq, u64::from(*account), *order, u64::from(*pair), *side as u64, *order_kind as u64, *price] {
                w.u(v);
            }
            for a in [*volume, *cost, *fee, *cost_cd, *fee_cd] {
                w.i(a);
            }
            for v in [u64::from(*fee_in_base), u64::from(*maker), *time_ns, *public_id, ledgers[0], ledgers[1]] {
                w.u(v);
            }
        });
    }

    /// The same for a ledger entry.
    pub fn ledger(&mut self, e: &LedgerEntry) {
        debug_assert_eq!(e.seq, self.next_ledger);
        self.next_ledger += 1;
        let LedgerEntry { seq, account, refid, time_ns, kind, asset, amount, fee, balance } = e;
        let (ref_kind, ref_id) = match *refid {
            RefId::Trade(id) => (0, id),
            RefId::Funding(id) => (1, id),
        };
        self.fold(b'l', |w| {
            for v in [*seq, u64::from(*account), ref_kind, ref_id, *time_ns, *kind as u64, u64::from(*asset)] {
                w.u(v);
            }
            for a in [*amount, *fee, *balance] {
                w.i(a);
            }
        });
    }

    /// The same for a closed order.
    pub fn closed(&mut self, c: &ClosedOrder) {
        debug_assert_eq!(c.n, self.next_closed);
        self.next_closed += 1;
        let o = &c.order;
        self.fold(b'o', |w| {
            for v in [c.n, o.seq, o.status as u64] {
                w.u(v);
            }
            w.bytes(o.reason.map_or("", |r| r.as_str()).as_bytes());
            w.bytes(&[0xff]);
            // The parent as seq + 1, 0 for none.
            let parent = o.parent().map_or(0, |p| p + 1);
            for v in [o.open_ns, o.close_ns, o.req.price, o.price2(), o.held_limit, parent, o.trades().len() as u64] {
                w.u(v);
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
                w.i(a);
            }
            w.u(u64::from(o.hold_asset));
        });
    }
}

/// The fold's buffer: the previous hash, the tag and a record (at most 9 bytes a `u64` and 17
/// an `i128`, plus a 16-byte store's overrun: a closed order's summary is about 110 bytes, at
/// most ~300).
const FOLD_BUFFER: usize = 512;

/// Writes a record's fields into the fold's buffer, each integer as its length in bytes and
/// then that many little-endian bytes, leading zero bytes left out (signed ones zigzagged
/// first, so that small negatives are short too). Self-delimiting, so the whole is injective
/// for a fixed field order, as postcard's encoding is, at a few instructions a field: one store
/// of the full width, the cursor moved by the length. Short fields keep most records under 128
/// bytes, on XXH3's cheapest path (8 bytes a field put a closed order at 200 bytes, and 16 an
/// amount at 277, on its long path; postcard's serde machinery cost more than the hash).
struct Writer<'a> {
    out: &'a mut [u8; FOLD_BUFFER],
    at: usize,
}

impl Writer<'_> {
    fn bytes(&mut self, bytes: &[u8]) {
        self.out[self.at..self.at + bytes.len()].copy_from_slice(bytes);
        self.at += bytes.len();
    }

    fn u(&mut self, v: u64) {
        let len = ((71 - v.leading_zeros()) >> 3) as usize;
        self.out[self.at] = len as u8;
        self.out[self.at + 1..self.at + 9].copy_from_slice(&v.to_le_bytes());
        self.at += 1 + len;
    }

    fn i(&mut self, v: i128) {
        let z = ((v << 1) ^ (v >> 127)) as u128;
        let len = ((135 - z.leading_zeros()) >> 3) as usize;
        self.out[self.at] = len as u8;
        self.out[self.at + 1..self.at + 17].copy_from_slice(&z.to_le_bytes());
        self.at += 1 + len;
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

    /// The fold's definition, written out: checkpoints carry the hash, so it must not change
    /// unnoticed. A ledger entry is its fields in order, each as its length and its significant
    /// little-endian bytes (signed ones zigzagged), the refid as its kind (0 trade, 1 funding)
    /// and number.
    #[test]
    fn fold_is_xxh3_of_previous_tag_and_fields() {
        // Its length, then its little-endian bytes without the high zero ones.
        fn field(out: &mut Vec<u8>, v: u128) {
            let mut le = v.to_le_bytes().to_vec();
            while le.last() == Some(&0) {
                le.pop();
            }
            out.push(le.len() as u8);
            out.extend(le);
        }
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
            for v in [seq, 7, 0, seq * 11, 1_750_000_000_000_000_000 + seq, 0, 1] {
                field(&mut bytes, u128::from(v));
            }
            for a in [-12_345_678_900 * (seq as i128 + 1), 2_824_691, 10i128.pow(20)] {
                // Zigzag: 0, -1, 1, -2, 2… as 0, 1, 2, 3, 4…
                field(&mut bytes, if a < 0 { (-a) as u128 * 2 - 1 } else { a as u128 * 2 });
            }
            expected = xxh3_128(&bytes).to_le_bytes();
            assert_eq!(c.hash, expected, "after ledger entry {seq}");
        }
    }

    /// The largest records fit the buffer: every integer at its widest.
    #[test]
    fn widest_records_fit_the_buffer() {
        let mut c = HistoryCounters::default();
        let t = TradeRecord {
            seq: 0,
            account: u32::MAX,
            order: u64::MAX,
            pair: u16::MAX,
            side: crate::engine::order::Side::Sell,
            order_kind: crate::engine::order::OrderKind::Market,
            price: u64::MAX,
            volume: i128::MIN,
            cost: i128::MIN,
            fee: i128::MIN,
            cost_cd: i128::MIN,
            fee_cd: i128::MIN,
            fee_in_base: true,
            maker: true,
            time_ns: u64::MAX,
            public_id: u64::MAX,
            ledgers: [u64::MAX; 2],
        };
        c.trade(&t);
        assert_ne!(c.hash, [0; 16]);
    }
}
