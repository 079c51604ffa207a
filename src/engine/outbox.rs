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
//! encoding. The running hash is a 64-bit state `s` (`HistoryCounters::hash`, 0 at the start),
//! and folding one 64-bit word `w` is
//!
//! ```text
//! x = (s XOR w) * M   (mod 2^64)        M = 0x5851F42D4C957F2D
//! s = x XOR (x >> 32)
//! ```
//!
//! (`M` is PCG's 64-bit LCG multiplier, odd.) A word is a `u64` field, or four small values
//! (tags, enumerations, flags, asset and pair indexes, each below 2^16: `pack`), or an amount
//! (`Fold::i`): an amount that fits in an `i64` (and is not `i64::MIN`) is that one word, as the
//! order record stores it in eight bytes; any other is the word `i64::MIN` (the record's `WIDE`
//! marker) followed by its low and high halves. A record's first word carries its tag (`t`,
//! `l`, `o`, `O`), which fixes the words that follow (a marker word announcing its two halves),
//! so a stream of records is one sequence of words read only one way. Each step is a bijection
//! of the state for a given word (XOR, a multiplication by an odd number modulo 2^64, and an
//! xorshift are all invertible), so two runs whose record streams first differ in one word have
//! different states from that word on, and identical words afterwards never bring them together
//! again: a field that differs in its own word only (every field, unless an amount crosses the
//! `i64` range or lies past it, or a rare part appears or goes) always shows; several differing
//! words (several fields, both halves of a wide amount, a tag and the words it announces) could
//! cancel only by an accident of the mixing (one chance in 2^64). It detects divergence between
//! a live engine and a replay; it does not resist an attacker. The 128-bit state of before (the
//! same step modulo 2^128, two `u64` fields a word) cost about 2.5 times the instructions a step
//! (its multiplications), so it gained only on the amounts (one word each here) and on the
//! closed order's words; XXH3-128 over an encoding of the fields cost more than twice that
//! again, mostly the encoding and the buffer's memset, not the hash itself.
//!
//! A trade record or ledger entry is folded as every one of its fields; a closed order as what
//! its life changed (status, reason, times, fills, cost, fees, hold, final price and volume,
//! trade count) and, when it has any, its rare parts (parent, second price, iceberg's shown
//! part, and for an order amended in place its amend history). Its request is the logged
//! command's, so folding the whole record (~300 postcard bytes with SHA-256 before) bought
//! nothing but time; its closing number `n` is its place in the stream of closings, which the
//! fold already follows, so it is not folded either. The words of each record are written out
//! where it is folded.
//!
//! Every record is folded in two lanes, so that its words are two chains of half the length,
//! not one: each step waits for the multiplication before it, and one chain (17 words for a
//! closed order, 14 for a trade record, 8 for a ledger entry; a fill makes two trade records and
//! six ledger entries) was the fold's time, not its instructions. Lane A starts from the
//! state `s`, lane B from 0; the record's items (a word, or an amount's one or three words) are
//! dealt to A and B in turn, the first to A; then B joins A as one more step of lane A with the
//! word `rotl(B, 29)` (B's state rotated left by 29 bits: the same low-entropy change in both
//! lanes, a top bit flipped in each last word, would otherwise cancel), and A is the new state.
//! For given words each lane is a bijection of its start, and the join a bijection of A for a
//! given B and of B for a given A, so a record is still a bijection of the state, and a word that
//! differs alone still always shows. A trade record's items, in turn: the tag with pair, side
//! and kind, and the two flags packed, seq, account, order, price, time, public id, its two
//! ledger entries, then volume, cost, fee, cost cd, fee cd (7 items a lane). A ledger entry's:
//! the tag with the refid's kind (0 trade, 1 funding), the entry's kind and asset packed, seq,
//! account, the refid's number, time, then amount, fee, balance (4 a lane). Neither has rare
//! parts. A closed order's items, in turn: the tag with status, reason and hold
//! asset packed (`pack`), seq, open time, close time, price, held limit, trade count, volume,
//! then the eight amounts as the record stores them (filled, cost, fee, exact cost, exact fee,
//! cost cd, fee cd, hold). The tag says what follows: `o` the amounts, `z` none (all eight are
//! zero: an order that never traded, its hold released, the most common closing, folds 8 items
//! and the join, not 16 and the number), and `O`/`Z` the same with the rare parts' words after
//! the join, one after another on the joined state. A checkpoint (which carries the hash) of an
//! older fold is refused by its version (9: closed orders in two lanes; 10: trade records and
//! ledger entries too).

