//! The settings for a relay behind a cloud's 1:1 NAT and on a fixed port range:
//! `external_ip` (coturn's `external-ip`: `PUBLIC` or `PUBLIC/PRIVATE`) into the core's
//! [`AddressMap`], `relay_ports` into its [`PortRange`], and the addresses the relay
//! advertises (control-plane URLs, `check-config`).

use std::net::{IpAddr, SocketAddr, UdpSocket};

use relay_proto::config::AddressMap;
use relay_proto::family::family_of;
use relay_proto::{PortRange, RelayIps};

use super::ConfigError;

/// The map from each bound address to its public one. `PUBLIC` alone maps the relay address
/// of its family (and the specific listening address of that family, when it is another one);
/// `PUBLIC/PRIVATE` maps PRIVATE, which must be a relay or listening address, or at least an
/// address of this machine.
pub fn address_map(
    given: &[String],
    relay_ips: &RelayIps,
    listen: &[SocketAddr],
) -> Result<AddressMap, ConfigError> {
    let mut map = AddressMap::default();
    for value in given {
        let bad = |why: String| ConfigError::ExternalIp(format!("external_ip {value:?}: {why}"));
        let (public, private) = match value.split_once('/') {
            Some((p, q)) => (p.trim(), Some(q.trim())),
            None => (value.trim(), None),
        };
        let public: IpAddr = public
            .parse()
            .map_err(|_| bad(format!("{public:?} is not an IP address")))?;
        if public.is_unspecified() || public.is_loopback() || public.is_multicast() {
            return Err(bad(format!("{public} cannot be a public address")));
        }
        let family = |ip: &IpAddr| if ip.is_ipv4() { "IPv4" } else { "IPv6" };
        let privates: Vec<IpAddr> = match private {
            Some(q) => {
                let q: IpAddr = q
                    .parse()
                    .map_err(|_| bad(format!("{q:?} is not an IP address")))?;
                let mut configured = relay_ips.iter().chain(listen.iter().map(|l| l.ip()));
                if !configured.any(|c| c == q) && !on_this_machine(q) {
                    return Err(bad(format!(
                        "{q} is not an address of this relay: not a relay_ip or listening address, and not on this machine"
                    )));
                }
                vec![q]
            }
            None => {
                let Some(relay) = relay_ips.of(family_of(public)) else {
                    return Err(bad(format!(
                        "no {} relay address to map; give PUBLIC/PRIVATE or an {} relay_ip",
                        family(&public),
                        family(&public)
                    )));
                };
                let listening = listen
                    .iter()
                    .map(|l| l.ip())
                    .filter(|ip| ip.is_ipv4() == public.is_ipv4() && !ip.is_unspecified());
                std::iter::once(relay).chain(listening).collect()
            }
        };
        for private in privates {
            map.insert(private, public)
                .map_err(|e| bad(e.to_string()))?;
        }
    }
    Ok(map)
}

