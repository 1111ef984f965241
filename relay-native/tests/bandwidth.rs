#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! Bandwidth caps on the real relay: a client sending four to five times its cap gets its
//! cap through (plus the bucket), on the sockets and with the kernel fast path, where its
//! channel leaves the kernel while it is over and comes back once it is under; a client
//! under its own cap loses nothing; a user's cap spans all of the user's allocations.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::metrics::*;
use common::turn::*;
use common::*;
use relay_native::probe::client::TurnClient;

const CH: u16 = 0x4000;
/// Bytes per second: the cap under test; its bucket holds 64 KiB (at least one datagram
/// of the largest size).
const CAP: u64 = 50_000;
const BUCKET: u64 = 65_535;
/// What a capped client offers: 500 bytes every 2 ms, 250 kB/s.
const FAST: (usize, Duration) = (500, Duration::from_millis(2));
/// What a client under its cap sends: 100 bytes every 10 ms, 10 kB/s.
const SLOW: (usize, Duration) = (100, Duration::from_millis(10));
const SECONDS: Duration = Duration::from_secs(3);

/// Runs each client's sender at its pace at the same time; for each, (datagrams sent,
/// how long it sent).
fn send_all(clients: &[(&TurnClient, (usize, Duration))], total: Duration) -> Vec<(u64, Duration)> {
    std::thread::scope(|s| {
        let senders: Vec<_> = clients
            .iter()
            .map(|(c, (size, gap))| s.spawn(move || send_paced(c, CH, *size, *gap, total)))
            .collect();
        senders.into_iter().map(|t| t.join().unwrap()).collect()
    })
}

/// Waits until the peer has stopped receiving; what came from each relayed address.
fn settled(peer: &CountingPeer, from: &[SocketAddr]) -> Vec<(u64, u64)> {
    let mut last = vec![];
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now: Vec<_> = from.iter().map(|a| peer.from(*a)).collect();
        if now == last {
            return now;
        }
        last = now;
    }
}

/// `got` payload bytes is the cap over `took` plus one bucket, within `slack` (a fraction).
fn about_the_cap(got: u64, took: Duration, slack: f64, what: &str) {
    let want = CAP as f64 * took.as_secs_f64() + BUCKET as f64;
    let ratio = got as f64 / want;
    eprintln!("{what}: {got} bytes in {took:?}, cap and bucket {want:.0}: ratio {ratio:.3}");
    assert!(
        (1.0 - slack..=1.0 + slack).contains(&ratio),
        "{what}: {got} bytes in {took:?}, expected about {want:.0} (ratio {ratio:.2})"
    );
}

#[test]
fn an_allocation_over_its_cap_gets_its_cap_on_the_sockets_and_others_lose_nothing() {
    let dir = scratch("caps-sockets");
    let cap = CAP.to_string();
    let (_p, addr, metrics, keys) = token_relay(&dir, 1, &["--max-bps-per-allocation", &cap]);
    let peer = CountingPeer::start();
    let (fast, fast_relay) = bound(addr, &token(&dir, &keys, "fast.json"), CH, peer.addr);
    let (slow, slow_relay) = bound(addr, &token(&dir, &keys, "slow.json"), CH, peer.addr);
    let sent = send_all(&[(&fast, FAST), (&slow, SLOW)], SECONDS);
    let got = settled(&peer, &[fast_relay, slow_relay]);
    about_the_cap(got[0].1, sent[0].1, 0.15, "the capped allocation");
    assert_eq!(
        got[1].0, sent[1].0,
        "the allocation under its cap lost something"
    );

    // What was offered is relayed or dropped, and each is counted.
    let text = scrape(metrics);
    promtool_check(&text);
    let offered = sent[0].0 * FAST.0 as u64 + sent[1].0 * SLOW.0 as u64;
    let relayed = value(
        &text,
        "edgeturn_relayed_bytes_total",
        &[("direction", "to_peer"), ("path", "sockets")],
    );
    let dropped = value(
        &text,
        "edgeturn_bandwidth_dropped_bytes_total",
        &[("direction", "to_peer"), ("cap", "allocation")],
    );
    assert_eq!(relayed, got[0].1 + got[1].1, "{text}");
    assert_eq!(relayed + dropped, offered, "{text}");
    let dropped_packets = [("direction", "to_peer"), ("cap", "allocation")];
    assert_eq!(
        value(
            &text,
            "edgeturn_bandwidth_dropped_packets_total",
            &dropped_packets
        ),
        sent[0].0 - got[0].0
    );
}

