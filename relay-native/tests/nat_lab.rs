#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! The NAT lab: relay-native on a private address behind a cloud-style 1:1 NAT, caller A and
//! callee B each behind a masquerading NAT of their own, all in network namespaces this test
//! builds and removes (nat_lab/net.rs draws the map). Every client is given only the relay's
//! public address. Shown there:
//! - Chromium in A (relay only) calls Chromium in B (STUN only): a data channel carries every
//!   message and a video track plays; A's selected pair is relay at the public address;
//! - both ends relay only, over UDP, TCP and TLS;
//! - coturn's uclient in A with its echo peer on the internet side, every message echoed,
//!   and with `--offload` on the relay's interface every ChannelData relayed in the kernel;
//! - without `--external-ip` (the control), A's call does not connect.
//!
//! Needs root (namespaces, nftables, the fast path), as CI and `cargo xtask test` have.

mod common;
#[path = "nat_lab/net.rs"]
mod net;
#[path = "nat_lab/relay.rs"]
mod relay;

use std::net::SocketAddr;
use std::process::Command;

use common::*;
use net::{Lab, PEER, RELAY_PUBLIC};
use relay::{LabRelay, Mapping, PORT, TLS_PORT, USER};
use serde_json::{Value, json};

/// Messages each data channel carries (e2e/nat-lab-chromium.mjs).
const MESSAGES: u64 = 20;

/// Browsers take turns: two labs' Chromium pairs at once would starve a two-core machine.
fn one_browser_lab_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A lab of its own for one test, in a scratch directory.
fn lab(name: &str) -> Lab {
    need("ip");
    let dir = scratch(&format!("nat-lab-{name}"));
    Lab::new(name, &dir)
}

/// An RTCIceServer for the relay at its public address.
fn turn(url: &str, r: &LabRelay) -> Value {
    let (username, credential) = r.browser_credential();
    json!({ "urls": [url], "username": username, "credential": credential })
}

/// Runs `scenarios` between Chromium in A and Chromium in B; one result per scenario.
fn calls(lab: &Lab, r: &LabRelay, scenarios: &Value) -> Vec<Value> {
    need("chromium");
    need("certutil");
    let file = lab.dir.join("scenarios.json");
    std::fs::write(&file, scenarios.to_string()).unwrap();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    // Bounded: the script bounds every wait, this bounds the script.
    let out = Command::new("timeout")
        .current_dir(root)
        .args(["150", "node", "e2e/nat-lab-chromium.mjs"])
        .args([lab.ns("a"), lab.ns("b")])
        .arg(&file)
        .arg(&r.ca_pem)
        .output()
        .expect("node must be installed");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the browsers failed: {:?}\n{text}{}\nrelay log:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        r.proc.log_text()
    );
    eprintln!("{text}");
    let results: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(results.len(), scenarios.as_array().unwrap().len(), "{text}");
    results
}

/// Every message went and came back.
fn every_message(res: &Value, relay: &LabRelay) {
    assert!(
        res["connected"] == true
            && res["sent"] == MESSAGES
            && res["received"] == MESSAGES
            && res["echoed"] == MESSAGES,
        "{}: not every message went both ways: {res}\nrelay log:\n{}",
        res["name"],
        relay.proc.log_text()
    );
}

/// A's offer carried relayed candidates, every one at `address`.
fn relayed_only_at(res: &Value, address: &str) {
    let relayed = res["aRelayed"].as_array().cloned().unwrap_or_default();
    assert!(
        !relayed.is_empty() && relayed.iter().all(|a| a == address),
        "A's relayed candidates should all be at {address}: {res}"
    );
}

#[test]
fn chromium_calls_across_three_nats_through_the_public_address() {
    let _turn = one_browser_lab_at_a_time();
    let lab = lab("call");
    let r = relay::start(&lab, Mapping::External, false);
    let stun = json!([{ "urls": [format!("stun:{RELAY_PUBLIC}:{PORT}")] }]);
    let udp = format!("turn:{RELAY_PUBLIC}:{PORT}?transport=udp");
    let tcp = format!("turn:{RELAY_PUBLIC}:{PORT}?transport=tcp");
    let tls = format!("turns:{RELAY_PUBLIC}:{TLS_PORT}?transport=tcp");
    let relay_only = |url: &str| json!({ "iceServers": [turn(url, &r)], "relayOnly": true });
    let scenarios = json!([
        { "name": "A relay only, B STUN only", "media": true,
          "a": relay_only(&udp), "b": { "iceServers": stun, "relayOnly": false } },
        { "name": "both relay only, UDP", "a": relay_only(&udp), "b": relay_only(&udp) },
        { "name": "both relay only, TCP", "a": relay_only(&tcp), "b": relay_only(&tcp) },
        { "name": "both relay only, TLS", "a": relay_only(&tls), "b": relay_only(&tls) },
    ]);
    let results = calls(&lab, &r, &scenarios);

    let first = &results[0];
    every_message(first, &r);
    assert!(
        first["frames"].as_u64().unwrap_or(0) >= 10,
        "B decoded no video from A: {first}"
    );
    relayed_only_at(first, RELAY_PUBLIC);
    assert_eq!(first["a"]["local"], "relay", "{first}");
    assert_eq!(first["a"]["address"], RELAY_PUBLIC, "{first}");
    // B reached A's relayed address from its NAT's public side.
    assert_eq!(first["b"]["local"], "srflx", "{first}");
    assert_eq!(first["b"]["address"], "198.51.100.66", "{first}");
    assert_eq!(first["b"]["remote"], "relay", "{first}");
    assert_eq!(first["b"]["remoteAddress"], RELAY_PUBLIC, "{first}");

    for (res, protocol) in results[1..].iter().zip(["udp", "tcp", "tls"]) {
        every_message(res, &r);
        for end in ["a", "b"] {
            assert_eq!(res[end]["local"], "relay", "{res}");
            assert_eq!(res[end]["remote"], "relay", "{res}");
            assert_eq!(res[end]["address"], RELAY_PUBLIC, "{res}");
            assert_eq!(res[end]["relayProtocol"], protocol, "{res}");
        }
    }
}

