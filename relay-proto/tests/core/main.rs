//! The protocol core on a virtual clock: every lifetime, expiry, stale nonce, quota,
//! peer policy and error path, and malformed input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod accounts;
mod caps;
mod connections;
mod drain;
mod events;
mod families;
mod harness;
mod integrity;
mod malformed;
mod nat;
mod reflection;
mod revocation;
mod routes;
mod throttle;

use std::time::Duration;

use harness::*;
use relay_proto::wire::THIRD_PARTY_AUTHORIZATION;
use relay_proto::{Client, Input, QuotaCounts, Transport};
use stun_types::attribute::{AttributeStaticType, Nonce, Realm, XorMappedAddress};
use stun_types::message::{BINDING, Message, MessageWrite, MessageWriteExt, MessageWriteVec};
use turn_types::attribute::{DontFragment, RequestedTransport};
use turn_types::message::ALLOCATE;

const PEER: &str = "127.0.0.1:40000";

fn alice(a: &str) -> C {
    C::new(a, Creds::LongTerm("alice".into(), "secret".into()))
}

#[test]
fn binding_is_answered_without_credentials() {
    let mut h = H::new();
    let c = C::new("203.0.113.5:1000", Creds::None);
    let r = h.request(c.addr, &c.build(BINDING, |_, _| {}));
    let m = Message::from_bytes(&r).unwrap();
    assert_eq!(
        m.attribute::<XorMappedAddress>()
            .unwrap()
            .addr(m.transaction_id()),
        c.addr
    );
}

#[test]
fn allocate_challenge_then_success_with_everything_chromium_needs() {
    let mut h = H::new();
    let mut c = alice("203.0.113.5:1000");
    let first = h.request(
        c.addr,
        &c.build(ALLOCATE, |w, _| {
            w.add_attribute(&RequestedTransport::new(17)).unwrap()
        }),
    );
    assert_eq!(code(&first), Some(401));
    let m = Message::from_bytes(&first).unwrap();
    assert_eq!(m.attribute::<Realm>().unwrap().realm(), REALM);
    assert!(m.attribute::<Nonce>().is_ok());
    assert!(
        has(&first, THIRD_PARTY_AUTHORIZATION),
        "tokens are on: 401 names the server"
    );
    assert!(
        !has(&first, fingerprint_type()),
        "no FINGERPRINT unless the request had one"
    );

    c.nonce = Some(attr_nonce(&first));
    c.fingerprint = true;
    let ok = h.request(
        c.addr,
        &c.build(ALLOCATE, |w, _| {
            w.add_attribute(&RequestedTransport::new(17)).unwrap()
        }),
    );
    assert!(is_success(&ok), "{:?}", code(&ok));
    assert_eq!(relayed(&ok).ip().to_string(), "198.51.100.1");
    let m = Message::from_bytes(&ok).unwrap();
    assert_eq!(
        m.attribute::<XorMappedAddress>()
            .unwrap()
            .addr(m.transaction_id()),
        c.addr
    );
    assert_eq!(lifetime(&ok), 600);
    assert!(signed_with(&ok, &c.key().unwrap()));
    assert!(has(&ok, fingerprint_type()));
}

#[test]
fn wrong_password_and_unknown_user_get_401() {
    let mut h = H::new();
    let mut c = C::new(
        "203.0.113.5:1000",
        Creds::LongTerm("alice".into(), "wrong".into()),
    );
    assert_eq!(code(&c.allocate(&mut h, None)), Some(401));
    let mut c = C::new(
        "203.0.113.6:1000",
        Creds::LongTerm("mallory".into(), "x".into()),
    );
    assert_eq!(code(&c.allocate(&mut h, None)), Some(401));
    assert_eq!(h.server.allocations(), 0);
}

#[test]
fn nonces_go_stale_and_are_bound_to_the_address() {
    let mut h = H::new();
    let mut c = alice("203.0.113.5:1000");
    assert!(is_success(&c.allocate(&mut h, Some(3600))));
    h.advance(Duration::from_secs(601));
    // Stale: 438 with a new nonce, then the retry works.
    let r = h.request(c.addr, &c.build(turn_types::message::REFRESH, |_, _| {}));
    assert_eq!(code(&r), Some(438));
    c.nonce = Some(attr_nonce(&r));
    assert!(is_success(&c.refresh(&mut h, None)));
    // Another address cannot use this client's nonce.
    let mut other = alice("203.0.113.9:2000");
    other.nonce = c.nonce.clone();
    let r = other.build(ALLOCATE, |w, _| {
        w.add_attribute(&RequestedTransport::new(17)).unwrap()
    });
    assert_eq!(code(&h.request(other.addr, &r)), Some(401));
}

