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

pub struct AddressTable<V> {
    map: HashMap<IpAddr, V>,
    capacity: usize,
    /// Rotates where sampling starts, so the same few entries are not always the candidates.
    cursor: usize,
    pub evictions: u64,
}

impl<V: Entry + Default> AddressTable<V> {
    pub fn new(capacity: usize) -> AddressTable<V> {
        AddressTable { map: HashMap::new(), capacity: capacity.max(1), cursor: 0, evictions: 0 }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn get(&self, ip: &IpAddr) -> Option<&V> {
        self.map.get(ip)
    }

    pub fn get_mut(&mut self, ip: &IpAddr) -> Option<&mut V> {
        self.map.get_mut(ip)
    }

    pub fn remove(&mut self, ip: &IpAddr) -> Option<V> {
        self.map.remove(ip)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&IpAddr, &V)> {
        self.map.iter()
    }

    /// The entry of `ip`, made (displacing another if the table is full) if it is not there.
    pub fn entry(&mut self, ip: IpAddr, now_us: u64) -> &mut V {
        if !self.map.contains_key(&ip) && self.map.len() >= self.capacity {
            self.make_room(now_us);
        }
        self.map.entry(ip).or_default()
    }

    fn make_room(&mut self, now_us: u64) {
        let n = self.map.len();
        let skip = self.cursor % n.max(1);
        self.cursor = self.cursor.wrapping_add(SAMPLE);
        let mut best: Option<(IpAddr, (bool, bool, u64))> = None;
        for (ip, v) in self.map.iter().skip(skip).chain(self.map.iter()).take(SAMPLE.min(n)) {
            // Lower is a better victim: idle first, unpinned next, then the longest unseen.
            let rank = (!v.is_idle(now_us), v.is_pinned(now_us), v.last_seen_us());
            if best.as_ref().is_none_or(|(_, r)| rank < *r) {
                best = Some((*ip, rank));
            }
        }
        if let Some((ip, _)) = best {
            self.map.remove(&ip);
            self.evictions += 1;
        }
        debug_assert!(self.map.len() < self.capacity);
    }

    /// Drops every idle entry (housekeeping).
    pub fn sweep(&mut self, now_us: u64) {
        self.map.retain(|_, v| !v.is_idle(now_us));
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
        assert!(t.is_empty());
    }
}
