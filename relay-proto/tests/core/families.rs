//! Address families (RFC 8656 sections 7.2, 8.2, 10.2, 12.2): the default family, what
//! REQUESTED-ADDRESS-FAMILY and ADDITIONAL-ADDRESS-FAMILY get, 440 and 443, dual allocations
//! with one relay socket per family, and IPv6 clients and peers on the data path.

use std::net::IpAddr;

use relay_proto::config::DefaultFamily;
use relay_proto::server::family::LEGACY_ADDITIONAL_ADDRESS_FAMILY;
use relay_proto::{Config, Output, RelayIps, RouteChange};
use stun_types::AddressFamily;
use stun_types::attribute::{AttributeStaticType, AttributeType, RawAttribute};
use stun_types::message::{Message, MessageWriteExt, MessageWriteVec, TransactionId};
use turn_types::attribute::{
    AdditionalAddressFamily, EvenPort, RequestedAddressFamily, RequestedTransport, XorPeerAddress,
};
use turn_types::message::{ALLOCATE, REFRESH};

use crate::harness::*;

const V4: &str = "198.51.100.1";
const V6: &str = "2001:db8:1::1";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The harness's configuration relaying on `v4` and/or `v6`.
fn relaying(v4: Option<&str>, v6: Option<&str>) -> Config {
    let mut cfg = config();
    cfg.relay_ips = RelayIps::default();
    for a in [v4, v6].into_iter().flatten() {
        cfg.relay_ips = cfg.relay_ips.set(ip(a));
    }
    cfg
}

fn dual() -> H {
    H::with(relaying(Some(V4), Some(V6)))
}

fn alice(a: &str) -> C {
    C::new(a, Creds::LongTerm("alice".into(), "secret".into()))
}

/// Allocate (with the 401 round trip) with `attrs` added after REQUESTED-TRANSPORT.
fn allocate_with(
    c: &mut C,
    h: &mut H,
    attrs: impl Fn(&mut MessageWriteVec, TransactionId),
) -> Vec<u8> {
    let req = |c: &C| {
        c.build(ALLOCATE, |w, tx| {
            w.add_attribute(&RequestedTransport::new(17)).unwrap();
            attrs(w, tx);
        })
    };
    let first = h.request(c.addr, &req(c));
    if code(&first) != Some(401) {
        return first;
    }
    c.nonce = Some(attr_nonce(&first));
    h.request(c.addr, &req(c))
}

fn requested(family: AddressFamily) -> impl Fn(&mut MessageWriteVec, TransactionId) {
    move |w, _| {
        w.add_attribute(&RequestedAddressFamily::new(family))
            .unwrap()
    }
}

fn additional(family: AddressFamily) -> impl Fn(&mut MessageWriteVec, TransactionId) {
    move |w, _| {
        w.add_attribute(&AdditionalAddressFamily::new(family))
            .unwrap()
    }
}

fn binds(h: &H) -> Vec<IpAddr> {
    h.outputs
        .iter()
        .filter_map(|o| match o {
            Output::BindRelay { ip, .. } => Some(*ip),
            _ => None,
        })
        .collect()
}

#[test]
fn without_requested_address_family_the_client_gets_its_own_family() {
    let mut h = dual();
    let mut v4 = alice("203.0.113.5:1000");
    let r = v4.allocate(&mut h, None);
    assert_eq!(
        relayed_all(&r).iter().map(|a| a.ip()).collect::<Vec<_>>(),
        [ip(V4)]
    );
    let mut v6 = alice("[2001:db8:2::5]:1000");
    let r = v6.allocate(&mut h, None);
    assert!(is_success(&r), "{:?}", code(&r));
    assert_eq!(
        relayed_all(&r).iter().map(|a| a.ip()).collect::<Vec<_>>(),
        [ip(V6)]
    );
    // XOR-MAPPED-ADDRESS is the client's IPv6 address.
    let m = Message::from_bytes(&r).unwrap();
    let mapped = m
        .attribute::<stun_types::attribute::XorMappedAddress>()
        .unwrap()
        .addr(m.transaction_id());
    assert_eq!(mapped, v6.addr);
    assert_eq!(binds(&h), [ip(V4), ip(V6)], "one relay socket each");
}

