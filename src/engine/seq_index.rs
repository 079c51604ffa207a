//! The orders' index from sequence to slot (`engine::orders`), without hashing: sequences are
//! handed out densely and in increasing order, so the slots are kept in pages of `PAGE`
//! consecutive sequences, one `u32` each, and a lookup is two array reads. A page goes once
//! every sequence in it was handed out and none of its orders is held any more, so the index
//! follows the held orders, not the history: it is four bytes per sequence of each page that
//! still holds an order (a page that keeps one long-lived order costs `PAGE` × 4 bytes).
//! Walking the pages in order gives the held orders by sequence, with no sort.

use super::order::OrderSeq;
use std::collections::VecDeque;

/// Sequences per page.
const PAGE: u64 = 512;
/// No slot: a sequence whose order is not held.
const NONE: u32 = u32::MAX;

struct Page {
    slot: [u32; PAGE as usize],
    /// How many of `slot` are not `NONE`.
    live: u32,
}

#[derive(Default)]
pub struct SeqIndex {
    /// Page `first + k` is `pages[k]`; `None` for a page emptied between two that are not.
    pages: VecDeque<Option<Box<Page>>>,
    first: u64,
    len: usize,
}

impl SeqIndex {
    /// The slot of `seq`, if it is held.
    #[inline]
    pub fn get(&self, seq: OrderSeq) -> Option<u32> {
        let k = (seq / PAGE).checked_sub(self.first)?;
        let page = self.pages.get(k as usize)?.as_deref()?;
        let slot = page.slot[(seq % PAGE) as usize];
        (slot != NONE).then_some(slot)
    }

    /// Adds `seq` at `slot`; `seq` must be above every sequence added before. Inlined: a new
    /// order's page is nearly always there already (a new page once per `PAGE` orders), so the
    /// common insertion is a page look and a write; a new page, a sequence out of order or one
    /// added twice go out of line (`insert_slow`, which asserts as before).
    #[inline]
    pub fn insert(&mut self, seq: OrderSeq, slot: u32) {
        debug_assert!(slot != NONE);
        // Below `first`, the difference wraps to a huge index and misses, as a page past the end.
        let k = (seq / PAGE).wrapping_sub(self.first);
        if let Some(Some(p)) = self.pages.get_mut(k as usize) {
            let e = &mut p.slot[(seq % PAGE) as usize];
            if *e == NONE {
                *e = slot;
                p.live += 1;
                self.len += 1;
                return;
            }
        }
        self.insert_slow(seq, slot);
    }

    #[cold]
    #[inline(never)]
    fn insert_slow(&mut self, seq: OrderSeq, slot: u32) {
        let page = seq / PAGE;
        if self.pages.is_empty() {
            self.first = page;
        }
        assert!(page >= self.first, "sequences are added in increasing order");
        while self.first + self.pages.len() as u64 <= page {
            self.pages.push_back(None);
        }
        let p = self.pages[(page - self.first) as usize].get_or_insert_with(|| Box::new(Page { slot: [NONE; PAGE as usize], live: 0 }));
        let e = &mut p.slot[(seq % PAGE) as usize];
        assert_eq!(*e, NONE, "order {seq} added twice");
        *e = slot;
        p.live += 1;
        self.len += 1;
    }

    /// Takes `seq` out, returning its slot; `next` is the next sequence to be handed out (a page
    /// below it that holds nothing any more is freed). Inlined (every closed order comes here
    /// once); freeing a page, once per `PAGE` orders at most, is out of line.
    #[inline]
    pub fn remove(&mut self, seq: OrderSeq, next: OrderSeq) -> Option<u32> {
        let page = seq / PAGE;
        let k = page.checked_sub(self.first)? as usize;
        let p = self.pages.get_mut(k)?.as_deref_mut()?;
        let slot = std::mem::replace(&mut p.slot[(seq % PAGE) as usize], NONE);
        if slot == NONE {
            return None;
        }
        p.live -= 1;
        self.len -= 1;
        if p.live == 0 && (page + 1) * PAGE <= next {
            self.free_page(k);
        }
        Some(slot)
    }

