//! Which peers an allocation may relay to. Safe by default, for both families: loopback,
//! private, shared (CGNAT), link-local, multicast, broadcast, unspecified, documentation,
//! benchmarking and reserved IPv4 ranges; IPv6 loopback, unspecified, multicast, unique local
//! (fc00::/7), link-local, site-local, documentation (2001:db8::/32), benchmarking, discard-only,
//! Teredo and ORCHID ranges; the IPv6 forms that carry an IPv4 address (IPv4-mapped, the NAT64
//! prefix, 6to4) judged as the IPv4 address they lead to; the rest of ::/96 (IPv4-compatible,
//! deprecated); and the relay's own addresses, private and public (behind a 1:1 NAT), except
//! at a port of the relay's own range, where another allocation of this relay listens (two
//! relay-only ends of one call on one relay; on a cloud that hairpins through the NAT). All are refused with 403 unless an allow list names them; a deny list
//! refuses more. Order: deny list, then allow list, then the defaults. Why: docs/relay.md.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::IpNet;

use crate::ports::PortRange;

/// The peer address policy.
#[derive(Clone, Debug, Default)]
pub struct PeerPolicy {
    allow: Vec<IpNet>,
    deny: Vec<IpNet>,
    own: Vec<IpAddr>,
    own_ports: Option<PortRange>,
}

impl PeerPolicy {
    /// `allow` and `deny` CIDR lists, and the relay's own addresses (always refused unless allowed).
    pub fn new(allow: Vec<IpNet>, deny: Vec<IpNet>, own: Vec<IpAddr>) -> PeerPolicy {
        PeerPolicy {
            allow,
            deny,
            own: own
                .into_iter()
                .map(|ip| embedded(ip).unwrap_or(ip))
                .collect(),
            own_ports: None,
        }
    }

    /// Lets a peer at one of the relay's own addresses through when its port is in `ports`,
    /// the relay ports: that peer is another allocation of this relay (both ends of a call
    /// relay-only through one relay). Any other port of an own address (the listeners, the
    /// metrics endpoint, whatever else runs there) stays refused.
    pub fn allow_own_relay_ports(&mut self, ports: PortRange) {
        self.own_ports = Some(ports);
    }

    /// True when `ip` is one of the relay's own addresses (as judged: an IPv6 form that leads
    /// to an IPv4 address counts as that address).
    pub fn is_own(&self, ip: IpAddr) -> bool {
        self.own.contains(&embedded(ip).unwrap_or(ip))
    }

    /// [`PeerPolicy::permits`] for a peer's transport address: an own address is permitted
    /// at a relay port (see [`PeerPolicy::allow_own_relay_ports`]) if nothing else refuses it.
    pub fn permits_peer(&self, peer: SocketAddr) -> bool {
        let relay_port = self.own_ports.is_some_and(|r| r.contains(peer.port()));
        self.judge(peer.ip(), !relay_port)
    }

    /// Adds 127.0.0.0/8 and ::1 to the allow list (tests, and a relay whose peers are local).
    pub fn allow_loopback(&mut self) {
        self.allow.extend(
            ["127.0.0.0/8", "::1/128"]
                .iter()
                .filter_map(|c| c.parse::<IpNet>().ok()),
        );
        self.own.retain(|ip| !ip.is_loopback());
    }

    /// True when relaying to `ip` is permitted. The lists match the address as sent and, for
    /// an IPv6 address that leads to an IPv4 one (NAT64, IPv4-mapped, 6to4), that IPv4
    /// address too, so `--deny-peer 10.0.0.0/8` also refuses `64:ff9b::10.1.2.3`.
    pub fn permits(&self, ip: IpAddr) -> bool {
        self.judge(ip, true)
    }

    fn judge(&self, ip: IpAddr, refuse_own: bool) -> bool {
        let inner = embedded(ip);
        let listed = |list: &[IpNet]| {
            list.iter()
                .any(|n| n.contains(&ip) || inner.is_some_and(|v4| n.contains(&v4)))
        };
        if listed(&self.deny) {
            return false;
        }
        if listed(&self.allow) {
            return true;
        }
        let judged = inner.unwrap_or(ip);
        !((refuse_own && self.own.contains(&judged)) || special(ip) || inner.is_some_and(special))
    }
}