#[test]
fn allocation_mismatch_and_retransmission() {
    let mut h = H::new();
    let mut c = alice("203.0.113.5:1000");
    let req = |c: &C| {
        c.build(ALLOCATE, |w, _| {
            w.add_attribute(&RequestedTransport::new(17)).unwrap()
        })
    };
    c.nonce = Some(attr_nonce(&h.request(c.addr, &req(&c))));
    let first = req(&c);
    let ok = h.request(c.addr, &first);
    assert!(is_success(&ok));
    // The same request again (a retransmission) gets the same answer.
    assert_eq!(h.request(c.addr, &first), ok);
    // A new Allocate on the same 5-tuple: 437.
    assert_eq!(code(&h.request(c.addr, &req(&c))), Some(437));
}

#[test]
fn transport_and_family_errors() {
    let mut h = H::new();
    let mut c = alice("203.0.113.5:1000");
    c.nonce = Some(attr_nonce(
        &h.request(c.addr, &c.build(ALLOCATE, |_, _| {})),
    ));
    assert_eq!(
        code(&h.request(c.addr, &c.build(ALLOCATE, |_, _| {}))),
        Some(400),
        "no REQUESTED-TRANSPORT"
    );
    let tcp = c.build(ALLOCATE, |w, _| {
        w.add_attribute(&RequestedTransport::new(6)).unwrap()
    });
    assert_eq!(code(&h.request(c.addr, &tcp)), Some(442));
    let v6 = c.build(ALLOCATE, |w, _| {
        w.add_attribute(&RequestedTransport::new(17)).unwrap();
        w.add_attribute(&turn_types::attribute::RequestedAddressFamily::new(
            stun_types::AddressFamily::IPV6,
        ))
        .unwrap();
    });
    assert_eq!(code(&h.request(c.addr, &v6)), Some(440));
    assert!(is_success(&c.allocate(&mut h, None)));
    assert_eq!(
        code(&c.permit(&mut h, addr("[2001:db8::1]:5000"))),
        Some(443)
    );
}

#[test]
fn unknown_comprehension_required_attributes_get_420() {
    let mut h = H::new();
    let mut c = alice("203.0.113.5:1000");
    c.nonce = Some("x".into());
    let r = c.build(ALLOCATE, |w, _| {
        w.add_attribute(&RequestedTransport::new(17)).unwrap();
        w.add_attribute(&DontFragment::new()).unwrap();
        w.add_attribute(&stun_types::attribute::RawAttribute::new(
            stun_types::attribute::AttributeType::new(0x0055),
            &[1, 2],
        ))
        .unwrap();
        // Comprehension-optional unknowns are ignored.
        w.add_attribute(&stun_types::attribute::RawAttribute::new(
            stun_types::attribute::AttributeType::new(0x8055),
            &[1],
        ))
        .unwrap();
    });
    let reply = h.request(c.addr, &r);
    assert_eq!(code(&reply), Some(420));
    assert_eq!(
        unknown_attrs(&reply),
        vec![DontFragment::TYPE.value(), 0x0055]
    );
}

#[test]
fn even_port_is_honoured() {
    let mut h = H::new();
    let mut c = alice("203.0.113.5:1000");
    c.nonce = Some(attr_nonce(
        &h.request(c.addr, &c.build(ALLOCATE, |_, _| {})),
    ));
    let r = c.build(ALLOCATE, |w, _| {
        w.add_attribute(&RequestedTransport::new(17)).unwrap();
        w.add_attribute(&turn_types::attribute::EvenPort::new(false))
            .unwrap();
    });
    let ok = h.request(c.addr, &r);
    assert_eq!(relayed(&ok).port() % 2, 0);
}

