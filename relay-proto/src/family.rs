//! The address family of an address, in STUN's numbering (a leaf every other module may use).

use std::net::IpAddr;

use stun_types::AddressFamily;

/// The family of an address.
pub fn family_of(ip: IpAddr) -> AddressFamily {
    match ip {
        IpAddr::V4(_) => AddressFamily::IPV4,
        IpAddr::V6(_) => AddressFamily::IPV6,
    }
}
