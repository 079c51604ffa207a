//! Per-client-address state with a hard size bound. A flood from a million distinct addresses
//! must not grow the server without limit, so the table holds at most `capacity` addresses:
//! when it is full, a new address takes the place of the least valuable of a sample of entries
//! (one that holds nothing any more, else the one seen longest ago), and entries that must not
//! be lost (a running lockout) are only displaced when every sampled entry is one.

use std::collections::HashMap;
use std::net::IpAddr;

/// What an entry tells the table about itself when room is needed.
pub trait Entry {
    /// Holds nothing at `now_us`: may be dropped freely.
    fn is_idle(&self, now_us: u64) -> bool;
    /// Must be kept if at all possible (e.g. a lockout in force).
    fn is_pinned(&self, now_us: u64) -> bool;
    /// When the address was last seen.
    fn last_seen_us(&self) -> u64;
}

/// How many entries are looked at to choose one to displace.
const SAMPLE: usize = 32;

struct Slot<V> {
    /// Where the address sits in `AddressTable::order`.
    index: usize,
    value: V,
}

pub struct AddressTable<V> {
    map: HashMap<IpAddr, Slot<V>>,
    /// Every tracked address, densely, so that sampling is O(1) per sample.
    order: Vec<IpAddr>,
    capacity: usize,
    /// xorshift state for sampling (fixed seed: the table behaves the same on every run).
    rng: u64,
    pub evictions: u64,
}

impl<V: Entry + Default> AddressTable<V> {
    pub fn new(capacity: usize) -> AddressTable<V> {
        AddressTable { map: HashMap::new(), order: Vec::new(), capacity: capacity.max(1), rng: 0x9E37_79B9_7F4A_7C15, evictions: 0 }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn get(&self, ip: &IpAddr) -> Option<&V> {
        self.map.get(ip).map(|s| &s.value)
    }

    pub fn get_mut(&mut self, ip: &IpAddr) -> Option<&mut V> {
        self.map.get_mut(ip).map(|s| &mut s.value)
    }

    pub fn remove(&mut self, ip: &IpAddr) -> Option<V> {
        let slot = self.map.remove(ip)?;
        self.order.swap_remove(slot.index);
        if let Some(moved) = self.order.get(slot.index) {
            if let Some(m) = self.map.get_mut(moved) {
                m.index = slot.index;
            }
        }
        Some(slot.value)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&IpAddr, &V)> {
        self.map.iter().map(|(ip, s)| (ip, &s.value))
    }

    /// The entry of `ip`, made (displacing another if the table is full) if it is not there.
    pub fn entry(&mut self, ip: IpAddr, now_us: u64) -> &mut V {
        if !self.map.contains_key(&ip) {
            if self.map.len() >= self.capacity {
                self.make_room(now_us);
            }
            self.order.push(ip);
            self.map.insert(ip, Slot { index: self.order.len() - 1, value: V::default() });
        }
        &mut self.map.get_mut(&ip).expect("just made").value
    }

    fn next_random(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// Displaces the least valuable of `SAMPLE` entries drawn at random: O(SAMPLE), whatever the
    /// table's size.
    fn make_room(&mut self, now_us: u64) {
        let n = self.order.len();
        let mut best: Option<(IpAddr, (bool, bool, u64))> = None;
        for _ in 0..SAMPLE.min(n) {
            let pick = (self.next_random() % n as u64) as usize;
            let ip = self.order[pick];
            let v = &self.map[&ip].value;
            // Lower is a better victim: idle first, unpinned next, then the longest unseen.
            let rank = (!v.is_idle(now_us), v.is_pinned(now_us), v.last_seen_us());
            if best.as_ref().is_none_or(|(_, r)| rank < *r) {
                best = Some((ip, rank));
            }
        }
        if let Some((ip, _)) = best {
            self.remove(&ip);
            self.evictions += 1;
        }
        debug_assert!(self.map.len() < self.capacity);
    }

    /// Drops every idle entry (housekeeping): one pass over the map, no lookups.
    pub fn sweep(&mut self, now_us: u64) {
        let AddressTable { map, order, .. } = self;
        map.retain(|_, s| !s.value.is_idle(now_us));
        order.clear();
        for (ip, s) in map.iter_mut() {
            s.index = order.len();
            order.push(*ip);
        }
    }

    /// Checks that `order` and the map agree (tests).
    #[cfg(test)]
    fn consistent(&self) -> bool {
        self.order.len() == self.map.len() && self.order.iter().enumerate().all(|(i, ip)| self.map.get(ip).is_some_and(|s| s.index == i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Seen {
        at: u64,
        pinned: bool,
    }

    impl Entry for Seen {
        fn is_idle(&self, now_us: u64) -> bool {
            !self.pinned && now_us > self.at + 1000
        }
        fn is_pinned(&self, _: u64) -> bool {
            self.pinned
        }
        fn last_seen_us(&self) -> u64 {
            self.at
        }
    }

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::from(n))
    }

    #[test]
    fn a_million_addresses_never_grow_the_table_past_its_bound() {
        let mut t: AddressTable<Seen> = AddressTable::new(1000);
        for n in 0..1_000_000u32 {
            t.entry(ip(n), n as u64).at = n as u64;
            assert!(t.len() <= 1000);
        }
        assert_eq!(t.len(), 1000);
        assert_eq!(t.evictions, 999_000);
        assert!(t.consistent());
    }

    #[test]
    fn pinned_entries_survive_a_flood() {
        let mut t: AddressTable<Seen> = AddressTable::new(64);
        for n in 0..8 {
            let e = t.entry(ip(n), 0);
            e.pinned = true;
        }
        for n in 100..200_000u32 {
            t.entry(ip(n), n as u64).at = n as u64;
        }
        for n in 0..8 {
            assert!(t.get(&ip(n)).is_some_and(|e| e.pinned), "lockout of {n} displaced");
        }
    }

    #[test]
    fn idle_entries_go_first_and_sweep_clears_them() {
        let mut t: AddressTable<Seen> = AddressTable::new(4);
        for n in 0..4 {
            t.entry(ip(n), 0).at = if n == 2 { 0 } else { 5000 };
        }
        t.entry(ip(9), 5000).at = 5000;
        assert!(t.get(&ip(2)).is_none(), "the idle one made room");
        assert_eq!(t.len(), 4);
        t.sweep(10_000);
        assert!(t.is_empty() && t.consistent());
        let mut t: AddressTable<Seen> = AddressTable::new(16);
        for n in 0..10 {
            t.entry(ip(n), 20_000).at = 20_000 + n as u64;
        }
        assert_eq!(t.remove(&ip(3)).map(|e| e.at), Some(20_003));
        assert!(t.remove(&ip(3)).is_none() && t.consistent());
        t.sweep(20_000);
        assert_eq!(t.len(), 9);
        assert!(t.consistent());
    }
}