#[test]
fn lifetimes_default_requested_capped_and_expiry() {
    let mut h = H::new();
    let mut a = alice("203.0.113.5:1000");
    assert_eq!(lifetime(&a.allocate(&mut h, Some(3000))), 3000);
    let mut b = alice("203.0.113.6:1000");
    assert_eq!(
        lifetime(&b.allocate(&mut h, Some(100_000))),
        3600,
        "capped at the maximum"
    );
    let mut c = alice("203.0.113.7:1000");
    assert_eq!(
        lifetime(&c.allocate(&mut h, Some(30))),
        600,
        "never below the default"
    );
    assert_eq!(lifetime(&c.refresh(&mut h, Some(900))), 900);
    // Expiry ends the allocation and releases its relay socket.
    h.advance(Duration::from_secs(899));
    assert_eq!(h.server.allocations(), 3);
    h.advance(Duration::from_secs(2));
    assert_eq!(h.server.allocations(), 2);
    assert_eq!(h.released.len(), 1);
    // After it ended, a Refresh gets 437 (after a 438 for the stale nonce, which the
    // client helper answers).
    assert_eq!(code(&c.refresh(&mut h, None)), Some(437));
}

#[test]
fn refresh_with_lifetime_zero_deletes() {
    let mut h = H::new();
    let mut c = alice("203.0.113.5:1000");
    c.allocate(&mut h, None);
    let r = c.refresh(&mut h, Some(0));
    assert!(is_success(&r));
    assert_eq!(lifetime(&r), 0);
    assert_eq!(h.server.allocations(), 0);
    assert_eq!(h.released.len(), 1);
}

#[test]
fn other_credentials_on_an_allocation_get_441() {
    let mut h = H::new();
    let mut c = alice("203.0.113.5:1000");
    c.allocate(&mut h, None);
    let nonce = c.nonce.clone();
    let mut b = C::new(
        "203.0.113.5:1000",
        Creds::LongTerm("bob".into(), "hunter2".into()),
    );
    b.nonce = nonce;
    assert_eq!(code(&b.refresh(&mut h, None)), Some(441));
    let _ = &mut b;
}

#[test]
fn permissions_gate_send_and_data_and_expire() {
    let mut h = H::new();
    let mut c = alice("203.0.113.5:1000");
    c.allocate(&mut h, None);
    let peer = addr(PEER);
    // No permission: nothing goes either way.
    assert_eq!(h.send(c.addr, &c.send_indication(peer, b"hi")).0, None);
    assert_eq!(h.from_peer(c.addr, peer, b"hello"), None);
    assert!(is_success(&c.permit(&mut h, peer)));
    assert_eq!(
        h.send(c.addr, &c.send_indication(peer, b"hi")).0,
        Some((peer, b"hi".to_vec()))
    );
    // Data indication to the client, which stun-types reads back.
    let data = h.from_peer(c.addr, peer, b"hello").unwrap();
    let m = Message::from_bytes(&data).unwrap();
    assert_eq!(m.method(), turn_types::message::DATA);
    assert_eq!(
        m.attribute::<turn_types::attribute::XorPeerAddress>()
            .unwrap()
            .addr(m.transaction_id()),
        peer
    );
    assert_eq!(
        m.attribute::<turn_types::attribute::Data<'_>>()
            .unwrap()
            .data(),
        b"hello"
    );
    // Permissions last 300 s unless refreshed.
    h.advance(Duration::from_secs(299));
    assert!(h.from_peer(c.addr, peer, b"x").is_some());
    h.advance(Duration::from_secs(2));
    assert_eq!(h.from_peer(c.addr, peer, b"x"), None);
    assert_eq!(h.send(c.addr, &c.send_indication(peer, b"hi")).0, None);
}

#[test]
fn channels_bind_relay_and_expire() {
    let mut h = H::new();
    let mut c = alice("203.0.113.5:1000");
    c.allocate(&mut h, Some(3600));
    let peer = addr(PEER);
    assert_eq!(
        h.send(c.addr, &channel_data(0x4001, b"x")).0,
        None,
        "unbound channel"
    );
    assert!(is_success(&c.bind(&mut h, 0x4001, peer)));
    assert_eq!(
        h.send(c.addr, &channel_data(0x4001, b"abc")).0,
        Some((peer, b"abc".to_vec()))
    );
    assert_eq!(
        h.from_peer(c.addr, peer, b"xyz").unwrap(),
        channel_data(0x4001, b"xyz")
    );
    // Errors: out of range, number taken by another peer, peer bound to another number.
    assert_eq!(code(&c.bind(&mut h, 0x3fff, peer)), Some(400));
    assert_eq!(
        code(&c.bind(&mut h, 0x4001, addr("127.0.0.1:40001"))),
        Some(400)
    );
    assert_eq!(code(&c.bind(&mut h, 0x4002, peer)), Some(400));
    // Rebinding the same pair refreshes it.
    assert!(is_success(&c.bind(&mut h, 0x4001, peer)));
    // The channel's permission lapses at 300 s, the channel at 600 s.
    h.advance(Duration::from_secs(301));
    assert_eq!(
        h.send(c.addr, &channel_data(0x4001, b"abc")).0,
        None,
        "permission lapsed"
    );
    assert!(is_success(&c.permit(&mut h, peer)));
    assert!(h.send(c.addr, &channel_data(0x4001, b"abc")).0.is_some());
    h.advance(Duration::from_secs(300));
    assert_eq!(
        h.send(c.addr, &channel_data(0x4001, b"abc")).0,
        None,
        "channel expired"
    );
    // Now the number is free for another peer.
    assert!(is_success(&c.bind(&mut h, 0x4001, addr("127.0.0.1:40001"))));
}

