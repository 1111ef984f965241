#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! The 1:1 NAT and port range settings at `check-config` and at start: what is printed
//! (and advertised to the edge), and a clear error with a non-zero exit for each bad value.

mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{relay_bin, scratch};

fn run(dir: &std::path::Path, command: &str, toml: &str, args: &[&str]) -> Output {
    let path = dir.join("relay.toml");
    std::fs::write(&path, toml).unwrap();
    let mut child = Command::new(relay_bin())
        .arg(command)
        .arg("--config")
        .arg(&path)
        .args(args)
        .env_remove("EDGETURN_KEYS")
        .env_remove("EDGETURN_RELAY_CLIENT_SECRET")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A `serve` that accepted its configuration would run on: stopped after a while, it
    // shows as a failure of the test (killed, so no success).
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    child.wait_with_output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn check_config_prints_the_mapping_the_range_and_the_public_urls() {
    let dir = scratch("nat-check-config");
    let secret = dir.join("secret");
    std::fs::write(&secret, "relay-client-secret").unwrap();
    let toml = format!(
        r#"listen = "127.0.0.1:3478"
external_ip = "203.0.113.9"
relay_ports = "40000-40999"
third_party_authorization = "https://edge.example/turn/token"
users = ["alice:pw"]

[control]
edge = "https://edge.example"
client_id = "relay-fra"
client_secret_file = "{}"
state_dir = "{}"
"#,
        secret.display(),
        dir.join("state").display()
    );
    let out = run(&dir, "check-config", &toml, &[]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    for want in [
        r#"external_ip = ["203.0.113.9/127.0.0.1"]  # clients are told 203.0.113.9"#,
        r#"relay_ports = "40000-40999""#,
        r#"third_party_authorization = "https://edge.example/turn/token""#,
        "turn:203.0.113.9:3478?transport=udp",
    ] {
        assert!(t.contains(want), "missing {want:?} in:\n{t}");
    }
    assert!(
        !t.contains("turn:127.0.0.1"),
        "advertised the private address:\n{t}"
    );
    // Without the settings: the defaults.
    let out = run(
        &dir,
        "check-config",
        "listen = \"127.0.0.1:3478\"\nusers = [\"a:b\"]\n",
        &[],
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains(r#"relay_ports = "49152-65535""#), "{t}");
    assert!(
        t.contains(r#"third_party_authorization = "server-name""#),
        "{t}"
    );
}

#[test]
fn bad_addresses_and_ranges_fail_check_config_and_the_start() {
    let dir = scratch("nat-bad-input");
    let base = "listen = \"127.0.0.1:3478\"\nusers = [\"a:b\"]\nmetrics = \"127.0.0.1:9100\"\n";
    for (setting, want) in [
        ("external_ip = \"public.example\"", "is not an IP address"),
        (
            "external_ip = \"203.0.113.9/10.255.0.77\"",
            "10.255.0.77 is not an address of this relay",
        ),
        ("external_ip = \"2001:db8::9\"", "no IPv6 relay address"),
        ("relay_ports = \"5000-4000\"", "is empty"),
        ("relay_ports = \"0-100\"", "leaves 1-65535"),
        ("relay_ports = \"60000-70000\"", "leaves 1-65535"),
        ("relay_ports = \"40000\"", "is not MIN-MAX"),
        ("relay_ports = \"3000-4000\"", "holds the listen port 3478"),
        ("relay_ports = \"9000-9999\"", "holds the metrics port 9100"),
        (
            "third_party_authorization = \"edge.example\"",
            "server-name or an https://",
        ),
    ] {
        let toml = format!("{base}{setting}\n");
        for command in ["check-config", "serve"] {
            let out = run(&dir, command, &toml, &[]);
            let t = text(&out);
            assert!(!out.status.success(), "{command} accepted {setting}:\n{t}");
            assert!(
                t.contains(want),
                "{command} {setting}: want {want:?} in:\n{t}"
            );
            assert!(!t.contains("panicked"), "{t}");
        }
    }
    // The same through flags.
    let out = run(
        &dir,
        "check-config",
        base,
        &["--external-ip", "203.0.113.9/nowhere"],
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("\"nowhere\" is not an IP address"),
        "{}",
        text(&out)
    );
    let out = run(
        &dir,
        "check-config",
        base,
        &["--relay-ports", "41000-40000"],
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("is empty"), "{}", text(&out));
}

#[test]
fn the_guides_nat_configuration_passes_check_config() {
    let guide = include_str!("../../docs/deploy-relay.md");
    let section = guide
        .split_once("## Behind a cloud's 1:1 NAT")
        .expect("docs/deploy-relay.md has the NAT section")
        .1;
    let block = section.split_once("```toml\n").unwrap().1;
    let block = &block[..block.find("```").unwrap()];
    let dir = scratch("nat-guide");
    let out = run(
        &dir,
        "check-config",
        &format!("{block}users = [\"a:b\"]\n"),
        &[],
    );
    let t = text(&out);
    assert!(out.status.success(), "the guide's block:\n{block}\n{t}");
    assert!(
        t.contains(r#"external_ip = ["203.0.113.10/10.0.1.25"]  # clients are told 203.0.113.10"#),
        "{t}"
    );
}
