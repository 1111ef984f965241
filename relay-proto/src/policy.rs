//! Which peers an allocation may relay to. Safe by default: loopback, private, shared
//! (CGNAT), link-local, multicast, broadcast, unspecified, documentation-only and the relay's
//! own addresses are refused with 403, unless an allow list names them. A deny list refuses
//! more. Order: deny list, then allow list, then the defaults.

use std::net::IpAddr;

use ipnet::IpNet;

/// The peer address policy.
#[derive(Clone, Debug, Default)]
pub struct PeerPolicy {
    allow: Vec<IpNet>,
    deny: Vec<IpNet>,
    own: Vec<IpAddr>,
}

impl PeerPolicy {
    /// `allow` and `deny` CIDR lists, and the relay's own addresses (always refused unless allowed).
    pub fn new(allow: Vec<IpNet>, deny: Vec<IpNet>, own: Vec<IpAddr>) -> PeerPolicy {
        PeerPolicy {
            allow,
            deny,
            own: own.into_iter().map(canonical).collect(),
        }
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

    /// True when relaying to `ip` is permitted.
    pub fn permits(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        if self.deny.iter().any(|n| n.contains(&ip)) {
            return false;
        }
        if self.allow.iter().any(|n| n.contains(&ip)) {
            return true;
        }
        !(self.own.contains(&ip) || special(ip))
    }
}

/// IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

fn special(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
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
        IpAddr::V6(a) => {
            let s = a.segments();
            a.is_loopback()
                || a.is_unspecified()
                || a.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x64 && s[1] == 0xff9b) // NAT64 would reach IPv4 specials
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn defaults_refuse_special_ranges_and_own_addresses() {
        let p = PeerPolicy::new(vec![], vec![], vec![ip("203.0.113.9"), ip("198.51.100.7")]);
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.1.1",
            "224.0.0.1",
            "255.255.255.255",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "198.51.100.7",
        ] {
            assert!(!p.permits(ip(bad)), "{bad}");
        }
        for good in ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(p.permits(ip(good)), "{good}");
        }
    }

    #[test]
    fn allow_and_deny_lists() {
        let mut p = PeerPolicy::new(
            vec!["10.20.0.0/16".parse().unwrap()],
            vec!["8.8.8.0/24".parse().unwrap()],
            vec![],
        );
        assert!(p.permits(ip("10.20.1.1")));
        assert!(!p.permits(ip("10.21.1.1")));
        assert!(!p.permits(ip("8.8.8.8")));
        assert!(!p.permits(ip("127.0.0.1")));
        p.allow_loopback();
        assert!(p.permits(ip("127.0.0.1")));
        assert!(p.permits(ip("::1")));
    }
}