    /// Frees page `first + k` (it holds nothing and no sequence of it is left to hand out), and
    /// the empty pages at either end.
    #[cold]
    #[inline(never)]
    fn free_page(&mut self, k: usize) {
        self.pages[k] = None;
        while let Some(None) = self.pages.front() {
            self.pages.pop_front();
            self.first += 1;
        }
        while let Some(None) = self.pages.back() {
            self.pages.pop_back();
        }
    }

    /// How many sequences are held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The held slots by sequence.
    pub fn slots(&self) -> impl Iterator<Item = u32> + '_ {
        self.pages.iter().flatten().flat_map(|p| p.slot.iter().copied().filter(|s| *s != NONE))
    }

    /// Pages allocated (for tests).
    #[cfg(test)]
    fn pages(&self) -> usize {
        self.pages.iter().flatten().count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_removals_and_pages_freed_once_used_up() {
        let mut ix = SeqIndex::default();
        let n = 3 * PAGE + 7;
        for seq in 1..n {
            ix.insert(seq, seq as u32 * 2);
        }
        assert_eq!((ix.len(), ix.pages()), ((n - 1) as usize, 4));
        assert_eq!((ix.get(0), ix.get(5), ix.get(n)), (None, Some(10), None));
        assert_eq!(ix.remove(5, n), Some(10));
        assert_eq!((ix.get(5), ix.remove(5, n)), (None, None));
        // The first page empties: it goes; one long-lived order keeps the second.
        for seq in 1..PAGE {
            ix.remove(seq, n);
        }
        for seq in PAGE..2 * PAGE - 1 {
            ix.remove(seq, n);
        }
        assert_eq!((ix.pages(), ix.first), (3, 1));
        assert_eq!(ix.get(2 * PAGE - 1), Some((2 * PAGE - 1) as u32 * 2));
        // A page still being handed out stays even when it holds nothing.
        for seq in 3 * PAGE..n {
            ix.remove(seq, n);
        }
        assert_eq!(ix.pages(), 3);
        ix.insert(n, 1);
        assert_eq!(ix.get(n), Some(1));
        let all: Vec<u32> = ix.slots().collect();
        assert_eq!(all.len(), ix.len());
        assert_eq!(all.first(), Some(&((2 * PAGE - 1) as u32 * 2)));
        assert_eq!(all.last(), Some(&1));
        for seq in 0..=n {
            ix.remove(seq, n + 1);
        }
        assert_eq!((ix.len(), ix.pages(), ix.pages.len()), (0, 1, 1), "the page being handed out stays");
    }

    /// The inlined insertion's misses reach the checks: a sequence added twice (its page there),
    /// one below the first page; and a page emptied between two is made again.
    #[test]
    fn insertion_checks_hold_on_the_fast_path() {
        let twice = std::panic::catch_unwind(|| {
            let mut ix = SeqIndex::default();
            ix.insert(PAGE + 3, 1);
            ix.insert(PAGE + 3, 2);
        });
        assert!(twice.is_err(), "a sequence added twice is refused");
        let below = std::panic::catch_unwind(|| {
            let mut ix = SeqIndex::default();
            ix.insert(2 * PAGE, 1);
            ix.insert(PAGE - 1, 2);
        });
        assert!(below.is_err(), "a sequence below the first page is refused");
        let mut ix = SeqIndex::default();
        ix.insert(0, 1);
        ix.insert(2 * PAGE, 2);
        assert_eq!((ix.pages(), ix.pages.len()), (2, 3), "the page between is a hole");
        ix.insert(PAGE + 1, 3);
        assert_eq!((ix.get(PAGE + 1), ix.pages(), ix.len()), (Some(3), 3, 3));
    }
}
