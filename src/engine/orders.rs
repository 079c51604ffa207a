//! The engine's orders: only those not final (open, pending, armed), keyed by sequence. An order
//! that closes stays here until the end of the command that closed it, is then moved out of its
//! slot straight into the outbox (`outbox`, `move_out`: one copy of the record, the engine's one
//! `unsafe` block): closed orders live in the `closed_orders` history table, not in memory. The
//! sequence counter (`next`) is state: a sequence below it that is not here was an order that
//! closed.
//!
//! Storage is an arena: the orders in one vector of stable slots (a removal leaves its slot
//! empty and on a free list, the next order placed takes it: nothing is moved) and an index
//! from sequence to slot (`seq_index`: pages of slots by sequence, no hashing), so a lookup is
//! two array reads and no order is allocated on its own. A slot stays the order's for its whole
//! life, so other structures may name an order by its slot (a book's level queues link resting
//! orders by slot, `queue`), and a hot path that has found an order passes its slot on rather
//! than look it up again (`push` returns the record; `Book::insert`/`remove_at`,
//! `Exchange::finish_at`/`end_order_at`). Slots are not state: which slot an order got depends
//! on the removals' history, so everything that walks the orders (`iter`, the checkpoint, the
//! digest) walks them by sequence, through the index: a restored state and the live one are the
//! same state.

use super::order::{Order, OrderSeq};
use super::outbox::ClosedOrder;
use super::seq_index::SeqIndex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::ops::{Index, IndexMut};

#[derive(Default)]
pub struct Orders {
    /// The arena: `None` is a free slot (listed in `free`).
    slots: Vec<Option<Order>>,
    free: Vec<u32>,
    slot_of: SeqIndex,
    next: OrderSeq,
}

// A free slot costs nothing over an order (the record's boxes give `Option` its niche).
const _: () = assert!(std::mem::size_of::<Option<Order>>() == std::mem::size_of::<Order>());

impl Orders {
    /// The sequence the next order gets (every order ever placed is below it).
    pub fn next_seq(&self) -> OrderSeq {
        self.next
    }

    /// Adds a new order; its sequence must be the next one. Returns the record where it now is
    /// (for a caller that reads it next: no lookup by sequence).
    pub fn push(&mut self, order: Order) -> &Order {
        self.push_at(order).1
    }

    /// `push`, with the slot the order now has (for a caller that goes on by slot).
    #[inline]
    pub fn push_at(&mut self, order: Order) -> (u32, &Order) {
        assert_eq!(order.seq, self.next, "orders are added in sequence");
        self.next += 1;
        let seq = order.seq;
        let slot = match self.free.pop() {
            Some(slot) => {
                // Written where the slot is known to be free: a plain assignment drops the old
                // value first, and the record was then copied twice (argument → stack → slot).
                match &mut self.slots[slot as usize] {
                    free @ None => *free = Some(order),
                    Some(_) => taken_slot(slot),
                }
                slot
            }
            None => {
                self.slots.push(Some(order));
                u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 orders held")
            }
        };
        self.slot_of.insert(seq, slot);
        (slot, self.at(slot))
    }

    /// The order with this sequence, if it is not final (or closed during the current command).
    #[inline]
    pub fn get(&self, seq: usize) -> Option<&Order> {
        self.slot_of.get(seq as OrderSeq).map(|s| self.at(s))
    }

    #[inline]
    pub fn get_mut(&mut self, seq: usize) -> Option<&mut Order> {
        self.slot_of.get(seq as OrderSeq).map(|s| self.at_mut(s))
    }

    /// The slot of a held order (its place in the arena for as long as it is held).
    #[inline]
    pub fn slot(&self, seq: OrderSeq) -> Option<u32> {
        self.slot_of.get(seq)
    }

    /// The order in a slot, which must hold one.
    #[inline]
    pub fn at(&self, slot: u32) -> &Order {
        self.slots[slot as usize].as_ref().unwrap_or_else(|| free_slot(slot))
    }

    #[inline]
    pub fn at_mut(&mut self, slot: u32) -> &mut Order {
        self.slots[slot as usize].as_mut().unwrap_or_else(|| free_slot(slot))
    }

    /// Moves the order with this sequence (it closed and is emitted) out of its slot onto the
    /// end of `out`, as the `n`-th closing; its slot is free for the next order. False if it is
    /// not held. The record is copied once, slot to outbox: taken out safely (`Option::take`,
    /// then a push), it went slot → stack → `ClosedOrder` → outbox, three copies of its 176
    /// bytes, as `take` writes `None` into the slot between the read and the push. Always inlined
    /// (into `Exchange::emit_closed`: every closing).
    #[inline(always)]
    pub fn move_out(&mut self, seq: OrderSeq, n: u64, out: &mut Vec<ClosedOrder>) -> bool {
        let Some(slot) = self.slot_of.remove(seq, self.next) else { return false };
        self.free.push(slot);
        let held = &mut self.slots[slot as usize];
        let order: *const Order = held.as_ref().unwrap_or_else(|| free_slot(slot));
        out.reserve(1);
        let end = out.len();
        // SAFETY: `reserve` made room for one more element at `end`, which is written whole (`n`,
        // then the order's bytes) before the length covers it; the order's bytes are copied
        // from its slot (a live `Some`, another allocation than `out`'s) and the slot is then
        // overwritten with `None` without dropping them, so the order has exactly one owner,
        // `out`, as after `take` and `push`. Nothing between the copy and `set_len` can panic.
        unsafe {
            let dst = out.as_mut_ptr().add(end);
            std::ptr::addr_of_mut!((*dst).n).write(n);
            std::ptr::copy_nonoverlapping(order, std::ptr::addr_of_mut!((*dst).order), 1);
            std::ptr::write(held, None);
            out.set_len(end + 1);
        }
        true
    }