/// The IPv4 address an IPv6 address leads to: IPv4-mapped (::ffff:0:0/96), the well-known
/// NAT64 prefix (64:ff9b::/96, RFC 6052) and 6to4 (2002::/16, RFC 3056). `None` for an IPv4
/// address and for every other IPv6 address.
fn embedded(ip: IpAddr) -> Option<IpAddr> {
    let IpAddr::V6(a) = ip else {
        return None;
    };
    let s = a.segments();
    let low = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    };
    match s {
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => Some(low(hi, lo)),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(low(hi, lo)),
        [0x2002, hi, lo, ..] => Some(low(hi, lo)),
        _ => None,
    }
}

fn special(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => special_v4(a),
        IpAddr::V6(a) => special_v6(a),
    }
}

fn special_v4(a: Ipv4Addr) -> bool {
    let o = a.octets();
    a.is_loopback()
        || a.is_private()
        || a.is_link_local()
        || a.is_multicast()
        || a.is_broadcast()
        || a.is_unspecified()
        || a.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64.0.0/10 shared address space
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0.0/24 protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18.0.0/15 benchmarking
        || o[0] >= 240 // reserved
}

fn special_v6(a: Ipv6Addr) -> bool {
    let s = a.segments();
    (s[..6] == [0; 6]) // ::/96: unspecified, loopback, IPv4-compatible (deprecated, unrouted)
        || a.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // fc00::/7 unique local
        || (s[0] & 0xffc0) == 0xfe80 // fe80::/10 link-local
        || (s[0] & 0xffc0) == 0xfec0 // fec0::/10 site-local (deprecated, still routed inside sites)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // 2001:db8::/32 documentation
        || (s[0] == 0x2001 && s[1] == 0x0002 && s[2] == 0) // 2001:2::/48 benchmarking
        || (s[0] == 0x2001 && s[1] == 0) // 2001::/32 Teredo: the IPv4 behind it is hidden
        || (s[0] == 0x2001 && (s[1] & 0xfff0) == 0x0010) // 2001:10::/28 ORCHID
        || (s[0] == 0x2001 && (s[1] & 0xfff0) == 0x0020) // 2001:20::/28 ORCHIDv2
        || (s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0) // 100::/64 discard-only
        || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1) // 64:ff9b:1::/48 local-use NAT64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn policy() -> PeerPolicy {
        PeerPolicy::new(
            vec![],
            vec![],
            vec![
                ip("203.0.113.9"),
                ip("198.51.100.7"),
                ip("2001:4860:4860::8888"),
                ip("8.8.4.4"),
            ],
        )
    }

    fn refused(p: &PeerPolicy, addrs: &[&str]) {
        for a in addrs {
            assert!(!p.permits(ip(a)), "{a} should be refused");
        }
    }

    fn permitted(p: &PeerPolicy, addrs: &[&str]) {
        for a in addrs {
            assert!(p.permits(ip(a)), "{a} should be permitted");
        }
    }

    #[test]
    fn ipv4_special_ranges_are_refused() {
        refused(
            &policy(),
            &[
                "127.0.0.1",
                "10.1.2.3",
                "172.16.0.1",
                "192.168.1.1",
                "169.254.1.1",
                "224.0.0.1",
                "255.255.255.255",
                "0.0.0.0",
                "100.64.0.1",
                "192.0.0.8",
                "192.0.2.1",
                "198.18.0.1",
                "240.0.0.1",
            ],
        );
        permitted(&policy(), &["8.8.8.8", "1.1.1.1"]);
    }

    #[test]
    fn ipv6_loopback_unspecified_and_multicast_are_refused() {
        refused(&policy(), &["::1", "::", "ff02::1", "ff05::2", "ff0e::1"]);
    }

    #[test]
    fn ipv6_unique_local_link_local_and_site_local_are_refused() {
        refused(
            &policy(),
            &["fc00::1", "fd12:3456::1", "fe80::1", "febf::1", "fec0::1"],
        );
    }

    #[test]
    fn ipv6_documentation_benchmarking_and_other_special_ranges_are_refused() {
        refused(
            &policy(),
            &[
                "2001:db8::1",
                "2001:db8:ffff::1",
                "2001:2::1",
                "2001:0:4136:e378:8000:63bf:3fff:fdd2", // Teredo
                "2001:10::1",
                "2001:20::1",
                "100::1",
                "64:ff9b:1::8.8.8.8",
            ],
        );
    }

    #[test]
    fn ipv4_mapped_forms_are_judged_as_the_ipv4_address() {
        refused(
            &policy(),
            &[
                "::ffff:127.0.0.1",
                "::ffff:10.0.0.1",
                "::ffff:169.254.0.1",
                "::ffff:100.64.0.1",
            ],
        );
        permitted(&policy(), &["::ffff:8.8.8.8"]);
    }

    #[test]
    fn nat64_forms_are_judged_as_the_ipv4_address() {
        refused(
            &policy(),
            &[
                "64:ff9b::127.0.0.1",
                "64:ff9b::10.1.2.3",
                "64:ff9b::192.168.0.1",
                "64:ff9b::169.254.169.254", // cloud metadata
                "64:ff9b::100.64.0.1",
                "64:ff9b::",
            ],
        );
        permitted(&policy(), &["64:ff9b::8.8.8.8", "64:ff9b::1.1.1.1"]);
    }

    #[test]
    fn six_to_four_forms_are_judged_as_the_ipv4_address() {
        refused(&policy(), &["2002:0a00:0001::1", "2002:7f00:0001::"]);
        permitted(&policy(), &["2002:0808:0808::1"]);
    }

    #[test]
    fn ipv4_compatible_addresses_are_refused() {
        refused(&policy(), &["::2", "::10.0.0.1", "::8.8.8.8"]);
    }

    #[test]
    fn the_relays_own_addresses_are_refused_in_every_form() {
        refused(
            &policy(),
            &[
                "198.51.100.7",
                "203.0.113.9",
                "2001:4860:4860::8888",
                "8.8.4.4",
                "::ffff:8.8.4.4",
                "64:ff9b::8.8.4.4",
                "2002:0808:0404::1",
            ],
        );
        permitted(&policy(), &["2606:4700::1111", "2001:4860:4860::8844"]);
    }

    #[test]
    fn allow_and_deny_lists() {
        let mut p = PeerPolicy::new(
            vec![
                "10.20.0.0/16".parse().unwrap(),
                "fd00:1::/32".parse().unwrap(),
            ],
            vec![
                "8.8.8.0/24".parse().unwrap(),
                "2606:4700::/32".parse().unwrap(),
            ],
            vec![],
        );
        assert!(p.permits(ip("10.20.1.1")));
        assert!(p.permits(ip("64:ff9b::10.20.1.1")), "allowed as IPv4");
        assert!(p.permits(ip("fd00:1::5")));
        assert!(!p.permits(ip("fd00:2::5")));
        assert!(!p.permits(ip("10.21.1.1")));
        assert!(!p.permits(ip("8.8.8.8")));
        assert!(!p.permits(ip("64:ff9b::8.8.8.8")), "denied as IPv4");
        assert!(!p.permits(ip("::ffff:8.8.8.8")), "denied as IPv4");
        assert!(!p.permits(ip("2606:4700::1111")));
        assert!(!p.permits(ip("127.0.0.1")));
        assert!(!p.permits(ip("::1")));
        p.allow_loopback();
        assert!(p.permits(ip("127.0.0.1")));
        assert!(p.permits(ip("::1")));
    }

    #[test]
    fn a_deny_list_of_an_ipv6_prefix_matches_before_the_embedded_address() {
        let p = PeerPolicy::new(vec![], vec!["64:ff9b::/96".parse().unwrap()], vec![]);
        assert!(!p.permits(ip("64:ff9b::8.8.8.8")));
        assert!(p.permits(ip("8.8.8.8")));
    }
}