#[test]
fn the_rfc_default_family_can_be_chosen_instead() {
    let mut cfg = relaying(Some(V4), Some(V6));
    cfg.default_family = DefaultFamily::Ipv4;
    let mut h = H::with(cfg);
    let mut v6 = alice("[2001:db8:2::5]:1000");
    let r = v6.allocate(&mut h, None);
    assert_eq!(relayed(&r).ip(), ip(V4));
}

#[test]
fn a_family_the_relay_does_not_relay_falls_back_by_default_and_is_440_when_asked_for() {
    // IPv4 only: an IPv6 client gets IPv4 unless it names IPv6.
    let mut h = H::with(relaying(Some(V4), None));
    let mut c = alice("[2001:db8:2::5]:1000");
    assert_eq!(
        code(&allocate_with(
            &mut c,
            &mut h,
            requested(AddressFamily::IPV6)
        )),
        Some(440)
    );
    assert_eq!(relayed(&c.allocate(&mut h, None)).ip(), ip(V4));
    // IPv6 only: the same the other way round.
    let mut h = H::with(relaying(None, Some(V6)));
    let mut c = alice("203.0.113.5:1000");
    assert_eq!(
        code(&allocate_with(
            &mut c,
            &mut h,
            requested(AddressFamily::IPV4)
        )),
        Some(440)
    );
    // ADDITIONAL-ADDRESS-FAMILY asks for IPv4 first, which this relay lacks.
    assert_eq!(
        code(&allocate_with(
            &mut c,
            &mut h,
            additional(AddressFamily::IPV6)
        )),
        Some(440)
    );
    assert_eq!(relayed(&c.allocate(&mut h, None)).ip(), ip(V6));
    assert!(h.server.allocations() == 1);
}

#[test]
fn requested_address_family_names_the_relayed_family() {
    let mut h = dual();
    let mut c = alice("203.0.113.5:1000");
    let r = allocate_with(&mut c, &mut h, requested(AddressFamily::IPV6));
    assert!(is_success(&r), "{:?}", code(&r));
    assert_eq!(
        relayed_all(&r).iter().map(|a| a.ip()).collect::<Vec<_>>(),
        [ip(V6)]
    );
    assert!(signed_with(&r, &c.key().unwrap()));
}

#[test]
fn malformed_and_contradictory_family_attributes_get_400() {
    let mut h = dual();
    let mut c = alice("203.0.113.5:1000");
    let both = |w: &mut MessageWriteVec, tx| {
        requested(AddressFamily::IPV4)(w, tx);
        additional(AddressFamily::IPV6)(w, tx);
    };
    assert_eq!(code(&allocate_with(&mut c, &mut h, both)), Some(400));
    // Values turn-types will not even build, written raw.
    let raw = |t: AttributeType, family: u8| {
        move |w: &mut MessageWriteVec, _| {
            let value = [family, 0, 0, 0];
            w.add_attribute(&RawAttribute::new(t, &value)).unwrap();
        }
    };
    assert_eq!(
        code(&allocate_with(
            &mut c,
            &mut h,
            raw(AdditionalAddressFamily::TYPE, 1)
        )),
        Some(400),
        "ADDITIONAL-ADDRESS-FAMILY may only name IPv6"
    );
    assert_eq!(
        code(&allocate_with(
            &mut c,
            &mut h,
            raw(RequestedAddressFamily::TYPE, 3)
        )),
        Some(400),
        "no such family"
    );
    let reserve_and_dual = |w: &mut MessageWriteVec, tx| {
        w.add_attribute(&EvenPort::new(true)).unwrap();
        additional(AddressFamily::IPV6)(w, tx);
    };
    assert_eq!(
        code(&allocate_with(&mut c, &mut h, reserve_and_dual)),
        Some(400),
        "a port reservation cannot go with a second family"
    );
    assert_eq!(h.server.allocations(), 0);
    assert!(binds(&h).is_empty());
}

