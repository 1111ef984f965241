#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! `serve --metrics`: the Prometheus text passes promtool, its relayed packet and byte
//! counters equal what coturn's uclient sent and got back (exactly, on the sockets and in
//! the kernel fast path), authentication failures, error responses, rate-limited and
//! malformed requests move when they happen, the health endpoints answer, and a real
//! Prometheus server scrapes the relay and serves the series through its HTTP API.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use common::metrics::*;
use common::*;
use stun_types::attribute::{ErrorCode, Nonce, Realm, Username};
use stun_types::message::{
    IntegrityAlgorithm, LongTermCredentials, Message, MessageClass, MessageWrite, MessageWriteExt,
    MessageWriteVec, Method,
};
use turn_types::attribute::{Lifetime, RequestedTransport};
use turn_types::message::{ALLOCATE, REFRESH};

const CLIENTS: u64 = 3;
const MESSAGES: u64 = 40;
const LEN: u64 = 180;

/// A relay with static user alice, `shards` shards and metrics on a free port.
fn relay_with_metrics(
    dir: &std::path::Path,
    shards: usize,
    extra: &[&str],
) -> (Proc, SocketAddr, SocketAddr) {
    let mut flags = vec!["--user", "alice:secret", "--allow-loopback-peers"];
    flags.extend_from_slice(extra);
    start_with_metrics(dir, shards, &flags)
}

fn run_uclient(relay: SocketAddr, peer_port: u16, clients: u64, messages: u64) -> Uclient {
    let (m, n, l) = (clients.to_string(), messages.to_string(), LEN.to_string());
    let args = [
        "-u", "alice", "-w", "secret", "-m", &m, "-n", &n, "-l", &l, "-z", "5",
    ];
    let u = uclient(relay, peer_port, &args);
    let expected = clients * messages;
    assert!(
        u.sent == expected && u.received == expected,
        "uclient: sent {} received {} of {expected}\n{}",
        u.sent,
        u.received,
        u.output
    );
    u
}

/// Scrapes once uclient's `clients` data allocations are deleted (uclient deletes the
/// allocation it relayed through as it ends; it also makes one more per client that it
/// leaves to expire). Every allocation made is then either ended or still held.
fn scrape_when_done(metrics: SocketAddr, relay: &Proc, clients: u64) -> String {
    let text = eventually(Duration::from_secs(10), || {
        let text = scrape(metrics);
        let deleted = [("reason", "deleted")];
        match value(&text, "edgeturn_allocations_ended_total", &deleted) == clients {
            true => Ok(text),
            false => Err(format!(
                "uclient's allocations not deleted:\n{text}\n{}",
                relay.log_text()
            )),
        }
    });
    assert_eq!(
        value(&text, "edgeturn_allocations_created_total", &[]),
        value(&text, "edgeturn_allocations_ended_total", &[])
            + value(&text, "edgeturn_allocations", &[]),
        "{text}"
    );
    text
}

fn relayed(text: &str, what: &str, direction: &str, path: &str) -> u64 {
    value(
        text,
        &format!("edgeturn_relayed_{what}_total"),
        &[("direction", direction), ("path", path)],
    )
}

#[test]
fn the_sockets_path_counts_exactly_what_uclient_sent_and_got_back() {
    let dir = scratch("metrics-sockets");
    let (relay, addr, metrics) = relay_with_metrics(&dir, 2, &[]);
    let (_peer, port) = start_peer(&dir);
    let before = scrape(metrics);
    promtool_check(&before);
    assert_eq!(relayed(&before, "packets", "to_peer", "sockets"), 0);
    assert_eq!(value(&before, "edgeturn_shards", &[]), 2);

    let u = run_uclient(addr, port, CLIENTS, MESSAGES);
    let text = scrape_when_done(metrics, &relay, CLIENTS);
    promtool_check(&text);
    assert_eq!(relayed(&text, "packets", "to_peer", "sockets"), u.sent);
    assert_eq!(
        relayed(&text, "packets", "to_client", "sockets"),
        u.received
    );
    assert_eq!(relayed(&text, "bytes", "to_peer", "sockets"), u.sent * LEN);
    assert_eq!(
        relayed(&text, "bytes", "to_client", "sockets"),
        u.received * LEN
    );
    assert_eq!(relayed(&text, "packets", "to_peer", "kernel"), 0);
    let created = [("transport", "udp"), ("mechanism", "static")];
    let all = value(&text, "edgeturn_allocations_created_total", &[]);
    assert_eq!(
        value(&text, "edgeturn_allocations_created_total", &created),
        all
    );
    assert!(all >= CLIENTS, "{text}");
    let held = [("transport", "udp"), ("mechanism", "static")];
    assert_eq!(value(&text, "edgeturn_allocations", &held), all - CLIENTS);
    assert_eq!(value(&text, "edgeturn_auth_failures_total", &[]), 0);
    assert_eq!(value(&text, "edgeturn_draining", &[]), 0);
    assert!(value(&text, "process_resident_memory_bytes", &[]) > 0);
}

