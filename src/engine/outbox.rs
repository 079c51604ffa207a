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
//! order), so it is a hand-written function of fixed-width words, with no buffer and no
//! encoding. The running hash is a 128-bit state `s` (stored as its 16 little-endian bytes,
//! `HistoryCounters::hash`, 0 at the start), and folding one 128-bit word `w` is
//!
//! ```text
//! x = (s XOR w) * M   (mod 2^128)        M = 0x2360ED051FC65DA44385DF649FCCF645
//! s = x XOR (x >> 64)
//! ```
//!
//! (`M` is PCG's 128-bit LCG multiplier, odd.) A word is an `i128` amount (its two's complement)
//! or two `u64` fields (the first in the low half, `Fold::two`); four small values (tags,
//! enumerations, flags, asset and pair indexes, each below 2^16) make one `u64` field (`pack`).
//! A record's first word carries its tag (`t`, `l`, `o`), which fixes how many words follow, so
//! a stream of records is one sequence of words read only one way. Each step is a bijection of
//! the state for a given word (XOR, a multiplication by an odd number modulo 2^128, and an
//! xorshift are all invertible), so two runs whose record streams first differ in one word have
//! different states from that word on, and identical records afterwards never bring them
//! together again: a single differing field always shows; several differing fields could cancel
//! only by an accident of the mixing. It detects divergence between a live engine and a replay;
//! it does not resist an attacker. XXH3-128 over an encoding of the fields (each integer as its
//! length and significant bytes, in a stack buffer) cost more than twice the instructions, mostly
//! the encoding and the buffer's memset, not the hash itself.
//!
//! A trade record or ledger entry is folded as every one of its fields; a closed order as what
//! its life changed (status, reason, times, fills, cost, fees, hold, final price and volume,
//! parent, trade count) and, for an order amended in place, its amend history (a record of its
//! own, tag `a`, right after the order's): its request is the logged command's, so folding the
//! whole record (~300 postcard bytes with SHA-256 before) bought nothing but time. The words of
//! each record are written out where it is folded.

use super::account::{LedgerEntry, RefId, TradeRecord};
use super::order::{CancelReason, Order};
use serde::{Deserialize, Serialize};

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

    /// Takes the records out (the drain after a batch), leaving an outbox with the room it had:
    /// the next batch is usually like the last ones, so its records are not copied again and
    /// again as the vectors regrow from nothing (2.6% of the engine benchmark's instructions were
    /// those copies). The room is the capacity, not the length: a batch a little larger than the
    /// last would otherwise regrow (double and copy) each vector once per drain (1.1% more). The
    /// room is bounded by the largest batch's records.
    pub fn take(&mut self) -> HistoryOut {
        let room = HistoryOut {
            trades: Vec::with_capacity(self.trades.capacity()),
            ledger: Vec::with_capacity(self.ledger.capacity()),
            closed_orders: Vec::with_capacity(self.closed_orders.capacity()),
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
        let mut f = Fold::from(self.hash);
        // The two flags as one small value: `fee_in_base` in its low byte, `maker` in the next.
        let flags = u16::from(*fee_in_base) | u16::from(*maker) << 8;
        f.two(pack([u16::from(b't'), *pair, *side as u16 | (*order_kind as u16) << 8, flags]), *seq);
        f.two(u64::from(*account), *order);
        f.two(*price, *time_ns);
        f.two(*public_id, ledgers[0]);
        f.two(ledgers[1], 0);
        for a in [*volume, *cost, *fee, *cost_cd, *fee_cd] {
            f.i(a);
        }
        self.hash = f.into();
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
        let mut f = Fold::from(self.hash);
        f.two(pack([u16::from(b'l'), ref_kind, *kind as u16, *asset]), *seq);
        f.two(u64::from(*account), ref_id);
        f.two(*time_ns, 0);
        for a in [*amount, *fee, *balance] {
            f.i(a);
        }
        self.hash = f.into();
    }

    /// The same for a closed order.
    pub fn closed(&mut self, c: &ClosedOrder) {
        debug_assert_eq!(c.n, self.next_closed);
        self.next_closed += 1;
        let o = &c.order;
        let mut f = Fold::from(self.hash);
        f.two(pack([u16::from(b'o'), o.status as u16, reason_code(o.reason), o.hold_asset]), c.n);
        let rare = o.rare();
        // The parent as seq + 1, 0 for none.
        f.two(o.seq, rare.parent.map_or(0, |p| p + 1));
        f.two(o.open_ns, o.close_ns);
        f.two(o.req.price, rare.price2);
        f.two(o.held_limit, o.trades().len() as u64);
        let a = o.amounts();
        for v in [o.req.volume, a.filled, a.cost, a.fee, a.exact_cost, a.exact_fee, a.cost_cd, a.fee_cd, a.hold_remaining, o.shown()] {
            f.i(v);
        }
        if !o.amends().is_empty() {
            // The amend history left the engine with the order: its count, then each entry.
            f.two(pack([u16::from(b'a'), 0, 0, 0]), o.amends().len() as u64);
            for r in o.amends() {
                f.two(r.id, r.time_ns);
                f.two(r.limit_price, pack([r.kind as u16, u16::from(r.post_only), 0, 0]));
                f.i(r.order_qty);
                f.i(r.remaining_qty);
            }
        }
        self.hash = f.into();
    }
}

