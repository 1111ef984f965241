#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! Draining the real relay: after SIGUSR1 or `POST /drain` a new Allocate is refused (508,
//! or 300 with `--alternate-server`), /readyz says draining, the allocation already there
//! keeps relaying both ways and refreshing until it ends, and then the process exits; with
//! `--drain-deadline` it exits at the deadline even if an allocation is left.

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use common::metrics::*;
use common::turn::*;
use common::*;
use relay_native::probe::client::Relayed;

const CH: u16 = 0x4000;

fn readyz(metrics: SocketAddr) -> (u16, String) {
    http("GET", &format!("http://{metrics}/readyz"))
}

/// `c` relays one datagram to the peer and gets one back through `relayed`.
fn still_relays(
    c: &relay_native::probe::client::TurnClient,
    relayed: SocketAddr,
    peer: &CountingPeer,
) {
    let before = peer.from(relayed).0;
    c.channel_data(CH, b"still here").unwrap();
    eventually(Duration::from_secs(3), || {
        match peer.from(relayed).0 > before {
            true => Ok(()),
            false => Err("nothing reached the peer".into()),
        }
    });
    peer.socket.send_to(b"and back", relayed).unwrap();
    let got = c
        .recv_relayed(Instant::now() + Duration::from_secs(3))
        .unwrap();
    assert_eq!(got, Some(Relayed::Channel(CH, b"and back".to_vec())));
}

#[test]
fn sigusr1_refuses_new_allocations_keeps_the_old_one_and_exits_when_it_ends() {
    let dir = scratch("drain-sigusr1");
    let (mut p, addr, metrics, keys) = token_relay(&dir, 2, &[]);
    let peer = CountingPeer::start();
    let (mut a, relayed) = bound(addr, &token(&dir, &keys, "a.json"), CH, peer.addr);
    still_relays(&a, relayed, &peer);
    assert_eq!(readyz(metrics), (200, "ready\n".into()));

    Command::new("kill")
        .args(["-USR1", &p.child.id().to_string()])
        .status()
        .unwrap();
    eventually(Duration::from_secs(5), || match readyz(metrics) {
        (503, body) if body == "draining\n" => Ok(()),
        other => Err(format!("/readyz: {other:?}\n{}", p.log_text())),
    });

    // A new allocation is refused with 508 (no alternate configured)...
    let (_b, refused) = allocate(addr, &token(&dir, &keys, "b.json"));
    assert_eq!(
        refused.error.as_ref().map(|e| e.0),
        Some(508),
        "{refused:?}"
    );
    // ...while the old one relays both ways, refreshes, and binds.
    still_relays(&a, relayed, &peer);
    let r = a.refresh(600).unwrap();
    assert_eq!((r.error, r.lifetime), (None, Some(600)));
    assert!(a.channel_bind(CH, peer.addr).unwrap().error.is_none());
    still_relays(&a, relayed, &peer);

    let text = scrape(metrics);
    promtool_check(&text);
    assert_eq!(value(&text, "edgeturn_draining", &[]), 1);
    let draining = [("reason", "draining")];
    assert_eq!(
        value(&text, "edgeturn_allocations_refused_total", &draining),
        1
    );
    assert_eq!(
        value(&text, "edgeturn_error_responses_total", &[("code", "508")]),
        1
    );
    assert_eq!(value(&text, "edgeturn_allocations", &[]), 1);
    assert!(
        p.child.try_wait().unwrap().is_none(),
        "an allocation is left"
    );

    // The last allocation ends: the relay exits, cleanly.
    assert!(a.refresh(0).unwrap().error.is_none());
    let status = p.wait_exit(Duration::from_secs(5));
    assert!(status.success(), "{status}\n{}", p.log_text());
    let log = p.log_text();
    assert!(
        log.contains("SIGUSR1: draining") && log.contains("drained: the last allocation ended"),
        "{log}"
    );
}

#[test]
fn post_drain_sends_new_clients_to_the_alternate_and_stops_at_the_deadline() {
    let dir = scratch("drain-post");
    let flags = ["--alternate-server", "127.0.0.1:9", "--drain-deadline", "2"];
    let (mut p, addr, metrics, keys) = token_relay(&dir, 2, &flags);
    let peer = CountingPeer::start();
    let (a, relayed) = bound(addr, &token(&dir, &keys, "a.json"), CH, peer.addr);
    let drain = format!("http://{metrics}/drain");
    assert_eq!(http("POST", &drain), (202, "draining\n".into()));
    let started = Instant::now();
    assert_eq!(http("POST", &drain), (200, "already draining\n".into()));
    assert_eq!(readyz(metrics).0, 503);

    let (_b, refused) = allocate(addr, &token(&dir, &keys, "b.json"));
    assert_eq!(
        refused.error.as_ref().map(|e| e.0),
        Some(300),
        "{refused:?}"
    );
    still_relays(&a, relayed, &peer);

    // The allocation is still there at the deadline: the relay stops anyway.
    let status = p.wait_exit(Duration::from_secs(10));
    let took = started.elapsed();
    assert!(status.success(), "{status}\n{}", p.log_text());
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(6),
        "stopped {took:?} after the drain began"
    );
    let log = p.log_text();
    assert!(
        log.contains("POST /drain: draining")
            && log.contains("drain deadline reached with 1 allocations left"),
        "{log}"
    );
}

#[test]
fn a_drain_with_no_allocation_stops_at_once() {
    let dir = scratch("drain-empty");
    let (mut p, _addr, metrics, _) = token_relay(&dir, 2, &[]);
    assert_eq!(http("POST", &format!("http://{metrics}/drain")).0, 202);
    let status = p.wait_exit(Duration::from_secs(5));
    assert!(status.success(), "{}", p.log_text());
}
