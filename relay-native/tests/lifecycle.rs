//! Starting from a TOML file, and stopping cleanly on SIGTERM and SIGINT.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

fn stops_on(signal: &str) {
    let dir = scratch(&format!("stop-{signal}"));
    let port = free_port();
    let cfg = dir.join("relay.toml");
    std::fs::write(
        &cfg,
        format!("listen = \"127.0.0.1:{port}\"\nrealm = \"file.realm\"\nusers = [\"alice:secret\"]\nshards = 2\n"),
    )
    .unwrap();
    let mut p = spawn(
        &dir,
        "relay",
        &relay_bin(),
        &["serve", "--config", cfg.to_str().unwrap()],
    );
    wait_binding(format!("127.0.0.1:{port}").parse().unwrap(), &p);
    Command::new("kill")
        .args([&format!("-{signal}"), &p.child.id().to_string()])
        .status()
        .unwrap();
    let status = p.wait_exit(Duration::from_secs(5));
    assert!(status.success(), "exit {status}:\n{}", p.log_text());
    let log = p.log_text();
    assert!(log.contains("shards=2") && log.contains("stopped"), "{log}");
}

#[test]
fn stops_cleanly_on_sigterm() {
    stops_on("TERM");
}

#[test]
fn stops_cleanly_on_sigint() {
    stops_on("INT");
}

#[test]
fn unknown_config_keys_are_refused() {
    let dir = scratch("badcfg");
    let cfg = dir.join("relay.toml");
    std::fs::write(
        &cfg,
        "listen = \"127.0.0.1:0\"\nusers = [\"a:b\"]\nrelm = \"typo\"\n",
    )
    .unwrap();
    let out = Command::new(relay_bin())
        .args(["serve", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown field `relm`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
