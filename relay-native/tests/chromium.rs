#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! Chromium's WebRTC through relay-native with the browser credential minted by
//! `relay-native token mint` (shared-token): relay-only peer connections over UDP, TCP and
//! TLS (`turns:`, with the test CA trusted in the browser's NSS database, and refused
//! without it).

mod common;

use std::process::Command;

use common::*;

const KEYS: &str =
    r#"[{"kid":"k1","alg":"A256GCM","key":"MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEK"}]"#;

fn mint(keys: &std::path::Path) -> (String, String, String) {
    let v = mint_json(keys, "turn.test", &[]);
    (
        v["browser"]["username"].as_str().unwrap().to_string(),
        v["browser"]["credential"].as_str().unwrap().to_string(),
        v["token_id"].as_str().unwrap().to_string(),
    )
}

/// Runs the page against `url`; returns whether it relayed, its output, and the relay log.
fn page(
    url: &str,
    username: &str,
    credential: &str,
    ca: Option<&std::path::Path>,
) -> (bool, String) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut cmd = Command::new("node");
    cmd.current_dir(root)
        .args(["e2e/relay-chromium.mjs", url, username, credential]);
    if let Some(ca) = ca {
        cmd.arg(ca);
    }
    let out = cmd.output().expect("node must be installed");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
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
    let (ok, stdout) = page(url, &username, &credential, None);
    assert!(
        ok,
        "Chromium through {url} failed:\n{stdout}\nrelay log:\n{}",
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

/// `turns:` to a relay whose certificate comes from a test CA: relayed when the browser
/// trusts the CA, refused (no relayed connection, failed handshakes at the relay) when not.
fn run_tls(trusted: bool) {
    need("chromium");
    need("certutil");
    let r = tls::start_tls_relay(
        &format!("chromium-tls-{trusted}"),
        KEYS,
        &["localhost", "127.0.0.1"],
        &[],
    );
    let (keys, port, pki) = (&r.keys, r.tls.port(), &r.pki);
    let (username, credential, _) = mint(keys);
    let url = format!("turns:localhost:{port}?transport=tcp");
    let (ok, out) = page(
        &url,
        &username,
        &credential,
        trusted.then_some(pki.ca_pem.as_path()),
    );
    let log = tls::stop(r.relay);
    let [completed, failed, ..] = tls::handshake_counts(&log).unwrap();
    if trusted {
        assert!(ok, "Chromium over turns: failed:\n{out}\nrelay log:\n{log}");
        assert!(out.contains("\"relayProtocol\":\"tls\""), "{out}");
        assert!(
            completed >= 2 && log.contains("allocation created"),
            "{log}"
        );
    } else {
        assert!(
            !ok,
            "Chromium relayed through an untrusted certificate:\n{out}"
        );
        assert!(
            completed == 0 && failed >= 1 && !log.contains("allocation created"),
            "Chromium should refuse the certificate:\n{log}"
        );
    }
}

#[test]
fn chromium_relays_over_turns_trusting_the_test_ca() {
    run_tls(true);
}

#[test]
fn chromium_refuses_turns_with_an_untrusted_certificate() {
    run_tls(false);
}
