#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! TURN over TLS against real clients: coturn's `turnutils_uclient -t -S` with every message
//! echoed, `relay-native probe --transport tls` trusting a test CA (and refusing without
//! it), and the certificate swapped under a running relay (SIGHUP and file change) while an
//! established TLS allocation keeps relaying; a bad new certificate is refused.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::pki::{Leaf, Pki, Validity};
use common::tls::{TlsRelay, served_certificate, start_tls_relay, stop};
use common::*;

/// The names the relay's certificates carry.
const NAMES: [&str; 2] = ["turn.test", "127.0.0.1"];

fn tls_relay(name: &str, extra: &[&str]) -> TlsRelay {
    let mut args = vec!["--user", "alice:secret"];
    args.extend_from_slice(extra);
    start_tls_relay(name, COTURN_KEYS, &NAMES, &args)
}

fn uclient_tls(name: &str, flags: &[&str]) {
    const CLIENTS: u64 = 3;
    const MESSAGES: u64 = 30;
    let r = tls_relay(name, &[]);
    let (_peer, port) = start_peer(&r.dir);
    let mut args = vec!["-t", "-S"];
    args.extend_from_slice(flags);
    uclient_all_echoed(name, &r.relay, r.tls, port, (CLIENTS, MESSAGES), &args);
    let log = stop(r.relay);
    let [completed, ..] = common::tls::handshake_counts(&log).expect("handshake counts");
    assert!(
        completed >= CLIENTS,
        "uclient's connections were TLS: {log}"
    );
}

#[test]
fn uclient_over_tls_static_user_channel_data() {
    uclient_tls("tls-static", &["-u", "alice", "-w", "secret"]);
}

#[test]
fn uclient_over_tls_send_indications() {
    uclient_tls("tls-send", &["-s", "-u", "alice", "-w", "secret"]);
}

#[test]
fn uclient_over_tls_oauth_tokens() {
    uclient_tls("tls-oauth", &["-J"]);
}

fn probe(token: &Path, args: &[&str]) -> Output {
    Command::new(relay_bin())
        .arg("probe")
        .args(args)
        .arg("--token-json")
        .arg(token)
        .args(["--timeout", "3", "-q"])
        .output()
        .unwrap()
}

