//! An account's open orders: their sequences in ascending order, in one vector that keeps its
//! capacity. Orders are only ever added as they are placed, with a sequence above every other,
//! so adding is a push; a removal is a binary search and a shift of the later entries. It
//! replaces a `BTreeSet`, which allocated a node for an account's first open order and freed it
//! with its last (the common case of a market maker's or bot's account moving one order): no
//! allocation per order here, and iteration is a slice walk.

use super::order::OrderSeq;

#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct OpenOrders(Vec<OrderSeq>);

impl OpenOrders {
    /// Adds an order; false if it was there already. Always inlined: a placement's order has
    /// the highest sequence, so adding it is a push; an older one (a restore's) is inserted in
    /// place out of line.
    #[inline(always)]
    pub fn insert(&mut self, seq: OrderSeq) -> bool {
        match self.0.last() {
            Some(last) if *last >= seq => self.insert_older(seq),
            _ => {
                self.0.push(seq);
                true
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn insert_older(&mut self, seq: OrderSeq) -> bool {
        match self.0.binary_search(&seq) {
            Ok(_) => false,
            Err(i) => {
                self.0.insert(i, seq);
                true
            }
        }
    }

    /// Removes an order; false if it was not there. The newest (the last: most accounts here
    /// hold one or a few orders) is popped, with no search and no shift.
    pub fn remove(&mut self, seq: &OrderSeq) -> bool {
        if self.0.last() == Some(seq) {
            self.0.pop();
            return true;
        }
        match self.0.binary_search(seq) {
            Ok(i) => {
                self.0.remove(i);
                true
            }
            Err(_) => false,
        }
    }

    pub fn contains(&self, seq: &OrderSeq) -> bool {
        self.0.binary_search(seq).is_ok()
    }

    /// The open orders, oldest first.
    pub fn iter(&self) -> std::slice::Iter<'_, OrderSeq> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> IntoIterator for &'a OpenOrders {
    type Item = &'a OrderSeq;
    type IntoIter = std::slice::Iter<'a, OrderSeq>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_set_semantics() {
        let mut s = OpenOrders::default();
        assert!(s.insert(3) && s.insert(7) && s.insert(9));
        assert!(!s.insert(7));
        assert!(s.insert(5)); // out of order still lands in place
        assert!(s.remove(&7) && !s.remove(&7));
        assert_eq!(s.iter().copied().collect::<Vec<_>>(), vec![3, 5, 9]);
        assert!(s.contains(&5) && !s.contains(&7));
        assert_eq!(s.len(), 3);
        // The newest goes by the pop, an older one by the search; a missing one is refused by both.
        assert!(s.insert(11) && s.remove(&11) && !s.remove(&11) && !s.remove(&10));
        assert_eq!(s.iter().copied().collect::<Vec<_>>(), vec![3, 5, 9]);
        let bytes = postcard::to_allocvec(&s).unwrap();
        let set: std::collections::BTreeSet<u64> = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(set.into_iter().collect::<Vec<_>>(), vec![3, 5, 9], "same wire form as the set it replaced");
    }
}
