//! The slab behind a book's level queues: one compact node per resting order (its sequence and
//! its neighbours in its level's FIFO), addressed by slot index, freed slots reused. A level is
//! an intrusive doubly linked list through the slab ([`Links`]: head and tail), so appending,
//! taking the front and removing any order wherever it stands are O(1), with no allocation per
//! order and no tombstones left behind by cancels. Slots are not state: a restored book rebuilds
//! its slab from the levels' order sequences (`Book`'s serde form), and nothing outside this
//! module sees a slot number.

use super::order::OrderSeq;
use rustc_hash::FxHashMap;

const NIL: u32 = u32::MAX;

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
    slot_of: FxHashMap<OrderSeq, u32>,
}

impl Slab {
    /// Appends `seq` at the back of `list`.
    pub fn push_back(&mut self, list: &mut Links, seq: OrderSeq) {
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
        let old = self.slot_of.insert(seq, slot);
        debug_assert!(old.is_none(), "order {seq} queued twice");
    }

    /// The order at the front of `list`.
    pub fn front(&self, list: &Links) -> Option<OrderSeq> {
        (list.head != NIL).then(|| self.nodes[list.head as usize].seq)
    }

    /// Unlinks `seq` from `list` (the level it rests in); false if it rests nowhere.
    pub fn remove(&mut self, list: &mut Links, seq: OrderSeq) -> bool {
        let Some(slot) = self.slot_of.remove(&seq) else { return false };
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
        self.free.push(slot);
        true
    }

    /// The orders of `list`, front first.
    pub fn iter<'a>(&'a self, list: &Links) -> impl Iterator<Item = OrderSeq> + 'a {
        let mut cur = list.head;
        std::iter::from_fn(move || {
            let n = self.nodes.get(cur as usize)?;
            cur = n.next;
            Some(n.seq)
        })
    }

    /// Whether `seq` rests in this book.
    pub fn contains(&self, seq: OrderSeq) -> bool {
        self.slot_of.contains_key(&seq)
    }

    /// Orders resting in this book.
    pub fn len(&self) -> usize {
        self.slot_of.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_with_removal_anywhere_and_slot_reuse() {
        let mut s = Slab::default();
        let (mut a, mut b) = (Links::default(), Links::default());
        for seq in [1, 2, 3, 4] {
            s.push_back(&mut a, seq);
        }
        s.push_back(&mut b, 9);
        assert!(s.remove(&mut a, 3));
        assert!(s.remove(&mut a, 1));
        assert!(!s.remove(&mut a, 1));
        s.push_back(&mut a, 5); // reuses a freed slot
        assert_eq!(s.iter(&a).collect::<Vec<_>>(), vec![2, 4, 5]);
        assert_eq!(s.front(&a), Some(2));
        assert!(s.remove(&mut a, 5));
        assert_eq!(s.iter(&a).collect::<Vec<_>>(), vec![2, 4]);
        assert!(s.remove(&mut a, 2) && s.remove(&mut a, 4));
        assert!(a.is_empty() && s.front(&a).is_none());
        assert_eq!(s.iter(&b).collect::<Vec<_>>(), vec![9]);
        assert_eq!((s.len(), s.nodes.len()), (1, 5));
    }
}