#[test]
fn the_kernel_fast_path_counts_come_from_its_slots() {
    let dir = scratch("metrics-kernel");
    let (relay, addr, metrics) = relay_with_metrics(&dir, 1, &["--offload", "lo"]);
    let (_peer, port) = start_peer(&dir);
    let u = run_uclient(addr, port, CLIENTS, MESSAGES);
    let text = scrape_when_done(metrics, &relay, CLIENTS);
    promtool_check(&text);
    // uclient sends ChannelData only once its channel is bound, and the route is in the
    // kernel before the ChannelBind success: every message went through the kernel.
    assert_eq!(
        relayed(&text, "packets", "to_peer", "kernel"),
        u.sent,
        "{text}"
    );
    assert_eq!(relayed(&text, "packets", "to_client", "kernel"), u.received);
    assert_eq!(relayed(&text, "bytes", "to_peer", "kernel"), u.sent * LEN);
    assert_eq!(
        relayed(&text, "bytes", "to_client", "kernel"),
        u.received * LEN
    );
    // Summed over the paths, as a dashboard does.
    let all = |d| value(&text, "edgeturn_relayed_packets_total", &[("direction", d)]);
    assert_eq!((all("to_peer"), all("to_client")), (u.sent, u.received));
    assert!(
        sum(&text, "edgeturn_kernel_routes", &[]).is_some(),
        "{text}"
    );
}

/// A raw STUN client: one socket, requests built by hand, so each one's effect is known.
struct Raw {
    sock: UdpSocket,
    nonce: String,
}

impl Raw {
    fn new(relay: SocketAddr) -> Raw {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.connect(relay).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        Raw {
            sock,
            nonce: String::new(),
        }
    }

    /// Sends a request; the error code of the answer (None: success).
    fn ask(&mut self, method: Method, creds: Option<(&str, &str)>) -> Option<u16> {
        let mut w = Message::builder_request(method, MessageWriteVec::new());
        if method == ALLOCATE {
            w.add_attribute(&RequestedTransport::new(17)).unwrap();
        } else {
            w.add_attribute(&Lifetime::new(600)).unwrap();
        }
        if let Some((user, pass)) = creds {
            w.add_attribute(&Username::new(user).unwrap()).unwrap();
            w.add_attribute(&Realm::new("test.realm").unwrap()).unwrap();
            w.add_attribute(&Nonce::new(&self.nonce).unwrap()).unwrap();
            let key =
                LongTermCredentials::new(user.into(), pass.into()).to_key("test.realm".into());
            w.add_message_integrity(&key.into(), IntegrityAlgorithm::Sha1)
                .unwrap();
        }
        self.sock.send(&w.finish()).unwrap();
        let mut buf = [0u8; 1500];
        let n = self.sock.recv(&mut buf).expect("an answer");
        let m = Message::from_bytes(&buf[..n]).unwrap();
        if let Ok(nonce) = m.attribute::<Nonce>() {
            self.nonce = nonce.nonce().to_string();
        }
        (m.class() == MessageClass::Error).then(|| m.attribute::<ErrorCode>().unwrap().code())
    }
}