use super::account::{LedgerEntry, RefId, TradeRecord};
use super::order::{CancelReason, Order};
use super::record::WIDE;
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

    /// Takes the records out (the drain after a batch), leaving an outbox with room for a batch
    /// like this one: the next batch is usually like the last ones, so its records are not
    /// copied again and again as the vectors regrow from nothing (2.6% of the engine benchmark's
    /// instructions were those copies). The room is half as much again as this batch's records,
    /// rounded up to a power of two ([`room_for`]): a batch a little larger than the last does not
    /// regrow (double and copy) a vector once per drain (1.1% more when the room was the
    /// length). It follows the batches down as well as up: room kept from the largest batch ever
    /// (the capacity) made every small batch after a large one allocate the large buffers
    /// afresh (the drained ones leave with the batch), 2.1% of the HTTP workers' time under
    /// durable AddOrder load, mostly the allocator handing out and faulting in new pages.
    pub fn take(&mut self) -> HistoryOut {
        let room = HistoryOut {
            trades: Vec::with_capacity(room_for(self.trades.len())),
            ledger: Vec::with_capacity(room_for(self.ledger.len())),
            closed_orders: Vec::with_capacity(room_for(self.closed_orders.len())),
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

/// The room a drained outbox leaves for the next batch's records after one of `len`: none after
/// none, else `len` and half as much again, rounded up to a power of two.
fn room_for(len: usize) -> usize {
    if len == 0 {
        0
    } else {
        (len + len / 2).next_power_of_two()
    }
}

/// The state history leaves behind in the engine: the next sequence numbers and a running
/// 64-bit hash of every record emitted, in order (see the module doc).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryCounters {
    pub next_trade: u64,
    pub next_ledger: u64,
    pub next_closed: u64,
    pub hash: u64,
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
        // The two flags as one small value: `fee_in_base` in its low byte, `maker` in the next.
        let flags = u16::from(*fee_in_base) | u16::from(*maker) << 8;
        // Two lanes, the items dealt in turn from A (see the module doc): 14 items, 7 a lane.
        let (mut a, mut b) = (Fold(self.hash), Fold(0));
        a.w(pack([u16::from(b't'), *pair, *side as u16 | (*order_kind as u16) << 8, flags]));
        b.w(*seq);
        a.w(u64::from(*account));
        b.w(*order);
        a.w(*price);
        b.w(*time_ns);
        a.w(*public_id);
        b.w(ledgers[0]);
        a.w(ledgers[1]);
        b.i(*volume);
        a.i(*cost);
        b.i(*fee);
        a.i(*cost_cd);
        b.i(*fee_cd);
        a.join(b);
        self.hash = a.0;
    }

    /// The same for a ledger entry (inlined into `Exchange::post`, its one caller).
    #[inline]
    pub fn ledger(&mut self, e: &LedgerEntry) {
        debug_assert_eq!(e.seq, self.next_ledger);
        self.next_ledger += 1;
        let LedgerEntry { seq, account, refid, time_ns, kind, asset, amount, fee, balance } = e;
        let (ref_kind, ref_id) = match *refid {
            RefId::Trade(id) => (0, id),
            RefId::Funding(id) => (1, id),
        };
        // Two lanes, the items dealt in turn from A (see the module doc): 8 items, 4 a lane.
        let (mut a, mut b) = (Fold(self.hash), Fold(0));
        a.w(pack([u16::from(b'l'), ref_kind, *kind as u16, *asset]));
        b.w(*seq);
        a.w(u64::from(*account));
        b.w(ref_id);
        a.w(*time_ns);
        b.i(*amount);
        a.i(*fee);
        b.i(*balance);
        a.join(b);
        self.hash = a.0;
    }

    /// The same for a closed order, in two lanes (see the module doc): its tag says whether
    /// its eight amounts follow (`o`, `O`) or are all zero and left out (`z`, `Z`, most
    /// closings: a canceled order that never traded, its hold released), and whether the words
    /// of its rare parts follow (`O`, `Z`: a parent, a second price, an iceberg's shown part or
    /// an amend history; decided by their values, not by whether the record has an extras box,
    /// which an equal record may lack). Always inlined (into `Exchange::emit_closed`: every
    /// closing).
    #[inline(always)]
    pub fn closed(&mut self, c: &ClosedOrder) {
        debug_assert_eq!(c.n, self.next_closed);
        self.next_closed += 1;
        let o = &c.order;
        let extras = o.extras();
        let rare = extras.filter(|x| x.parent.is_some() || x.price2 != 0 || x.shown != 0 || !x.amends.is_empty());
        let stored = o.stored_amounts();
        // All eight as stored (a wide amount's marker is not zero): an OR of the words.
        let zero = stored.iter().fold(0, |acc, w| acc | w) == 0;
        let tag = match (zero, rare.is_some()) {
            (false, false) => b'o',
            (false, true) => b'O',
            (true, false) => b'z',
            (true, true) => b'Z',
        };
        // Lane A from the state, lane B from 0; items dealt in turn (A, B, A, B…).
        let (mut a, mut b) = (Fold(self.hash), Fold(0));
        a.w(pack([u16::from(tag), o.status as u16, reason_code(o.reason), o.hold_asset]));
        b.w(o.seq);
        a.w(o.open_ns);
        b.w(o.close_ns);
        a.w(o.req.price);
        b.w(o.held_limit);
        a.w(o.trades().len() as u64);
        b.i(o.req.volume);
        if !zero {
            // The amounts as the record stores them (eight bytes each): the words `Fold::i`
            // makes of their exact values, without widening them. An amount kept in the extras
            // (`WIDE` inline) is folded from there; a record without extras has none.
            match extras {
                None => {
                    debug_assert!(!stored.contains(&WIDE));
                    for pair in stored.chunks_exact(2) {
                        a.w(pair[0] as u64);
                        b.w(pair[1] as u64);
                    }
                }
                Some(_) => {
                    for (i, w) in stored.iter().enumerate() {
                        let lane = if i % 2 == 0 { &mut a } else { &mut b };
                        match *w {
                            WIDE => lane.i(o.amount(i)),
                            w => lane.w(w as u64),
                        }
                    }
                }
            }
        }
        a.join(b);
        if let Some(x) = rare {
            // On the joined state, one after another: the parent as seq + 1, 0 for none; the
            // amend history (which left the engine with the order) as its count, then each entry.
            for w in [x.parent.map_or(0, |p| p + 1), x.price2] {
                a.w(w);
            }
            a.i(x.shown);
            a.w(x.amends.len() as u64);
            for r in &x.amends {
                for w in [r.id, r.time_ns, r.limit_price, pack([r.kind as u16, u16::from(r.post_only), 0, 0])] {
                    a.w(w);
                }
                a.i(r.order_qty);
                a.i(r.remaining_qty);
            }
        }
        self.hash = a.0;
    }
}

