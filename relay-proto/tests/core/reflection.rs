//! Reflection and amplification: every reply the relay sends without authentication over
//! UDP (Binding responses, 400, 420, 401) is limited per source prefix (IPv6 by /64); SOFTWARE
//! is sent only when configured; with `no_amplification` no unauthenticated UDP reply is
//! larger than its request, and a client that pads its request (PADDING) is still answered.

use std::time::Duration;

use relay_proto::Config;
use relay_proto::wire::{PADDING, SOFTWARE};
use stun_types::attribute::{AttributeStaticType, RawAttribute, Software};
use stun_types::message::{BINDING, Message, MessageWrite, MessageWriteExt, MessageWriteVec};
use turn_types::attribute::RequestedTransport;
use turn_types::message::ALLOCATE;

use super::harness::*;

/// The smallest valid Binding request: a header alone (20 bytes).
fn bare_binding() -> Vec<u8> {
    Message::builder_request(BINDING, MessageWriteVec::new()).finish()
}

/// The smallest valid Allocate: REQUESTED-TRANSPORT only (28 bytes).
fn bare_allocate() -> Vec<u8> {
    let mut w = Message::builder_request(ALLOCATE, MessageWriteVec::new());
    w.add_attribute(&RequestedTransport::new(17)).unwrap();
    w.finish()
}

/// `req` with a PADDING attribute of `n` bytes.
fn padded(method: stun_types::message::Method, n: usize) -> Vec<u8> {
    let mut w = Message::builder_request(method, MessageWriteVec::new());
    if method == ALLOCATE {
        w.add_attribute(&RequestedTransport::new(17)).unwrap();
    }
    let pad = vec![0u8; n];
    w.add_attribute(&RawAttribute::new(PADDING, &pad)).unwrap();
    w.finish()
}

/// How many of `n` copies of `req` sent at once from `from` are answered.
fn answered(h: &mut H, from: &str, req: &[u8], n: usize) -> usize {
    (0..n)
        .filter(|_| !h.send(addr(from), req).1.is_empty())
        .count()
}

#[test]
fn binding_floods_are_limited_per_source_and_others_unaffected() {
    let mut h = H::new();
    let got = answered(&mut h, "203.0.113.5:1000", &bare_binding(), 200);
    assert!((40..=41).contains(&got), "answered {got} of 200 (burst 40)");
    assert_eq!(answered(&mut h, "203.0.113.6:1000", &bare_binding(), 1), 1);
    // 20 per second afterwards.
    h.advance(Duration::from_secs(1));
    let got = answered(&mut h, "203.0.113.5:1000", &bare_binding(), 200);
    assert!((20..=21).contains(&got), "answered {got} after a second");
    assert!(h.server.stats().rate_limited >= 300);
}

#[test]
fn an_ipv6_64_is_one_source() {
    let mut h = H::new();
    let mut total = 0;
    for i in 0..100 {
        total += answered(
            &mut h,
            &format!("[2001:db8:1:2::{i:x}]:1000"),
            &bare_binding(),
            2,
        );
    }
    assert!((40..=41).contains(&total), "the /64 got {total} answers");
    assert_eq!(
        answered(&mut h, "[2001:db8:1:3::1]:1000", &bare_binding(), 1),
        1
    );
}

#[test]
fn errors_to_unauthenticated_requests_are_limited_too() {
    let mut h = H::new();
    // 420: an unknown comprehension-required attribute.
    let mut w = Message::builder_request(ALLOCATE, MessageWriteVec::new());
    w.add_attribute(&RawAttribute::new(
        stun_types::attribute::AttributeType::new(0x0055),
        &[1],
    ))
    .unwrap();
    let unknown = w.finish();
    let got = answered(&mut h, "203.0.113.5:1000", &unknown, 100);
    assert!((40..=41).contains(&got), "420s: {got}");
    // 400: a method the relay does not serve, from another source.
    let other = Message::builder_request(
        stun_types::message::Method::new(0x00a),
        MessageWriteVec::new(),
    )
    .finish();
    let got = answered(&mut h, "203.0.113.6:1000", &other, 100);
    assert!((40..=41).contains(&got), "400s: {got}");
}

#[test]
fn software_only_when_configured() {
    let mut h = H::new();
    let r = h.request(addr("203.0.113.5:1000"), &bare_binding());
    assert!(!has(&r, Software::TYPE), "no SOFTWARE by default");
    let c = alice_client("203.0.113.6:1000");
    let challenge = h.request(c.addr, &bare_allocate());
    assert!(!has(&challenge, Software::TYPE));
    let mut cfg = config();
    cfg.software = Some(SOFTWARE.to_string());
    let mut h = H::with(cfg);
    let r = h.request(addr("203.0.113.5:1000"), &bare_binding());
    let m = Message::from_bytes(&r).unwrap();
    assert_eq!(m.attribute::<Software>().unwrap().software(), SOFTWARE);
}

fn alice_client(a: &str) -> C {
    C::new(a, Creds::LongTerm("alice".into(), "secret".into()))
}

fn strict() -> Config {
    let mut cfg = config();
    cfg.no_amplification = true;
    cfg
}

#[test]
fn without_amplification_no_unauthenticated_reply_outgrows_its_request() {
    // By default the smallest requests get larger answers (what STUN and browsers need).
    let mut h = H::new();
    let binding = h.request(addr("203.0.113.5:1000"), &bare_binding());
    let challenge = h.request(addr("203.0.113.5:1000"), &bare_allocate());
    assert_eq!(bare_binding().len(), 20);
    assert_eq!(bare_allocate().len(), 28);
    assert!(binding.len() > 20 && challenge.len() > 28);

    let mut h = H::with(strict());
    let from = "203.0.113.5:1000";
    assert!(h.send(addr(from), &bare_binding()).1.is_empty());
    assert!(h.send(addr(from), &bare_allocate()).1.is_empty());
    assert_eq!(h.server.stats().oversized_replies, 2);
    // Padded to the size of the answer, the same requests are answered, never with more.
    for (method, answer) in [(BINDING, binding.len()), (ALLOCATE, challenge.len())] {
        let base = padded(method, 0).len();
        let req = padded(method, answer.saturating_sub(base).next_multiple_of(4));
        let (_, replies) = h.send(addr(from), &req);
        assert_eq!(replies.len(), 1, "padded to {} bytes", req.len());
        assert!(
            replies[0].len() <= req.len(),
            "{} > {}",
            replies[0].len(),
            req.len()
        );
    }
    // A padded Allocate's challenge still works for a real client.
    let mut c = alice_client("203.0.113.7:1000");
    let req = padded(ALLOCATE, 128);
    let r = h.request(c.addr, &req);
    assert_eq!(code(&r), Some(401));
    c.nonce = Some(attr_nonce(&r));
    assert!(is_success(&c.allocate(&mut h, None)));
}