#[test]
fn tcp_frames_are_padded() {
    let mut h = H::new();
    let client = Client {
        transport: Transport::Tcp(7),
        addr: addr("203.0.113.5:1000"),
    };
    let mut c = alice("203.0.113.5:1000");
    assert!(is_success(&c.allocate_on(&mut h, client)));
    let peer = addr(PEER);
    let bind = c.build(turn_types::message::CHANNEL_BIND, |w, tx| {
        w.add_attribute(&turn_types::attribute::ChannelNumber::new(0x4001))
            .unwrap();
        w.add_attribute(&turn_types::attribute::XorPeerAddress::new(peer, tx))
            .unwrap();
    });
    let (_, r) = h.send_on(client, &bind);
    assert!(is_success(&r[0]));
    let frame = h.from_peer_on(client, peer, b"12345").unwrap();
    assert_eq!(frame.len(), 12, "4 header + 5 data + 3 padding");
    assert_eq!(&frame[..9], &channel_data(0x4001, b"12345")[..]);
    // The connection closing ends the allocation.
    h.input(Input::ConnectionClosed {
        transport: Transport::Tcp(7),
    });
    assert_eq!(h.server.allocations(), 0);
}

#[test]
fn peer_policy_refuses_private_addresses_with_403() {
    let mut h = H::new();
    let mut c = alice("203.0.113.5:1000");
    c.allocate(&mut h, None);
    for p in [
        "10.0.0.1:5000",
        "192.168.1.1:5000",
        "169.254.0.1:5000",
        "224.0.0.1:5000",
        "0.0.0.0:5000",
        "198.51.100.1:5000",
    ] {
        assert_eq!(code(&c.permit(&mut h, addr(p))), Some(403), "{p}");
        assert_eq!(code(&c.bind(&mut h, 0x4005, addr(p))), Some(403), "{p}");
    }
    assert!(is_success(&c.permit(&mut h, addr("8.8.8.8:53"))));
}

#[test]
fn quotas_per_user_and_total_486() {
    let mut h = H::with_quota(config(), QuotaCounts::new(3, 2));
    assert!(is_success(&alice("203.0.113.1:1").allocate(&mut h, None)));
    assert!(is_success(&alice("203.0.113.2:1").allocate(&mut h, None)));
    assert_eq!(
        code(&alice("203.0.113.3:1").allocate(&mut h, None)),
        Some(486)
    );
    let mut b = C::new(
        "203.0.113.4:1",
        Creds::LongTerm("bob".into(), "hunter2".into()),
    );
    assert!(is_success(&b.allocate(&mut h, None)));
    let mut b2 = C::new(
        "203.0.113.5:1",
        Creds::LongTerm("bob".into(), "hunter2".into()),
    );
    assert_eq!(code(&b2.allocate(&mut h, None)), Some(486), "total");
    // Freeing one makes room.
    b.refresh(&mut h, Some(0));
    assert!(is_success(
        &C::new(
            "203.0.113.5:1",
            Creds::LongTerm("bob".into(), "hunter2".into())
        )
        .allocate(&mut h, None)
    ));
}

