#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! Floods and slow peers leave the relay's memory bounded and other clients served:
//! thousands of half-open TLS handshakes (slowloris), a TCP or TLS client that stops reading
//! while its peer keeps sending, and the resident memory of 10,000 idle TLS connections.
//! The tests take turns: each loads the machine on its own.

mod common;

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::pki::Pki;
use common::tls::{
    client_config, handshake_counts, served_certificate, start_tls_relay, stop, vm_kib,
};
use common::*;
use relay_native::probe::client::{Credentials, Relayed, TurnClient, choose};
use relay_native::probe::token::PopToken;
use relay_native::probe::{Transport, unix_now};

const KEYS: &str =
    r#"[{"kid":"k1","alg":"A256GCM","key":"MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEK"}]"#;
const NAMES: [&str; 2] = ["turn.test", "127.0.0.1"];

static TURNS: Mutex<()> = Mutex::new(());

struct Setup {
    pki: Pki,
    relay: Proc,
    udp: SocketAddr,
    tls: SocketAddr,
    token: std::path::PathBuf,
}

fn setup(name: &str, extra: &[&str]) -> Setup {
    let r = start_tls_relay(name, KEYS, &NAMES, extra);
    let token = r.token("token.json");
    Setup {
        pki: r.pki,
        relay: r.relay,
        udp: r.udp,
        tls: r.tls,
        token,
    }
}

/// `relay-native probe` over `transport` to `server`; panics unless it succeeds.
fn probe_ok(s: &Setup, transport: &str, server: SocketAddr, during: &str) {
    let out = Command::new(relay_bin())
        .args(["probe", "-q", "--timeout", "3", "--transport", transport])
        .args(["--server", &server.to_string()])
        .args(if transport == "tls" {
            vec!["--tls-ca", s.pki.ca_pem.to_str().unwrap()]
        } else {
            vec![]
        })
        .arg("--token-json")
        .arg(&s.token)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{during}: a {transport} client was not served: {}\nrelay log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        s.relay.log_text()
    );
}

fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// The start of a TLS ClientHello that never finishes: a record header announcing 512
/// bytes and a few of them.
const PARTIAL_HELLO: [u8; 12] = [
    0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x00,
];

/// A connection from `from` to `addr` that starts a handshake and never finishes it (every
/// other one sends nothing at all).
fn half_open(from: Ipv4Addr, addr: SocketAddr, i: usize) -> Option<TcpStream> {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).ok()?;
    s.bind(&SocketAddr::from((from, 0)).into()).ok()?;
    s.connect_timeout(&addr.into(), Duration::from_secs(2))
        .ok()?;
    let mut s = TcpStream::from(s);
    if i.is_multiple_of(2) {
        let _ = s.write_all(&PARTIAL_HELLO);
    }
    Some(s)
}

/// Attack sources: one address, or 200 of them in 127.0.1.0/24.
fn attacker(many: bool, i: usize) -> Ipv4Addr {
    if many {
        Ipv4Addr::new(127, 0, 1, 1 + (i % 200) as u8)
    } else {
        Ipv4Addr::new(127, 0, 0, 2)
    }
}

