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