#[test]
fn a_refresh_with_a_new_token_gives_back_the_quota_its_allocation_took() {
    // A token's user is its token id, and a Refresh may bring a new token: the quota taken
    // for the first token's id is the one given back when the allocation ends.
    let mut h = H::with_quota(config(), QuotaCounts::new(1, 0));
    let (kid, tok, mac) = token(&h, 600, 1);
    let mut c = C::new(
        "203.0.113.5:1000",
        Creds::Token(kid.clone(), tok, mac.secret().to_vec()),
    );
    assert!(is_success(&c.allocate(&mut h, None)));
    let (_, tok2, mac2) = token(&h, 600, 2);
    c.creds = Creds::Token(kid.clone(), tok2, mac2.secret().to_vec());
    assert!(is_success(&c.refresh(&mut h, Some(600))));
    assert!(is_success(&c.refresh(&mut h, Some(0))));
    let (_, tok3, mac3) = token(&h, 600, 3);
    let mut next = C::new(
        "203.0.113.6:1000",
        Creds::Token(kid, tok3, mac3.secret().to_vec()),
    );
    assert!(
        is_success(&next.allocate(&mut h, None)),
        "the relay's one allocation was given back"
    );
}

#[test]
fn unauthenticated_floods_are_rate_limited() {
    let mut h = H::new();
    let c = alice("203.0.113.5:1000");
    let req = c.build(ALLOCATE, |w, _| {
        w.add_attribute(&RequestedTransport::new(17)).unwrap()
    });
    let answered = (0..200)
        .filter(|_| !h.send(c.addr, &req).1.is_empty())
        .count();
    assert!((30..=50).contains(&answered), "answered {answered} of 200");
    // A different source is not affected; the first recovers with time.
    let other = alice("203.0.113.6:1000");
    assert_eq!(h.send(other.addr, &req).1.len(), 1);
    h.advance(Duration::from_secs(1));
    assert_eq!(h.send(c.addr, &req).1.len(), 1);
    assert!(h.server.stats().rate_limited > 100);
}

#[test]
fn rfc7635_token_allocation_is_capped_at_token_expiry_and_torn_down() {
    let mut h = H::new();
    let (kid, tok, mac) = token(&h, 120, 7);
    let mut c = C::new(
        "203.0.113.5:1000",
        Creds::Token(kid, tok, mac.secret().to_vec()),
    );
    let ok = c.allocate(&mut h, Some(3600));
    assert!(is_success(&ok), "{:?}", code(&ok));
    assert!(signed_with(&ok, mac.secret()));
    // Capped: the token has 120 s (+5 s skew) left.
    assert_eq!(lifetime(&ok), 125);
    // Requests without ACCESS-TOKEN use the allocation's mac_key (USERNAME = kid).
    c.send_token = false;
    assert!(is_success(&c.permit(&mut h, addr(PEER))));
    // Torn down when the token expires, not at the next Refresh.
    h.advance(Duration::from_secs(124));
    assert_eq!(h.server.allocations(), 1);
    h.advance(Duration::from_secs(2));
    assert_eq!(h.server.allocations(), 0);
    assert_eq!(h.released.len(), 1);
}

#[test]
fn rfc7635_refresh_with_a_new_token_extends_and_expired_tokens_fail() {
    let mut h = H::new();
    let (kid, tok, mac) = token(&h, 60, 1);
    let mut c = C::new(
        "203.0.113.5:1000",
        Creds::Token(kid.clone(), tok, mac.secret().to_vec()),
    );
    assert_eq!(lifetime(&c.allocate(&mut h, None)), 65);
    h.advance(Duration::from_secs(50));
    let (_, tok2, mac2) = token(&h, 600, 2);
    c.creds = Creds::Token(kid.clone(), tok2, mac2.secret().to_vec());
    assert_eq!(lifetime(&c.refresh(&mut h, Some(600))), 600);
    h.advance(Duration::from_secs(30));
    assert_eq!(
        h.server.allocations(),
        1,
        "the new token carries it past the first token's end"
    );
    // An expired token is refused.
    let mut late = C::new(
        "203.0.113.9:1000",
        Creds::Token(
            kid,
            token(&h, 10, 3).1,
            token(&h, 10, 3).2.secret().to_vec(),
        ),
    );
    h.advance(Duration::from_secs(20));
    assert_eq!(code(&late.allocate(&mut h, None)), Some(401));
}

