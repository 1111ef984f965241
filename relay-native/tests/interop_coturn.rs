#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! coturn's own test client against relay-native, with coturn's echo peer: static users,
//! RFC 7635 tokens (`-J`, coturn's three test keys), REST secrets; ChannelData and Send
//! indications; UDP and TCP. Every message must come back.

mod common;

use common::*;

const CLIENTS: u64 = 3;
const MESSAGES: u64 = 30;

fn relay(name: &str) -> (std::path::PathBuf, Proc, std::net::SocketAddr, Proc, u16) {
    let dir = scratch(name);
    let keys = dir.join("keys.json");
    std::fs::write(&keys, COTURN_KEYS).unwrap();
    let keys = keys.to_str().unwrap().to_string();
    let (relay, addr) = start_relay(
        &dir,
        &[
            "--user",
            "alice:secret",
            "--auth-secret",
            "rest-secret",
            "--keys",
            &keys,
            "--server-name",
            "turn.test",
            "--allow-loopback-peers",
        ],
    );
    let (peer, port) = start_peer(&dir);
    (dir, relay, addr, peer, port)
}

fn check(name: &str, flags: &[&str]) {
    let (_dir, relay, addr, _peer, port) = relay(name);
    uclient_all_echoed(name, &relay, addr, port, (CLIENTS, MESSAGES), flags);
}

#[test]
fn static_user_channel_data_udp() {
    check("static-udp", &["-u", "alice", "-w", "secret"]);
}

#[test]
fn static_user_send_indications_udp() {
    check("static-send", &["-s", "-u", "alice", "-w", "secret"]);
}

#[test]
fn static_user_tcp() {
    check("static-tcp", &["-t", "-u", "alice", "-w", "secret"]);
}

#[test]
fn oauth_tokens_channel_data() {
    check("oauth", &["-J"]);
}

#[test]
fn oauth_tokens_send_indications() {
    check("oauth-send", &["-J", "-s"]);
}

#[test]
fn oauth_tokens_tcp() {
    check("oauth-tcp", &["-J", "-t"]);
}

#[test]
fn rest_secret() {
    check("rest", &["-u", "carol", "-W", "rest-secret"]);
}

#[test]
fn wrong_password_is_refused() {
    let (_dir, relay, addr, _peer, port) = relay("wrong");
    let u = uclient(
        addr,
        port,
        &[
            "-m",
            "1",
            "-n",
            "3",
            "-u",
            "alice",
            "-w",
            "not-the-password",
        ],
    );
    assert_eq!(
        u.received, 0,
        "a wrong password relayed data:\n{}",
        u.output
    );
    assert!(
        u.output.contains("Cannot complete Allocation"),
        "uclient should fail to allocate:\n{}",
        u.output
    );
    assert!(
        !relay.log_text().contains("allocation created"),
        "relay allocated:\n{}",
        relay.log_text()
    );
}

/// uclient's default mode (no `-c`): an RTP/RTCP pair per client, EVEN-PORT with the
/// reservation bit on the first allocation and the RESERVATION-TOKEN it got on the second
/// (RFC 8656 section 7.2). Every message comes back, and every relay port lies in
/// `--relay-ports`, the pairs on an even port and the next one.
#[test]
fn rtp_rtcp_pairs_reserve_and_claim_the_next_port() {
    let dir = scratch("rtp-rtcp");
    // Below the ephemeral ports, so no free listening port of a test falls inside.
    let (min, max) = (21000u16, 21999u16);
    let range = format!("{min}-{max}");
    let (relay, addr) = start_relay(
        &dir,
        &[
            "--user",
            "alice:secret",
            "--allow-loopback-peers",
            "--relay-ports",
            &range,
        ],
    );
    let (_peer, peer_port) = start_peer(&dir);
    // uclient counts its messages per pair of clients in this mode; every one must return.
    let (m, n) = (2u64, 30u64);
    let out = std::process::Command::new(need("turnutils_uclient"))
        .args([
            "-e",
            "127.0.0.1",
            "-r",
            &peer_port.to_string(),
            "-p",
            &addr.port().to_string(),
            "-m",
            &m.to_string(),
            "-n",
            &n.to_string(),
            "-l",
            "120",
            "-z",
            "5",
            "-u",
            "alice",
            "-w",
            "secret",
            "127.0.0.1",
        ])
        .output()
        .unwrap();
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let last = |key: &str| -> Option<u64> {
        let line = output.lines().rfind(|l| l.contains(key))?;
        let rest = &line[line.rfind(key)? + key.len()..];
        rest.trim_start_matches(['=', ' '])
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    let log = relay.log_text();
    let (sent, received) = (last("tot_send_msgs"), last("tot_recv_msgs"));
    assert!(
        sent.is_some_and(|s| s >= m * n)
            && received == sent
            && last("Total lost packets") == Some(0),
        "sent {sent:?} received {received:?}\nuclient:\n{output}\nrelay log:\n{log}"
    );
    let ports: Vec<u16> = log
        .lines()
        .filter(|l| l.contains("allocation created"))
        .filter_map(|l| {
            let at = l.find("relay=\"127.0.0.1:")? + "relay=\"127.0.0.1:".len();
            l.get(at..)?.split('"').next()?.parse().ok()
        })
        .collect();
    assert!(
        ports.iter().all(|p| (min..=max).contains(p)),
        "a relay port outside {range}: {ports:?}"
    );
    assert!(
        ports
            .iter()
            .any(|p| p.is_multiple_of(2) && ports.contains(&(p + 1))),
        "no RTP/RTCP pair (even port and the next) among {ports:?}\n{log}"
    );
}