#[test]
fn a_dual_allocation_has_one_relayed_address_per_family_and_reaches_peers_of_both() {
    let mut h = dual();
    let mut c = alice("203.0.113.5:1000");
    let r = allocate_with(&mut c, &mut h, additional(AddressFamily::IPV6));
    assert!(is_success(&r), "{:?}", code(&r));
    let relays = relayed_all(&r);
    assert_eq!(
        relays.iter().map(|a| a.ip()).collect::<Vec<_>>(),
        [ip(V4), ip(V6)],
        "IPv4 first, then IPv6"
    );
    assert_eq!(address_error(&r), None);
    assert_eq!(binds(&h), [ip(V4), ip(V6)]);
    let id = h.server.allocation_of(&udp(c.addr)).unwrap();
    let info = h.server.allocation(id).unwrap();
    assert_eq!(info.relays.primary(), Some(relays[0]));
    assert_eq!(info.relays.additional(), Some(relays[1]));

    let (p4, p6) = (addr("127.0.0.1:40000"), addr("[::1]:40000"));
    assert!(is_success(&c.permit(&mut h, p4)));
    assert!(is_success(&c.permit(&mut h, p6)));
    let (fwd, _) = h.send(c.addr, &c.send_indication(p6, b"to six"));
    assert_eq!(fwd, Some((p6, b"to six".to_vec())));
    // A Data indication from an IPv6 peer carries its address (the largest header).
    let data = h.from_peer(c.addr, p6, b"from six").unwrap();
    let m = Message::from_bytes(&data).unwrap();
    assert_eq!(
        m.attribute::<XorPeerAddress>()
            .unwrap()
            .addr(m.transaction_id()),
        p6
    );
    assert!(is_success(&c.bind(&mut h, 0x4001, p6)));
    assert!(is_success(&c.bind(&mut h, 0x4002, p4)));
    assert_eq!(
        h.from_peer(c.addr, p6, b"six").unwrap(),
        channel_data(0x4001, b"six")
    );
    assert_eq!(
        h.from_peer(c.addr, p4, b"four").unwrap(),
        channel_data(0x4002, b"four")
    );

    // One release for both sockets when it ends.
    assert!(is_success(&c.refresh(&mut h, Some(0))));
    assert_eq!(h.released, [id]);
}

#[test]
fn coturns_draft_codepoint_of_additional_address_family_asks_for_both_too() {
    let mut h = dual();
    let mut c = alice("203.0.113.5:1000");
    let legacy = |w: &mut MessageWriteVec, _| {
        let value = [2, 0, 0, 0];
        w.add_attribute(&RawAttribute::new(LEGACY_ADDITIONAL_ADDRESS_FAMILY, &value))
            .unwrap();
    };
    let r = allocate_with(&mut c, &mut h, legacy);
    assert_eq!(
        relayed_all(&r).iter().map(|a| a.ip()).collect::<Vec<_>>(),
        [ip(V4), ip(V6)]
    );
}

#[test]
fn a_dual_allocation_whose_second_family_is_missing_or_fails_says_so() {
    let mut h = H::with(relaying(Some(V4), None));
    let mut c = alice("203.0.113.5:1000");
    let r = allocate_with(&mut c, &mut h, additional(AddressFamily::IPV6));
    assert!(is_success(&r));
    assert_eq!(relayed_all(&r).len(), 1);
    assert_eq!(address_error(&r), Some((AddressFamily::IPV6, 440)));
    assert_eq!(
        code(&c.permit(&mut h, addr("[::1]:40000"))),
        Some(443),
        "no IPv6 relayed address, no IPv6 peer"
    );

    let mut h = dual();
    h.fail_binds = vec![ip(V6)];
    let mut c = alice("203.0.113.5:1000");
    let r = allocate_with(&mut c, &mut h, additional(AddressFamily::IPV6));
    assert!(is_success(&r));
    assert_eq!(
        relayed_all(&r).iter().map(|a| a.ip()).collect::<Vec<_>>(),
        [ip(V4)]
    );
    assert_eq!(address_error(&r), Some((AddressFamily::IPV6, 508)));
}

