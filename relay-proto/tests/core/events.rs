//! What the core reports besides its responses: allocation events with who and why (for
//! logs, metrics and usage records), and the next deadline it asks the driver to keep.

use std::time::Duration;

use relay_proto::{EndReason, Event, Input, Mechanism, QuotaCounts, Transport, TurnError};

use super::harness::*;

fn alice(a: &str) -> C {
    C::new(a, Creds::LongTerm("alice".into(), "secret".into()))
}

fn ended(h: &H) -> Vec<EndReason> {
    h.events
        .iter()
        .filter_map(|e| match e {
            Event::AllocationEnded { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect()
}

#[test]
fn created_and_refreshed_say_who_and_for_how_long() {
    let mut h = H::new();
    let mut c = alice("203.0.113.5:1000");
    let relay = relayed(&c.allocate(&mut h, Some(900)));
    let created = h.events.iter().find_map(|e| match e {
        Event::AllocationCreated { info, lifetime } => Some((info.clone(), *lifetime)),
        _ => None,
    });
    let (info, lifetime) = created.expect("an AllocationCreated event");
    assert_eq!(lifetime, 900);
    assert_eq!(info.account.to_string(), "alice");
    assert_eq!(info.mechanism, Mechanism::Static);
    assert_eq!(info.client.addr, c.addr);
    assert_eq!(info.relay, Some(relay));
    assert_eq!(info.token_id, None);

    assert!(is_success(&c.refresh(&mut h, Some(1200))));
    assert!(h.events.iter().any(|e| matches!(
        e,
        Event::AllocationRefreshed { info, lifetime: 1200 } if info.account.to_string() == "alice"
    )));
}

#[test]
fn each_end_has_its_reason() {
    let mut h = H::new();
    // The client deletes it.
    let mut a = alice("203.0.113.1:1000");
    a.allocate(&mut h, None);
    a.refresh(&mut h, Some(0));
    // Its lifetime runs out.
    let mut b = alice("203.0.113.2:1000");
    b.allocate(&mut h, Some(1000));
    // Its token runs out first, carrying the token id.
    let (kid, tok, mac) = token(&h, 120, 4);
    let mut t = C::new(
        "203.0.113.3:1000",
        Creds::Token(kid, tok, mac.secret().to_vec()),
    );
    assert!(is_success(&t.allocate(&mut h, Some(3600))));
    assert_eq!(ended(&h), [EndReason::Deleted]);
    h.advance(Duration::from_secs(126));
    assert_eq!(
        ended(&h),
        [EndReason::Deleted, EndReason::CredentialExpired]
    );
    let token_id = h.events.iter().rev().find_map(|e| match e {
        Event::AllocationEnded { info, .. } => Some(info.token_id),
        _ => None,
    });
    assert!(
        matches!(token_id, Some(Some(_))),
        "the token's id: {token_id:?}"
    );
    h.advance(Duration::from_secs(1000));
    assert_eq!(
        ended(&h),
        [
            EndReason::Deleted,
            EndReason::CredentialExpired,
            EndReason::LifetimeOver
        ]
    );
    // Its stream connection closes.
    let client = relay_proto::Client {
        transport: Transport::Tcp(9),
        addr: addr("203.0.113.4:1000"),
    };
    let mut c = alice("203.0.113.4:1000");
    assert!(is_success(&c.allocate_on(&mut h, client)));
    h.input(Input::ConnectionClosed {
        transport: Transport::Tcp(9),
    });
    assert_eq!(ended(&h).last(), Some(&EndReason::ConnectionClosed));
    assert_eq!(h.server.allocations(), 0);
}

#[test]
fn refusals_and_failed_authentication_are_reported() {
    let mut h = H::with_quota(config(), QuotaCounts::new(1, 0));
    assert!(is_success(&alice("203.0.113.1:1").allocate(&mut h, None)));
    assert_eq!(
        code(&alice("203.0.113.2:1").allocate(&mut h, None)),
        Some(486)
    );
    assert!(h.events.iter().any(|e| matches!(
        e,
        Event::Refused { error: TurnError::AllocationQuotaReached, account: Some(u), .. } if u.to_string() == "alice"
    )));
    let mut wrong = C::new(
        "203.0.113.3:1",
        Creds::LongTerm("alice".into(), "wrong".into()),
    );
    assert_eq!(code(&wrong.allocate(&mut h, None)), Some(401));
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e, Event::AuthFailed { client, .. } if client.addr == wrong.addr))
    );
}

#[test]
fn the_next_deadline_is_the_earliest_allocation_end() {
    let mut h = H::new();
    assert_eq!(h.server.poll_timeout(), None, "nothing to time");
    let mut a = alice("203.0.113.1:1000");
    a.allocate(&mut h, Some(900));
    let mut b = alice("203.0.113.2:1000");
    b.allocate(&mut h, Some(700));
    let at = |h: &H| h.server.poll_timeout().map(|t| (t - h.t0).as_secs());
    assert_eq!(at(&h), Some(700));
    // A Refresh moves it; the old deadline is gone, not left to fire for nothing.
    assert!(is_success(&b.refresh(&mut h, Some(1000))));
    assert_eq!(at(&h), Some(900));
    assert_eq!(h.server.footprint().timers, 2);
    a.refresh(&mut h, Some(0));
    assert_eq!(at(&h), Some(1000));
    b.refresh(&mut h, Some(0));
    assert_eq!(at(&h), None);
    assert_eq!(h.server.footprint().timers, 0);
}

#[test]
fn an_ended_allocation_says_what_it_relayed() {
    // Payload bytes each way, without TURN's framing, whichever way the client sent them;
    // what was not forwarded (no permission) is not counted; live figures are readable.
    let mut h = H::new();
    let mut c = alice("203.0.113.9:1000");
    c.allocate(&mut h, None);
    let peer = addr("127.0.0.1:40000");
    let stranger = addr("127.0.0.2:40000");
    assert!(is_success(&c.bind(&mut h, 0x4001, peer)));
    assert!(h.send(c.addr, &channel_data(0x4001, &[1; 100])).0.is_some());
    assert!(
        h.send(c.addr, &c.send_indication(peer, &[2; 30]))
            .0
            .is_some()
    );
    assert!(
        h.send(c.addr, &c.send_indication(stranger, &[3; 70]))
            .0
            .is_none()
    );
    assert!(h.from_peer(c.addr, peer, &[4; 250]).is_some());
    assert!(h.from_peer(c.addr, stranger, &[5; 99]).is_none());

    let live: Vec<_> = h.server.traffic().collect();
    assert_eq!(live.len(), 1);
    let (info, so_far) = &live[0];
    assert_eq!(info.client.addr, c.addr);
    assert_eq!((so_far.to_peer.packets, so_far.to_peer.bytes), (2, 130));
    assert_eq!((so_far.to_client.packets, so_far.to_client.bytes), (1, 250));

    c.refresh(&mut h, Some(0));
    let traffic = h.events.iter().find_map(|e| match e {
        Event::AllocationEnded { traffic, .. } => Some(*traffic),
        _ => None,
    });
    assert_eq!(traffic, Some(*so_far));
    assert_eq!(h.server.traffic().count(), 0);
}
