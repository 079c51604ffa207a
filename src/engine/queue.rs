//! The slab behind a book's level queues: one compact node per resting order (its sequence and
//! its neighbours in its level's FIFO), addressed by slot index, freed slots reused. A level is
//! an intrusive doubly linked list through the slab ([`Links`]: head and tail), so appending,
//! taking the front and removing any order wherever it stands are O(1), with no allocation per
//! order and no tombstones left behind by cancels. The slab keeps no map from sequence to slot:
//! each resting order's record keeps its own slot (`Order::qslot`, as `push_back` gave it), so a
//! cancel finds its node through the one lookup of the order itself. Slots are not state: a
//! restored book rebuilds its slab from the levels' order sequences (`Book`'s serde form) and the
//! orders learn their slots again (`Exchange::relink_queues`).

use super::order::OrderSeq;

/// No slot: an order that rests in no queue.
pub const NIL: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct Node {
    seq: OrderSeq,
    prev: u32,
    next: u32,
}

/// The ends of one level's FIFO (slots in the book's [`Slab`]).
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

impl Links {
    pub fn is_empty(&self) -> bool {
        self.head == NIL
    }
}

/// The nodes of every order resting in one book, and where each order's node is.
#[derive(Debug, Clone, Default)]
pub struct Slab {
    nodes: Vec<Node>,
    free: Vec<u32>,
    live: usize,
}

impl Slab {
    /// Appends `seq` at the back of `list`; returns its slot (kept by the order, for `remove`).
    pub fn push_back(&mut self, list: &mut Links, seq: OrderSeq) -> u32 {
        let node = Node { seq, prev: list.tail, next: NIL };
        let slot = match self.free.pop() {
            Some(s) => {
                self.nodes[s as usize] = node;
                s
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        if list.tail == NIL {
            list.head = slot;
        } else {
            self.nodes[list.tail as usize].next = slot;
        }
        list.tail = slot;
        self.live += 1;
        slot
    }

    /// The order at the front of `list`.
    pub fn front(&self, list: &Links) -> Option<OrderSeq> {
        (list.head != NIL).then(|| self.nodes[list.head as usize].seq)
    }

    /// The slot of `seq` in `list`, found by walking it (for an order whose record does not know
    /// its slot: restored from a checkpoint and not relinked).
    pub fn find(&self, list: &Links, seq: OrderSeq) -> Option<u32> {
        self.iter_slots(list).find(|(_, s)| *s == seq).map(|(slot, _)| slot)
    }

    /// Unlinks the node at `slot` (holding `seq`) from `list` (the level it rests in); false if
    /// `slot` is `NIL`.
    pub fn remove(&mut self, list: &mut Links, slot: u32, seq: OrderSeq) -> bool {
        if slot == NIL {
            return false;
        }
        assert_eq!(self.nodes[slot as usize].seq, seq, "order {seq} is not at slot {slot}");
        let Node { prev, next, .. } = self.nodes[slot as usize];
        if prev == NIL {
            debug_assert_eq!(list.head, slot, "order {seq} unlinked from another level");
            list.head = next;
        } else {
            self.nodes[prev as usize].next = next;
        }
        if next == NIL {
            list.tail = prev;
        } else {
            self.nodes[next as usize].prev = prev;
        }
        self.nodes[slot as usize].seq = OrderSeq::MAX;
        self.free.push(slot);
        self.live -= 1;
        true
    }

    /// The slot at the front of `list` (`NIL` if empty).
    pub fn front_slot(&self, list: &Links) -> u32 {
        list.head
    }

    /// The orders of `list`, front first.
    pub fn iter<'a>(&'a self, list: &Links) -> impl Iterator<Item = OrderSeq> + 'a {
        self.iter_slots(list).map(|(_, seq)| seq)
    }

    /// The orders of `list` with their slots, front first.
    pub fn iter_slots<'a>(&'a self, list: &Links) -> impl Iterator<Item = (u32, OrderSeq)> + 'a {
        let mut cur = list.head;
        std::iter::from_fn(move || {
            let at = cur;
            let n = self.nodes.get(cur as usize)?;
            cur = n.next;
            Some((at, n.seq))
        })
    }

    /// Orders resting in this book.
    pub fn len(&self) -> usize {
        self.live
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_with_removal_anywhere_and_slot_reuse() {
        let mut s = Slab::default();
        let (mut a, mut b) = (Links::default(), Links::default());
        let slots: Vec<u32> = [1, 2, 3, 4].iter().map(|seq| s.push_back(&mut a, *seq)).collect();
        s.push_back(&mut b, 9);
        assert_eq!(s.find(&a, 3), Some(slots[2]));
        assert!(s.remove(&mut a, slots[2], 3));
        assert!(s.remove(&mut a, slots[0], 1));
        assert!(!s.remove(&mut a, NIL, 1));
        assert_eq!(s.find(&a, 1), None);
        let five = s.push_back(&mut a, 5); // reuses a freed slot
        assert_eq!(five, slots[0]);
        assert_eq!(s.iter(&a).collect::<Vec<_>>(), vec![2, 4, 5]);
        assert_eq!(s.front(&a), Some(2));
        assert!(s.remove(&mut a, five, 5));
        assert_eq!(s.iter(&a).collect::<Vec<_>>(), vec![2, 4]);
        assert!(s.remove(&mut a, slots[1], 2) && s.remove(&mut a, slots[3], 4));
        assert!(a.is_empty() && s.front(&a).is_none());
        assert_eq!(s.iter(&b).collect::<Vec<_>>(), vec![9]);
        assert_eq!((s.len(), s.nodes.len()), (1, 5));
    }
}
