//! A book level's FIFO of resting orders, linked through the orders' arena (`orders`): each
//! resting order's record keeps its neighbours in its level ([`Neighbours`]: the arena slots of
//! the orders before and after it), and a level keeps its ends ([`Links`]: head and tail). So
//! appending, taking the front and removing any order wherever it stands are O(1), with no node
//! or allocation per order beside its record, and no tombstones left behind by cancels: a cancel
//! finds its order's neighbours through the one lookup of the order itself.
//! Slots are not state: checkpoints keep each level's orders by sequence, front first (`Book`'s
//! serde form), and a restored book links them again (`Exchange::relink_queues`).

use super::order::OrderSeq;
use super::orders::Orders;

/// No slot: the end of a queue.
pub const NIL: u32 = u32::MAX;

/// The ends of one level's FIFO (arena slots).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Links {
    head: u32,
    tail: u32,
}

impl Default for Links {
    fn default() -> Self {
        Links { head: NIL, tail: NIL }
    }
}

/// An order's place in its level's FIFO (arena slots; `NIL` at an end, and both `NIL` while it
/// rests nowhere). Derived, not state: kept in the record, not serialized, compared or digested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Neighbours {
    prev: u32,
    next: u32,
}

impl Neighbours {
    /// Resting nowhere.
    pub const NONE: Neighbours = Neighbours { prev: NIL, next: NIL };
}

impl Links {
    pub fn is_empty(&self) -> bool {
        self.head == NIL
    }

    /// The slot at the front (`NIL` if empty).
    pub fn front(&self) -> u32 {
        self.head
    }

    /// Appends the order in `slot` (resting nowhere yet) at the back.
    pub fn push_back(&mut self, orders: &mut Orders, slot: u32) {
        debug_assert_eq!(orders.at(slot).queue, Neighbours::NONE, "order already queued");
        orders.at_mut(slot).queue = Neighbours { prev: self.tail, next: NIL };
        if self.tail == NIL {
            self.head = slot;
        } else {
            orders.at_mut(self.tail).queue.next = slot;
        }
        self.tail = slot;
    }

    /// Unlinks the order in `slot`, which must rest in this queue. Always inlined (every cancel
    /// and every filled maker: a call of ~34 instructions, a third of them the call's).
    #[inline(always)]
    pub fn remove(&mut self, orders: &mut Orders, slot: u32) {
        let Neighbours { prev, next } = std::mem::replace(&mut orders.at_mut(slot).queue, Neighbours::NONE);
        if prev == NIL {
            assert_eq!(self.head, slot, "order {} unlinked from a level it is not the front of", orders.at(slot).seq);
            self.head = next;
        } else {
            orders.at_mut(prev).queue.next = next;
        }
        if next == NIL {
            assert_eq!(self.tail, slot, "order {} unlinked from a level it is not the back of", orders.at(slot).seq);
            self.tail = prev;
        } else {
            orders.at_mut(next).queue.prev = prev;
        }
    }

    /// The slots of the queue, front first.
    pub fn slots<'a>(&self, orders: &'a Orders) -> impl Iterator<Item = u32> + 'a {
        let mut cur = self.head;
        std::iter::from_fn(move || {
            let at = cur;
            (at != NIL).then(|| {
                cur = orders.at(at).queue.next;
                at
            })
        })
    }

    /// The orders of the queue, front first.
    pub fn iter<'a>(&self, orders: &'a Orders) -> impl Iterator<Item = OrderSeq> + 'a {
        self.slots(orders).map(|s| orders.at(s).seq)
    }

    /// Whether the links agree both ways and `count` orders are queued (for `check_invariants`).
    pub fn check(&self, orders: &Orders, count: usize) -> Result<(), String> {
        let (mut prev, mut n) = (NIL, 0);
        for slot in self.slots(orders).take(count + 1) {
            let q = orders.at(slot).queue;
            if q.prev != prev {
                return Err(format!("order {} links back to slot {} (expected {prev})", orders.at(slot).seq, q.prev));
            }
            (prev, n) = (slot, n + 1);
        }
        if n != count || self.tail != prev {
            return Err(format!("{n} orders linked, {count} counted (tail {}, last {prev})", self.tail));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::order::{NewOrder, Order, Side};
    use super::*;

    fn held(orders: &mut Orders, n: usize) -> Vec<u32> {
        (0..n)
            .map(|_| {
                let seq = orders.next_seq();
                orders.push(Order::opened(seq, &NewOrder::limit(2, 0, Side::Buy, 100, 1), 0, 0, 0));
                orders.slot(seq).unwrap()
            })
            .collect()
    }

    #[test]
    fn fifo_with_removal_anywhere_and_slot_reuse() {
        let mut orders = Orders::default();
        let (mut a, mut b) = (Links::default(), Links::default());
        let slots = held(&mut orders, 5);
        let seq = |o: &Orders, s: u32| o.at(s).seq;
        let seqs: Vec<_> = slots.iter().map(|s| seq(&orders, *s)).collect();
        for s in &slots[..4] {
            a.push_back(&mut orders, *s);
        }
        b.push_back(&mut orders, slots[4]);
        a.remove(&mut orders, slots[2]);
        a.remove(&mut orders, slots[0]);
        assert_eq!(orders.at(slots[0]).queue, Neighbours::NONE);
        assert!(orders.move_out(seqs[0], 0, &mut Vec::new()), "the order leaves its slot");
        let five = held(&mut orders, 1)[0]; // reuses the freed slot
        assert_eq!(five, slots[0]);
        a.push_back(&mut orders, five);
        let five_seq = orders.at(five).seq;
        let want = |v: &[usize]| v.iter().map(|i| seqs.get(*i).copied().unwrap_or(five_seq)).collect::<Vec<_>>();
        assert_eq!(a.iter(&orders).collect::<Vec<_>>(), want(&[1, 3, 9]));
        assert_eq!(seq(&orders, a.front()), seqs[1]);
        a.check(&orders, 3).unwrap();
        assert!(a.check(&orders, 2).is_err() && a.check(&orders, 4).is_err());
        a.remove(&mut orders, five);
        assert_eq!(a.iter(&orders).collect::<Vec<_>>(), want(&[1, 3]));
        a.remove(&mut orders, slots[1]);
        a.remove(&mut orders, slots[3]);
        assert!(a.is_empty() && a.front() == NIL);
        a.check(&orders, 0).unwrap();
        assert_eq!(b.iter(&orders).collect::<Vec<_>>(), vec![seqs[4]]);
    }
}
