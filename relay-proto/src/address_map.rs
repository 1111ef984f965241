//! The relay's public addresses behind a 1:1 NAT (EC2, GCE, Azure): the relay binds its
//! private addresses and tells clients the public ones, like coturn's `external-ip`.
//!
//! Only what the relay *tells* is translated: XOR-RELAYED-ADDRESS (and, in the driver, the
//! URLs it advertises). Everything that matches packets (relay sockets, the kernel fast path's
//! maps, routes, permissions) keeps the bound, private address, which is what the packets
//! carry once the NAT has rewritten them.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// Private (bound) address to public (advertised) address, at most one public address per
/// private one, each pair of one family.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddressMap {
    pairs: Vec<(IpAddr, IpAddr)>,
}

/// A pair [`AddressMap::insert`] refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// The public and the private address are of different families.
    Families {
        /// The public address.
        public: IpAddr,
        /// The private address.
        private: IpAddr,
    },
    /// The private address already has another public address.
    Twice(IpAddr),
    /// An unspecified address (0.0.0.0 or ::) on either side.
    Unspecified,
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapError::Families { public, private } => write!(
                f,
                "public address {public} and private address {private} are of different families"
            ),
            MapError::Twice(private) => {
                write!(f, "private address {private} is given two public addresses")
            }
            MapError::Unspecified => f.write_str("an unspecified address (0.0.0.0 or ::)"),
        }
    }
}

impl std::error::Error for MapError {}

impl AddressMap {
    /// Maps `private` to `public`. Mapping a pair twice is harmless.
    pub fn insert(&mut self, private: IpAddr, public: IpAddr) -> Result<(), MapError> {
        if private.is_ipv4() != public.is_ipv4() {
            return Err(MapError::Families { public, private });
        }
        if private.is_unspecified() || public.is_unspecified() {
            return Err(MapError::Unspecified);
        }
        match self.pairs.iter().find(|(p, _)| *p == private) {
            Some((_, q)) if *q == public => Ok(()),
            Some(_) => Err(MapError::Twice(private)),
            None => {
                self.pairs.push((private, public));
                Ok(())
            }
        }
    }

    /// True when nothing is mapped (the relay is not behind a NAT).
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The address clients are told for the bound address `private`: its public address, or
    /// itself when unmapped.
    pub fn public_ip(&self, private: IpAddr) -> IpAddr {
        self.pairs
            .iter()
            .find(|(p, _)| *p == private)
            .map_or(private, |(_, public)| *public)
    }

    /// [`AddressMap::public_ip`] of a socket address, same port (a 1:1 NAT keeps ports).
    pub fn public(&self, bound: SocketAddr) -> SocketAddr {
        SocketAddr::new(self.public_ip(bound.ip()), bound.port())
    }

    /// Every (private, public) pair, in the order they were mapped.
    pub fn pairs(&self) -> impl Iterator<Item = (IpAddr, IpAddr)> + '_ {
        self.pairs.iter().copied()
    }

    /// Every public address.
    pub fn publics(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.pairs.iter().map(|(_, public)| *public)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn bound_addresses_are_told_as_their_public_ones_and_others_as_themselves() {
        let mut m = AddressMap::default();
        m.insert(ip("10.0.0.5"), ip("203.0.113.5")).unwrap();
        m.insert(ip("10.0.1.5"), ip("203.0.113.6")).unwrap();
        m.insert(ip("fd00::5"), ip("2001:db8::5")).unwrap();
        let told = m.public("10.0.1.5:50000".parse().unwrap());
        assert_eq!(told, "203.0.113.6:50000".parse().unwrap());
        assert_eq!(m.public_ip(ip("fd00::5")), ip("2001:db8::5"));
        assert_eq!(m.public_ip(ip("10.0.0.9")), ip("10.0.0.9"));
        assert_eq!(m.publics().count(), 3);
    }

    #[test]
    fn mixed_families_twice_mapped_and_unspecified_are_refused() {
        let mut m = AddressMap::default();
        assert!(matches!(
            m.insert(ip("10.0.0.5"), ip("2001:db8::5")),
            Err(MapError::Families { .. })
        ));
        m.insert(ip("10.0.0.5"), ip("203.0.113.5")).unwrap();
        m.insert(ip("10.0.0.5"), ip("203.0.113.5")).unwrap();
        assert_eq!(
            m.insert(ip("10.0.0.5"), ip("203.0.113.7")),
            Err(MapError::Twice(ip("10.0.0.5")))
        );
        assert_eq!(
            m.insert(ip("0.0.0.0"), ip("203.0.113.7")),
            Err(MapError::Unspecified)
        );
    }
}