/// The fold's multiplier (see the module doc): PCG's 128-bit LCG multiplier.
const MIX: u128 = 0x2360_ED05_1FC6_5DA4_4385_DF64_9FCC_F645;

/// The running hash while a record is folded in (see the module doc).
struct Fold(u128);

impl Fold {
    #[inline(always)]
    fn i(&mut self, v: i128) {
        let x = (self.0 ^ v as u128).wrapping_mul(MIX);
        self.0 = x ^ (x >> 64);
    }

    /// Two `u64` fields as one word: `lo` in its low half, `hi` in its high half.
    #[inline(always)]
    fn two(&mut self, lo: u64, hi: u64) {
        self.i((u128::from(hi) << 64 | u128::from(lo)) as i128);
    }
}

impl From<[u8; 16]> for Fold {
    fn from(hash: [u8; 16]) -> Fold {
        Fold(u128::from_le_bytes(hash))
    }
}

impl From<Fold> for [u8; 16] {
    fn from(f: Fold) -> [u8; 16] {
        f.0.to_le_bytes()
    }
}

/// Four small values (each below 2^16) as one `u64` field: the first in the lowest two bytes,
/// and so on.
#[inline(always)]
fn pack(small: [u16; 4]) -> u64 {
    small.iter().rev().fold(0, |acc, v| acc << 16 | u64::from(*v))
}

