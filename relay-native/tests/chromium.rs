#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! Chromium's WebRTC through relay-native with the browser credential minted by
//! `relay-native token mint` (shared-token): relay-only peer connections over UDP and TCP.

mod common;

use std::process::Command;

use common::*;

const KEYS: &str =
    r#"[{"kid":"k1","alg":"A256GCM","key":"MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEK"}]"#;

fn mint(keys: &std::path::Path) -> (String, String, String) {
    let out = Command::new(relay_bin())
        .args([
            "token",
            "mint",
            "--server-name",
            "turn.test",
            "--lifetime",
            "600",
            "--keys",
        ])
        .arg(keys)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "token mint failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        v["browser"]["username"].as_str().unwrap().to_string(),
        v["browser"]["credential"].as_str().unwrap().to_string(),
        v["token_id"].as_str().unwrap().to_string(),
    )
}

fn run(transport: &str, offload: bool) {
    need("chromium");
    let dir = scratch(&format!("chromium-{transport}-{offload}"));
    let keys = dir.join("keys.json");
    std::fs::write(&keys, KEYS).unwrap();
    let (relay, addr) = start_relay(
        &dir,
        &relay_args(&keys)
            .into_iter()
            .chain(if offload {
                vec!["--offload", "lo"]
            } else {
                vec![]
            })
            .collect::<Vec<_>>(),
    );
    let (token_id, stdout) =
        relay_only(&keys, &format!("turn:{addr}?transport={transport}"), &relay);
    assert!(stdout.contains("\"local\":\"relay\""), "{stdout}");
    // The relay logged the browser's allocations under the token's id, never the token.
    let log = relay.log_text();
    assert!(
        log.contains("allocation created") && log.contains(&token_id),
        "relay log lacks token id {token_id}:\n{log}"
    );
    if offload {
        // Stop the relay; its last line counts what the kernel relayed. Both browsers' peer
        // is the other's relay address, so each direction's first hop is the kernel's
        // (client -> peer) and the second the other allocation's socket.
        let path = relay.log.clone();
        drop(relay);
        let log = std::fs::read_to_string(path).unwrap();
        let line = log
            .lines()
            .find(|l| l.contains("kernel fast path detached"))
            .unwrap_or_else(|| panic!("{log}"));
        let to_peer: u64 = line
            .split("to_peer_packets=")
            .nth(1)
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(
            to_peer > 0,
            "Chromium's channel data never took the kernel path:\n{log}"
        );
    }
}

fn relay_args(keys: &std::path::Path) -> Vec<&str> {
    vec![
        "--keys",
        keys.to_str().unwrap(),
        "--server-name",
        "turn.test",
        "--allow-loopback-peers",
    ]
}

/// Two relay-only peer connections in Chromium through `url` with a fresh browser
/// credential; the token's id and the script's JSON line. The relay's log must not hold the
/// credential.
fn relay_only(keys: &std::path::Path, url: &str, relay: &Proc) -> (String, String) {
    let (username, credential, token_id) = mint(keys);
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let out = Command::new("node")
        .current_dir(root)
        .args(["e2e/relay-chromium.mjs", url, &username, &credential])
        .output()
        .expect("node must be installed");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "Chromium through {url} failed:\n{stdout}{}\nrelay log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        relay.log_text()
    );
    let log = relay.log_text();
    assert!(
        !log.contains(&credential) && !log.contains(&username[12..40]),
        "relay log leaks the credential:\n{log}"
    );
    (token_id, stdout)
}

#[test]
fn chromium_relays_through_an_ipv6_turn_url() {
    need("chromium");
    let dir = scratch("chromium-ipv6");
    let keys = dir.join("keys.json");
    std::fs::write(&keys, KEYS).unwrap();
    let (relay, _v4, v6) = start_dual_relay(&dir, &relay_args(&keys));
    let (token_id, stdout) = relay_only(&keys, &format!("turn:{v6}?transport=udp"), &relay);
    // Both ends relay through IPv6 relayed addresses: Chromium sends no
    // REQUESTED-ADDRESS-FAMILY, and the relay gives a client the family it came by.
    let r: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    for end in ["a", "b"] {
        assert_eq!(r[end]["local"], "relay", "{stdout}");
        assert_eq!(r[end]["remote"], "relay", "{stdout}");
        assert_eq!(r[end]["address"], "::1", "{stdout}");
    }
    let log = relay.log_text();
    let created: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("allocation created"))
        .collect();
    assert!(
        !created.is_empty()
            && created.iter().all(|l| l.contains("client=[::1]:")
                && l.contains("relay=\"[::1]:")
                && l.contains(&token_id)),
        "{log}"
    );
}

#[test]
fn chromium_relays_over_udp() {
    run("udp", false);
}

#[test]
fn chromium_relays_over_tcp() {
    run("tcp", false);
}

#[test]
fn chromium_relays_over_udp_with_the_kernel_fast_path() {
    run("udp", true);
}
