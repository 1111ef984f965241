//! Behind a 1:1 NAT: the public address told to clients, the bound one kept for everything
//! that matches packets, the relay's own addresses as peers, THIRD-PARTY-AUTHORIZATION's
//! value, and EVEN-PORT reservations with RESERVATION-TOKEN (RFC 8656 section 7.2).

use std::net::SocketAddr;
use std::time::Duration;

use relay_proto::wire::THIRD_PARTY_AUTHORIZATION;
use relay_proto::{Config, Event, PeerPolicy, PortRange, RouteChange};
use stun_types::message::{Message, MessageWriteExt, MessageWriteVec, TransactionId};
use turn_types::attribute::{
    AdditionalAddressFamily, EvenPort, RequestedTransport, ReservationToken,
};
use turn_types::message::ALLOCATE;

use super::harness::*;

fn alice(a: &str) -> C {
    C::new(a, Creds::LongTerm("alice".into(), "secret".into()))
}

/// The relay binds 198.51.100.1 (its private address here) and is reached at 8.8.4.4.
fn behind_nat() -> Config {
    let mut cfg = config();
    cfg.address_map
        .insert("198.51.100.1".parse().unwrap(), "8.8.4.4".parse().unwrap())
        .unwrap();
    let mut policy = PeerPolicy::new(
        vec![],
        vec![],
        vec!["198.51.100.1".parse().unwrap(), "8.8.4.4".parse().unwrap()],
    );
    policy.allow_loopback();
    policy.allow_own_relay_ports(cfg.relay_ports);
    cfg.policy = policy;
    cfg
}

#[test]
fn clients_are_told_the_public_address_and_routes_keep_the_bound_one() {
    let mut cfg = behind_nat();
    cfg.channel_routes = true;
    let mut h = H::with(cfg);
    let mut c = alice("203.0.113.5:1000");
    let ok = c.allocate(&mut h, None);
    let told = relayed(&ok);
    assert_eq!(told.ip().to_string(), "8.8.4.4");
    let bound = h
        .events
        .iter()
        .find_map(|e| match e {
            Event::AllocationCreated { info, .. } => info.relay,
            _ => None,
        })
        .unwrap();
    assert_eq!(
        bound,
        SocketAddr::new("198.51.100.1".parse().unwrap(), told.port())
    );
    // The kernel fast path matches what packets carry past the NAT: the bound address.
    assert!(is_success(&c.bind(&mut h, 0x4000, addr("127.0.0.1:40000"))));
    let route = h
        .routes
        .iter()
        .find_map(|r| match r {
            RouteChange::Set { route, .. } => Some(*route),
            _ => None,
        })
        .unwrap();
    assert_eq!(route.relay, bound);
}

#[test]
fn own_addresses_are_refused_peers_except_at_a_relay_port() {
    let mut h = H::with(behind_nat());
    let mut c = alice("203.0.113.5:1000");
    assert!(is_success(&c.allocate(&mut h, None)));
    // Another allocation of this relay, at its public address (a hairpin through the NAT).
    let hairpin = addr("8.8.4.4:50010");
    assert!(is_success(&c.permit(&mut h, hairpin)));
    assert!(is_success(&c.bind(&mut h, 0x4001, hairpin)));
    // The listeners and anything else at an own address, public or private, stay refused.
    for refused in ["8.8.4.4:3478", "8.8.4.4:49151", "198.51.100.1:50010"] {
        assert_eq!(
            code(&c.permit(&mut h, addr(refused))),
            Some(403),
            "{refused}"
        );
        assert_eq!(
            code(&c.bind(&mut h, 0x4002, addr(refused))),
            Some(403),
            "{refused}"
        );
    }
    // The permission for 8.8.4.4 covers its relay ports only.
    let (fwd, _) = h.send(c.addr, &c.send_indication(hairpin, b"hi"));
    assert_eq!(fwd, Some((hairpin, b"hi".to_vec())));
    let (fwd, _) = h.send(c.addr, &c.send_indication(addr("8.8.4.4:3478"), b"hi"));
    assert_eq!(fwd, None, "a Send to the relay's own listener is dropped");
    // Someone else's public address is a peer at any port.
    assert!(is_success(&c.permit(&mut h, addr("8.8.8.8:3478"))));
}

#[test]
fn without_the_relay_port_exception_own_addresses_are_refused_at_every_port() {
    let mut cfg = behind_nat();
    cfg.policy = PeerPolicy::new(vec![], vec![], vec!["8.8.4.4".parse().unwrap()]);
    cfg.policy.allow_loopback();
    let mut h = H::with(cfg);
    let mut c = alice("203.0.113.5:1000");
    assert!(is_success(&c.allocate(&mut h, None)));
    assert_eq!(code(&c.permit(&mut h, addr("8.8.4.4:50010"))), Some(403));
}

fn third_party(reply: &[u8]) -> String {
    let m = Message::from_bytes(reply).unwrap();
    let raw = m.raw_attribute(THIRD_PARTY_AUTHORIZATION).unwrap();
    String::from_utf8(raw.value.to_vec()).unwrap()
}

#[test]
fn third_party_authorization_names_the_server_or_the_configured_uri() {
    let challenge = |h: &mut H| {
        let c = alice("203.0.113.5:1000");
        let r = h.request(c.addr, &c.build(ALLOCATE, |_, _| {}));
        assert_eq!(code(&r), Some(401));
        third_party(&r)
    };
    assert_eq!(
        challenge(&mut H::new()),
        SERVER_NAME,
        "RFC 7635 section 6.1"
    );
    let mut cfg = config();
    cfg.third_party_authorization = Some("https://edge.example/turn/token".into());
    assert_eq!(
        challenge(&mut H::with(cfg)),
        "https://edge.example/turn/token"
    );
}