#[test]
fn without_the_mapping_a_call_from_behind_a_nat_does_not_connect() {
    let _turn = one_browser_lab_at_a_time();
    let lab = lab("ctl");
    let r = relay::start(&lab, Mapping::None, false);
    let stun = json!([{ "urls": [format!("stun:{RELAY_PUBLIC}:{PORT}")] }]);
    let udp = format!("turn:{RELAY_PUBLIC}:{PORT}?transport=udp");
    let scenarios = json!([
        { "name": "control: A relay only, B STUN only, no --external-ip",
          "a": { "iceServers": [turn(&udp, &r)], "relayOnly": true },
          "b": { "iceServers": stun, "relayOnly": false } },
    ]);
    let res = &calls(&lab, &r, &scenarios)[0];
    assert_eq!(
        res["connected"], false,
        "the call connected although the relay gave out its private address: {res}"
    );
    assert_eq!(res["echoed"], 0, "{res}");
    // A did get an allocation: the relay answered, with an address nobody outside can reach.
    relayed_only_at(res, net::RELAY_PRIVATE);
}

/// Sums `key=N` over the relay's "channel data relayed in the kernel" lines.
fn kernel_relayed(log: &str, key: &str) -> u64 {
    log.lines()
        .filter(|l| l.contains("channel data relayed in the kernel"))
        .filter_map(|l| {
            let rest = &l[l.find(&format!("{key}="))? + key.len() + 1..];
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

/// coturn's uclient in A's namespace through both NATs, to the echo peer at `peer`; every
/// message must come back.
fn uclient_from_a(lab: &Lab, r: &LabRelay, peer: SocketAddr, flags: &[&str]) -> Uclient {
    const CLIENTS: u64 = 3;
    const ECHOES: u64 = 40;
    let (m, n) = (CLIENTS.to_string(), ECHOES.to_string());
    let mut args = vec![
        "-u", USER.0, "-w", USER.1, "-m", &m, "-n", &n, "-l", "181", "-z", "5",
    ];
    args.extend_from_slice(flags);
    let server = SocketAddr::new(RELAY_PUBLIC.parse().unwrap(), PORT);
    let u = uclient_in(Some(&lab.ns("a")), server, peer, &args);
    let expected = CLIENTS * ECHOES;
    assert!(
        u.sent == expected && u.received == expected && u.lost == Some(0),
        "uclient {flags:?} to {peer}: sent {} received {} lost {:?} (expected {expected} each)\nuclient:\n{}\nrelay log:\n{}",
        u.sent,
        u.received,
        u.lost,
        u.output,
        r.proc.log_text()
    );
    u
}

#[test]
fn uclient_through_the_nats_with_the_kernel_fast_path_on_the_relays_interface() {
    let lab = lab("ucl");
    let r = relay::start(&lab, Mapping::External, true);
    let log = r.proc.log_text();
    assert!(
        log.contains("kernel fast path for ChannelData attached"),
        "{log}"
    );
    let peer_port = 3480u16;
    let _peer = lab.spawn_in(
        "inet",
        "peer",
        &need("turnutils_peer"),
        &["-L", PEER, "-p", &peer_port.to_string()],
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    let outside = SocketAddr::new(PEER.parse().unwrap(), peer_port);

    // ChannelData over UDP: every message through the kernel, both ways.
    let u = uclient_from_a(&lab, &r, outside, &[]);
    let log = eventually(std::time::Duration::from_secs(5), || {
        let log = r.proc.log_text();
        let lines = log.matches("channel data relayed in the kernel").count();
        (lines >= 3)
            .then_some(log)
            .ok_or("no kernel counters yet".to_string())
    });
    assert_eq!(kernel_relayed(&log, "to_peer_packets"), u.sent, "{log}");
    assert_eq!(
        kernel_relayed(&log, "to_client_packets"),
        u.received,
        "{log}"
    );

    // The sockets beside it: Send indications over UDP, and ChannelData over TCP.
    uclient_from_a(&lab, &r, outside, &["-s"]);
    uclient_from_a(&lab, &r, outside, &["-t"]);
}
