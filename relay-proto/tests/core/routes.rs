//! Channel routes for the kernel fast path: reported with the right deadline, moved when a
//! request moves it, withdrawn with the channel's permission or the allocation, never for TCP.

use std::time::Duration;

use relay_proto::{ChannelRoute, Client, Output, RouteChange, Transport};
use stun_types::message::MessageWriteExt;
use turn_types::attribute::{ChannelNumber, XorPeerAddress};
use turn_types::message::CHANNEL_BIND;

use super::harness::*;

const PEER: &str = "127.0.0.1:40000";

fn h() -> H {
    let mut cfg = config();
    cfg.channel_routes = true;
    H::with(cfg)
}

fn alice(a: &str) -> C {
    C::new(a, Creds::LongTerm("alice".into(), "secret".into()))
}

/// The last Set for `channel`: the route and its deadline as seconds after t0.
fn last_set(h: &H, channel: u16) -> Option<(ChannelRoute, u64)> {
    h.routes.iter().rev().find_map(|c| match c {
        RouteChange::Set { route, until } if route.channel == channel => {
            Some((*route, (*until - h.t0).as_secs()))
        }
        _ => None,
    })
}

fn clears(h: &H) -> usize {
    h.routes
        .iter()
        .filter(|c| matches!(c, RouteChange::Clear { .. }))
        .count()
}

#[test]
fn a_bound_channel_is_a_route_until_its_permission_ends() {
    let mut h = h();
    let mut c = alice("203.0.113.5:1000");
    let relay = relayed(&c.allocate(&mut h, Some(3600)));
    assert!(h.routes.is_empty(), "no channel yet: {:?}", h.routes);
    let peer = addr(PEER);
    // A permission alone is no route: it has no channel number.
    assert!(is_success(&c.permit(&mut h, peer)));
    assert!(h.routes.is_empty());
    assert!(is_success(&c.bind(&mut h, 0x4001, peer)));
    let (route, until) = last_set(&h, 0x4001).expect("a route for the channel");
    assert_eq!(route.client, c.addr);
    assert_eq!(route.relay, relay);
    assert_eq!(route.peer, peer);
    // Channel 600 s, permission 300 s, allocation 3600 s: the permission ends first.
    assert_eq!(until, 300);

    // A new permission at 200 s moves the deadline to 500 s.
    h.advance(Duration::from_secs(200));
    let before = h.routes.len();
    assert!(is_success(&c.permit(&mut h, peer)));
    assert_eq!(h.routes.len(), before + 1, "one Set for the new deadline");
    assert_eq!(last_set(&h, 0x4001).map(|(_, u)| u), Some(500));
    // A request that changes nothing reports nothing.
    let before = h.routes.len();
    assert!(is_success(&c.permit(&mut h, addr("127.0.0.2:1"))));
    assert_eq!(
        h.routes.len(),
        before,
        "another peer's permission moved nothing: {:?}",
        &h.routes[before..]
    );
    assert_eq!(clears(&h), 0);

    // Past the permission (and with the channel still bound), a refresh withdraws the route.
    h.advance(Duration::from_secs(301));
    assert!(is_success(&c.refresh(&mut h, Some(3600))));
    assert_eq!(clears(&h), 1);
    assert!(
        matches!(h.routes.last(), Some(RouteChange::Clear { route: r }) if r.channel == 0x4001)
    );
}

#[test]
fn the_allocation_lifetime_caps_the_route_and_its_end_withdraws_it() {
    let mut cfg = config();
    cfg.channel_routes = true;
    (cfg.default_lifetime, cfg.max_lifetime) = (120, 120);
    let mut h = H::with(cfg);
    let mut c = alice("203.0.113.6:1000");
    c.allocate(&mut h, None);
    assert!(is_success(&c.bind(&mut h, 0x4002, addr(PEER))));
    assert_eq!(
        last_set(&h, 0x4002).map(|(_, u)| u),
        Some(120),
        "the allocation's 120 s come first"
    );
    // Refreshed at 100 s, the allocation (and the route) last until 220 s.
    h.advance(Duration::from_secs(100));
    assert!(is_success(&c.refresh(&mut h, None)));
    assert_eq!(last_set(&h, 0x4002).map(|(_, u)| u), Some(220));
    // The allocation expires: its route is withdrawn before its relay socket is released.
    h.advance(Duration::from_secs(121));
    assert_eq!(h.released.len(), 1);
    assert!(
        matches!(h.routes.last(), Some(RouteChange::Clear { route: r }) if r.channel == 0x4002)
    );
}

#[test]
fn refresh_zero_withdraws_every_route() {
    let mut h = h();
    let mut c = alice("203.0.113.7:1000");
    c.allocate(&mut h, Some(600));
    assert!(is_success(&c.bind(&mut h, 0x4001, addr("127.0.0.1:40000"))));
    assert!(is_success(&c.bind(&mut h, 0x4002, addr("127.0.0.1:40001"))));
    assert_eq!(clears(&h), 0);
    c.refresh(&mut h, Some(0));
    assert_eq!(clears(&h), 2);
    assert_eq!(h.released.len(), 1);
}

#[test]
fn tcp_clients_and_default_configs_get_no_routes() {
    // TCP: the fast path rewrites UDP datagrams only.
    let mut h = h();
    let mut c = alice("203.0.113.8:1000");
    let tcp = Client {
        transport: Transport::Tcp(7),
        addr: c.addr,
    };
    assert!(is_success(&c.allocate_on(&mut h, tcp)));
    let bind = c.build(CHANNEL_BIND, |w, tx| {
        w.add_attribute(&ChannelNumber::new(0x4001)).unwrap();
        w.add_attribute(&XorPeerAddress::new(addr(PEER), tx))
            .unwrap();
    });
    let (_, r) = h.send_on(tcp, &bind);
    assert!(is_success(&r[0]));
    assert!(h.routes.is_empty(), "{:?}", h.routes);

    // Without channel_routes (the default), nothing is reported.
    let mut h = H::new();
    let mut c = alice("203.0.113.9:1000");
    c.allocate(&mut h, Some(600));
    assert!(is_success(&c.bind(&mut h, 0x4001, addr(PEER))));
    assert!(h.routes.is_empty());
}

#[test]
fn a_route_reaches_the_driver_before_the_response_and_leaves_before_the_relay_socket() {
    let mut h = h();
    let mut c = alice("203.0.113.10:1000");
    c.allocate(&mut h, Some(600));
    let peer = addr(PEER);

    let before = h.outputs.len();
    assert!(is_success(&c.bind(&mut h, 0x4001, peer)));
    let bind = &h.outputs[before..];
    let set = bind
        .iter()
        .position(|o| matches!(o, Output::Route(RouteChange::Set { .. })));
    let reply = bind.iter().position(|o| matches!(o, Output::Transmit(_)));
    assert!(
        set.is_some() && set < reply,
        "the route first, then the ChannelBind success: {bind:?}"
    );

    let before = h.outputs.len();
    assert!(is_success(&c.refresh(&mut h, Some(0))));
    let end = &h.outputs[before..];
    let clear = end
        .iter()
        .position(|o| matches!(o, Output::Route(RouteChange::Clear { .. })));
    let release = end
        .iter()
        .position(|o| matches!(o, Output::ReleaseRelay { .. }));
    let reply = end.iter().position(|o| matches!(o, Output::Transmit(_)));
    assert!(
        clear.is_some() && clear < release && release < reply,
        "the route cleared, then the relay socket released, then the Refresh success: {end:?}"
    );
}