/// True when `ip` is an address of this machine: a socket binds to it.
fn on_this_machine(ip: IpAddr) -> bool {
    UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

/// The relay port range: `relay_ports` if given (which must not hold a listening port of
/// `listeners`, UDP/TCP, TLS or metrics), else 49152-65535. The default is not checked against
/// the listeners: a listener inside it only takes its own port out of the range.
pub fn relay_ports(
    given: Option<&str>,
    listeners: &[(&str, SocketAddr)],
) -> Result<PortRange, ConfigError> {
    let Some(given) = given else {
        return Ok(PortRange::default());
    };
    let range: PortRange = given
        .parse()
        .map_err(|e: relay_proto::ports::PortRangeError| ConfigError::RelayPorts(e.to_string()))?;
    if let Some((what, addr)) = listeners.iter().find(|(_, a)| range.contains(a.port())) {
        return Err(ConfigError::RelayPorts(format!(
            "relay port range {range} holds the {what} port {} ({addr}): keep listeners out of it",
            addr.port()
        )));
    }
    Ok(range)
}

/// What the relay advertises (control-plane URLs): each listening address's public form, and
/// per family the public address clients reach, which is the specific listening address's
/// when there is one, else the relay address's.
pub fn advertised(
    listen: &[SocketAddr],
    relay_ips: &RelayIps,
    map: &AddressMap,
) -> (Vec<SocketAddr>, RelayIps) {
    let listen: Vec<SocketAddr> = listen
        .iter()
        .map(|l| match l.ip().is_unspecified() {
            true => *l,
            false => map.public(*l),
        })
        .collect();
    let mut ips = RelayIps::default();
    for ip in relay_ips.iter() {
        let specific = listen
            .iter()
            .find(|l| l.is_ipv4() == ip.is_ipv4() && !l.ip().is_unspecified());
        ips = ips.set(specific.map_or(map.public_ip(ip), |l| l.ip()));
    }
    (listen, ips)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ips(v: &[&str]) -> RelayIps {
        v.iter()
            .fold(RelayIps::default(), |r, ip| r.set(ip.parse().unwrap()))
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_bare_public_address_maps_the_relay_and_listening_addresses_of_its_family() {
        let listen = [addr("127.0.0.2:3478")];
        let map = address_map(
            &["203.0.113.9".into()],
            &ips(&["127.0.0.3", "::1"]),
            &listen,
        )
        .unwrap();
        let pairs: Vec<_> = map.pairs().collect();
        assert_eq!(
            pairs,
            [
                ("127.0.0.3".parse().unwrap(), "203.0.113.9".parse().unwrap()),
                ("127.0.0.2".parse().unwrap(), "203.0.113.9".parse().unwrap())
            ]
        );
        let (urls_listen, told) = advertised(&listen, &ips(&["127.0.0.3", "::1"]), &map);
        assert_eq!(urls_listen, [addr("203.0.113.9:3478")]);
        assert_eq!(told.v4, Some("203.0.113.9".parse().unwrap()));
        assert_eq!(told.v6, Some("::1".parse().unwrap()), "unmapped: itself");
    }

    #[test]
    fn pairs_map_several_private_addresses() {
        let map = address_map(
            &[
                "203.0.113.9/127.0.0.1".into(),
                "203.0.113.10/127.0.0.2".into(),
            ],
            &ips(&["127.0.0.1"]),
            &[addr("0.0.0.0:3478")],
        )
        .unwrap();
        assert_eq!(
            map.public(addr("127.0.0.2:50000")),
            addr("203.0.113.10:50000")
        );
    }

    #[test]
    fn bad_external_addresses_are_clear_errors() {
        let err = |v: &str, relay: &[&str]| {
            address_map(&[v.to_string()], &ips(relay), &[addr("0.0.0.0:3478")])
                .unwrap_err()
                .to_string()
        };
        assert!(err("public.example", &["127.0.0.1"]).contains("is not an IP address"));
        assert!(err("203.0.113.9/nowhere", &["127.0.0.1"]).contains("is not an IP address"));
        assert!(
            err("203.0.113.9/192.0.2.77", &["127.0.0.1"])
                .contains("192.0.2.77 is not an address of this relay")
        );
        assert!(err("2001:db8::9", &["127.0.0.1"]).contains("no IPv6 relay address"));
        assert!(err("2001:db8::9/127.0.0.1", &["127.0.0.1"]).contains("different families"));
        assert!(err("0.0.0.0", &["127.0.0.1"]).contains("cannot be a public address"));
        let twice = address_map(
            &["203.0.113.9".into(), "203.0.113.10".into()],
            &ips(&["127.0.0.1"]),
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(twice.contains("two public addresses"), "{twice}");
    }

    #[test]
    fn relay_port_ranges_are_checked_against_the_listeners() {
        let listeners = [
            ("listen", addr("0.0.0.0:3478")),
            ("metrics", addr("127.0.0.1:9100")),
        ];
        assert_eq!(relay_ports(None, &listeners).unwrap(), PortRange::default());
        assert_eq!(
            relay_ports(Some("40000-40009"), &listeners).unwrap().len(),
            10
        );
        for (v, want) in [
            ("3000-4000", "holds the listen port 3478"),
            ("9000-9999", "holds the metrics port 9100"),
            ("5000-4000", "is empty"),
            ("0-10", "leaves 1-65535"),
            ("1-70000", "leaves 1-65535"),
            ("", "is not MIN-MAX"),
        ] {
            let e = relay_ports(Some(v), &listeners).unwrap_err().to_string();
            assert!(e.contains(want), "{v}: {e}");
        }
    }

    #[test]
    fn settings_make_public_addresses_own_peers_allowed_only_at_relay_ports() {
        let s: crate::config::Settings = toml::from_str(
            "users = [\"a:b\"]\nlisten = \"192.0.2.1:3478\"\nexternal_ip = \"8.8.4.4/192.0.2.1\"\nrelay_ports = \"50000-50999\"",
        )
        .unwrap();
        let (core, _) = s.build().unwrap();
        assert_eq!(
            core.address_map.public(addr("192.0.2.1:50000")),
            addr("8.8.4.4:50000")
        );
        assert_eq!(core.relay_ports, PortRange::new(50000, 50999).unwrap());
        assert!(
            core.policy.permits_peer(addr("8.8.4.4:50010")),
            "another allocation"
        );
        for refused in ["8.8.4.4:3478", "8.8.4.4:51000", "[64:ff9b::808:404]:3478"] {
            assert!(!core.policy.permits_peer(addr(refused)), "{refused}");
        }
        assert!(core.policy.permits_peer(addr("8.8.8.8:3478")));
    }
}
