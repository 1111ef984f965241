#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! IPv6 and dual stack with coturn's own client and echo peer: a relay listening on
//! 127.0.0.1 and ::1 and relaying both families. IPv6 clients get IPv6 relayed addresses by
//! default; `-x` asks for IPv6 over IPv4 (REQUESTED-ADDRESS-FAMILY), `-X` for IPv4 over IPv6,
//! `-Z` for both at once (ADDITIONAL-ADDRESS-FAMILY). Every message must come back.

mod common;

use std::net::SocketAddr;

use common::*;

const CLIENTS: u64 = 3;
const MESSAGES: u64 = 30;

const KEYS: &str = r#"[
  {"kid":"north","alg":"A256GCM","key":"MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEK","realm":"crinna.org"},
  {"kid":"union","alg":"A128GCM","key":"MTIzNDU2Nzg5MDEyMzQ1Ngo=","realm":"north.gov"},
  {"kid":"oldempire","alg":"A256GCM","key":"MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIK"}
]"#;

/// A dual-stack relay and echo peers on both loopback addresses.
struct Setup {
    _dir: std::path::PathBuf,
    relay: Proc,
    v4: SocketAddr,
    v6: SocketAddr,
    peer4: SocketAddr,
    peer6: SocketAddr,
    _peers: (Proc, Proc),
}

fn setup(name: &str) -> Setup {
    let dir = scratch(name);
    let keys = dir.join("keys.json");
    std::fs::write(&keys, KEYS).unwrap();
    let (relay, v4, v6) = start_dual_relay(
        &dir,
        &[
            "--user",
            "alice:secret",
            "--keys",
            keys.to_str().unwrap(),
            "--server-name",
            "turn.test",
            "--allow-loopback-peers",
        ],
    );
    let (p4, port4) = start_peer_on(&dir, "127.0.0.1");
    let (p6, port6) = start_peer_on(&dir, "::1");
    Setup {
        _dir: dir,
        relay,
        v4,
        v6,
        peer4: SocketAddr::from(([127, 0, 0, 1], port4)),
        peer6: format!("[::1]:{port6}").parse().unwrap(),
        _peers: (p4, p6),
    }
}

/// uclient against `server` through the relay to `peer`; every message must come back. The
/// relay's log.
fn all_echoed(s: &Setup, server: SocketAddr, peer: SocketAddr, flags: &[&str]) -> String {
    let (m, n) = (CLIENTS.to_string(), MESSAGES.to_string());
    let mut args = vec!["-m", &m, "-n", &n, "-l", "120", "-z", "5"];
    args.extend_from_slice(flags);
    let u = uclient_in(None, server, peer, &args);
    let expected = CLIENTS * MESSAGES;
    assert!(
        u.sent == expected && u.received == expected && u.lost == Some(0),
        "{flags:?} via {server} to {peer}: sent {} received {} lost {:?} (expected {expected} each)\nuclient:\n{}\nrelay log:\n{}",
        u.sent,
        u.received,
        u.lost,
        u.output,
        s.relay.log_text()
    );
    s.relay.log_text()
}

/// The relayed addresses the relay logged for its allocations.
fn relayed(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains("allocation created"))
        .filter_map(|l| {
            let rest = &l[l.find(" relay=")? + 7..];
            Some(rest.split(' ').next()?.trim_matches('"').to_string())
        })
        .collect()
}

const ALICE: [&str; 4] = ["-u", "alice", "-w", "secret"];

#[test]
fn ipv6_clients_get_ipv6_relayed_addresses_channel_data() {
    let s = setup("v6-channel");
    let log = all_echoed(&s, s.v6, s.peer6, &ALICE);
    let r = relayed(&log);
    assert!(r.len() as u64 >= CLIENTS, "{log}");
    assert!(r.iter().all(|a| a.starts_with("[::1]:")), "{r:?}");
}

#[test]
fn ipv6_clients_send_indications() {
    let s = setup("v6-send");
    all_echoed(&s, s.v6, s.peer6, &["-s", "-u", "alice", "-w", "secret"]);
}

#[test]
fn ipv6_clients_over_tcp() {
    let s = setup("v6-tcp");
    all_echoed(&s, s.v6, s.peer6, &["-t", "-u", "alice", "-w", "secret"]);
}

#[test]
fn ipv6_clients_with_rfc7635_tokens() {
    let s = setup("v6-oauth");
    all_echoed(&s, s.v6, s.peer6, &["-J"]);
}

#[test]
fn an_ipv4_client_asks_for_an_ipv6_relayed_address() {
    let s = setup("v4-asks-v6");
    let log = all_echoed(&s, s.v4, s.peer6, &["-x", "-u", "alice", "-w", "secret"]);
    assert!(
        relayed(&log).iter().all(|a| a.starts_with("[::1]:")),
        "{log}"
    );
}

#[test]
fn an_ipv6_client_asks_for_an_ipv4_relayed_address() {
    let s = setup("v6-asks-v4");
    let log = all_echoed(&s, s.v6, s.peer4, &["-X", "-u", "alice", "-w", "secret"]);
    assert!(
        relayed(&log).iter().all(|a| a.starts_with("127.0.0.1:")),
        "{log}"
    );
}

#[test]
fn dual_allocations_relay_to_peers_of_either_family() {
    let s = setup("dual");
    let log = all_echoed(&s, s.v4, s.peer6, &["-Z", "-u", "alice", "-w", "secret"]);
    let r = relayed(&log);
    assert!(
        !r.is_empty()
            && r.iter()
                .all(|a| a.starts_with("127.0.0.1:") && a.contains(",[::1]:")),
        "each allocation holds an IPv4 and an IPv6 relayed address: {r:?}"
    );
    all_echoed(&s, s.v6, s.peer4, &["-Z", "-u", "alice", "-w", "secret"]);
}

#[test]
fn an_ipv6_relay_refuses_what_it_does_not_relay() {
    // IPv6 only: an explicit IPv4 request gets 440, so uclient cannot allocate.
    let dir = scratch("v6-only");
    let addr: SocketAddr = format!("[::1]:{}", free_dual_port()).parse().unwrap();
    let relay = start_relay_on(
        &dir,
        &[addr],
        &["--user", "alice:secret", "--allow-loopback-peers"],
    );
    let (_peer, p4) = start_peer_on(&dir, "127.0.0.1");
    let u = uclient_in(
        None,
        addr,
        SocketAddr::from(([127, 0, 0, 1], p4)),
        &["-X", "-m", "1", "-n", "3", "-u", "alice", "-w", "secret"],
    );
    assert_eq!(u.received, 0, "{}", u.output);
    assert!(
        !relay.log_text().contains("allocation created"),
        "{}",
        relay.log_text()
    );
    // The same client without -X gets an IPv6 relayed address and relays.
    let (_peer6, p6) = start_peer_on(&dir, "::1");
    let u = uclient_in(
        None,
        addr,
        format!("[::1]:{p6}").parse().unwrap(),
        &["-m", "1", "-n", "3", "-u", "alice", "-w", "secret"],
    );
    assert_eq!((u.sent, u.received), (3, 3), "{}", u.output);
}
