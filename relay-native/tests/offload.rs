#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! The kernel fast path (`serve --offload lo`) with real clients: coturn's uclient and echo
//! peer, a peer that echoes with UDP GSO, the probe (which checks every relayed byte), and
//! Chromium. ChannelData must go through the kernel both ways (the relay's per-allocation
//! counters say how much did), everything the fast path leaves alone (Send indications, TCP,
//! several datagrams in one skb) must still work beside it, and nothing may be lost.
//! Needs root (CAP_BPF, CAP_NET_ADMIN), as CI and `cargo xtask test` have.

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::gso_peer::GsoPeer;
use common::*;

const CLIENTS: u64 = 3;
const MESSAGES: u64 = 40;
/// The load of issue reports: 10 clients, 2,000 messages of 200 bytes each, 1 ms apart.
const LOAD: (u64, u64, u64) = (10, 2_000, 200);

/// Tests at [`LOAD`] take turns: two at once would starve uclient and the echo peers of CPU
/// on a two-core machine, and their sockets would overflow (which the failure message then
/// shows as receive-buffer drops, not as loss in the relay).
fn one_load_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Sums `key=N` over the relay's "channel data relayed in the kernel" lines.
fn kernel_relayed(log: &str, key: &str) -> u64 {
    summed(log, "channel data relayed in the kernel", key)
}

/// Sums `key=N` over the relay's "allocation deleted" and "allocation expired" lines: what
/// each allocation relayed, sockets and kernel together.
fn relayed_in_all(log: &str, key: &str) -> u64 {
    summed(log, "allocation deleted", key) + summed(log, "allocation expired", key)
}

fn summed(log: &str, marker: &str, key: &str) -> u64 {
    log.lines()
        .filter(|l| l.contains(marker))
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
    wait_for_lines(relay, "channel data relayed in the kernel", lines)
}

