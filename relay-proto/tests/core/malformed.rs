//! Malformed input: truncated, wrong lengths, attributes after MESSAGE-INTEGRITY, garbage.
//! Nothing panics; requests with a readable header get 400; the rest is dropped.

use proptest::prelude::*;
use turn_types::attribute::RequestedTransport;
use turn_types::message::ALLOCATE;

use super::harness::*;
use stun_types::message::MessageWriteExt;

fn alloc_request(c: &C) -> Vec<u8> {
    c.build(ALLOCATE, |w, _| {
        w.add_attribute(&RequestedTransport::new(17)).unwrap()
    })
}

#[test]
fn truncated_and_wrong_lengths_are_dropped() {
    let mut h = H::new();
    let c = C::new("203.0.113.5:1000", Creds::None);
    let good = alloc_request(&c);
    for len in 0..good.len() {
        let (fwd, replies) = h.send(c.addr, &good[..len]);
        assert!(fwd.is_none() && replies.is_empty(), "truncated to {len}");
    }
    let mut long = good.clone();
    long.extend_from_slice(&[0, 0, 0, 0]);
    assert!(h.send(c.addr, &long).1.is_empty(), "trailing bytes");
    let mut wrong = good.clone();
    wrong[3] = wrong[3].wrapping_add(4);
    assert!(
        h.send(c.addr, &wrong).1.is_empty(),
        "length field past the end"
    );
    assert!(h.server.stats().malformed > 0);
}

#[test]
fn broken_attribute_in_a_request_gets_400() {
    let mut h = H::new();
    let c = C::new("203.0.113.5:1000", Creds::None);
    let mut req = alloc_request(&c);
    // REQUESTED-TRANSPORT's length says 8 but the message ends: rewrite it to overrun.
    req[22..24].copy_from_slice(&40u16.to_be_bytes());
    let (_, replies) = h.send(c.addr, &req);
    assert_eq!(replies.len(), 1);
    assert_eq!(code(&replies[0]), Some(400));
}

#[test]
fn attributes_after_message_integrity_are_ignored() {
    let mut h = H::new();
    let mut c = C::new(
        "203.0.113.5:1000",
        Creds::LongTerm("alice".into(), "secret".into()),
    );
    assert!(is_success(&c.allocate(&mut h, None)));
    // A Refresh whose LIFETIME=0 comes after MESSAGE-INTEGRITY must not delete.
    let w = stun_types::message::Message::builder_request(
        turn_types::message::REFRESH,
        stun_types::message::MessageWriteVec::new(),
    );
    let _ = w.transaction_id();
    let signed = c.sign(w);
    let mut with_tail = signed.clone();
    let lifetime0 = [0x00, 0x0d, 0x00, 0x04, 0, 0, 0, 0];
    with_tail.extend_from_slice(&lifetime0);
    let len = u16::from_be_bytes([with_tail[2], with_tail[3]]) + 8;
    with_tail[2..4].copy_from_slice(&len.to_be_bytes());
    let r = h.request(c.addr, &with_tail);
    assert!(is_success(&r), "{:?}", code(&r));
    assert_eq!(lifetime(&r), 600, "the trailing LIFETIME=0 was ignored");
    assert_eq!(h.server.allocations(), 1);
}

#[test]
fn channel_data_shorter_than_its_length_is_dropped() {
    let mut h = H::new();
    let mut c = C::new(
        "203.0.113.5:1000",
        Creds::LongTerm("alice".into(), "secret".into()),
    );
    c.allocate(&mut h, None);
    c.bind(&mut h, 0x4000, addr("127.0.0.1:40000"));
    let mut cd = channel_data(0x4000, b"abcdef");
    cd.truncate(7);
    assert_eq!(h.send(c.addr, &cd).0, None);
    assert_eq!(h.send(c.addr, &[0x40]).0, None);
    assert_eq!(h.send(c.addr, &[0xff, 0xff, 0, 0]).0, None);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn no_packet_panics_the_core(bytes in proptest::collection::vec(any::<u8>(), 0..600), first in 0u8..0x80) {
        let mut h = H::new();
        let mut c = C::new("203.0.113.5:1000", Creds::LongTerm("alice".into(), "secret".into()));
        c.allocate(&mut h, None);
        c.bind(&mut h, 0x4000, addr("127.0.0.1:40000"));
        let mut b = bytes.clone();
        if let Some(x) = b.first_mut() { *x = first; }
        let _ = h.send(c.addr, &b);
        let _ = h.send(c.addr, &bytes);
        let _ = h.from_peer(c.addr, addr("127.0.0.1:40000"), &bytes);
    }

    #[test]
    fn stun_shaped_garbage_never_panics(body in proptest::collection::vec(any::<u8>(), 0..200), method in 0u16..0x20, class in 0u16..4) {
        let mut h = H::new();
        let t = ((class & 2) << 7) | ((class & 1) << 4) | method;
        let mut m = t.to_be_bytes().to_vec();
        m.extend_from_slice(&(body.len() as u16).to_be_bytes());
        m.extend_from_slice(&[0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        m.extend_from_slice(&body);
        let _ = h.send(addr("203.0.113.5:1000"), &m);
    }
}
