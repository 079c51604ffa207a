//! The engine's orders: only those not final (open, pending, armed), keyed by sequence. An order
//! that closes stays here until the end of the command that closed it, is then emitted into the
//! outbox (`outbox`) and removed: closed orders live in the `closed_orders` history table, not in
//! memory. The sequence counter (`next`) is state: a sequence below it that is not here was an
//! order that closed.
//!
//! Storage is a slab: the orders in one dense vector (a removal moves the last one into the
//! hole) and an index from sequence to slot (`seq_index`: pages of slots by sequence, no
//! hashing), so a lookup is two array reads and no order is allocated on its own. The slots'
//! order depends on the removals' history, so everything that walks the orders (`iter`, the
//! checkpoint, the digest) walks them by sequence, through the index: a restored state and the
//! live one are the same state.

use super::order::{Order, OrderSeq};
use super::seq_index::SeqIndex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::ops::{Index, IndexMut};

#[derive(Default)]
pub struct Orders {
    slots: Vec<Order>,
    slot_of: SeqIndex,
    next: OrderSeq,
}

impl Orders {
    /// The sequence the next order gets (every order ever placed is below it).
    pub fn next_seq(&self) -> OrderSeq {
        self.next
    }

    /// Adds a new order; its sequence must be the next one.
    pub fn push(&mut self, order: Order) {
        assert_eq!(order.seq, self.next, "orders are added in sequence");
        self.next += 1;
        let slot = u32::try_from(self.slots.len()).expect("fewer than 2^32 orders held");
        self.slot_of.insert(order.seq, slot);
        self.slots.push(order);
    }

    /// The order with this sequence, if it is not final (or closed during the current command).
    pub fn get(&self, seq: usize) -> Option<&Order> {
        self.slot_of.get(seq as OrderSeq).map(|s| &self.slots[s as usize])
    }

    pub fn get_mut(&mut self, seq: usize) -> Option<&mut Order> {
        self.slot_of.get(seq as OrderSeq).map(|s| &mut self.slots[s as usize])
    }

    /// Takes an order out (it closed and was emitted).
    pub fn remove(&mut self, seq: OrderSeq) -> Option<Order> {
        let slot = self.slot_of.remove(seq, self.next)? as usize;
        let o = self.slots.swap_remove(slot);
        if let Some(moved) = self.slots.get(slot) {
            self.slot_of.set(moved.seq, slot as u32);
        }
        Some(o)
    }

    /// How many orders are held.
    pub fn len(&self) -> usize {
        debug_assert_eq!(self.slots.len(), self.slot_of.len());
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The orders by sequence (through the index's pages: for checks, the digest and
    /// checkpoints, not hot paths).
    pub fn iter(&self) -> impl Iterator<Item = &Order> {
        self.slot_of.slots().map(|s| &self.slots[s as usize])
    }
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
    fn index(&self, seq: usize) -> &Order {
        self.get(seq).unwrap_or_else(|| panic!("order {seq} is not held"))
    }
}

impl IndexMut<usize> for Orders {
    fn index_mut(&mut self, seq: usize) -> &mut Order {
        self.get_mut(seq).unwrap_or_else(|| panic!("order {seq} is not held"))
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
        let mut o = Orders { slots: Vec::with_capacity(r.orders.len()), slot_of: SeqIndex::default(), next: r.next };
        let mut last = None;
        for order in r.orders {
            if order.seq >= r.next || last.is_some_and(|l| order.seq <= l) {
                return Err(serde::de::Error::custom(format!("order {} out of place (next {})", order.seq, r.next)));
            }
            last = Some(order.seq);
            o.slot_of.insert(order.seq, o.slots.len() as u32);
            o.slots.push(order);
        }
        Ok(o)
    }
}