/// Opens `n` half-open connections from the attack sources, then keeps opening more (one
/// per `gap`) while real clients connect; checks the relay's descriptors and memory.
fn flood(s: &Setup, many: bool, n: usize, gap: Duration, bound_fds: usize) -> Vec<TcpStream> {
    let pid = s.relay.child.id();
    let before = vm_kib(pid, "VmRSS");
    let mut held: Vec<TcpStream> = (0..n)
        .filter_map(|i| half_open(attacker(many, i), s.tls, i))
        .collect();
    let stop = AtomicBool::new(false);
    let what = if many { "200 sources" } else { "one source" };
    let relay_fds = std::thread::scope(|scope| {
        let wave = scope.spawn(|| {
            let mut more = Vec::new();
            let mut i = n;
            while !stop.load(Ordering::Relaxed) && more.len() < n {
                more.extend(half_open(attacker(many, i), s.tls, i));
                i += 1;
                std::thread::sleep(gap);
            }
            more
        });
        std::thread::sleep(Duration::from_millis(300));
        probe_ok(s, "tls", s.tls, &format!("during a flood from {what}"));
        probe_ok(s, "udp", s.udp, &format!("during a flood from {what}"));
        let fds = fds(pid);
        stop.store(true, Ordering::Relaxed);
        held.extend(wave.join().unwrap());
        fds
    });
    let opened = held.len();
    let peak = vm_kib(pid, "VmHWM");
    eprintln!(
        "slowloris from {what}: {opened} half-open connections; relay RSS {before} KiB before, peak {peak} KiB; {relay_fds} descriptors"
    );
    assert!(
        opened >= n,
        "the flood could not open its connections ({opened})"
    );
    assert!(
        relay_fds < bound_fds,
        "the relay holds {relay_fds} descriptors while {opened} half-open connections wait"
    );
    assert!(
        peak.saturating_sub(before) < 16 * 1024,
        "the relay grew from {before} KiB to {peak} KiB under {opened} half-open handshakes"
    );
    held
}

#[test]
fn slowloris_handshakes_stay_bounded_and_others_are_served() {
    let _turn = TURNS.lock().unwrap_or_else(|e| e.into_inner());
    const LIMIT: usize = 64;
    const PER_IP: usize = 4;
    let s = setup(
        "slowloris",
        &[
            "--tls-handshake-limit",
            "64",
            "--tls-handshake-limit-per-ip",
            "4",
            "--tls-handshake-timeout",
            "3",
        ],
    );
    served_certificate(s.tls, "turn.test", &s.pki.ca_pem).unwrap();
    probe_ok(&s, "tls", s.tls, "before the flood");
    // One host: it gets PER_IP slots, everyone else the rest.
    let one = flood(&s, false, 2000, Duration::from_micros(200), PER_IP + 100);
    // Many hosts: the shard's LIMIT slots churn, the oldest evicted first.
    let many = flood(&s, true, 2000, Duration::from_millis(1), LIMIT + 100);
    // Unfinished handshakes that nobody evicts run out of time.
    std::thread::sleep(Duration::from_millis(3500));
    let (one, many) = (one.len(), many.len());
    let log = stop(s.relay);
    let [completed, _failed, timed_out, evicted, refused] = handshake_counts(&log).unwrap();
    eprintln!(
        "slowloris: completed {completed}, timed out {timed_out}, evicted {evicted}, refused {refused}"
    );
    assert!(completed >= 4, "{log}");
    assert!(
        refused as usize >= one - PER_IP,
        "refused {refused} of {one}:\n{log}"
    );
    assert!(
        evicted as usize >= many / 2 && timed_out >= PER_IP as u64,
        "evicted {evicted} of {many}, timed out {timed_out}:\n{log}"
    );
}

