#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! The kernel fast path (`serve --offload lo`) with real clients: coturn's uclient and echo
//! peer, the probe (which checks every relayed byte), and Chromium. ChannelData must go
//! through the kernel both ways (the relay's per-allocation counters say how much did), and
//! everything the fast path leaves alone (Send indications, TCP) must still work beside it.
//! Needs root (CAP_BPF, CAP_NET_ADMIN), as CI and `cargo xtask test` have.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

const CLIENTS: u64 = 3;
const MESSAGES: u64 = 40;

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

/// Waits until the relay has logged `lines` allocation endings with kernel counters.
fn wait_for_counters(relay: &Proc, lines: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log = relay.log_text();
        if log.matches("channel data relayed in the kernel").count() >= lines
            || Instant::now() > deadline
        {
            return log;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every message uclient sent and got back went through the kernel; the relay's log.
fn all_through_the_kernel(relay: &Proc, u: &Uclient) -> String {
    let log = wait_for_counters(relay, CLIENTS as usize);
    assert_eq!(kernel_relayed(&log, "to_peer_packets"), u.sent, "{log}");
    assert_eq!(
        kernel_relayed(&log, "to_client_packets"),
        u.received,
        "{log}"
    );
    log
}

fn offload_relay(name: &str) -> (std::path::PathBuf, Proc, std::net::SocketAddr, Proc, u16) {
    let dir = scratch(name);
    let (relay, addr) = start_relay(
        &dir,
        &[
            "--user",
            "alice:secret",
            "--allow-loopback-peers",
            "--offload",
            "lo",
        ],
    );
    assert!(
        relay
            .log_text()
            .contains("kernel fast path for ChannelData attached"),
        "{}",
        relay.log_text()
    );
    let (peer, port) = start_peer(&dir);
    (dir, relay, addr, peer, port)
}

fn uclient_all_echoed(name: &str, flags: &[&str]) -> (Proc, Uclient) {
    let (_dir, relay, addr, _peer, port) = offload_relay(name);
    let (m, n) = (CLIENTS.to_string(), MESSAGES.to_string());
    let mut args = vec![
        "-u", "alice", "-w", "secret", "-m", &m, "-n", &n, "-l", "180", "-z", "5",
    ];
    args.extend_from_slice(flags);
    let u = uclient(addr, port, &args);
    let expected = CLIENTS * MESSAGES;
    assert!(
        u.sent == expected && u.received == expected && u.lost == Some(0),
        "{name}: sent {} received {} lost {:?} (expected {expected} each)\nuclient:\n{}\nrelay log:\n{}",
        u.sent,
        u.received,
        u.lost,
        u.output,
        relay.log_text()
    );
    (relay, u)
}

#[test]
fn channel_data_is_relayed_in_the_kernel_both_ways() {
    let (relay, u) = uclient_all_echoed("offload-channels", &[]);
    // Every message went client -> peer and back through the kernel: the route is in place
    // before the ChannelBind success leaves, and uclient sends ChannelData only after it.
    let log = all_through_the_kernel(&relay, &u);
    assert_eq!(kernel_relayed(&log, "to_peer_bytes"), u.sent * 180, "{log}");
}

#[test]
fn send_indications_still_use_the_sockets() {
    let (relay, _) = uclient_all_echoed("offload-send", &["-s"]);
    let log = wait_for_counters(&relay, 0);
    assert_eq!(kernel_relayed(&log, "to_peer_packets"), 0, "{log}");
}

#[test]
fn tcp_clients_still_use_the_sockets() {
    let (relay, _) = uclient_all_echoed("offload-tcp", &["-t"]);
    let log = wait_for_counters(&relay, 0);
    assert_eq!(kernel_relayed(&log, "to_peer_packets"), 0, "{log}");
}

#[test]
fn the_probe_gets_its_own_bytes_back_through_the_kernel() {
    // The probe checks the payload of every round trip, so a rewrite that moved a byte
    // wrongly or broke a checksum fails here.
    let dir = scratch("offload-probe");
    let keys = dir.join("keys.json");
    std::fs::write(
        &keys,
        r#"[{"kid":"k1","alg":"A256GCM","key":"MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEK"}]"#,
    )
    .unwrap();
    let keys = keys.to_str().unwrap();
    let (relay, addr) = start_relay(
        &dir,
        &[
            "--keys",
            keys,
            "--server-name",
            "turn.offload.test",
            "--allow-loopback-peers",
            "--offload",
            "lo",
        ],
    );
    let token_file = mint_token(&dir, "token.json", keys, "turn.offload.test", 600, 0);
    let out = Command::new(relay_bin())
        .args([
            "probe",
            "--server",
            &addr.to_string(),
            "--timeout",
            "2",
            "--token-json",
            token_file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "probe failed:\n{}\nrelay log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        relay.log_text()
    );
    let log = wait_for_counters(&relay, 1);
    assert!(
        kernel_relayed(&log, "to_peer_packets") >= 1
            && kernel_relayed(&log, "to_client_packets") >= 1,
        "{log}"
    );
}

#[test]
fn offload_configuration_errors_are_clear() {
    let dir = scratch("offload-errors");
    let run = |args: &[&str]| {
        let o = Command::new(relay_bin())
            .arg("serve")
            .args(["--user", "a:b", "--realm", "r"])
            .args(args)
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let port = free_port().to_string();
    let (code, err) = run(&[
        "--listen",
        &format!("0.0.0.0:{port}"),
        "--relay-ip",
        "127.0.0.1",
        "--offload",
        "lo",
    ]);
    assert_ne!(code, Some(0));
    assert!(
        err.contains("--offload needs --listen with the specific IPv4 address"),
        "{err}"
    );
    let (code, err) = run(&[
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--offload",
        "no-such-if0",
    ]);
    assert_ne!(code, Some(0));
    assert!(err.contains("cannot attach to no-such-if0"), "{err}");
    let _ = dir;
}

/// A network namespace standing for the Internet beyond the relay's one interface: a veth
/// pair, `10.201.N.1` on the relay's side, `10.201.N.2` inside. Removed on drop.
struct Outside {
    ns: String,
    veth: String,
}

impl Outside {
    fn new(n: u8, checksum_offload: bool) -> Outside {
        let id = std::process::id() % 100_000;
        let o = Outside {
            ns: format!("et-out-{id}-{n}"),
            veth: format!("etr{id}n{n}"),
        };
        let inner = format!("etp{id}n{n}");
        let ip = need("ip");
        let sh = |args: &[&str]| {
            let out = Command::new(&ip).args(args).output().unwrap();
            assert!(
                out.status.success(),
                "ip {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        sh(&["netns", "add", &o.ns]);
        sh(&[
            "link", "add", &o.veth, "type", "veth", "peer", "name", &inner,
        ]);
        sh(&["link", "set", &inner, "netns", &o.ns]);
        sh(&["addr", "add", &format!("10.201.{n}.1/24"), "dev", &o.veth]);
        sh(&["link", "set", &o.veth, "up"]);
        sh(&[
            "-n",
            &o.ns,
            "addr",
            "add",
            &format!("10.201.{n}.2/24"),
            "dev",
            &inner,
        ]);
        sh(&["-n", &o.ns, "link", "set", &inner, "up"]);
        sh(&["-n", &o.ns, "link", "set", "lo", "up"]);
        if !checksum_offload {
            // Full UDP checksums on the wire, and verified on receipt: a checksum the fast
            // path got wrong drops the datagram (with offload on, veth trusts partial ones).
            let ethtool = need("ethtool");
            let no_offload = |netns: Option<&str>, dev: &str| {
                let mut c = match netns {
                    Some(ns) => {
                        let mut c = Command::new(&ip);
                        c.args(["netns", "exec", ns]).arg(&ethtool);
                        c
                    }
                    None => Command::new(&ethtool),
                };
                let out = c
                    .args(["-K", dev, "tx", "off", "rx", "off"])
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "ethtool on {dev}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            };
            no_offload(None, &o.veth);
            no_offload(Some(&o.ns), &inner);
        }
        o
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
        let _ = Command::new("ip")
            .args(["link", "del", &self.veth])
            .status();
    }
}

fn to_another_host(n: u8, checksum_offload: bool) {
    let outside = Outside::new(n, checksum_offload);
    let dir = scratch(&format!("offload-outside-{n}"));
    let relay_ip = format!("10.201.{n}.1");
    let far = format!("10.201.{n}.2");
    let port = free_port();
    let listen = format!("{relay_ip}:{port}");
    let relay = spawn(
        &dir,
        "relay",
        &relay_bin(),
        &[
            "serve",
            "--listen",
            &listen,
            "--realm",
            "r",
            "--user",
            "alice:secret",
            "--shards",
            "1",
        ]
        .into_iter()
        .chain([
            "--allow-peer",
            &format!("10.201.{n}.0/24"),
            "--offload",
            &outside.veth,
        ])
        .collect::<Vec<_>>(),
    );
    std::thread::sleep(Duration::from_millis(500));
    let peer_port = free_port();
    let _peer = spawn(
        &dir,
        "peer",
        &need("ip"),
        &[
            "netns",
            "exec",
            &outside.ns,
            need("turnutils_peer").to_str().unwrap(),
            "-L",
            &far,
            "-p",
            &peer_port.to_string(),
        ],
    );
    std::thread::sleep(Duration::from_millis(300));
    let (m, k) = (CLIENTS.to_string(), MESSAGES.to_string());
    let u = uclient_in(
        Some(&outside.ns),
        listen.parse().unwrap(),
        format!("{far}:{peer_port}").parse().unwrap(),
        &[
            "-u", "alice", "-w", "secret", "-m", &m, "-n", &k, "-l", "181", "-z", "5",
        ],
    );
    let expected = CLIENTS * MESSAGES;
    assert!(
        u.sent == expected && u.received == expected && u.lost == Some(0),
        "sent {} received {} lost {:?}\nuclient:\n{}\nrelay log:\n{}",
        u.sent,
        u.received,
        u.lost,
        u.output,
        relay.log_text()
    );
    // Out of the interface and back in: every message took the kernel path both ways.
    all_through_the_kernel(&relay, &u);
}

#[test]
fn channel_data_to_another_host_leaves_through_the_interface() {
    // An odd payload size (181) also checks the checksum of a last, half-filled word.
    to_another_host(1, true);
    to_another_host(2, false);
}
