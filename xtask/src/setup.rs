//! Idempotent, pinned installs of everything the run and the tests need.
//!
//! Each step checks first and skips what is already at the pinned version, so a warm
//! machine passes through in seconds. Versions: ../shared/TOOLCHAIN.md and docs/toolchain.md.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::util::{Result, cargo, cargo_bin, probe, run};

/// Debian packages: coturn (turnserver, turnutils_*), Chromium for the browser tests and
/// certutil (libnss3-tools) to make it trust the TLS tests' CA, clang and libbpf's headers
/// for relay-native's kernel fast path (bpf/offload.c), iproute2 and ethtool for its test
/// through a network namespace, nftables for the NATs of the NAT lab, systemd for
/// `systemd-analyze verify` of the relay's unit,
/// openssl for the TLS benchmark's certificates and handshakes (`s_time`), prometheus
/// (promtool and the server) for the relay's metrics tests and the checks of its dashboard
/// and alert rules, linux-perf for the relay benchmark's count of each server's system calls.
const APT_PACKAGES: &[(&str, &str)] = &[
    ("coturn", "/usr/bin/turnutils_uclient"),
    ("chromium", "/usr/bin/chromium"),
    ("libnss3-tools", "/usr/bin/certutil"),
    ("systemd", "/usr/bin/systemd-analyze"),
    ("openssl", "/usr/bin/openssl"),
    ("sqlite3", "/usr/bin/sqlite3"),
    ("clang", "/usr/bin/clang"),
    ("libbpf-dev", "/usr/include/bpf/bpf_helpers.h"),
    ("iproute2", "/usr/sbin/ip"),
    ("ethtool", "/usr/sbin/ethtool"),
    ("nftables", "/usr/sbin/nft"),
    ("prometheus", "/usr/bin/promtool"),
    ("linux-perf", "/usr/bin/perf"),
];
const WORKER_BUILD: &str = "0.8.7";
/// Builds the browser helper's npm packages (run offline: `--mode no-install`, see www.rs).
const WASM_PACK: &str = "0.15.1";
const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// Installs what is missing.
pub fn setup(root: &Path) -> Result {
    let start = Instant::now();
    apt(root)?;
    prometheus_service_stopped()?;
    rust_target()?;
    cargo_tool("worker-build", WORKER_BUILD, &["--locked"])?;
    // wasm-bindgen-cli must equal the wasm-bindgen crate in Cargo.lock exactly; its own
    // lockfile wants a crate the registry lacks, so no --locked (TOOLCHAIN.md).
    let wb = wasm_bindgen_version(root)?;
    cargo_tool_named("wasm-bindgen-cli", "wasm-bindgen", &wb, &[])?;
    cargo_tool("wasm-pack", WASM_PACK, &["--locked"])?;
    npm(root)?;
    eprintln!("setup: ready in {:.1}s", start.elapsed().as_secs_f64());
    Ok(())
}

fn apt(_root: &Path) -> Result {
    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .filter(|(_, file)| !Path::new(file).exists())
        .map(|(pkg, _)| *pkg)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let sudo = probe("id", &["-u"]).is_some_and(|u| u.trim() != "0");
    let apt_get = |args: &[&str]| {
        let mut c = if sudo {
            Command::new("sudo")
        } else {
            Command::new("apt-get")
        };
        if sudo {
            c.arg("apt-get");
        }
        c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    run(&mut apt_get(&["update", "-qq"]))?;
    let mut install = apt_get(&["install", "-y", "-qq", "--no-install-recommends"]);
    install.args(&missing);
    run(&mut install)?;
    // Debian starts nothing for coturn by default; make sure no system turnserver holds 3478.
    Ok(())
}

/// Debian's prometheus package enables and starts its own server (on every address, port
/// 9090). The tests run their own, on loopback with a scratch config; the package's is
/// stopped and disabled, every time, so a machine set up earlier is corrected too.
fn prometheus_service_stopped() -> Result {
    let sudo = probe("id", &["-u"]).is_some_and(|u| u.trim() != "0");
    let cmd = |program: &str, args: &[&str]| {
        let mut c = Command::new(if sudo { "sudo" } else { program });
        if sudo {
            c.arg(program);
        }
        c.args(args);
        c
    };
    if Path::new("/run/systemd/system").exists() {
        let enabled = probe("systemctl", &["is-enabled", "prometheus"])
            .is_some_and(|s| s.trim() == "enabled");
        let active =
            probe("systemctl", &["is-active", "prometheus"]).is_some_and(|s| s.trim() == "active");
        if enabled || active {
            run(&mut cmd("systemctl", &["disable", "--now", "prometheus"]))?;
        }
    } else if Path::new("/etc/init.d/prometheus").exists()
        && probe("/etc/init.d/prometheus", &["status"]).is_some()
    {
        run(&mut cmd("/etc/init.d/prometheus", &["stop"]))?;
    }
    Ok(())
}

fn rust_target() -> Result {
    let installed = probe("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    if !installed.lines().any(|l| l.trim() == WASM_TARGET) {
        run(Command::new("rustup").args(["target", "add", WASM_TARGET]))?;
    }
    // The style step of `cargo xtask test` runs rustfmt and clippy.
    let components = probe("rustup", &["component", "list", "--installed"]).unwrap_or_default();
    for c in ["rustfmt", "clippy"] {
        if !components.lines().any(|l| l.trim().starts_with(c)) {
            run(Command::new("rustup").args(["component", "add", c]))?;
        }
    }
    Ok(())
}

fn cargo_tool(krate: &str, version: &str, extra: &[&str]) -> Result {
    cargo_tool_named(krate, krate, version, extra)
}

fn cargo_tool_named(krate: &str, bin: &str, version: &str, extra: &[&str]) -> Result {
    let have = probe(cargo_bin(bin), &["--version"]).unwrap_or_default();
    if have.split_whitespace().any(|w| w == version) {
        return Ok(());
    }
    run(cargo()
        .args(["install", krate, "--version", &format!("={version}")])
        .args(extra))
}

/// The wasm-bindgen version Cargo.lock pins.
pub fn wasm_bindgen_version(root: &Path) -> Result<String> {
    let lock = std::fs::read_to_string(root.join("Cargo.lock"))?;
    let mut lines = lock.lines();
    while let Some(l) = lines.next() {
        if l == "name = \"wasm-bindgen\""
            && let Some(v) = lines.next().and_then(|v| v.strip_prefix("version = \""))
        {
            return Ok(v.trim_end_matches('"').to_string());
        }
    }
    Err("Cargo.lock has no wasm-bindgen entry".into())
}

fn npm(root: &Path) -> Result {
    // npm writes node_modules/.package-lock.json on install; equal content means done.
    let want = std::fs::read_to_string(root.join("package-lock.json"))?;
    let stamp = root.join("node_modules").join(".edgeturn-lock");
    if std::fs::read_to_string(&stamp).is_ok_and(|have| have == want) {
        return Ok(());
    }
    run(Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(root))?;
    std::fs::write(stamp, want)?;
    Ok(())
}

/// cargo-fuzz, for `cargo xtask fuzz` only.
pub fn cargo_fuzz() -> Result {
    cargo_tool("cargo-fuzz", CARGO_FUZZ, &["--locked"])
}
const CARGO_FUZZ: &str = "0.13.2";
