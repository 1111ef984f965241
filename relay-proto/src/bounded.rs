//! A map of bounded size that forgets its oldest entries: the tables the relay keeps per
//! source or per username, which a flood from many sources or names must not grow without
//! bound, and must not empty either (clearing the whole table would hand every tracked
//! source a fresh allowance).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};

/// At most `capacity` entries; inserting into a full map evicts the entry inserted first.
#[derive(Debug)]
pub struct BoundedMap<K, V> {
    capacity: usize,
    entries: HashMap<K, (V, u64)>,
    /// Keys in insertion order with the stamp they were inserted under (an entry removed and
    /// inserted again has a newer stamp; older stamps of it are skipped).
    order: VecDeque<(K, u64)>,
    next: u64,
}

impl<K: Hash + Eq + Clone, V> BoundedMap<K, V> {
    /// An empty map holding at most `capacity` entries (at least one).
    pub fn new(capacity: usize) -> BoundedMap<K, V> {
        BoundedMap {
            capacity: capacity.max(1),
            entries: HashMap::new(),
            order: VecDeque::new(),
            next: 0,
        }
    }

    /// The entry of `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.entries.get(key).map(|(v, _)| v)
    }

    /// The entry of `key`, made with `make` if there is none (evicting the oldest entry
    /// when the map is full).
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let stamp = self.next;
        if !self.entries.contains_key(&key) {
            while self.entries.len() >= self.capacity && self.evict_oldest() {}
            self.next += 1;
            self.order.push_back((key.clone(), stamp));
            if self.order.len() > self.capacity.saturating_mul(2) {
                let entries = &self.entries;
                self.order
                    .retain(|(k, s)| *s == stamp || entries.get(k).is_some_and(|(_, e)| e == s));
            }
        }
        &mut self.entries.entry(key).or_insert_with(|| (make(), stamp)).0
    }

    /// Forgets `key`.
    pub fn remove(&mut self, key: &K) {
        self.entries.remove(key);
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn evict_oldest(&mut self) -> bool {
        while let Some((k, stamp)) = self.order.pop_front() {
            if self.entries.get(&k).is_some_and(|(_, s)| *s == stamp) {
                self.entries.remove(&k);
                return true;
            }
        }
        false
    }
}

/// The part of a source address one party is assumed to control: the whole IPv4 address,
/// the /64 of an IPv6 address (one subscriber's usual assignment, RFC 6177), so an attacker
/// with a /64 counts once. IPv4-mapped IPv6 addresses count as IPv4.
pub fn source_prefix(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn full_maps_forget_their_oldest_entry_only() {
        let mut m = BoundedMap::new(3);
        for k in 0..3 {
            *m.get_or_insert_with(k, || 0) += 1;
        }
        *m.get_or_insert_with(0, || 0) += 1; // touching does not refresh the order
        m.get_or_insert_with(3, || 0);
        assert_eq!(m.len(), 3);
        assert!(m.get(&0).is_none(), "the oldest went");
        assert!(m.get(&1).is_some() && m.get(&2).is_some() && m.get(&3).is_some());
        for k in 4..10_000 {
            m.get_or_insert_with(k, || 0);
            m.remove(&(k - 1));
        }
        assert!(m.len() <= 3);
        assert!(m.order.len() <= 7, "the order queue stays bounded too");
    }

    #[test]
    fn ipv6_sources_count_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(source_prefix(a), source_prefix(b));
        assert_ne!(source_prefix(a), source_prefix(c));
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(source_prefix(v4), v4);
        assert_eq!(source_prefix(mapped), v4);
    }
}