    /// How many orders are held.
    pub fn len(&self) -> usize {
        debug_assert_eq!(self.slots.len() - self.free.len(), self.slot_of.len());
        self.slot_of.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The orders by sequence (through the index's pages: for checks, the digest and
    /// checkpoints, not hot paths).
    pub fn iter(&self) -> impl Iterator<Item = &Order> {
        self.slot_of.slots().map(|s| self.at(s))
    }
}

#[cold]
#[inline(never)]
fn free_slot(slot: u32) -> ! {
    panic!("slot {slot} holds no order")
}

#[cold]
#[inline(never)]
fn taken_slot(slot: u32) -> ! {
    panic!("free slot {slot} holds an order")
}

#[cold]
#[inline(never)]
fn not_held(seq: usize) -> ! {
    panic!("order {seq} is not held")
}

impl<'a> IntoIterator for &'a Orders {
    type Item = &'a Order;
    type IntoIter = Box<dyn Iterator<Item = &'a Order> + 'a>;
    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

/// `orders[seq]`: the order with that sequence, which must be held (as `Vec` indexing panics).
impl Index<usize> for Orders {
    type Output = Order;
    #[inline]
    fn index(&self, seq: usize) -> &Order {
        self.get(seq).unwrap_or_else(|| not_held(seq))
    }
}

impl IndexMut<usize> for Orders {
    #[inline]
    fn index_mut(&mut self, seq: usize) -> &mut Order {
        self.get_mut(seq).unwrap_or_else(|| not_held(seq))
    }
}

impl std::fmt::Debug for Orders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Orders").field("next", &self.next).field("held", &self.len()).finish()
    }
}

/// The serialized form: the counter, then the orders by sequence.
#[derive(Serialize)]
struct Out<'a> {
    next: OrderSeq,
    orders: Vec<&'a Order>,
}

#[derive(Deserialize)]
struct In {
    next: OrderSeq,
    orders: Vec<Order>,
}

impl Serialize for Orders {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Out { next: self.next, orders: self.iter().collect() }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Orders {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = In::deserialize(d)?;
        let mut o = Orders { slots: Vec::with_capacity(r.orders.len()), free: Vec::new(), slot_of: SeqIndex::default(), next: r.next };
        let mut last = None;
        for order in r.orders {
            if order.seq >= r.next || last.is_some_and(|l| order.seq <= l) {
                return Err(serde::de::Error::custom(format!("order {} out of place (next {})", order.seq, r.next)));
            }
            last = Some(order.seq);
            o.slot_of.insert(order.seq, o.slots.len() as u32);
            o.slots.push(Some(order));
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::order::{NewOrder, Side};

    /// `move_out` hands the record over whole (its boxed and listed parts too) with its closing
    /// number, frees its slot for the next order and takes nothing twice.
    #[test]
    fn move_out_hands_the_record_to_the_outbox_and_frees_its_slot() {
        let mut orders = Orders::default();
        for seq in 0..3 {
            let mut req = NewOrder::limit(2, 0, Side::Buy, 100 + seq, 7);
            req.rare_mut().cl_ord_id = Some(format!("c{seq}"));
            orders.push(Order::opened(seq, &req, 0, 0, 700));
            orders[seq as usize].trades.push(seq as u32);
        }
        let kept = orders[1].clone();
        let slot = orders.slot(1).unwrap();
        let mut out = vec![ClosedOrder { n: 0, order: orders[0].clone() }];
        assert!(orders.move_out(1, 7, &mut out));
        assert_eq!(out.len(), 2);
        assert_eq!((out[1].n, &out[1].order), (7, &kept));
        assert_eq!((orders.get(1).map(|o| o.seq), orders.len()), (None, 2));
        assert!(!orders.move_out(1, 8, &mut out), "not held any more");
        assert_eq!(out.len(), 2);
        orders.push(Order::opened(3, &NewOrder::limit(2, 0, Side::Sell, 90, 1), 0, 0, 1));
        assert_eq!(orders.slot(3), Some(slot), "the freed slot is reused");
        assert_eq!((orders[0].cl_ord_id(), orders[2].cl_ord_id(), orders[3].req.price), (Some("c0"), Some("c2"), 90));
        drop(orders);
        assert_eq!((out[1].order.cl_ord_id(), out[1].order.trades()), (Some("c1"), &[1][..]));
    }
}
