#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! The relay behind a 1:1 NAT and on its own port range, with real sockets: clients are told
//! the `--external-ip` address while datagrams leave from the bound one inside
//! `--relay-ports`, and a full range answers 508 and shows in the metrics.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::metrics::*;
use common::turn::*;
use common::*;

#[test]
fn clients_are_told_the_public_address_and_data_leaves_from_the_bound_one() {
    let dir = scratch("nat-told");
    let (_relay, addr, _metrics, keys) = token_relay(
        &dir,
        1,
        &[
            "--external-ip",
            "203.0.113.77",
            "--relay-ports",
            "23000-23099",
        ],
    );
    let peer = CountingPeer::start();
    let (c, told) = bound(addr, &token(&dir, &keys, "a"), 0x4000, peer.addr);
    assert_eq!(told.ip().to_string(), "203.0.113.77", "XOR-RELAYED-ADDRESS");
    assert!((23000..=23099).contains(&told.port()), "{told}");
    c.channel_data(0x4000, b"through the nat").unwrap();
    let bound_addr = SocketAddr::new(addr.ip(), told.port());
    let deadline = Instant::now() + Duration::from_secs(3);
    while peer.from(bound_addr).0 == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        peer.from(bound_addr).0,
        1,
        "from the bound address, same port"
    );
}

#[test]
fn a_full_relay_port_range_answers_508_and_is_counted() {
    let dir = scratch("nat-exhausted");
    let (relay, addr, metrics, keys) = token_relay(&dir, 1, &["--relay-ports", "23100-23101"]);
    let mut held = Vec::new();
    for name in ["a", "b"] {
        let (c, r) = allocate(addr, &token(&dir, &keys, name));
        assert!(r.error.is_none(), "{r:?}\n{}", relay.log_text());
        held.push(c);
    }
    let (_c, r) = allocate(addr, &token(&dir, &keys, "c"));
    assert_eq!(r.error.as_ref().map(|e| e.0), Some(508), "{r:?}");
    let text = scrape(metrics);
    assert_eq!(
        value(&text, "edgeturn_relay_ports_exhausted_total", &[]),
        1,
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            "edgeturn_allocations_refused_total",
            &[("reason", "relay_socket")]
        ),
        1
    );
}