#[test]
fn coturn_reading_of_a_20_byte_mac_key_is_accepted() {
    // turnutils_uclient -J signs with the first 16 of 20 random bytes.
    let mut h = H::new();
    let ring = shared_token::Keyring::from_json(KEYS).unwrap();
    let claims = shared_token::TokenClaims {
        mac_key: shared_token::MacKey::new([0xAA; 20]),
        timestamp: shared_token::Timestamp::from_unix_secs(h.unix()),
        lifetime: 600,
        account: None,
    };
    let tok = ring
        .seal("k1", &claims, &[5; 12], SERVER_NAME.as_bytes(), h.unix())
        .unwrap();
    let mut c = C::new(
        "203.0.113.5:1000",
        Creds::Token("k1".into(), tok, vec![0xAA; 16]),
    );
    let ok = c.allocate(&mut h, None);
    assert!(is_success(&ok));
    assert!(
        signed_with(&ok, &[0xAA; 16]),
        "answered with the reading that verified"
    );
}

#[test]
fn browser_credential_works_and_is_capped() {
    let mut h = H::new();
    let (kid, tok, mac) = token(&h, 300, 9);
    let cred = shared_token::BrowserCredential::new(&kid, &tok, &mac).unwrap();
    let mut c = C::new(
        "203.0.113.5:1000",
        Creds::LongTerm(cred.username.clone(), cred.credential.clone()),
    );
    let ok = c.allocate(&mut h, None);
    assert!(is_success(&ok), "{:?}", code(&ok));
    assert_eq!(lifetime(&ok), 305);
    // A wrong credential for the same username fails.
    let mut bad = C::new(
        "203.0.113.6:1000",
        Creds::LongTerm(cred.username, "not-it".into()),
    );
    assert_eq!(code(&bad.allocate(&mut h, None)), Some(401));
    h.advance(Duration::from_secs(306));
    assert_eq!(h.server.allocations(), 0);
}

#[test]
fn rest_credentials_expire_and_cap_the_allocation() {
    let mut h = H::new();
    let cred = shared_token::rest::mint(
        &shared_token::RestSecret::new(*b"rest"),
        "carol",
        h.unix() + 200,
    );
    let mut c = C::new(
        "203.0.113.5:1000",
        Creds::LongTerm(cred.username.clone(), cred.password.clone()),
    );
    assert_eq!(lifetime(&c.allocate(&mut h, None)), 200);
    let expired = shared_token::rest::mint(
        &shared_token::RestSecret::new(*b"rest"),
        "carol",
        h.unix() - 1,
    );
    let mut e = C::new(
        "203.0.113.6:1000",
        Creds::LongTerm(expired.username, expired.password),
    );
    assert_eq!(code(&e.allocate(&mut h, None)), Some(401));
    let forged = shared_token::rest::mint(
        &shared_token::RestSecret::new(*b"guess"),
        "carol",
        h.unix() + 100,
    );
    let mut f = C::new(
        "203.0.113.7:1000",
        Creds::LongTerm(forged.username, forged.password),
    );
    assert_eq!(code(&f.allocate(&mut h, None)), Some(401));
}

#[test]
fn requests_without_username_realm_or_nonce_get_400() {
    let mut h = H::new();
    let c = alice("203.0.113.5:1000");
    let mut w = Message::builder_request(ALLOCATE, MessageWriteVec::new());
    w.add_attribute(&RequestedTransport::new(17)).unwrap();
    w.add_attribute(&stun_types::attribute::Username::new("alice").unwrap())
        .unwrap();
    w.add_message_integrity(
        &stun_types::message::LongTermCredentials::new("alice".into(), "secret".into())
            .to_key(REALM.into())
            .into(),
        stun_types::message::IntegrityAlgorithm::Sha1,
    )
    .unwrap();
    assert_eq!(code(&h.request(c.addr, &w.finish())), Some(400));
}

#[test]
fn channel_bind_counts_against_the_permission_limit() {
    let mut cfg = config();
    cfg.max_permissions = 2;
    let mut h = H::with(cfg);
    let mut c = alice("203.0.113.5:1000");
    c.allocate(&mut h, None);
    assert!(is_success(&c.permit(&mut h, addr("127.0.0.1:1"))));
    assert!(is_success(&c.permit(&mut h, addr("127.0.0.2:1"))));
    // A channel to a third peer would install a third permission: 508, as CreatePermission.
    assert_eq!(
        code(&c.bind(&mut h, 0x4001, addr("127.0.0.3:1"))),
        Some(508)
    );
    assert_eq!(code(&c.permit(&mut h, addr("127.0.0.3:1"))), Some(508));
    // A channel to a peer it already has a permission for fits.
    assert!(is_success(&c.bind(&mut h, 0x4001, addr("127.0.0.1:1"))));
    assert_eq!(h.server.footprint().most_permissions, 2);
}