#[test]
fn when_the_first_family_cannot_be_bound_the_allocate_gets_508_and_nothing_stays() {
    let mut h = dual();
    h.fail_binds = vec![ip(V4)];
    let mut c = alice("203.0.113.5:1000");
    let r = allocate_with(&mut c, &mut h, additional(AddressFamily::IPV6));
    assert_eq!(code(&r), Some(508));
    assert_eq!(h.server.allocations(), 0);
    assert_eq!(
        h.released.len(),
        1,
        "the IPv6 socket that did bind goes back"
    );
    // The quota was given back: the same user allocates again once binds work.
    h.fail_binds.clear();
    assert!(is_success(&c.allocate(&mut h, None)));
}

#[test]
fn peers_of_a_family_the_allocation_lacks_get_443() {
    let mut h = dual();
    let mut c = alice("[2001:db8:2::5]:1000");
    assert_eq!(relayed(&c.allocate(&mut h, None)).ip(), ip(V6));
    assert_eq!(code(&c.permit(&mut h, addr("127.0.0.1:40000"))), Some(443));
    assert_eq!(
        code(&c.bind(&mut h, 0x4000, addr("127.0.0.1:40000"))),
        Some(443)
    );
    assert!(is_success(&c.permit(&mut h, addr("[::1]:40000"))));
}

#[test]
fn the_policy_refuses_ipv6_peers_and_ipv4_ranges_behind_nat64_with_403() {
    let mut h = dual();
    let mut c = alice("[2001:db8:2::5]:1000");
    assert!(is_success(&c.allocate(&mut h, None)));
    for refused in [
        "[fd00::1]:5000",
        "[fe80::1]:5000",
        "[ff02::1]:5000",
        "[2001:db8::9]:5000",
        "[64:ff9b::a00:1]:5000",
        "[::ffff:10.0.0.1]:5000",
    ] {
        assert_eq!(
            code(&c.permit(&mut h, addr(refused))),
            Some(403),
            "{refused}"
        );
    }
    assert!(is_success(
        &c.permit(&mut h, addr("[2606:4700::1111]:5000"))
    ));
}

#[test]
fn refresh_may_name_only_a_family_the_allocation_has() {
    let mut h = dual();
    let mut c = alice("203.0.113.5:1000");
    assert!(is_success(&c.allocate(&mut h, None)));
    let refresh = |c: &C, family| {
        c.build(REFRESH, |w, _| {
            w.add_attribute(&RequestedAddressFamily::new(family))
                .unwrap()
        })
    };
    assert_eq!(
        code(&h.request(c.addr, &refresh(&c, AddressFamily::IPV6))),
        Some(443)
    );
    assert!(is_success(
        &h.request(c.addr, &refresh(&c, AddressFamily::IPV4))
    ));

    let mut d = alice("203.0.113.6:1000");
    assert!(is_success(&allocate_with(
        &mut d,
        &mut h,
        additional(AddressFamily::IPV6)
    )));
    assert!(is_success(
        &h.request(d.addr, &refresh(&d, AddressFamily::IPV6))
    ));
}

#[test]
fn a_dual_allocations_channel_routes_use_the_relayed_address_of_the_peers_family() {
    let mut cfg = relaying(Some(V4), Some(V6));
    cfg.channel_routes = true;
    let mut h = H::with(cfg);
    let mut c = alice("203.0.113.5:1000");
    let r = allocate_with(&mut c, &mut h, additional(AddressFamily::IPV6));
    let relays = relayed_all(&r);
    let p6 = addr("[::1]:40000");
    assert!(is_success(&c.bind(&mut h, 0x4001, p6)));
    let set: Vec<_> = h
        .routes
        .iter()
        .filter_map(|r| match r {
            RouteChange::Set { route, .. } => Some(*route),
            RouteChange::Clear { .. } => None,
        })
        .collect();
    assert_eq!(set.len(), 1);
    assert_eq!(set[0].relay, relays[1]);
    assert_eq!(set[0].peer, p6);
}

fn udp(a: std::net::SocketAddr) -> relay_proto::Client {
    relay_proto::Client {
        transport: relay_proto::Transport::Udp,
        addr: a,
    }
}