/// The fold's multiplier (see the module doc): PCG's 64-bit LCG multiplier.
const MIX: u64 = 0x5851_F42D_4C95_7F2D;

/// How far lane B's state is rotated as it joins lane A (see the module doc).
const JOIN_ROTATION: u32 = 29;

/// The running hash while a record is folded in (see the module doc).
struct Fold(u64);

impl Fold {
    /// One word.
    #[inline(always)]
    fn w(&mut self, w: u64) {
        let x = (self.0 ^ w).wrapping_mul(MIX);
        self.0 = x ^ (x >> 32);
    }

    /// An amount: one word if it fits in an `i64` other than `WIDE`, else `WIDE` and its two
    /// halves, low first.
    #[inline(always)]
    fn i(&mut self, v: i128) {
        match i64::try_from(v) {
            Ok(n) if n != WIDE => self.w(n as u64),
            _ => self.wide(v),
        }
    }

    /// Joins lane `b` into this one: one step with `b`'s state, rotated left by 29 bits, as the
    /// word.
    #[inline(always)]
    fn join(&mut self, b: Fold) {
        self.w(b.0.rotate_left(JOIN_ROTATION));
    }

    #[cold]
    #[inline(never)]
    fn wide(&mut self, v: i128) {
        self.w(WIDE as u64);
        self.w(v as u64);
        self.w((v >> 64) as u64);
    }
}