/// Allocates over `transport`, binds a channel to a local peer socket, then never reads
/// while the peer sends; the relay must close the client, stay small and serve others.
fn slow_reader(name: &str, transport: impl Fn(&Setup) -> Transport) {
    let _turn = TURNS.lock().unwrap_or_else(|e| e.into_inner());
    let s = setup(name, &[]);
    let transport = transport(&s);
    let pid = s.relay.child.id();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&s.token).unwrap()).unwrap();
    let server = match transport {
        Transport::Tls { .. } => s.tls,
        _ => s.udp,
    };
    let mut client = TurnClient::connect(server, &transport, Duration::from_secs(3)).unwrap();
    let first = client.allocate(Some(600)).unwrap();
    client.challenged(&first);
    let creds = Credentials::Token(PopToken::from_json(&v, unix_now()).unwrap());
    let signature = choose(&creds, None, client.offered()).unwrap();
    client.set_credentials(creds, signature);
    let alloc = client.allocate(Some(600)).unwrap();
    assert!(alloc.error.is_none(), "{:?}", alloc.error);
    let relayed = alloc.relayed.unwrap();
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let peer_addr = peer.local_addr().unwrap();
    assert!(client.create_permission(peer_addr).unwrap().error.is_none());
    assert!(
        client
            .channel_bind(0x4000, peer_addr)
            .unwrap()
            .error
            .is_none()
    );
    let before = vm_kib(pid, "VmRSS");

    let closed = "closing a client that has not read";
    let stop = AtomicBool::new(false);
    let sent = std::thread::scope(|scope| {
        let flood = scope.spawn(|| {
            let payload = [0x5au8; 1200];
            let mut sent = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..64 {
                    if peer.send_to(&payload, relayed).is_ok() {
                        sent += payload.len() as u64;
                    }
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            sent
        });
        std::thread::sleep(Duration::from_millis(500));
        probe_ok(&s, "udp", s.udp, "while a client does not read");
        probe_ok(&s, "tls", s.tls, "while a client does not read");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !s.relay.log_text().contains(closed) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        stop.store(true, Ordering::Relaxed);
        flood.join().unwrap()
    });
    let log = s.relay.log_text();
    assert!(
        log.contains(closed) && log.contains("does not keep up; relayed data to it is dropped"),
        "{name}: the relay should drop data for, then close, a client that does not read ({sent} bytes sent); log:\n{log}"
    );
    let peak = vm_kib(pid, "VmHWM");
    eprintln!(
        "{name}: {sent} bytes sent toward a client that does not read; relay RSS {before} KiB before, peak {peak} KiB"
    );
    assert!(
        peak.saturating_sub(before) < 16 * 1024,
        "{name}: the relay grew from {before} KiB to {peak} KiB"
    );
    // The client finds its connection closed once it reads what the kernel still holds.
    let deadline = Instant::now() + Duration::from_secs(20);
    let end = loop {
        match client.recv_relayed(Instant::now() + Duration::from_secs(2)) {
            Ok(Some(Relayed::Channel(..))) => continue,
            Ok(other) => panic!("{name}: expected channel data or the end, got {other:?}"),
            Err(e) => break e.to_string(),
        }
    };
    assert!(Instant::now() < deadline);
    // TLS: no close_notify can pass a full buffer; the TCP connection ends all the same.
    assert!(
        ["closed the connection", "close_notify", "reset"]
            .iter()
            .any(|w| end.contains(w)),
        "{name}: {end}"
    );
}

#[test]
fn slow_tls_reader_is_closed_and_memory_stays_bounded() {
    slow_reader("slow-tls", |s| Transport::Tls {
        name: "turn.test".into(),
        ca: Some(s.pki.ca_pem.clone()),
    });
}

#[test]
fn slow_tcp_reader_is_closed_and_memory_stays_bounded() {
    slow_reader("slow-tcp", |_| Transport::Tcp);
}

#[test]
fn ten_thousand_idle_tls_connections() {
    let _turn = TURNS.lock().unwrap_or_else(|e| e.into_inner());
    const N: usize = 10_000;
    raise_fd_limit(N + 200);
    // The handshake limits are not under test here: all connections come from 127.0.0.1,
    // and a client counts its handshake done one flight before the relay does, so the
    // relay may hold more unfinished ones than the client has in flight.
    let s = setup(
        "idle-10k",
        &[
            "--shards",
            "2",
            "--tls-handshake-limit",
            "10000",
            "--tls-handshake-limit-per-ip",
            "10000",
        ],
    );
    let pid = s.relay.child.id();
    served_certificate(s.tls, "turn.test", &s.pki.ca_pem).unwrap();
    let before = vm_kib(pid, "VmRSS");
    let started = Instant::now();
    let (clients, established) = open_idle(s.tls, &s.pki.ca_pem, N);
    let took = started.elapsed();
    std::thread::sleep(Duration::from_millis(500));
    let rss = vm_kib(pid, "VmRSS");
    let relay_fds = fds(pid);
    let per = rss.saturating_sub(before) as f64 / N as f64;
    eprintln!(
        "10k idle TLS: {established} connections in {:.1} s; relay RSS {before} KiB before, {rss} KiB with them ({per:.1} KiB each); {relay_fds} descriptors",
        took.as_secs_f64()
    );
    assert_eq!(established, N, "not every connection was established");
    assert!(
        relay_fds >= N,
        "the relay holds only {relay_fds} descriptors"
    );
    assert!(
        per < 48.0,
        "{per:.1} KiB per idle TLS connection ({rss} KiB for {N}, {before} KiB before)"
    );
    probe_ok(&s, "tls", s.tls, "with 10,000 idle TLS connections");
    drop(clients);
}

