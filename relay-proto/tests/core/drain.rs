//! Draining: new allocations are refused (508, or 300 with ALTERNATE-SERVER when an
//! alternate of the client's family is configured), signed with the request's key, while
//! existing allocations keep relaying, refreshing, and changing permissions and channels.

use std::net::SocketAddr;
use std::sync::Arc;

use relay_proto::{Event, Input, QuotaCounts, TurnError};
use stun_types::attribute::{AlternateServer, AttributeStaticType};
use stun_types::message::{Message, MessageWriteExt};
use turn_types::attribute::RequestedTransport;
use turn_types::message::ALLOCATE;

use super::harness::*;

const PEER: &str = "127.0.0.1:40000";

fn alice(a: &str) -> C {
    C::new(a, Creds::LongTerm("alice".into(), "secret".into()))
}

fn bob(a: &str) -> C {
    C::new(a, Creds::LongTerm("bob".into(), "hunter2".into()))
}

fn alternate(reply: &[u8]) -> Option<SocketAddr> {
    let m = Message::from_bytes(reply).unwrap();
    m.attribute::<AlternateServer>().ok().map(|a| a.server())
}

#[test]
fn a_draining_relay_refuses_new_allocations_and_keeps_the_old_ones() {
    let mut h = H::new();
    let mut a = alice("203.0.113.5:1000");
    // Alice's Allocate, kept to retransmit it later.
    let unsigned = a.build(ALLOCATE, |w, _| {
        w.add_attribute(&RequestedTransport::new(17)).unwrap()
    });
    a.nonce = Some(attr_nonce(&h.request(a.addr, &unsigned)));
    let allocate = a.build(ALLOCATE, |w, _| {
        w.add_attribute(&RequestedTransport::new(17)).unwrap()
    });
    let granted = h.request(a.addr, &allocate);
    assert!(is_success(&granted));
    let peer = addr(PEER);
    assert!(is_success(&a.permit(&mut h, peer)));

    assert!(!h.server.is_draining());
    assert!(h.input(Input::Drain).is_empty(), "draining sends nothing");
    assert!(h.server.is_draining());

    // A new allocation: challenged as ever, then refused with 508, signed with Bob's key.
    let mut b = bob("203.0.113.6:1000");
    let refused = b.allocate(&mut h, None);
    assert_eq!(code(&refused), Some(508));
    assert!(signed_with(&refused, &b.key().unwrap()));
    assert_eq!(alternate(&refused), None);
    assert_eq!(h.server.allocations(), 1);
    assert_eq!(h.server.stats().refused_draining, 1);
    assert!(h.events.iter().any(|e| matches!(
        e,
        Event::Refused { error: TurnError::InsufficientCapacity, account: Some(u), .. } if u.to_string() == "bob"
    )));
    // Draining twice changes nothing.
    assert!(h.input(Input::Drain).is_empty());

    // The old allocation: a retransmitted Allocate gets the same answer, and it refreshes,
    // permits, binds and relays both ways.
    assert_eq!(h.request(a.addr, &allocate), granted);
    assert_eq!(lifetime(&a.refresh(&mut h, Some(1200))), 1200);
    assert!(is_success(&a.permit(&mut h, addr("127.0.0.2:9"))));
    assert!(is_success(&a.bind(&mut h, 0x4001, peer)));
    let (fwd, _) = h.send(a.addr, &channel_data(0x4001, b"still here"));
    assert_eq!(fwd, Some((peer, b"still here".to_vec())));
    assert!(h.from_peer(a.addr, peer, b"and back").is_some());

    // Until it ends; then the relay holds nothing.
    assert!(is_success(&a.refresh(&mut h, Some(0))));
    assert_eq!(h.server.allocations(), 0);
    let mut again = alice("203.0.113.5:1001");
    assert_eq!(code(&again.allocate(&mut h, None)), Some(508));
}

#[test]
fn a_draining_relay_with_an_alternate_answers_300_of_the_clients_family() {
    let mut cfg = config();
    let v4: SocketAddr = "192.0.2.50:3478".parse().unwrap();
    let v6: SocketAddr = "[2001:db8::50]:3478".parse().unwrap();
    cfg.alternate_servers = vec![v6, v4];
    let mut h = H::with(cfg);
    h.input(Input::Drain);
    let mut c = alice("203.0.113.5:1000");
    let r = c.allocate(&mut h, None);
    assert_eq!(code(&r), Some(300));
    assert_eq!(
        alternate(&r),
        Some(v4),
        "the alternate of the client's family"
    );
    assert!(signed_with(&r, &c.key().unwrap()), "a 300 must be signed");
    assert!(has(&r, AlternateServer::TYPE));

    let mut cfg = config();
    cfg.alternate_servers = vec![v6];
    let mut h = H::with(cfg);
    h.input(Input::Drain);
    let r = alice("203.0.113.5:1000").allocate(&mut h, None);
    assert_eq!(code(&r), Some(508), "no alternate of the client's family");
    assert_eq!(alternate(&r), None);
}

#[test]
fn a_draining_relay_still_challenges_and_refuses_bad_credentials_first() {
    let mut h = H::new();
    h.input(Input::Drain);
    let mut c = C::new(
        "203.0.113.5:1000",
        Creds::LongTerm("alice".into(), "wrong".into()),
    );
    assert_eq!(code(&c.allocate(&mut h, None)), Some(401));
    assert_eq!(h.server.stats().refused_draining, 0);
}

#[test]
fn every_core_of_a_relay_drains_on_its_own_input() {
    let cfg = Arc::new(config());
    let t0 = std::time::Instant::now();
    let mut one = H::sharing(cfg.clone(), QuotaCounts::new(0, 0), t0);
    let mut two = H::sharing(cfg, QuotaCounts::new(0, 0), t0);
    one.input(Input::Drain);
    assert_eq!(
        code(&alice("203.0.113.5:1000").allocate(&mut one, None)),
        Some(508)
    );
    assert!(is_success(
        &alice("203.0.113.5:1000").allocate(&mut two, None)
    ));
}
