//! Stream connections: the core closes those that stay idle without an allocation (RFC 8656
//! section 3.1) and those beyond its limit, so idle and junk connections cannot pile up.

use std::time::Duration;

use relay_proto::{Client, CloseReason, Input, Transport};
use stun_types::message::{BINDING, MessageWriteExt};
use turn_types::attribute::RequestedTransport;
use turn_types::message::ALLOCATE;

use super::harness::*;

fn open(h: &mut H, id: u64) -> Client {
    let client = Client {
        transport: Transport::Tcp(id),
        addr: addr(&format!("203.0.113.{id}:1000")),
    };
    h.input(Input::ConnectionOpened { client });
    client
}

#[test]
fn an_idle_connection_without_an_allocation_is_closed_after_30_s() {
    let mut h = H::new();
    let tcp = open(&mut h, 1);
    h.advance(Duration::from_secs(20));
    // Anything it sends restarts the wait.
    let binding = C::new("203.0.113.1:1000", Creds::None).build(BINDING, |_, _| {});
    assert_eq!(h.send_on(tcp, &binding).1.len(), 1);
    h.advance(Duration::from_secs(29));
    assert!(h.closed.is_empty(), "{:?}", h.closed);
    h.advance(Duration::from_secs(2));
    assert_eq!(
        h.closed,
        [(Transport::Tcp(1), CloseReason::IdleWithoutAllocation)]
    );
    assert_eq!(h.server.footprint().connections, 0);
    assert_eq!(h.server.footprint().timers, 0);
}

#[test]
fn a_connection_with_an_allocation_stays_until_the_allocation_ends() {
    let mut h = H::new();
    let tcp = open(&mut h, 2);
    let mut c = C::new(
        "203.0.113.2:1000",
        Creds::LongTerm("alice".into(), "secret".into()),
    );
    assert!(is_success(&c.allocate_on(&mut h, tcp)));
    assert_eq!(
        h.server.footprint().timers,
        1,
        "the allocation's end only: {:?}",
        h.server.footprint()
    );
    h.advance(Duration::from_secs(300));
    assert!(h.closed.is_empty(), "{:?}", h.closed);
    // The allocation expires at 600 s; the connection then waits 30 s for a new one.
    h.advance(Duration::from_secs(301));
    assert_eq!(h.server.allocations(), 0);
    assert!(h.closed.is_empty(), "{:?}", h.closed);
    h.advance(Duration::from_secs(30));
    assert_eq!(
        h.closed,
        [(Transport::Tcp(2), CloseReason::IdleWithoutAllocation)]
    );
}

#[test]
fn connections_beyond_the_limit_are_closed_at_once_and_closed_ones_are_forgotten() {
    let mut cfg = config();
    cfg.max_connections = 2;
    let mut h = H::with(cfg);
    open(&mut h, 1);
    open(&mut h, 2);
    assert!(h.closed.is_empty());
    open(&mut h, 3);
    assert_eq!(
        h.closed,
        [(Transport::Tcp(3), CloseReason::TooManyConnections)]
    );
    // A connection the driver saw close frees its place and its timer.
    h.input(Input::ConnectionClosed {
        transport: Transport::Tcp(1),
    });
    assert_eq!(h.server.footprint().connections, 1);
    assert_eq!(h.server.footprint().timers, 1);
    open(&mut h, 4);
    assert_eq!(h.closed.len(), 1);
}

#[test]
fn unauthenticated_requests_over_streams_are_answered_beyond_the_udp_rate_limit() {
    // 200 clients behind one address, each on its own connection (an office NAT): over
    // UDP the per-source limit would answer about 40; over TCP nobody would retransmit.
    let mut h = H::new();
    let c = C::new("203.0.113.5:1000", Creds::None);
    let req = c.build(ALLOCATE, |w, _| {
        w.add_attribute(&RequestedTransport::new(17)).unwrap()
    });
    let answered = (0..200u64)
        .filter(|i| {
            let client = Client {
                transport: Transport::Tcp(1000 + i),
                addr: addr(&format!("203.0.113.5:{}", 2000 + i)),
            };
            h.input(Input::ConnectionOpened { client });
            code(&h.send_on(client, &req).1.concat()) == Some(401)
        })
        .count();
    assert_eq!(answered, 200);
    assert_eq!(h.server.stats().rate_limited, 0);
}

#[test]
fn a_connection_reported_twice_keeps_one_deadline() {
    let mut h = H::new();
    open(&mut h, 1);
    h.advance(Duration::from_secs(10));
    open(&mut h, 1);
    assert_eq!(h.server.footprint().connections, 1);
    assert_eq!(h.server.footprint().timers, 1, "{:?}", h.server.footprint());
    h.advance(Duration::from_secs(21));
    assert_eq!(
        h.closed,
        [(Transport::Tcp(1), CloseReason::IdleWithoutAllocation)]
    );
    assert_eq!(h.server.footprint().timers, 0);
}