/// Four small values (each below 2^16) as one `u64` field: the first in the lowest two bytes,
/// and so on.
#[inline(always)]
fn pack(small: [u16; 4]) -> u64 {
    small.iter().rev().fold(0, |acc, v| acc << 16 | u64::from(*v))
}

/// A closed order's reason as a number: 0 none, then the reasons in declaration order from 1,
/// and a market status's refusal as 16 + the status's declaration index. The two most closings
/// have (none: filled; a user's cancel) by comparison, inline; the rest through the match, whose
/// jump table every closing went through.
#[inline(always)]
fn reason_code(r: Option<CancelReason>) -> u16 {
    match r {
        None => 0,
        Some(CancelReason::UserRequested) => 1,
        _ => reason_code_other(r),
    }
}

#[inline(never)]
fn reason_code_other(r: Option<CancelReason>) -> u16 {
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
    use crate::engine::account::{LedgerKind, RefId, TradeRecord};
    use crate::engine::amend::{AmendKind, AmendRecord};
    use crate::engine::order::{NewOrder, Side, Status};

    /// The fold's step as the module doc defines it, computed independently: the state as two
    /// 32-bit limbs, schoolbook multiplication modulo 2^64, then the high half XORed into the low.
    fn step(s: [u32; 2], w: u64) -> [u32; 2] {
        let m = [0x4C95_7F2Du32, 0x5851_F42D];
        let x = [s[0] ^ w as u32, s[1] ^ (w >> 32) as u32];
        let lo = u64::from(x[0]) * u64::from(m[0]);
        let hi = ((lo >> 32) as u32).wrapping_add(x[0].wrapping_mul(m[1])).wrapping_add(x[1].wrapping_mul(m[0]));
        [lo as u32 ^ hi, hi]
    }

    /// The room left after a drain follows the batch: none after none, at least the batch and
    /// less than three times it, and small again after a large batch.
    #[test]
    fn the_room_follows_the_batches() {
        assert_eq!(room_for(0), 0);
        for len in [1usize, 2, 3, 7, 8, 100, 1000, 1024, 1100, 65_537] {
            let room = room_for(len);
            assert!(room >= len + len / 2 && room < 3 * len && room.is_power_of_two(), "{len}: {room}");
        }
        let mut out = HistoryOut::default();
        out.ledger.resize_with(1000, test_entry);
        assert_eq!(out.take().ledger.len(), 1000);
        assert_eq!(out.ledger.capacity(), 2048);
        out.ledger.push(test_entry());
        out.take();
        assert!(out.ledger.capacity() < 4, "a small batch after a large one leaves small room");
        out.take();
        assert_eq!(out.ledger.capacity(), 0);
    }

    fn test_entry() -> LedgerEntry {
        LedgerEntry {
            seq: 0,
            account: 2,
            refid: RefId::Funding(1),
            time_ns: 0,
            kind: LedgerKind::Deposit,
            asset: 0,
            amount: 1,
            fee: 0,
            balance: 1,
        }
    }

    fn state(s: [u32; 2]) -> u64 {
        u64::from(s[0]) | u64::from(s[1]) << 32
    }

    /// An amount's words as the module doc defines them: itself if it fits in an i64 other than
    /// i64::MIN, else i64::MIN and its two halves, low first.
    fn amount_words(v: i128) -> Vec<u64> {
        if v > i128::from(i64::MIN) && v <= i128::from(i64::MAX) {
            vec![v as i64 as u64]
        } else {
            vec![i64::MIN as u64, v as u64, (v >> 64) as u64]
        }
    }

    /// The fold's definition, written out: checkpoints carry the hash, so it must not change
    /// unnoticed. A ledger entry is its tag and its fields in order, dealt to two lanes (`lanes`):
    /// the refid's kind (0 trade, 1 funding), the entry's kind and its asset packed with the tag
    /// into one item, amounts as one word, or three past i64 (the balance here, in lane B).
    #[test]
    fn fold_is_the_documented_step_over_tag_and_fields() {
        let mut c = HistoryCounters::default();
        let mut expected = 0u64;
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
            let kind = LedgerKind::Trade as u64;
            let mut items: Vec<Vec<u64>> =
                [u64::from(b'l') | 1 << 16 | kind << 32 | 3 << 48, seq, 7, seq * 11, 1_750_000_000_000_000_000 + seq]
                    .into_iter()
                    .map(|w| vec![w])
                    .collect();
            items.push(amount_words(-12_345_678_900 * (seq as i128 + 1)));
            items.push(vec![2_824_691]);
            items.push(vec![i64::MIN as u64, 10u128.pow(20) as u64, 5]);
            expected = lanes(expected, &items, &[]);
            assert_eq!(c.hash, expected, "after ledger entry {seq}");
        }
    }

    /// A trade record's words, written out: the tag with pair, side and kind, and the two flags
    /// packed, then its fields in declaration order (the amounts last), dealt to two lanes.
    #[test]
    fn trade_fold_is_its_words_in_order() {
        let t = TradeRecord {
            seq: 4,
            account: 7,
            order: 41,
            pair: 2,
            side: Side::Sell,
            order_kind: crate::engine::order::OrderKind::Limit,
            price: 500,
            volume: 7_000,
            cost: -(1 << 70),
            fee: 12,
            cost_cd: 35,
            fee_cd: 1,
            fee_in_base: true,
            maker: true,
            time_ns: 1_750_000_000_000_000_000,
            public_id: 99,
            ledgers: [10, 11],
        };
        let mut c = HistoryCounters { next_trade: 4, hash: 9, ..Default::default() };
        c.trade(&t);
        assert_eq!(c.next_trade, 5);
        let kind = crate::engine::order::OrderKind::Limit as u64;
        let first = u64::from(b't') | 2 << 16 | (Side::Sell as u64 | kind << 8) << 32 | (1 | 1 << 8) << 48;
        let mut items: Vec<Vec<u64>> = [first, 4, 7, 41, 500, 1_750_000_000_000_000_000, 99, 10, 11].into_iter().map(|w| vec![w]).collect();
        items.extend([7_000, -(1 << 70), 12, 35, 1].map(amount_words));
        assert_eq!(c.hash, lanes(9, &items, &[]));
        // Each field alone shows.
        let fold = |t: &TradeRecord| {
            let mut c = HistoryCounters { next_trade: t.seq, ..Default::default() };
            c.trade(t);
            c.hash
        };
        let base = fold(&t);
        let changes: [fn(&mut TradeRecord); 16] = [
            |t| t.account += 1,
            |t| t.order += 1,
            |t| t.pair += 1,
            |t| t.side = Side::Buy,
            |t| t.order_kind = crate::engine::order::OrderKind::Market,
            |t| t.price += 1,
            |t| t.volume += 1,
            |t| t.cost += 1,
            |t| t.fee += 1,
            |t| t.cost_cd += 1,
            |t| t.fee_cd += 1,
            |t| t.fee_in_base = false,
            |t| t.maker = false,
            |t| t.time_ns += 1,
            |t| t.public_id += 1,
            |t| t.ledgers[1] += 1,
        ];
        for (i, change) in changes.iter().enumerate() {
            let mut u = t.clone();
            change(&mut u);
            assert_ne!(fold(&u), base, "change {i} does not show");
        }
    }

    /// A closed order's fold as the module doc defines it, computed with `step`: lane A from the
    /// state `s`, lane B from 0, the items dealt in turn from A, B joined into A rotated left by
    /// 29 bits, then the rare parts' words one after another.
    fn lanes(s: u64, items: &[Vec<u64>], rare: &[u64]) -> u64 {
        let mut lane = [[s as u32, (s >> 32) as u32], [0, 0]];
        for (i, item) in items.iter().enumerate() {
            for w in item {
                lane[i % 2] = step(lane[i % 2], *w);
            }
        }
        let b = state(lane[1]);
        // The rotation written out, not `rotate_left` (the code's own): computed independently.
        #[allow(clippy::manual_rotate)]
        let joined = step(lane[0], b << 29 | b >> 35);
        state(rare.iter().fold(joined, |a, w| step(a, *w)))
    }

    /// A closed order's words, written out: the head items, then its amounts as the record
    /// stores them (eight bytes each; a wide one, kept in the extras, as its exact value's
    /// three words) unless all eight are zero (tag `z`), and its rare parts' words only under
    /// the tags `O` and `Z`.
    #[test]
    fn closed_order_fold_is_its_words_in_order() {
        let mut o = Order::opened(41, &NewOrder::limit(2, 1, Side::Buy, 500, 7_000), 10, 1, 3_500);
        o.status = Status::Canceled;
        o.reason = Some(CancelReason::UserRequested);
        o.close_ns = 20;
        o.held_limit = 600;
        let fold = |o: &Order| {
            let mut c = HistoryCounters { next_closed: 5, hash: 9, ..Default::default() };
            c.closed(&ClosedOrder { n: 5, order: o.clone() });
            assert_eq!(c.next_closed, 6);
            c.hash
        };
        let status = Status::Canceled as u64;
        let head = |tag: u8, trades: u64| -> Vec<Vec<u64>> {
            let first = u64::from(tag) | status << 16 | 1 << 32 | 1 << 48;
            [first, 41, 10, 20, 500, 600, trades, 7_000].into_iter().map(|w| vec![w]).collect()
        };
        let with = |mut items: Vec<Vec<u64>>, amounts: [i128; 8]| {
            items.extend(amounts.map(amount_words));
            items
        };
        // Every amount zero (the hold too): `z`, the head's eight items only.
        o.set_hold_remaining(0);
        assert_eq!(fold(&o), lanes(9, &head(b'z', 0), &[]), "an order that never traded");
        // A plain record (no extras) with amounts: `o`, the eight amounts after the head.
        o.set_hold_remaining(3_500);
        o.trades.push(3);
        o.set_filled(-5);
        assert!(o.extras().is_none());
        assert_eq!(fold(&o), lanes(9, &with(head(b'o', 1), [-5, 0, 0, 0, 0, 0, 0, 3_500]), &[]), "a plain order");
        // Wide amounts (in the extras): their exact values' three words, each in its lane.
        let big = i128::from(i64::MAX) * 1_000 + 7;
        o.set_exact_cost(big);
        o.set_fee_cd(i128::from(i64::MIN));
        // filled, cost, fee, exact cost, exact fee, cost cd, fee cd, hold.
        let amounts = [-5, 0, 0, big, 0, 0, i128::from(i64::MIN), 3_500];
        assert_eq!(fold(&o), lanes(9, &with(head(b'o', 1), amounts), &[]), "wide amounts");
        // With a parent and an amend history: tag `O`, then on the joined state parent + 1,
        // price2, shown, the amends' count and each amend's fields.
        o.extras_mut().parent = Some(3);
        let r = AmendRecord {
            id: 8,
            kind: AmendKind::User,
            order_qty: 70,
            remaining_qty: -(1 << 70),
            limit_price: 450,
            post_only: true,
            time_ns: 12,
        };
        o.extras_mut().amends.push(r);
        let mut rare = vec![4, 0, 0, 1, 8, 12, 450, AmendKind::User as u64 | 1 << 16, 70];
        rare.extend(amount_words(-(1 << 70)));
        assert_eq!(fold(&o), lanes(9, &with(head(b'O', 1), amounts), &rare), "an order with rare parts");
        // Rare parts and every amount zero: `Z`.
        o.set_amounts(&crate::engine::record::Amounts::default());
        o.trades.clear();
        assert_eq!(fold(&o), lanes(9, &head(b'Z', 0), &rare), "rare parts, nothing executed");
    }

    /// Every reason's number, as the module doc defines them (the two common ones are tested
    /// inline, the rest in `reason_code_other`).
    #[test]
    fn reason_codes_are_the_documented_numbers() {
        use crate::engine::status::MarketStatus;
        let reasons = [
            (None, 0),
            (Some(CancelReason::UserRequested), 1),
            (Some(CancelReason::PostOnly), 2),
            (Some(CancelReason::SelfTrade), 3),
            (Some(CancelReason::ImmediateOrCancel), 4),
            (Some(CancelReason::NoLiquidity), 5),
            (Some(CancelReason::InsufficientFunds), 6),
            (Some(CancelReason::InvalidPrice), 7),
            (Some(CancelReason::Market(MarketStatus::Online)), 16),
            (Some(CancelReason::Market(MarketStatus::CancelOnly)), 18),
            (Some(CancelReason::Market(MarketStatus::ReduceOnly)), 21),
        ];
        for (r, code) in reasons {
            assert_eq!(reason_code(r), code, "{r:?}");
        }
    }

    /// An amount's words are read one way only: different amounts from one state give different
    /// states, across the one-word/three-word boundary too.
    #[test]
    fn amounts_fold_one_way() {
        let one = i128::from(i64::MAX);
        let values = [0, 1, -1, one, -one, one + 1, -one - 1, -one - 2, 1 << 64, -(1 << 64), i128::MAX, i128::MIN, (1 << 64) | 1];
        let folded: Vec<u64> = values
            .iter()
            .map(|v| {
                let mut f = Fold(3);
                f.i(*v);
                f.0
            })
            .collect();
        for (i, a) in folded.iter().enumerate() {
            assert_eq!(folded.iter().filter(|b| *b == a).count(), 1, "{} collides", values[i]);
            let expected = amount_words(values[i]).into_iter().fold([3, 0], step);
            assert_eq!(*a, state(expected), "{}", values[i]);
        }
    }

    /// Every field a closed order's fold covers shows in the hash, alone (each step is a
    /// bijection of the state, so a field that differs in its own word always shows; a rare
    /// part that appears changes the tag and adds words, which could cancel only by accident).
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
        type Change = (&'static str, fn(&mut Order));
        let changes: [Change; 23] = [
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
            ("fee", |o| o.set_fee(1)),
            ("exact cost", |o| o.set_exact_cost(1)),
            ("exact fee", |o| o.set_exact_fee(i128::from(i64::MIN))),
            ("cost cd", |o| o.set_cost_cd(-1)),
            ("fee cd", |o| o.set_fee_cd(1)),
            ("hold", |o| o.set_hold_remaining(3_499)),
            ("shown", |o| o.set_shown(1)),
            ("extras alone", |o| o.extras_mut().cl_ord_id = Some("x".into())),
            ("amends", |o| o.extras_mut().amends.push(Default::default())),
        ];
        for (name, change) in changes {
            let mut p = o.clone();
            change(&mut p);
            if name == "extras alone" {
                // The client order id is the logged request's: not folded, and the box alone
                // changes nothing.
                assert_eq!(fold(&p), base, "{name}");
                continue;
            }
            assert_ne!(fold(&p), base, "{name} does not show");
        }
        // A wide amount's value shows, not only its being wide.
        let wide = |v: i128| {
            let mut p = o.clone();
            p.set_exact_fee(v);
            fold(&p)
        };
        assert_ne!(wide(i128::MAX), wide(i128::MAX - (1 << 64)));
        assert_ne!(wide(i128::MAX), wide(i128::MAX - 1));
        // The same record folded after another state is another hash.
        let mut c = HistoryCounters { next_closed: 5, hash: 1, ..Default::default() };
        c.closed(&ClosedOrder { n: 5, order: o.clone() });
        assert_ne!(c.hash, base);
    }
}
