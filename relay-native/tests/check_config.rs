#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! `check-config` prints every setting it was given, including one no hand-written line
//! describes (from the settings declaration alone), never a secret, each key once, as TOML
//! that `--config` accepts back.

mod common;

use std::process::{Command, Output};

use common::{relay_bin, scratch};

fn check_config(path: &std::path::Path) -> Output {
    Command::new(relay_bin())
        .args(["check-config", "--config"])
        .arg(path)
        .env_remove("EDGETURN_KEYS")
        .env_remove("EDGETURN_RELAY_CLIENT_SECRET")
        .output()
        .unwrap()
}

#[test]
fn every_given_setting_is_printed_once_without_secrets_and_reads_back() {
    let dir = scratch("check-config-all");
    let path = dir.join("relay.toml");
    std::fs::write(
        &path,
        r#"listen = "127.0.0.1:3478"
default_relay_family = "ipv4"
users = ["alice:a-password-never-printed"]
auth_secrets = ["a-rest-secret-never-printed"]
max_bps_per_user = 1000000
"#,
    )
    .unwrap();
    let out = check_config(&path);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("default_relay_family = \"ipv4\""), "{text}");
    assert!(text.contains("max_bps_per_user = 1000000"), "{text}");
    assert!(!text.contains("never-printed"), "{text}");
    // Each key once: TOML refuses a duplicate key.
    let parsed: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(parsed["default_relay_family"].as_str(), Some("ipv4"));

    // What it printed runs again, once the redacted secrets are given back.
    let again = dir.join("again.toml");
    let printed = text
        .lines()
        .filter(|l| !l.starts_with("users") && !l.starts_with("auth_secrets"))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&again, format!("{printed}\nusers = [\"alice:pw\"]\n")).unwrap();
    let out = check_config(&again);
    assert!(
        out.status.success(),
        "{printed}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("default_relay_family = \"ipv4\""));
}