/// A closed order's reason as a number: 0 none, then the reasons in declaration order from 1,
/// and a market status's refusal as 16 + the status's declaration index.
fn reason_code(r: Option<CancelReason>) -> u16 {
    match r {
        None => 0,
        Some(CancelReason::UserRequested) => 1,
        Some(CancelReason::PostOnly) => 2,
        Some(CancelReason::SelfTrade) => 3,
        Some(CancelReason::ImmediateOrCancel) => 4,
        Some(CancelReason::NoLiquidity) => 5,
        Some(CancelReason::InsufficientFunds) => 6,
        Some(CancelReason::InvalidPrice) => 7,
        Some(CancelReason::Market(s)) => 16 + s as u16,
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
    use crate::engine::order::{NewOrder, Side, Status};

    /// The fold's step as the module doc defines it, computed independently: the state as four
    /// 32-bit limbs, schoolbook multiplication modulo 2^128, then the high half XORed into the low.
    fn step(s: [u32; 4], v: u128) -> [u32; 4] {
        let m = [0x9FCC_F645u32, 0x4385_DF64, 0x1FC6_5DA4, 0x2360_ED05];
        let x: Vec<u32> = (0..4).map(|k| s[k] ^ (v >> (32 * k)) as u32).collect();
        let mut p = [0u32; 4];
        for i in 0..4 {
            let mut carry = 0u64;
            for j in 0..4 - i {
                let t = u64::from(x[i]) * u64::from(m[j]) + u64::from(p[i + j]) + carry;
                p[i + j] = t as u32;
                carry = t >> 32;
            }
        }
        [p[0] ^ p[2], p[1] ^ p[3], p[2], p[3]]
    }

    fn bytes(s: [u32; 4]) -> [u8; 16] {
        let mut out = [0u8; 16];
        for (k, limb) in s.iter().enumerate() {
            out[4 * k..4 * k + 4].copy_from_slice(&limb.to_le_bytes());
        }
        out
    }

    /// The fold's definition, written out: checkpoints carry the hash, so it must not change
    /// unnoticed. A ledger entry is its tag and its fields in order, the refid's kind (0 trade,
    /// 1 funding), the entry's kind and its asset packed into one field, amounts as their two's
    /// complement.
    #[test]
    fn fold_is_the_documented_step_over_tag_and_fields() {
        let mut c = HistoryCounters::default();
        let mut expected = [0u32; 4];
        for seq in 0..3u64 {
            let e = LedgerEntry {
                seq,
                account: 7,
                refid: RefId::Funding(seq * 11),
                time_ns: 1_750_000_000_000_000_000 + seq,
                kind: LedgerKind::Trade,
                asset: 3,
                amount: -12_345_678_900 * (seq as i128 + 1),
                fee: 2_824_691,
                balance: 10i128.pow(20),
            };
            c.ledger(&e);
            let kind = LedgerKind::Trade as u128;
            let words = [
                (u128::from(b'l') | 1 << 16 | kind << 32 | 3 << 48) | u128::from(seq) << 64,
                7 | u128::from(seq * 11) << 64,
                1_750_000_000_000_000_000 + u128::from(seq),
                (-12_345_678_900 * (seq as i128 + 1)) as u128,
                2_824_691,
                10u128.pow(20),
            ];
            for w in words {
                expected = step(expected, w);
            }
            assert_eq!(c.hash, bytes(expected), "after ledger entry {seq}");
        }
    }

    /// Every field a closed order's fold covers shows in the hash, alone (each step is a
    /// bijection of the state, so a single differing field always shows).
    #[test]
    fn each_closed_order_field_shows() {
        let mut o = Order::opened(41, &NewOrder::limit(2, 1, Side::Buy, 500, 7_000), 10, 1, 3_500);
        o.status = Status::Canceled;
        o.reason = Some(CancelReason::UserRequested);
        o.close_ns = 20;
        let fold = |o: &Order| {
            let mut c = HistoryCounters { next_closed: 5, ..Default::default() };
            c.closed(&ClosedOrder { n: 5, order: o.clone() });
            c.hash
        };
        let base = fold(&o);
        let changes: [(&str, fn(&mut Order)); 17] = [
            ("seq", |o| o.seq += 1),
            ("status", |o| o.status = Status::Closed),
            ("reason", |o| o.reason = Some(CancelReason::Market(crate::engine::status::MarketStatus::CancelOnly))),
            ("hold asset", |o| o.hold_asset = 0),
            ("open", |o| o.open_ns += 1),
            ("close", |o| o.close_ns += 1),
            ("price", |o| o.req.price += 1),
            ("price2", |o| o.set_price2(9)),
            ("held limit", |o| o.held_limit = 1),
            ("parent", |o| o.extras_mut().parent = Some(0)),
            ("trades", |o| o.trades.push(0)),
            ("volume", |o| o.req.volume += 1),
            ("filled", |o| o.set_filled(-1)),
            ("cost", |o| o.set_cost(i128::MAX)),
            ("fee cd", |o| o.set_fee_cd(1)),
            ("hold", |o| o.set_hold_remaining(3_499)),
            ("shown", |o| o.set_shown(1)),
        ];
        for (name, change) in changes {
            let mut p = o.clone();
            change(&mut p);
            assert_ne!(fold(&p), base, "{name} does not show");
        }
        // The same record folded after another state is another hash.
        let mut c = HistoryCounters { next_closed: 5, hash: [1; 16], ..Default::default() };
        c.closed(&ClosedOrder { n: 5, order: o.clone() });
        assert_ne!(c.hash, base);
    }
}