fn report(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "probe printed no report ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn probe_over_tls_trusts_the_test_ca_and_nothing_else() {
    let r = tls_relay("tls-probe", &[]);
    let token = r.token("token.json");
    let ca = r.pki.ca_pem.to_str().unwrap();
    let tls = r.tls.to_string();
    let ok = probe(
        &token,
        &["--transport", "tls", "--server", &tls, "--tls-ca", ca],
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let rep = report(&ok);
    assert_eq!(rep["transport"], "tls");
    assert_eq!(rep["released"], true);
    // The same relay over TCP and UDP, for comparison.
    let udp = r.udp.to_string();
    for t in ["tcp", "udp"] {
        let out = probe(&token, &["--transport", t, "--server", &udp]);
        assert!(
            out.status.success(),
            "{t}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(report(&out)["transport"], t);
    }
    // The Mozilla roots do not include the test CA: the handshake fails (exit 13).
    let untrusted = probe(&token, &["--transport", "tls", "--server", &tls]);
    assert_eq!(untrusted.status.code(), Some(13), "{untrusted:?}");
    assert!(
        String::from_utf8_lossy(&untrusted.stderr).contains("TLS handshake failed"),
        "{untrusted:?}"
    );
    // Another CA's certificate is not trusted either.
    let other = Pki::new(&r.dir, "other");
    let out = probe(
        &token,
        &[
            "--transport",
            "tls",
            "--server",
            &tls,
            "--tls-ca",
            other.ca_pem.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(13), "{out:?}");
    let log = stop(r.relay);
    let [completed, failed, ..] = common::tls::handshake_counts(&log).unwrap();
    assert!(completed >= 1 && failed >= 2, "{log}");
}

/// Replaces the relay's certificate and key files the way certbot does: new files renamed
/// over the old ones (key first).
fn install(r: &TlsRelay, leaf: &Leaf) {
    for (from, to) in [(&leaf.key, &r.leaf.key), (&leaf.cert, &r.leaf.cert)] {
        let tmp = to.with_extension("new");
        std::fs::copy(from, &tmp).unwrap();
        std::fs::rename(&tmp, to).unwrap();
    }
}

fn sighup(p: &Proc) {
    let ok = Command::new("kill")
        .args(["-HUP", &p.child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// Waits until new handshakes get `want` (DER), or fails with what they get.
fn wait_served(r: &TlsRelay, want: &[u8], why: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let got = served_certificate(r.tls, "turn.test", &r.pki.ca_pem);
        if got.as_deref() == Ok(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{why}: new connections do not get the expected certificate ({:?})\n{}",
            got.map(|g| g.len()),
            r.relay.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until the relay log has one more line containing `what` than `before` said.
fn wait_log(r: &TlsRelay, what: &str, before: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while r.relay.log_text().matches(what).count() <= before {
        assert!(
            Instant::now() < deadline,
            "no new log line with {what:?}:\n{}",
            r.relay.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A probe that holds a TLS allocation for `secs`, relaying data after every refresh (each
/// second), started in the background.
fn hold_probe(r: &TlsRelay, secs: u32) -> Proc {
    let token = r.token("hold-token.json");
    let (tls, hold) = (r.tls.to_string(), secs.to_string());
    let p = spawn(
        &r.dir,
        "probe",
        &relay_bin(),
        &[
            "probe",
            "--transport",
            "tls",
            "--server",
            &tls,
            "--tls-ca",
            r.pki.ca_pem.to_str().unwrap(),
            "--token-json",
            token.to_str().unwrap(),
            "--hold",
            &hold,
            "--refresh-every",
            "1",
            "--timeout",
            "3",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !p.log_text().contains("allocated") {
        assert!(
            Instant::now() < deadline,
            "probe did not allocate:\n{}",
            p.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    p
}

/// The background probe ended well: every refresh relayed data on the same TLS session.
fn held(mut p: Proc, at_least: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = p.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "probe did not finish:\n{}",
            p.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let log = p.log_text();
    assert!(status.success(), "the held TLS allocation broke:\n{log}");
    let refreshed = log.matches("refreshed:").count() as u64;
    assert!(
        refreshed >= at_least && log.contains("\"released\": true"),
        "expected {at_least}+ refreshes with data, each on the same TLS session:\n{log}"
    );
}

#[test]
fn certificate_swapped_on_sighup_while_a_tls_allocation_relays() {
    let r = tls_relay("tls-sighup", &["--tls-reload-interval", "0"]);
    wait_served(&r, &r.leaf.der, "at start");
    let prober = hold_probe(&r, 6);

    // A key that is not the certificate's: refused, the old certificate stays.
    let stranger = r.pki.leaf(&r.dir, "stranger", &NAMES, Validity::Now);
    let refused = r.relay.log_text().matches("reload refused").count();
    std::fs::copy(&stranger.key, &r.leaf.key).unwrap();
    sighup(&r.relay);
    wait_log(&r, "reload refused", refused);
    assert!(
        r.relay.log_text().contains("does not belong"),
        "{}",
        r.relay.log_text()
    );
    wait_served(&r, &r.leaf.der, "after a mismatched key");

    // A good new pair: served from the next handshake on.
    let next = r.pki.leaf(&r.dir, "next", &NAMES, Validity::Now);
    install(&r, &next);
    sighup(&r.relay);
    wait_served(&r, &next.der, "after SIGHUP");
    assert!(
        r.relay.log_text().contains("SIGHUP: certificate reloaded"),
        "{}",
        r.relay.log_text()
    );
    held(prober, 4);
}

#[test]
fn certificate_swapped_on_file_change_expired_one_refused() {
    let r = tls_relay("tls-watch", &["--tls-reload-interval", "1"]);
    let prober = hold_probe(&r, 7);

    // An expired certificate (with its own key): refused, the old one stays.
    let expired = r.pki.leaf(&r.dir, "expired", &NAMES, Validity::Expired);
    let refused = r.relay.log_text().matches("not now").count();
    install(&r, &expired);
    wait_log(&r, "not now", refused);
    wait_served(&r, &r.leaf.der, "after an expired certificate");

    // A good one: picked up without a signal.
    let next = r.pki.leaf(&r.dir, "next", &NAMES, Validity::Now);
    install(&r, &next);
    wait_served(&r, &next.der, "after the files changed");
    assert!(
        r.relay
            .log_text()
            .contains("certificate files changed: certificate reloaded"),
        "{}",
        r.relay.log_text()
    );
    held(prober, 5);
}

fn check_config(args: &[&str]) -> Output {
    Command::new(relay_bin())
        .arg("check-config")
        .args(args)
        .env_remove("EDGETURN_KEYS")
        .env_remove("EDGETURN_USERS")
        .env_remove("EDGETURN_AUTH_SECRETS")
        .output()
        .unwrap()
}

#[test]
fn check_config_prints_effective_settings_without_secrets() {
    let dir = scratch("check-config");
    let pki = Pki::new(&dir, "cc");
    let leaf = pki.leaf(&dir, "relay", &NAMES, Validity::Now);
    let keys = dir.join("keys.json");
    std::fs::write(&keys, COTURN_KEYS).unwrap();
    let toml = dir.join("relay.toml");
    std::fs::write(
        &toml,
        format!(
            r#"listen = "127.0.0.1:3478"
realm = "example.test"
keys = "{}"
users = ["alice:alice-password-1234"]
auth_secrets = ["rest-secret-5678"]
tls_listen = ["127.0.0.1:5349", "127.0.0.1:8443"]
tls_cert = "{}"
tls_key = "{}"
"#,
            keys.display(),
            leaf.cert.display(),
            leaf.key.display()
        ),
    )
    .unwrap();
    let out = check_config(&[
        "--config",
        toml.to_str().unwrap(),
        "--tls-handshake-limit",
        "99",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        r#"tls_listen = ["127.0.0.1:5349", "127.0.0.1:8443"]"#,
        "tls_handshake_limit = 99",
        "tls_handshake_timeout = 10",
        r#"users = ["alice:[redacted]"]"#,
        r#"auth_secrets = ["[redacted]"]"#,
        r#"realm = "example.test""#,
        "names turn.test, 127.0.0.1",
        "kids north, union, oldempire",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    let key_pem = std::fs::read_to_string(&leaf.key).unwrap();
    let key_body = key_pem.lines().nth(1).unwrap();
    for secret in [
        "alice-password-1234",
        "rest-secret-5678",
        "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEK",
        key_body,
    ] {
        assert!(
            !text.contains(secret),
            "check-config printed a secret:\n{text}"
        );
    }

    let cert = leaf.cert.to_str().unwrap();
    let key = leaf.key.to_str().unwrap();
    let stranger = pki.leaf(&dir, "stranger", &NAMES, Validity::Now);
    let expired = pki.leaf(&dir, "expired", &NAMES, Validity::Expired);
    let bad_keys = dir.join("bad-keys.json");
    std::fs::write(
        &bad_keys,
        r#"[{"kid":"k","alg":"A256GCM","key":"c2hvcnQ="}]"#,
    )
    .unwrap();
    let unknown = dir.join("unknown.toml");
    std::fs::write(&unknown, "tls_listn = [\"127.0.0.1:5349\"]\n").unwrap();
    let base = ["--user", "alice:pw", "--listen", "127.0.0.1:3478"];
    let tls = ["--tls-listen", "127.0.0.1:5349"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            [
                &base[..],
                &tls,
                &[
                    "--tls-cert",
                    cert,
                    "--tls-key",
                    stranger.key.to_str().unwrap(),
                ],
            ]
            .concat(),
            "does not belong to the first certificate",
        ),
        (
            [
                &base[..],
                &tls,
                &["--tls-cert", "/nonexistent/cert.pem", "--tls-key", key],
            ]
            .concat(),
            "--tls-cert /nonexistent/cert.pem",
        ),
        (
            [&base[..], &tls, &["--tls-cert", cert, "--tls-key", cert]].concat(),
            "no PEM private key",
        ),
        ([&base[..], &tls].concat(), "--tls-listen needs --tls-cert"),
        (
            [
                &base[..],
                &[
                    "--tls-listen",
                    "0.0.0.0:3478",
                    "--tls-cert",
                    cert,
                    "--tls-key",
                    key,
                ],
            ]
            .concat(),
            "must differ from each other and from --listen",
        ),
        (
            [&base[..], &["--tls-cert", cert, "--tls-key", key]].concat(),
            "need --tls-listen",
        ),
        (
            [
                &base[..],
                &tls,
                &[
                    "--tls-cert",
                    expired.cert.to_str().unwrap(),
                    "--tls-key",
                    expired.key.to_str().unwrap(),
                ],
            ]
            .concat(),
            "not now",
        ),
        (
            [
                &base[..],
                &tls,
                &[
                    "--tls-cert",
                    cert,
                    "--tls-key",
                    key,
                    "--tls-handshake-timeout",
                    "0",
                ],
            ]
            .concat(),
            "--tls-handshake-timeout must be",
        ),
        (
            [&base[..], &["--keys", bad_keys.to_str().unwrap()]].concat(),
            "bad-keys.json",
        ),
        (
            vec!["--config", unknown.to_str().unwrap()],
            "unknown field `tls_listn`",
        ),
        (
            vec!["--listen", "127.0.0.1:3478"],
            "no credentials configured",
        ),
    ];
    for (args, says) in cases {
        let out = check_config(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(says),
            "check-config {args:?}: expected failure saying {says:?}, got {:?}:\n{err}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
fn tls_handshakes_and_the_certificate_reach_the_metrics() {
    use common::metrics::{promtool_check, scrape, value};
    let metrics = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
    let m = metrics.to_string();
    let r = tls_relay("tls-metrics", &["--metrics", &m]);
    // One handshake that completes, one connection that is not TLS at all.
    served_certificate(r.tls, "turn.test", &r.pki.ca_pem).unwrap();
    let mut plain = std::net::TcpStream::connect(r.tls).unwrap();
    std::io::Write::write_all(&mut plain, b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let text = eventually(Duration::from_secs(10), || {
        let text = scrape(metrics);
        let done = value(&text, "edgeturn_tls_handshakes_total", &[]) >= 1
            && value(
                &text,
                "edgeturn_tls_handshake_failures_total",
                &[("reason", "error")],
            ) >= 1;
        if done { Ok(text) } else { Err(text) }
    });
    promtool_check(&text);
    let expiry = value(
        &text,
        "edgeturn_tls_certificate_expiry_timestamp_seconds",
        &[("certificate", NAMES[0])],
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(expiry > now + 86_400, "{expiry}:\n{text}");
    assert_eq!(
        value(
            &text,
            "edgeturn_connections_accepted_total",
            &[("transport", "tls")]
        ),
        1,
        "the plain connection never finished a handshake:\n{text}"
    );
    stop(r.relay);
}