#[test]
fn a_users_cap_spans_all_of_the_users_allocations() {
    let dir = scratch("caps-user");
    let cap = CAP.to_string();
    let (_p, addr, metrics, keys) = token_relay(&dir, 1, &["--max-bps-per-user", &cap]);
    let peer = CountingPeer::start();
    // Two allocations with one token: one user (a token's user is its token id).
    let shared = token(&dir, &keys, "shared.json");
    let (one, one_relay) = bound(addr, &shared, CH, peer.addr);
    let (two, two_relay) = bound(addr, &shared, CH, peer.addr);
    let (other, other_relay) = bound(addr, &token(&dir, &keys, "other.json"), CH, peer.addr);
    let sent = send_all(&[(&one, FAST), (&two, FAST), (&other, SLOW)], SECONDS);
    let got = settled(&peer, &[one_relay, two_relay, other_relay]);
    about_the_cap(
        got[0].1 + got[1].1,
        sent[0].1,
        0.15,
        "the user's two allocations",
    );
    assert!(got[0].1 > 0 && got[1].1 > 0, "{got:?}");
    assert_eq!(got[2].0, sent[2].0, "another user lost something");
    let text = scrape(metrics);
    let user = [("direction", "to_peer"), ("cap", "user")];
    assert!(value(&text, "edgeturn_bandwidth_dropped_packets_total", &user) > 0);
}

#[test]
fn over_its_cap_an_allocation_leaves_the_kernel_fast_path_and_comes_back_under_it() {
    let dir = scratch("caps-kernel");
    let cap = CAP.to_string();
    let flags = ["--offload", "lo", "--max-bps-per-allocation", &cap];
    let (p, addr, metrics, keys) = token_relay(&dir, 1, &flags);
    let peer = CountingPeer::start();
    let (fast, fast_relay) = bound(addr, &token(&dir, &keys, "fast.json"), CH, peer.addr);
    let (slow, slow_relay) = bound(addr, &token(&dir, &keys, "slow.json"), CH, peer.addr);
    assert_eq!(value(&scrape(metrics), "edgeturn_kernel_routes", &[]), 2);
    let sent = send_all(&[(&fast, FAST), (&slow, SLOW)], SECONDS);
    let got = settled(&peer, &[fast_relay, slow_relay]);
    // The kernel relays at the full rate until the next read of its counters (every
    // 250 ms) finds the allocation over its bucket; the debt is then paid back on the
    // sockets: about the cap overall, with a looser bound than the sockets alone.
    about_the_cap(got[0].1, sent[0].1, 0.35, "the capped allocation");
    assert_eq!(
        got[1].0, sent[1].0,
        "the allocation under its cap lost something"
    );
    let text = scrape(metrics);
    promtool_check(&text);
    assert!(
        value(&text, "edgeturn_bandwidth_kernel_holds_total", &[]) >= 1,
        "{text}"
    );
    let kernel = [("direction", "to_peer"), ("path", "kernel")];
    assert!(
        value(&text, "edgeturn_relayed_packets_total", &kernel) >= sent[1].0,
        "the slow client stayed in the kernel: {text}"
    );
    // Quiet for the hold (2 s without a drop): its route is back in the kernel.
    eventually(Duration::from_secs(8), || {
        let text = scrape(metrics);
        let held = value(&text, "edgeturn_bandwidth_held_allocations", &[]);
        match held == 0 && value(&text, "edgeturn_kernel_routes", &[]) == 2 {
            true => Ok(()),
            false => Err(format!("{text}\n{}", p.log_text())),
        }
    });
    let before = peer.from(fast_relay);
    let kernel_before = value(&scrape(metrics), "edgeturn_relayed_packets_total", &kernel);
    fast.channel_data(CH, &[1; 100]).unwrap();
    let after = settled(&peer, &[fast_relay])[0];
    assert_eq!(after.0, before.0 + 1);
    assert_eq!(
        value(&scrape(metrics), "edgeturn_relayed_packets_total", &kernel),
        kernel_before + 1,
        "relayed in the kernel again"
    );
}
