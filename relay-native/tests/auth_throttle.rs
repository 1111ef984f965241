#![allow(clippy::unwrap_used, clippy::indexing_slicing)]
//! Online password guessing against a static user, through the real binary: after a burst of
//! wrong passwords from one source even the right one is refused (401, like a wrong one),
//! over UDP and TCP alike, until the window passes; another source is not affected; the
//! refusals are counted in `edgeturn_auth_throttled_total`; over TLS alike.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use common::metrics::{scrape, start_with_metrics, value};
use common::tls::start_tls_relay;
use common::*;
use relay_native::probe::Transport;
use relay_native::probe::client::{Credentials, TurnClient, choose};

const WINDOW: u64 = 3;

/// A client from `from` over `transport`, challenged once and holding alice's `password`.
fn client(relay: SocketAddr, transport: &Transport, from: &str, password: &str) -> TurnClient {
    let from: IpAddr = from.parse().unwrap();
    let mut c =
        TurnClient::connect_from(relay, transport, Duration::from_secs(2), Some(from)).unwrap();
    let challenge = c.allocate(None).unwrap();
    assert_eq!(challenge.error.as_ref().map(|e| e.0), Some(401));
    c.challenged(&challenge);
    let creds = Credentials::LongTerm {
        username: "alice".into(),
        password: password.into(),
    };
    let signature = choose(&creds, None, c.offered()).unwrap();
    c.set_credentials(creds, signature);
    c
}

/// The ERROR-CODE of an Allocate with alice's `password` from `from` (None: success).
fn allocate(relay: SocketAddr, transport: &Transport, from: &str, password: &str) -> Option<u16> {
    let mut c = client(relay, transport, from, password);
    let r = c.allocate(Some(600)).unwrap();
    if r.error.is_none() {
        let _ = c.refresh(0);
    }
    r.error.map(|e| e.0)
}

/// `n` wrong passwords from `from` over one connection (or 5-tuple), each refused with 401.
fn guess(relay: SocketAddr, transport: &Transport, from: &str, n: usize) {
    let mut c = client(relay, transport, from, "wrong");
    for i in 0..n {
        let r = c.allocate(Some(600)).unwrap();
        assert_eq!(r.error.as_ref().map(|e| e.0), Some(401), "guess {i}: {r:?}");
    }
}

#[test]
fn a_burst_of_wrong_passwords_locks_the_right_one_out_from_that_source_for_the_window() {
    let dir = scratch("auth-throttle");
    let window = WINDOW.to_string();
    let (_relay, addr, metrics) = start_with_metrics(
        &dir,
        2,
        &[
            "--user",
            "alice:secret",
            "--auth-failure-window",
            &window,
            "--auth-failure-limit-per-user",
            "100000",
        ],
    );
    let (udp, tcp) = (Transport::Udp, Transport::Tcp);
    // The right password works before.
    assert_eq!(allocate(addr, &tcp, "127.0.0.3", "secret"), None);

    // A few hundred wrong passwords over TCP, where no reply limit slows a guesser down.
    guess(addr, &tcp, "127.0.0.3", 300);
    assert_eq!(allocate(addr, &tcp, "127.0.0.3", "secret"), Some(401));
    assert_eq!(allocate(addr, &udp, "127.0.0.3", "secret"), Some(401));
    assert_eq!(
        allocate(addr, &tcp, "127.0.0.4", "secret"),
        None,
        "another source"
    );

    // Over UDP (within the 401 reply limit's burst): 25 wrong, then the right one is refused,
    // over UDP and over TCP; another source is not.
    guess(addr, &udp, "127.0.0.1", 25);
    assert_eq!(allocate(addr, &udp, "127.0.0.1", "secret"), Some(401));
    assert_eq!(allocate(addr, &tcp, "127.0.0.1", "secret"), Some(401));
    assert_eq!(
        allocate(addr, &udp, "127.0.0.2", "secret"),
        None,
        "another source"
    );

    let text = scrape(metrics);
    let udp_throttled = value(
        &text,
        "edgeturn_auth_throttled_total",
        &[("transport", "udp")],
    );
    let tcp_throttled = value(
        &text,
        "edgeturn_auth_throttled_total",
        &[("transport", "tcp")],
    );
    // Guesses past the limit are refused unverified too (20 per source count): over TCP
    // 280 guesses and two right passwords, over UDP 5 guesses and two right passwords.
    assert_eq!((udp_throttled, tcp_throttled), (7, 282), "{text}");
    assert_eq!(
        value(
            &text,
            "edgeturn_auth_failures_total",
            &[("reason", "throttled")]
        ),
        289
    );

    // After the window the right password works again, from both sources.
    std::thread::sleep(Duration::from_secs(WINDOW) + Duration::from_millis(300));
    assert_eq!(allocate(addr, &udp, "127.0.0.1", "secret"), None);
    assert_eq!(allocate(addr, &tcp, "127.0.0.3", "secret"), None);
}

#[test]
fn over_tls_the_same_burst_locks_the_right_password_out() {
    let metrics = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let m = metrics.to_string();
    let r = start_tls_relay(
        "auth-throttle-tls",
        r#"[{"kid":"k1","alg":"A256GCM","key":"MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEK"}]"#,
        &["turn.test", "127.0.0.1"],
        &[
            "--user",
            "alice:secret",
            "--auth-failure-limit",
            "5",
            "--auth-failure-window",
            "60",
            "--metrics",
            &m,
        ],
    );
    let tls = Transport::Tls {
        name: "turn.test".into(),
        ca: Some(r.pki.ca_pem.clone()),
    };
    guess(r.tls, &tls, "127.0.0.1", 5);
    assert_eq!(allocate(r.tls, &tls, "127.0.0.1", "secret"), Some(401));
    // Counted as the same source over the other transports too.
    assert_eq!(
        allocate(r.udp, &Transport::Tcp, "127.0.0.1", "secret"),
        Some(401)
    );
    assert_eq!(
        allocate(r.tls, &tls, "127.0.0.2", "secret"),
        None,
        "another source"
    );
    let text = scrape(metrics);
    assert_eq!(
        value(
            &text,
            "edgeturn_auth_throttled_total",
            &[("transport", "tls")]
        ),
        1,
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            "edgeturn_auth_throttled_total",
            &[("transport", "tcp")]
        ),
        1
    );
}