#[test]
fn failures_refusals_and_floods_are_counted() {
    let dir = scratch("metrics-failures");
    let (relay, addr, metrics) = relay_with_metrics(&dir, 1, &[]);
    let before = scrape(metrics);
    let mut c = Raw::new(addr);
    assert_eq!(c.ask(ALLOCATE, None), Some(401), "the challenge");
    assert_eq!(c.ask(ALLOCATE, Some(("alice", "wrong"))), Some(401));
    assert_eq!(c.ask(ALLOCATE, Some(("mallory", "x"))), Some(401));
    assert_eq!(
        c.ask(REFRESH, Some(("alice", "secret"))),
        Some(437),
        "no allocation"
    );
    assert_eq!(c.ask(Method::new(0x0ab), None), Some(400), "unknown method");
    assert!(c.sock.send(&[0xff, 0xff, 0, 0]).is_ok(), "garbage");
    let after = scrape(metrics);
    let delta = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    let reason = |r| [("reason", r)];
    assert_eq!(
        delta("edgeturn_auth_failures_total", &reason("bad_integrity")),
        1
    );
    assert_eq!(
        delta("edgeturn_auth_failures_total", &reason("unknown_user")),
        1
    );
    assert_eq!(delta("edgeturn_auth_failures_total", &[]), 2);
    let code = |c| [("code", c)];
    assert_eq!(delta("edgeturn_error_responses_total", &code("401")), 3);
    assert_eq!(delta("edgeturn_error_responses_total", &code("437")), 1);
    assert_eq!(delta("edgeturn_error_responses_total", &code("400")), 1);
    assert_eq!(delta("edgeturn_error_responses_total", &[]), 5);
    assert_eq!(delta("edgeturn_malformed_messages_total", &[]), 1);
    assert_eq!(delta("edgeturn_rate_limited_requests_total", &[]), 0);

    // A source that keeps failing is rate-limited (40 at once, then 20 a second): its
    // requests are dropped unanswered and counted.
    let flood = UdpSocket::bind("127.0.0.1:0").unwrap();
    let req = Message::builder_request(ALLOCATE, MessageWriteVec::new()).finish();
    for _ in 0..100 {
        flood.send_to(&req, addr).unwrap();
    }
    let text = eventually(Duration::from_secs(5), || {
        let text = scrape(metrics);
        let limited = value(&text, "edgeturn_rate_limited_requests_total", &[]);
        match limited >= 40 {
            true => Ok(text),
            false => Err(format!("{limited} rate-limited:\n{}", relay.log_text())),
        }
    });
    promtool_check(&text);
}

#[test]
fn the_endpoints_answer_what_they_are_for() {
    let dir = scratch("metrics-endpoints");
    let (_relay, _addr, metrics) = relay_with_metrics(&dir, 1, &[]);
    let url = |p: &str| format!("http://{metrics}{p}");
    assert_eq!(http("GET", &url("/healthz")), (200, "ok\n".into()));
    assert_eq!(http("GET", &url("/readyz")), (200, "ready\n".into()));
    assert_eq!(http("GET", &url("/nothing")).0, 404);
    assert_eq!(http("POST", &url("/metrics")).0, 405);
    assert_eq!(http("GET", &url("/drain")).0, 405, "a drain is a POST");
    let r = ureq::get(&url("/metrics")).call().unwrap();
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
}

#[test]
fn a_real_prometheus_scrapes_the_relay() {
    let dir = scratch("metrics-prometheus");
    let (_relay, addr, metrics) = relay_with_metrics(&dir, 1, &[]);
    let prom = Prometheus::start(&dir, metrics);
    let up = prom.wait_for(r#"up{job="edgeturn"}"#, 1.0);
    assert_eq!(up[0].0.get("instance"), Some(&metrics.to_string()));
    let (_peer, port) = start_peer(&dir);
    let u = run_uclient(addr, port, 1, 20);
    prom.wait_for(
        r#"sum(edgeturn_relayed_packets_total{direction="to_peer"})"#,
        u.sent as f64,
    );
    prom.wait_for(
        r#"sum(edgeturn_relayed_packets_total{direction="to_client"})"#,
        u.received as f64,
    );
    let deleted = prom.wait_for(r#"edgeturn_allocations_ended_total{reason="deleted"}"#, 1.0);
    assert_eq!(
        deleted[0].0.get("job").map(String::as_str),
        Some("edgeturn")
    );
    prom.wait_for(
        r#"sum(edgeturn_allocations_created_total) - sum(edgeturn_allocations_ended_total) - sum(edgeturn_allocations)"#,
        0.0,
    );
    let built = prom.query("edgeturn_build_info");
    assert_eq!(built.len(), 1, "{built:?}");
    assert_eq!(
        built[0].0.get("version").map(String::as_str),
        Some(env!("CARGO_PKG_VERSION"))
    );
}
