#![allow(clippy::unwrap_used, clippy::indexing_slicing)]
//! Reflection and amplification through the real binary: a flood of Binding requests from one
//! source gets at most the reply limit's burst and rate back while another source is
//! answered; no SOFTWARE unless configured; with `--no-amplification` no unauthenticated
//! reply is larger than its request (a padded request is answered).

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::*;
use stun_types::attribute::{AttributeStaticType, RawAttribute, Software};
use stun_types::message::{BINDING, Message, MessageWrite, MessageWriteExt, MessageWriteVec};
use turn_types::attribute::RequestedTransport;
use turn_types::message::ALLOCATE;

fn socket(from: &str) -> UdpSocket {
    let s = UdpSocket::bind((from, 0)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    s
}

/// The replies waiting on `s` (until 300 ms pass without one).
fn drain(s: &UdpSocket) -> Vec<Vec<u8>> {
    let mut buf = [0u8; 2048];
    let mut got = Vec::new();
    while let Ok(n) = s.recv(&mut buf) {
        got.push(buf[..n].to_vec());
    }
    got
}

fn binding(pad: usize) -> Vec<u8> {
    let mut w = Message::builder_request(BINDING, MessageWriteVec::new());
    if pad > 0 {
        w.add_attribute(&RawAttribute::new(
            relay_proto::wire::PADDING,
            &vec![0u8; pad],
        ))
        .unwrap();
    }
    w.finish()
}

fn allocate() -> Vec<u8> {
    let mut w = Message::builder_request(ALLOCATE, MessageWriteVec::new());
    w.add_attribute(&RequestedTransport::new(17)).unwrap();
    w.finish()
}

fn exchange(relay: SocketAddr, from: &str, req: &[u8]) -> Option<Vec<u8>> {
    let s = socket(from);
    s.send_to(req, relay).unwrap();
    drain(&s).pop()
}

#[test]
fn a_binding_flood_from_one_source_gets_the_reply_limit_and_another_source_is_answered() {
    let dir = scratch("reflection-flood");
    let (_relay, addr) = start_relay(&dir, &["--user", "alice:secret", "--shards", "1"]);
    let flood = socket("127.0.0.1");
    let start = Instant::now();
    for _ in 0..400 {
        flood.send_to(&binding(0), addr).unwrap();
        std::thread::sleep(Duration::from_micros(2500));
    }
    // Another source is answered in the middle of the flood's aftermath.
    let other = exchange(addr, "127.0.0.2", &binding(0));
    let got = drain(&flood).len() as f64;
    let secs = start.elapsed().as_secs_f64();
    // Burst 40, then 20 per second (the relay's defaults), for how long the flood lasted.
    let most = 40.0 + 20.0 * secs + 1.0;
    assert!(
        (30.0..=most).contains(&got),
        "{got} replies to 400 Bindings in {secs:.2} s (at most {most:.0})"
    );
    let other = other.expect("another source is answered");
    let m = Message::from_bytes(&other).unwrap();
    assert!(!m.has_attribute(Software::TYPE), "no SOFTWARE by default");
}

#[test]
fn software_is_sent_when_configured() {
    let dir = scratch("reflection-software");
    let (_relay, addr) = start_relay(&dir, &["--user", "alice:secret", "--software", "relay 1"]);
    let r = exchange(addr, "127.0.0.1", &binding(0)).unwrap();
    let m = Message::from_bytes(&r).unwrap();
    assert_eq!(m.attribute::<Software>().unwrap().software(), "relay 1");
}

#[test]
fn without_amplification_replies_are_never_larger_than_their_requests() {
    let dir = scratch("reflection-ratio");
    // The default: answered, larger than the smallest requests (measured here).
    let (relay, addr) = start_relay(&dir, &["--user", "alice:secret"]);
    let b = exchange(addr, "127.0.0.1", &binding(0)).unwrap();
    let a = exchange(addr, "127.0.0.1", &allocate()).unwrap();
    assert_eq!((binding(0).len(), allocate().len()), (20, 28));
    assert!(b.len() > 20 && a.len() > 28, "{} {}", b.len(), a.len());
    drop(relay);

    let dir = scratch("reflection-strict");
    let (_relay, addr) = start_relay(&dir, &["--user", "alice:secret", "--no-amplification"]);
    assert_eq!(exchange(addr, "127.0.0.1", &binding(0)), None);
    assert_eq!(exchange(addr, "127.0.0.1", &allocate()), None);
    let padded = binding(b.len().next_multiple_of(4));
    let r = exchange(addr, "127.0.0.1", &padded).expect("a padded Binding is answered");
    assert!(r.len() <= padded.len(), "{} > {}", r.len(), padded.len());
}