/// Waits until the relay has logged `lines` lines containing `marker`.
fn wait_for_lines(relay: &Proc, marker: &str, lines: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log = relay.log_text();
        if log.matches(marker).count() >= lines || Instant::now() > deadline {
            return log;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every message uclient sent and got back went through the kernel; the relay's log.
fn all_through_the_kernel(relay: &Proc, u: &Uclient, clients: u64) -> String {
    let log = wait_for_counters(relay, clients as usize);
    assert_eq!(kernel_relayed(&log, "to_peer_packets"), u.sent, "{log}");
    assert_eq!(
        kernel_relayed(&log, "to_client_packets"),
        u.received,
        "{log}"
    );
    log
}

/// A static user, loopback peers allowed, the fast path on loopback.
const ON_LOOPBACK: [&str; 5] = [
    "--user",
    "alice:secret",
    "--allow-loopback-peers",
    "--offload",
    "lo",
];

fn offload_relay(name: &str) -> (std::path::PathBuf, Proc, std::net::SocketAddr, Proc, u16) {
    let dir = scratch(name);
    let (relay, addr) = start_relay(&dir, &ON_LOOPBACK);
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

/// uclient's arguments for `clients` allocations of `messages` messages of `len` bytes,
/// `gap` ms apart.
fn load_args(clients: u64, messages: u64, len: u64, gap: u64) -> Vec<String> {
    let mut a: Vec<String> = ["-u", "alice", "-w", "secret"].map(String::from).to_vec();
    for (flag, v) in [("-m", clients), ("-n", messages), ("-l", len), ("-z", gap)] {
        a.extend([flag.to_string(), v.to_string()]);
    }
    a
}

/// Every message came back and none was lost.
fn assert_all_echoed(what: &str, u: &Uclient, expected: u64, relay: &Proc, drops: &UdpDrops) {
    assert!(
        u.sent == expected && u.received == expected && u.lost == Some(0),
        "{what}: sent {} received {} lost {:?} (expected {expected} each)\n{}\nuclient:\n{}\nrelay log:\n{}",
        u.sent,
        u.received,
        u.lost,
        drops.since(),
        u.output,
        relay.log_text()
    );
}

fn uclient_all_echoed(name: &str, flags: &[&str]) -> (Proc, Uclient) {
    let (_dir, relay, addr, _peer, port) = offload_relay(name);
    let mut args = load_args(CLIENTS, MESSAGES, 180, 5);
    args.extend(flags.iter().map(|f| f.to_string()));
    let drops = UdpDrops::now(None);
    let u = uclient(
        addr,
        port,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_all_echoed(name, &u, CLIENTS * MESSAGES, &relay, &drops);
    (relay, u)
}

#[test]
fn channel_data_is_relayed_in_the_kernel_both_ways() {
    let _turn = one_load_at_a_time();
    let (_dir, relay, addr, _peer, port) = offload_relay("offload-channels");
    the_load_through_the_kernel(&relay, addr, SocketAddr::from(([127, 0, 0, 1], port)));
}

/// uclient at [`LOAD`], 1 ms apart, through `server` to `peer`: every message comes back, and
/// every one went client -> peer and back through the kernel (the route is in place before the
/// ChannelBind success leaves, and uclient sends ChannelData only after it). What it reported.
fn the_load_through_the_kernel(relay: &Proc, server: SocketAddr, peer: SocketAddr) -> Uclient {
    let (clients, messages, len) = LOAD;
    let args = load_args(clients, messages, len, 1);
    let drops = UdpDrops::now(None);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let u = uclient_in(None, server, peer, &args);
    assert_all_echoed(
        &format!("{server} 1 ms apart"),
        &u,
        clients * messages,
        relay,
        &drops,
    );
    let log = all_through_the_kernel(relay, &u, clients);
    assert_eq!(kernel_relayed(&log, "to_peer_bytes"), u.sent * len, "{log}");
    assert_eq!(
        kernel_relayed(&log, "to_client_bytes"),
        u.received * len,
        "{log}"
    );
    u
}

#[test]
fn ipv6_channel_data_is_relayed_in_the_kernel_both_ways() {
    let _turn = one_load_at_a_time();
    // A dual-stack relay: IPv6 and IPv4 clients both take the kernel, each in their own
    // family's maps; a client relayed to the other family (REQUESTED-ADDRESS-FAMILY) stays
    // on the sockets, since the program does not translate between families.
    let dir = scratch("offload-ipv6");
    let (relay, v4, v6) = start_dual_relay(&dir, &ON_LOOPBACK);
    let (_peer6, port6) = start_peer_on(&dir, "::1");
    let peer6: SocketAddr = format!("[::1]:{port6}").parse().unwrap();
    let u = the_load_through_the_kernel(&relay, v6, peer6);
    let (clients, ..) = LOAD;
    let drops = UdpDrops::now(None);

    // IPv4 beside it, through the IPv4 maps.
    let (_peer4, port4) = start_peer_on(&dir, "127.0.0.1");
    let small = load_args(CLIENTS, MESSAGES, 180, 5);
    let small: Vec<&str> = small.iter().map(String::as_str).collect();
    let u4 = uclient(v4, port4, &small);
    assert_all_echoed("IPv4", &u4, CLIENTS * MESSAGES, &relay, &drops);
    let log = wait_for_counters(&relay, (clients + CLIENTS) as usize);
    assert_eq!(
        kernel_relayed(&log, "to_peer_packets"),
        u.sent + u4.sent,
        "{log}"
    );

    // An IPv4 client with an IPv6 relayed address: every message, none in the kernel.
    let mut mixed = small.clone();
    mixed.push("-x");
    let ended = log.matches("allocation deleted").count();
    let um = uclient_in(None, v4, peer6, &mixed);
    assert_all_echoed(
        "IPv4 client, IPv6 relay",
        &um,
        CLIENTS * MESSAGES,
        &relay,
        &drops,
    );
    let log = wait_for_lines(&relay, "allocation deleted", ended + CLIENTS as usize);
    assert_eq!(
        kernel_relayed(&log, "to_peer_packets"),
        u.sent + u4.sent,
        "nothing more in the kernel: {log}"
    );
}

#[test]
fn a_peer_echoing_with_gso_loses_nothing() {
    gso_echo(false);
}

#[test]
fn an_ipv6_peer_echoing_with_gso_loses_nothing() {
    gso_echo(true);
}

fn gso_echo(v6: bool) {
    let _turn = one_load_at_a_time();
    // Several datagrams in one skb cannot be rewritten as one message: they go to the relay
    // socket, which frames each. Datagrams the peer sends alone still take the kernel.
    let dir = scratch(&format!("offload-gso-{v6}"));
    let (relay, v4, v6_addr) = start_dual_relay(&dir, &ON_LOOPBACK);
    let (addr, bind) = if v6 {
        (v6_addr, "[::1]:0")
    } else {
        (v4, "127.0.0.1:0")
    };
    let peer = GsoPeer::start(bind.parse().unwrap(), None);
    let (clients, messages, len) = LOAD;
    let args = load_args(clients, messages, len, 1);
    let drops = UdpDrops::now(None);
    let u = uclient_in(
        None,
        addr,
        peer.addr,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_all_echoed("GSO echo", &u, clients * messages, &relay, &drops);
    let echoed = &peer.echoed;
    let (alone, gso_sends) = (
        echoed.alone.load(Ordering::Relaxed),
        echoed.gso_sends.load(Ordering::Relaxed),
    );
    assert!(gso_sends > 0 && alone > 0, "{echoed:?}");
    let log = wait_for_counters(&relay, clients as usize);
    // Client to peer: all in the kernel. Peer to client: exactly the lone datagrams, packets
    // and bytes agreeing.
    assert_eq!(kernel_relayed(&log, "to_peer_packets"), u.sent, "{log}");
    assert_eq!(kernel_relayed(&log, "to_peer_bytes"), u.sent * len, "{log}");
    assert_eq!(
        kernel_relayed(&log, "to_client_packets"),
        alone,
        "{echoed:?}\n{log}"
    );
    assert_eq!(
        kernel_relayed(&log, "to_client_bytes"),
        alone * len,
        "{log}"
    );
}

#[test]
fn send_indications_still_use_the_sockets() {
    let (relay, u) = uclient_all_echoed("offload-send", &["-s"]);
    let log = wait_for_lines(&relay, "allocation deleted", CLIENTS as usize);
    assert_eq!(kernel_relayed(&log, "to_peer_packets"), 0, "{log}");
    assert_eq!(relayed_in_all(&log, "to_peer_packets"), u.sent, "{log}");
    assert_eq!(relayed_in_all(&log, "to_peer_bytes"), u.sent * 180, "{log}");
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
        err.contains("--offload needs --listen with a specific address"),
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

/// How the veth pair to the outside treats packets.
#[derive(Clone, Copy, Debug)]
enum Link {
    /// veth's defaults: partial checksums are trusted.
    ChecksumOffload,
    /// Full UDP checksums on the wire, and verified on receipt: a checksum the fast path got
    /// wrong drops the datagram (with offload on, veth trusts partial ones).
    FullChecksums,
    /// GRO on the relay's side, UDP GRO forwarding included: datagrams arrive merged.
    Gro,
}

/// A network namespace standing for the Internet beyond the relay's one interface: a veth
/// pair, `10.201.N.1` and `fd00:201:N::1` on the relay's side; inside, the client at
/// `10.201.N.2` and `fd00:201:N::2` and the peer at `.3` and `::3`. Client and peer differ, so
/// the addresses a rewrite swaps in do not sum to the ones it swaps out, and a checksum update
/// that skipped them would show. Removed on drop.
struct Outside {
    ns: String,
    veth: String,
}

/// `ethtool ARGS`, inside `netns` if given; it must succeed.
fn ethtool(netns: Option<&str>, args: &[&str]) {
    let ethtool = need("ethtool");
    let mut c = match netns {
        Some(ns) => {
            let mut c = Command::new(need("ip"));
            c.args(["netns", "exec", ns]).arg(&ethtool);
            c
        }
        None => Command::new(&ethtool),
    };
    let out = c.args(args).output().unwrap();
    assert!(
        out.status.success(),
        "ethtool {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Outside {
    fn new(n: u8, link: Link) -> Outside {
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
        for host in [2, 3] {
            sh(&[
                "-n",
                &o.ns,
                "addr",
                "add",
                &format!("10.201.{n}.{host}/24"),
                "dev",
                &inner,
            ]);
        }
        // IPv6 without duplicate address detection: usable at once.
        sh(&[
            "-6",
            "addr",
            "add",
            &format!("fd00:201:{n}::1/64"),
            "dev",
            &o.veth,
            "nodad",
        ]);
        for host in [2, 3] {
            sh(&[
                "-n",
                &o.ns,
                "-6",
                "addr",
                "add",
                &format!("fd00:201:{n}::{host}/64"),
                "dev",
                &inner,
                "nodad",
            ]);
        }
        sh(&["-n", &o.ns, "link", "set", &inner, "up"]);
        sh(&["-n", &o.ns, "link", "set", "lo", "up"]);
        match link {
            Link::ChecksumOffload => {}
            Link::FullChecksums => {
                ethtool(None, &["-K", &o.veth, "tx", "off", "rx", "off"]);
                ethtool(Some(&o.ns), &["-K", &inner, "tx", "off", "rx", "off"]);
            }
            Link::Gro => ethtool(
                None,
                &["-K", &o.veth, "gro", "on", "rx-udp-gro-forwarding", "on"],
            ),
        }
        o
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        // Deleting the namespace takes the pair with it; the link is deleted too in case the
        // namespace never got its end.
        let quiet = |args: &[&str]| {
            let _ = Command::new("ip").args(args).output();
        };
        quiet(&["netns", "del", &self.ns]);
        quiet(&["link", "del", &self.veth]);
    }
}

/// Which echo peer runs outside.
enum Peer {
    Coturn { _proc: Proc },
    Gso(GsoPeer),
}

fn to_another_host(n: u8, link: Link, v6: bool) {
    let outside = Outside::new(n, link);
    let dir = scratch(&format!("offload-outside-{n}-{v6}"));
    let (relay_ip, client_ip, far, net) = if v6 {
        (
            format!("fd00:201:{n}::1"),
            format!("fd00:201:{n}::2"),
            format!("fd00:201:{n}::3"),
            format!("fd00:201:{n}::/64"),
        )
    } else {
        (
            format!("10.201.{n}.1"),
            format!("10.201.{n}.2"),
            format!("10.201.{n}.3"),
            format!("10.201.{n}.0/24"),
        )
    };
    let listen = SocketAddr::new(relay_ip.parse().unwrap(), free_port());
    let relay = start_relay_on(
        &dir,
        &[listen],
        &[
            "--user",
            "alice:secret",
            "--allow-peer",
            &net,
            "--offload",
            &outside.veth,
        ],
    );
    let (peer, peer_port) = match link {
        Link::Gro => {
            let bind = SocketAddr::new(far.parse().unwrap(), 0);
            let p = GsoPeer::start(bind, Some(&outside.ns));
            let port = p.addr.port();
            (Peer::Gso(p), port)
        }
        _ => {
            let port = free_port();
            let p = spawn(
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
                    &port.to_string(),
                ],
            );
            std::thread::sleep(Duration::from_millis(300));
            (Peer::Coturn { _proc: p }, port)
        }
    };
    let (clients, messages, len) = match link {
        Link::Gro => LOAD,
        // An odd payload size (181) also checks the checksum of a last, half-filled word.
        _ => (CLIENTS, MESSAGES, 181),
    };
    let gap = if matches!(link, Link::Gro) { 1 } else { 5 };
    let mut args = load_args(clients, messages, len, gap);
    args.extend(["-L".to_string(), client_ip]);
    let drops = UdpDrops::now(Some(&outside.ns));
    let u = uclient_in(
        Some(&outside.ns),
        listen,
        SocketAddr::new(far.parse().unwrap(), peer_port),
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_all_echoed(&format!("{link:?}"), &u, clients * messages, &relay, &drops);
    match peer {
        // Out of the interface and back in: every message took the kernel path both ways.
        Peer::Coturn { .. } => {
            all_through_the_kernel(&relay, &u, clients);
        }
        // Merged datagrams take the sockets; what the kernel carried, it carried whole.
        Peer::Gso(p) => {
            let log = wait_for_counters(&relay, clients as usize);
            let (to_peer, to_client) = (
                kernel_relayed(&log, "to_peer_packets"),
                kernel_relayed(&log, "to_client_packets"),
            );
            assert!(
                to_peer <= u.sent && to_client <= p.echoed.alone.load(Ordering::Relaxed),
                "{log}"
            );
            assert_eq!(
                kernel_relayed(&log, "to_peer_bytes"),
                to_peer * len,
                "{log}"
            );
            assert_eq!(
                kernel_relayed(&log, "to_client_bytes"),
                to_client * len,
                "{log}"
            );
            eprintln!(
                "GRO link: the kernel carried {to_peer} of {} to the peer and {to_client} to the clients",
                u.sent
            );
        }
    }
}

#[test]
fn channel_data_to_another_host_leaves_through_the_interface() {
    to_another_host(1, Link::ChecksumOffload, false);
    to_another_host(2, Link::FullChecksums, false);
}

#[test]
fn ipv6_channel_data_to_another_host_leaves_through_the_interface() {
    // Full checksums verified on receipt: a wrong IPv6 pseudo-header update drops every
    // datagram there.
    to_another_host(4, Link::ChecksumOffload, true);
    to_another_host(5, Link::FullChecksums, true);
}

#[test]
fn merged_datagrams_from_another_host_lose_nothing() {
    let _turn = one_load_at_a_time();
    to_another_host(3, Link::Gro, false);
}

#[test]
fn merged_ipv6_datagrams_from_another_host_lose_nothing() {
    let _turn = one_load_at_a_time();
    to_another_host(6, Link::Gro, true);
}

/// Behind a 1:1 NAT the relay tells clients its public address, but packets reach it with
/// the bound one: the fast path's maps are keyed on what the packets carry, so the same load
/// still goes both ways through the kernel, on relay ports of `--relay-ports`.
#[test]
fn behind_a_nat_the_kernel_still_carries_channel_data_both_ways() {
    let _turn = one_load_at_a_time();
    let dir = scratch("offload-nat");
    let mut flags = ON_LOOPBACK.to_vec();
    flags.extend([
        "--external-ip",
        "203.0.113.77",
        "--relay-ports",
        "24000-24999",
    ]);
    let (relay, addr) = start_relay(&dir, &flags);
    let (_peer, port) = start_peer(&dir);
    the_load_through_the_kernel(&relay, addr, SocketAddr::from(([127, 0, 0, 1], port)));
    let log = relay.log_text();
    assert!(log.contains("relay=\"127.0.0.1:24"), "{log}");
}