/// Raises this process's open-files limit to hold `n` descriptors, or fails saying so.
fn raise_fd_limit(n: usize) {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut l = getrlimit(Resource::Nofile);
    let want = n as u64;
    assert!(
        l.maximum.is_none_or(|m| m >= want),
        "this test needs {want} open files; the hard limit is {:?} (raise it, e.g. ulimit -Hn)",
        l.maximum
    );
    l.current = l.maximum;
    setrlimit(Resource::Nofile, l).unwrap();
}

/// A STUN Binding request (RFC 8489 section 5), as a client sends to keep a connection.
fn binding_request(i: usize) -> [u8; 20] {
    let mut m = [0u8; 20];
    m[..8].copy_from_slice(&[0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42]);
    m[8..16].copy_from_slice(&(i as u64).to_be_bytes());
    m
}

/// Opens `n` TLS connections to `addr` (128 handshakes at a time) on a runtime that keeps
/// them open, each sending a Binding request every 10 s as Chromium does (so the relay's
/// 30 s limit for connections without an allocation cannot close any while the machine
/// is slow to open the rest). Returns the runtime (dropping it closes them) and how many
/// were established.
fn open_idle(addr: SocketAddr, ca: &Path, n: usize) -> (tokio::runtime::Runtime, usize) {
    use tokio::io::AsyncWriteExt;
    // Clients resume with the relay's session tickets where they can, as real ones do.
    let connector = tokio_rustls::TlsConnector::from(client_config(ca));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let established = rt.block_on(async {
        let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(128));
        let (done, mut results) = tokio::sync::mpsc::unbounded_channel();
        for i in 0..n {
            let (connector, limit, done) = (connector.clone(), limit.clone(), done.clone());
            tokio::spawn(async move {
                let permit = limit.acquire_owned().await;
                let name = rustls::pki_types::ServerName::try_from("turn.test").unwrap();
                let opened = async {
                    let tcp = tokio::net::TcpStream::connect(addr)
                        .await
                        .map_err(|e| format!("connect: {e}"))?;
                    connector
                        .connect(name, tcp)
                        .await
                        .map_err(|e| format!("handshake: {e}"))
                };
                let opened = tokio::time::timeout(Duration::from_secs(30), opened)
                    .await
                    .unwrap_or_else(|_| Err("handshake: timeout".into()));
                drop(permit);
                let mut tls = match opened {
                    Ok(tls) => tls,
                    Err(e) => {
                        let _ = done.send(Err(e));
                        return;
                    }
                };
                let _ = done.send(Ok(()));
                loop {
                    if tls.write_all(&binding_request(i)).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_secs(10)).await;
                }
            });
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        let (mut ok, mut errors) = (0, std::collections::BTreeMap::<String, usize>::new());
        for _ in 0..n {
            match tokio::time::timeout_at(deadline, results.recv()).await {
                Ok(Some(Ok(()))) => ok += 1,
                Ok(Some(Err(e))) => *errors.entry(e).or_default() += 1,
                _ => break,
            }
        }
        if !errors.is_empty() {
            eprintln!("TLS connections that failed: {errors:?}");
        }
        ok
    });
    (rt, established)
}