/// An Allocate with `attrs` after REQUESTED-TRANSPORT, with the 401 round trip.
fn allocate_with(
    h: &mut H,
    c: &mut C,
    attrs: impl Fn(&mut MessageWriteVec, TransactionId),
) -> Vec<u8> {
    let req = |c: &C| {
        c.build(ALLOCATE, |w, tx| {
            w.add_attribute(&RequestedTransport::new(17)).unwrap();
            attrs(w, tx);
        })
    };
    let mut reply = h.request(c.addr, &req(c));
    if code(&reply) == Some(401) {
        c.nonce = Some(attr_nonce(&reply));
        reply = h.request(c.addr, &req(c));
    }
    reply
}

fn token_of(reply: &[u8]) -> Option<u64> {
    let m = Message::from_bytes(reply).unwrap();
    m.attribute::<ReservationToken>().ok().map(|t| t.token())
}

fn reserve(h: &mut H, client: &str) -> (SocketAddr, u64) {
    let mut c = alice(client);
    let ok = allocate_with(h, &mut c, |w, _| {
        w.add_attribute(&EvenPort::new(true)).unwrap()
    });
    assert!(is_success(&ok), "{:?}", code(&ok));
    let port = relayed(&ok);
    assert_eq!(port.port() % 2, 0);
    (port, token_of(&ok).expect("a RESERVATION-TOKEN"))
}

fn redeem(h: &mut H, client: &str, token: u64) -> Vec<u8> {
    let mut c = alice(client);
    allocate_with(h, &mut c, |w, _| {
        w.add_attribute(&ReservationToken::new(token)).unwrap()
    })
}

#[test]
fn an_rtp_rtcp_pair_reserves_the_next_port_for_its_token() {
    let mut h = H::with(behind_nat());
    let (rtp, token) = reserve(&mut h, "203.0.113.5:1000");
    assert_eq!(rtp.ip().to_string(), "8.8.4.4", "told the public address");
    // Ports picked meanwhile skip the reserved one.
    let mut other = alice("203.0.113.9:1000");
    let plain = relayed(&other.allocate(&mut h, None));
    assert_ne!(plain.port(), rtp.port() + 1);
    let rtcp = redeem(&mut h, "203.0.113.5:1001", token);
    assert!(is_success(&rtcp), "{:?}", code(&rtcp));
    assert_eq!(relayed(&rtcp), SocketAddr::new(rtp.ip(), rtp.port() + 1));
    assert_eq!(token_of(&rtcp), None);
    // Used: a second claim is 508.
    assert_eq!(code(&redeem(&mut h, "203.0.113.5:1002", token)), Some(508));
    // A token never issued is 508 as well.
    assert_eq!(
        code(&redeem(&mut h, "203.0.113.5:1003", token ^ 1)),
        Some(508)
    );
}

#[test]
fn reservations_expire_after_30_seconds() {
    let mut h = H::new();
    let (_, token) = reserve(&mut h, "203.0.113.5:1000");
    h.advance(Duration::from_secs(30));
    assert_eq!(code(&redeem(&mut h, "203.0.113.5:1001", token)), Some(508));
    assert_eq!(h.cfg.reservations.len(h.now), 0);
    // Within 30 s it holds.
    let (rtp, token) = reserve(&mut h, "203.0.113.5:1002");
    h.advance(Duration::from_secs(29));
    let r = redeem(&mut h, "203.0.113.5:1003", token);
    assert_eq!(relayed(&r).port(), rtp.port() + 1);
}

#[test]
fn a_reservation_is_for_its_clients_family_and_a_shared_table() {
    let mut cfg = config();
    cfg.relay_ips = cfg.relay_ips.set("2001:db8::1".parse().unwrap());
    let cfg = std::sync::Arc::new(cfg);
    let t0 = std::time::Instant::now();
    let mut h = H::sharing(cfg.clone(), relay_proto::QuotaCounts::new(0, 0), t0);
    let (rtp, token) = reserve(&mut h, "203.0.113.5:1000");
    // An IPv6 client cannot claim an IPv4 reservation.
    assert_eq!(
        code(&redeem(&mut h, "[2001:db8::5]:1000", token)),
        Some(508)
    );
    // Another core of the same relay honours it (the second Allocate's 5-tuple may land there).
    let mut other_core = H::sharing(cfg, relay_proto::QuotaCounts::new(0, 0), t0);
    let r = redeem(&mut other_core, "203.0.113.5:1001", token);
    assert_eq!(relayed(&r).port(), rtp.port() + 1);
}

#[test]
fn conflicting_reservation_attributes_are_400() {
    let mut h = H::new();
    let (_, token) = reserve(&mut h, "203.0.113.5:1000");
    let mut c = alice("203.0.113.5:1001");
    let r = allocate_with(&mut h, &mut c, |w, _| {
        w.add_attribute(&ReservationToken::new(token)).unwrap();
        w.add_attribute(&EvenPort::new(false)).unwrap();
    });
    assert_eq!(code(&r), Some(400), "RESERVATION-TOKEN with EVEN-PORT");
    let mut c = alice("203.0.113.5:1002");
    let r = allocate_with(&mut h, &mut c, |w, _| {
        w.add_attribute(&EvenPort::new(true)).unwrap();
        w.add_attribute(&AdditionalAddressFamily::new(
            stun_types::AddressFamily::IPV6,
        ))
        .unwrap();
    });
    assert_eq!(code(&r), Some(400), "a reservation with a second family");
    // The token survived the refused requests.
    assert!(is_success(&redeem(&mut h, "203.0.113.5:1003", token)));
}

#[test]
fn the_default_relay_range_is_rfc_6335s_dynamic_ports() {
    assert_eq!(PortRange::default().to_string(), "49152-65535");
}
