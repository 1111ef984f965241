#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! `relay-native probe`, the native RFC 7635 client, against relay-native and against coturn's
//! turnserver holding the same kid and key, with tokens from `token mint`; and each failure
//! it reports with its own exit code. (Tokens from edge-oauth's token endpoint, including bad
//! client credentials and token renewal: `cargo xtask e2e`, which runs the edge.)

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

const KID: &str = "probe-1";
const KEY: &str = "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEK";
const OTHER_KEY: &str = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIK";
const SERVER_NAME: &str = "turn.probe.test";

fn keys(dir: &Path, name: &str, key: &str) -> String {
    let p = dir.join(name);
    std::fs::write(
        &p,
        format!(r#"[{{"kid":"{KID}","alg":"A256GCM","key":"{key}"}}]"#),
    )
    .unwrap();
    p.to_str().unwrap().to_string()
}

fn probe(server: SocketAddr, args: &[&str]) -> Output {
    Command::new(relay_bin())
        .args(["probe", "--server", &server.to_string(), "--timeout", "2"])
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The probe succeeded; its JSON report.
fn report(o: &Output) -> serde_json::Value {
    assert!(
        o.status.success(),
        "probe failed ({:?}):\n{}",
        o.status.code(),
        stderr(o)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The probe failed with `code` and said `what` on its last line.
fn fails(o: &Output, code: i32, what: &str) {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(code),
        "expected exit {code} ({what}), stderr:\n{err}"
    );
    let last = err.lines().last().unwrap_or("");
    assert!(
        last.starts_with("relay-native probe: ") && last.contains(what),
        "last line {last:?} should say {what:?}"
    );
}

fn relay_native(dir: &Path, extra: &[&str]) -> (Proc, SocketAddr) {
    let keys = keys(dir, "keys.json", KEY);
    let mut args = vec![
        "--keys",
        &keys,
        "--server-name",
        SERVER_NAME,
        "--allow-loopback-peers",
    ];
    args.extend_from_slice(extra);
    start_relay(dir, &args)
}

fn coturn(dir: &Path) -> (Proc, SocketAddr) {
    let port = free_port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../e2e/coturn-oauth.sh");
    need("turnserver");
    need("sqlite3");
    let d = dir.to_str().unwrap();
    let p = spawn(
        dir,
        "coturn",
        &script,
        &[
            d,
            &port.to_string(),
            SERVER_NAME,
            "probe.realm",
            KID,
            KEY,
            "A256GCM",
        ],
    );
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    wait_binding(addr, &p);
    (p, addr)
}

#[test]
fn succeeds_against_relay_native_and_refreshes() {
    let dir = scratch("probe-ok");
    let (relay, addr) = relay_native(&dir, &[]);
    let tok = mint_token(
        &dir,
        "tok.json",
        &keys(&dir, "k.json", KEY),
        SERVER_NAME,
        600,
        0,
    );
    let r = report(&probe(
        addr,
        &[
            "--token-json",
            tok.to_str().unwrap(),
            "--hold",
            "2",
            "--refresh-every",
            "1",
            "--messages",
            "20",
            "--size",
            "300",
        ],
    ));
    assert_eq!(r["server_name"], SERVER_NAME);
    assert_eq!(r["kid"], KID);
    assert_eq!(r["released"], true);
    assert!(r["refreshes"].as_u64().unwrap() >= 1, "{r}");
    let id = r["token_id"].as_str().unwrap();
    let log = relay.log_text();
    for event in ["created", "refreshed", "deleted"] {
        assert!(
            log.lines()
                .any(|l| l.contains(id) && l.contains(&format!("event=\"{event}\""))),
            "relay log has no {event} line for token {id}:\n{log}"
        );
    }
    assert!(!log.contains(KEY), "the relay logged its key");
    // What the probe says it sent through the relay is what the relay counted.
    let t = &r["traffic"];
    assert!(t["to_peer_bytes"].as_u64().unwrap() >= 20 * 300, "{r}");
    let end = log
        .lines()
        .find(|l| l.contains(id) && l.contains("event=\"deleted\""))
        .unwrap();
    for k in [
        "to_peer_packets",
        "to_peer_bytes",
        "to_client_packets",
        "to_client_bytes",
    ] {
        assert!(
            end.contains(&format!("{k}={}", t[k])),
            "{k}: the probe says {}, the relay: {end}",
            t[k]
        );
    }
}

#[test]
fn succeeds_against_coturn_holding_the_same_key() {
    let dir = scratch("probe-coturn");
    let (_coturn, addr) = coturn(&dir);
    let tok = mint_token(
        &dir,
        "tok.json",
        &keys(&dir, "k.json", KEY),
        SERVER_NAME,
        600,
        0,
    );
    let r = report(&probe(
        addr,
        &[
            "--token-json",
            tok.to_str().unwrap(),
            "--hold",
            "2",
            "--refresh-every",
            "1",
        ],
    ));
    assert_eq!(
        r["server_name"], SERVER_NAME,
        "coturn's THIRD-PARTY-AUTHORIZATION"
    );
    assert!(r["refreshes"].as_u64().unwrap() >= 1, "{r}");
    assert_eq!(r["released"], true);
}

#[test]
fn relays_through_an_external_echo_peer() {
    let dir = scratch("probe-peer");
    let (_relay, addr) = relay_native(&dir, &[]);
    let (_peer, port) = start_peer(&dir);
    let tok = mint_token(
        &dir,
        "tok.json",
        &keys(&dir, "k.json", KEY),
        SERVER_NAME,
        600,
        0,
    );
    let peer = format!("127.0.0.1:{port}");
    let r = report(&probe(
        addr,
        &["--token-json", tok.to_str().unwrap(), "--peer", &peer],
    ));
    assert_eq!(r["peer"], peer.as_str());
}

#[test]
fn each_failure_has_its_exit_code() {
    let dir = scratch("probe-errors");
    let (_relay, addr) = relay_native(&dir, &[]);
    let (_coturn, coturn_addr) = coturn(&dir);
    let good_keys = keys(&dir, "k.json", KEY);
    let other_keys = keys(&dir, "other.json", OTHER_KEY);
    let arg = |p: &PathBuf| p.to_str().unwrap().to_string();

    // Expired an hour ago: relay-native and coturn both refuse it, and the probe says why.
    let expired = arg(&mint_token(
        &dir,
        "expired.json",
        &good_keys,
        SERVER_NAME,
        60,
        3600,
    ));
    fails(
        &probe(addr, &["--token-json", &expired]),
        8,
        "token expired",
    );
    fails(
        &probe(coturn_addr, &["--token-json", &expired]),
        8,
        "token expired",
    );

    // Sealed with another key under the same kid, or for another server name.
    let foreign = arg(&mint_token(
        &dir,
        "foreign.json",
        &other_keys,
        SERVER_NAME,
        600,
        0,
    ));
    fails(
        &probe(addr, &["--token-json", &foreign]),
        7,
        "token rejected by the relay",
    );
    fails(
        &probe(coturn_addr, &["--token-json", &foreign]),
        7,
        "token rejected by the relay",
    );
    let elsewhere = arg(&mint_token(
        &dir,
        "elsewhere.json",
        &good_keys,
        "turn.other.test",
        600,
        0,
    ));
    fails(
        &probe(addr, &["--token-json", &elsewhere]),
        7,
        "token rejected by the relay",
    );

    // A relay that takes no tokens says so in its 401.
    let (_plain, plain_addr) = start_relay(&dir, &["--user", "alice:secret"]);
    let good = arg(&mint_token(
        &dir,
        "good.json",
        &good_keys,
        SERVER_NAME,
        600,
        0,
    ));
    fails(
        &probe(plain_addr, &["--token-json", &good]),
        9,
        "no third-party authorization",
    );

    // Policy: the relay refuses the peer.
    let (_deny, deny_addr) = relay_native(&dir, &["--deny-peer", "127.0.0.0/8"]);
    fails(&probe(deny_addr, &["--token-json", &good]), 10, "403");

    // A server that never answers, and one that is not there.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    fails(
        &probe(silent.local_addr().unwrap(), &["--token-json", &good]),
        6,
        "did not answer Allocate",
    );
    let gone = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    fails(&probe(gone, &["--token-json", &good]), 6, "nothing listens");

    // A token endpoint that is not there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{closed}/oauth2/token");
    fails(
        &probe(
            addr,
            &[
                "--token-endpoint",
                &url,
                "--client-id",
                "x",
                "--client-secret",
                "y",
            ],
        ),
        3,
        "token endpoint unreachable",
    );

    // Bad arguments.
    fails(
        &probe(addr, &["--token-json", "/nonexistent/token.json"]),
        2,
        "--token-json",
    );
}

#[test]
fn integrity_sha256_and_sha1_with_tokens() {
    let dir = scratch("probe-integrity-token");
    let (relay, addr) = relay_native(&dir, &[]);
    let keys = keys(&dir, "k.json", KEY);
    // A 32-byte mac_key signs with MESSAGE-INTEGRITY-SHA256, by default and when asked.
    let sha256 = mint_token_with(
        &dir,
        "sha256.json",
        &keys,
        SERVER_NAME,
        600,
        0,
        &["--sha256"],
    );
    let sha256 = sha256.to_str().unwrap();
    for extra in [&[][..], &["--integrity", "sha256"][..]] {
        let mut args = vec!["--token-json", sha256];
        args.extend_from_slice(extra);
        let r = report(&probe(addr, &args));
        assert_eq!(r["integrity"], "sha256", "{r}");
        assert_eq!(r["password_algorithm"], serde_json::Value::Null, "{r}");
    }
    // A 20-byte one signs with MESSAGE-INTEGRITY.
    let sha1 = mint_token(&dir, "tok.json", &keys, SERVER_NAME, 600, 0);
    let sha1 = sha1.to_str().unwrap();
    let r = report(&probe(addr, &["--token-json", sha1, "--integrity", "sha1"]));
    assert_eq!(r["integrity"], "sha1", "{r}");
    // The key decides: asking for the other is a usage error, found before the relay is asked.
    fails(
        &probe(addr, &["--token-json", sha256, "--integrity", "sha1"]),
        2,
        "needs a token whose mac_key has 20 bytes",
    );
    fails(
        &probe(addr, &["--token-json", sha1, "--integrity", "sha256"]),
        2,
        "needs a token whose mac_key has 32 bytes",
    );
    assert!(!relay.log_text().contains(KEY));
}

#[test]
fn integrity_sha256_and_sha1_with_long_term_credentials() {
    let dir = scratch("probe-integrity-long-term");
    let (_relay, addr) = relay_native(&dir, &["--user", "alice:secret"]);
    let alice = ["--turn-username", "alice", "--turn-password", "secret"];
    // The relay offers SHA-256: taken by default, and on request.
    for extra in [&[][..], &["--integrity", "sha256"][..]] {
        let mut args = alice.to_vec();
        args.extend_from_slice(extra);
        let r = report(&probe(addr, &args));
        assert_eq!(r["integrity"], "sha256", "{r}");
        assert_eq!(r["password_algorithm"], "SHA256", "{r}");
        assert_eq!(r["username"], "alice", "{r}");
        assert_eq!(r["released"], true, "{r}");
    }
    // What browsers do: MESSAGE-INTEGRITY with the MD5 key (here negotiated as RFC 8489 says).
    let mut args = alice.to_vec();
    args.extend_from_slice(&["--integrity", "sha1"]);
    let r = report(&probe(addr, &args));
    assert_eq!(r["integrity"], "sha1", "{r}");
    assert_eq!(r["password_algorithm"], "MD5", "{r}");
    // A wrong password is refused with its own message.
    fails(
        &probe(
            addr,
            &[
                "--turn-username",
                "alice",
                "--turn-password",
                "wrong",
                "--integrity",
                "sha256",
            ],
        ),
        7,
        "credentials rejected by the relay",
    );
}

#[test]
fn long_term_credentials_against_coturn_fall_back_to_sha1() {
    // coturn 4.6 offers no password algorithms: the probe signs with MD5 and SHA-1 by itself,
    // and refuses to pretend when SHA-256 is demanded.
    let dir = scratch("probe-coturn-long-term");
    let (_coturn, addr) = coturn(&dir);
    let user = [
        "--turn-username",
        "probe-user",
        "--turn-password",
        "probe-pass",
    ];
    let r = report(&probe(addr, &user));
    assert_eq!(r["integrity"], "sha1", "{r}");
    assert_eq!(r["password_algorithm"], serde_json::Value::Null, "{r}");
    let mut args = user.to_vec();
    args.extend_from_slice(&["--integrity", "sha256"]);
    fails(&probe(addr, &args), 10, "offers no SHA-256");
}
