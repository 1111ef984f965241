#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! The systemd unit in relay-native/deploy and the drop-in docs/deploy-relay.md gives for
//! the kernel fast path: `systemd-analyze verify` accepts them without a single warning
//! (unknown keys and system call groups are only warnings there), `systemd-analyze
//! security` rates the unit's exposure low, and the configuration the guide writes passes
//! `relay-native check-config`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::pki::{Pki, Validity};
use common::*;

const UNIT: &str = include_str!("../deploy/relay-native.service");
const GUIDE: &str = include_str!("../../docs/deploy-relay.md");

/// The fenced block of the guide that follows the line containing `marker`.
fn guide_block(marker: &str) -> String {
    let rest = GUIDE
        .split_once(marker)
        .unwrap_or_else(|| panic!("docs/deploy-relay.md has no {marker:?}"))
        .1;
    let start = rest.find("```").unwrap();
    let body = &rest[start..];
    let body = &body[body.find('\n').unwrap() + 1..];
    body[..body.find("```").unwrap()].to_string()
}

/// A root directory holding the unit, the relay binary where ExecStart expects it, the
/// system's own units (for the targets it names) and kill (for ExecReload).
fn root(name: &str, drop_in: Option<&str>) -> PathBuf {
    let dir = scratch(name);
    let root = dir.join("root");
    let units = root.join("etc/systemd/system");
    std::fs::create_dir_all(&units).unwrap();
    std::fs::write(units.join("relay-native.service"), UNIT).unwrap();
    if let Some(d) = drop_in {
        let d_dir = units.join("relay-native.service.d");
        std::fs::create_dir_all(&d_dir).unwrap();
        std::fs::write(d_dir.join("offload.conf"), d).unwrap();
    }
    for (from, to) in [
        (relay_bin(), root.join("usr/local/bin/relay-native")),
        (PathBuf::from("/bin/kill"), root.join("bin/kill")),
    ] {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    }
    std::fs::create_dir_all(root.join("usr/lib/systemd")).unwrap();
    let status = Command::new("cp")
        .args(["-r", "/usr/lib/systemd/system"])
        .arg(root.join("usr/lib/systemd"))
        .status()
        .unwrap();
    assert!(status.success());
    root
}

fn verify(root: &Path) {
    let out = Command::new(need("systemd-analyze"))
        .arg("verify")
        .arg(format!("--root={}", root.display()))
        .arg("/etc/systemd/system/relay-native.service")
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "systemd-analyze verify: {:?}\n{said}",
        out.status
    );
}

/// The overall exposure `systemd-analyze security` gives the unit (0 best, 10 worst).
fn exposure(root: &Path) -> f64 {
    let out = Command::new(need("systemd-analyze"))
        .args(["security", "--offline=true"])
        .arg(format!("--root={}", root.display()))
        .arg("relay-native.service")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| {
            l.split("Overall exposure level for relay-native.service:")
                .nth(1)
        })
        .and_then(|r| r.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "no exposure level:\n{text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

#[test]
fn the_unit_verifies_and_is_hardened() {
    let root = root("unit", None);
    verify(&root);
    let level = exposure(&root);
    assert!(
        level <= 2.0,
        "exposure {level}: hardening options were lost"
    );
    assert!(
        UNIT.contains("ExecReload=/bin/kill -HUP $MAINPID")
            && UNIT.contains("CapabilityBoundingSet=CAP_NET_BIND_SERVICE\n")
            && UNIT.contains("AmbientCapabilities=CAP_NET_BIND_SERVICE\n"),
        "the unit must reload with SIGHUP and hold CAP_NET_BIND_SERVICE alone"
    );
}

#[test]
fn the_guides_offload_drop_in_verifies() {
    let drop_in = guide_block("relay-native.service.d/offload.conf");
    for cap in ["CAP_BPF", "CAP_NET_ADMIN"] {
        assert!(
            drop_in.contains(cap),
            "the drop-in must add {cap}:\n{drop_in}"
        );
    }
    let root = root("offload-unit", Some(&drop_in));
    verify(&root);
}

#[test]
fn the_guides_configuration_passes_check_config() {
    let dir = scratch("guide-config");
    let pki = Pki::new(&dir, "guide");
    let leaf = pki.leaf(&dir, "relay", &["turn.example.com"], Validity::Now);
    let keys = dir.join("keys.json");
    std::fs::write(
        &keys,
        r#"[{"kid":"k1","alg":"A256GCM","key":"MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEK"}]"#,
    )
    .unwrap();
    let toml = guide_block("/etc/edgeturn/relay.toml")
        .replace("/etc/edgeturn/keys.json", keys.to_str().unwrap())
        .replace(
            "/etc/edgeturn/tls/fullchain.pem",
            leaf.cert.to_str().unwrap(),
        )
        .replace("/etc/edgeturn/tls/privkey.pem", leaf.key.to_str().unwrap());
    let file = dir.join("relay.toml");
    std::fs::write(&file, &toml).unwrap();
    let out = Command::new(relay_bin())
        .args(["check-config", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the guide's relay.toml:\n{toml}\ncheck-config: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(r#"tls_listen = ["0.0.0.0:443", "0.0.0.0:5349"]"#),
        "{text}"
    );
}
