//! `cargo xtask test`: every test, in the order that fails fastest.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::setup::setup;
use crate::util::{Result, cargo, run};

/// Installs, builds every target that has one, runs every test.
pub fn test(root: &Path, _args: &[String]) -> Result {
    let start = Instant::now();
    setup(root)?;
    step("style: rustfmt and clippy with warnings denied", || {
        style(root)
    })?;
    step(
        "shared-token builds for wasm32 without default features",
        || {
            run(cargo().current_dir(root).args([
                "build",
                "-p",
                "shared-token",
                "--target",
                "wasm32-unknown-unknown",
                "--no-default-features",
            ]))
        },
    )?;
    step(
        "resource-verifier builds for wasm32 (a resource server in a worker)",
        || {
            run(cargo().current_dir(root).args([
                "build",
                "-p",
                "resource-verifier",
                "--target",
                "wasm32-unknown-unknown",
            ]))
        },
    )?;
    step("build the browser helper and the worker", || {
        crate::build(root)
    })?;
    step(
        "the browser helper's npm packages stay within the 60 KB gzip budget",
        || crate::www::check_budget(root),
    )?;
    step(
        "every crate's tests (unit, property, interop, end to end)",
        || {
            run(cargo()
                .current_dir(root)
                .args(["test", "--workspace", "--all-targets"]))?;
            run(cargo()
                .current_dir(root)
                .args(["test", "--workspace", "--doc"]))
        },
    )?;
    step(
        "the Debian package: build it, dpkg -i, check-config and systemd-analyze verify as installed, dpkg --purge leaves nothing",
        || crate::dist::check(root),
    )?;
    step(
        "bench-relay --smoke: the relay benchmark's harness with tiny counts (Debian's coturn, relay-native), zero loss",
        || crate::relay_bench::bench(root, &["--smoke".to_string()]),
    )?;
    step(
        "the whole system: Chromium signs in and opens a relayed data channel; relay-native probe with the edge's tokens against relay-native and coturn",
        || crate::e2e::www(root),
    )?;
    step(
        "the helper as apps use it: npm packages in Node, /pkg/* for other origins, the Vite app from the tarball, the two-tab call example through the relay with an ICE restart",
        || crate::examples::e2e(root),
    )?;
    step("fuzz token opening for 20 s (no crash)", || {
        fuzz(root, &["20".to_string()])
    })?;
    step(
        "fuzz the relay core for 20 s (no panic, every size under its cap, outputs in order)",
        || fuzz_relay(root, &["20".to_string()]),
    )?;
    eprintln!(
        "\nxtask test: all passed in {:.0}s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn step(what: &str, f: impl FnOnce() -> Result) -> Result {
    eprintln!("\n==> {what}");
    let t = Instant::now();
    f().map_err(|e| format!("{what}: {e}"))?;
    eprintln!("<== {what}: ok in {:.0}s", t.elapsed().as_secs_f64());
    Ok(())
}

/// The style the project keeps (../shared/STYLE.md): rustfmt's defaults, and clippy with the
/// workspace lints and warnings denied, natively for every target and on wasm32 for the
/// crates that ship there. On wasm32 only the libraries are checked: the test targets'
/// dev-dependencies (proptest's process helpers, the end-to-end tests' HTTP clients) do not
/// build for wasm32, and those tests run natively above.
fn style(root: &Path) -> Result {
    run(cargo().current_dir(root).args(["fmt", "--all", "--check"]))?;
    run(cargo().current_dir(root).args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    for args in [
        &["-p", "shared-token", "-p", "edge-oauth", "-p", "www"][..],
        &["-p", "shared-token", "--no-default-features"][..],
    ] {
        run(cargo()
            .current_dir(root)
            .args(["clippy", "--target", "wasm32-unknown-unknown", "--lib"])
            .args(args)
            .args(["--", "-D", "warnings"]))?;
    }
    Ok(())
}

/// Criterion benchmark of sealing and opening tokens.
pub fn bench_token(root: &Path) -> Result {
    run(cargo()
        .current_dir(root)
        .args(["bench", "-p", "shared-token", "--bench", "token"]))
}

/// Runs the token-opening fuzz target for a bounded time.
pub fn fuzz(root: &Path, args: &[String]) -> Result {
    fuzz_target(&root.join("shared-token"), "open_token", args)
}

/// Runs the relay core's fuzz target (arbitrary inputs and time steps) for a bounded time.
pub fn fuzz_relay(root: &Path, args: &[String]) -> Result {
    fuzz_target(&root.join("relay-proto"), "core", args)
}

/// Runs `target` of the cargo-fuzz project in `dir` for the seconds in `args` (default 60).
fn fuzz_target(dir: &Path, target: &str, args: &[String]) -> Result {
    let secs: u64 = match args.first() {
        Some(s) => s
            .parse()
            .map_err(|_| format!("fuzz: `{s}` is not a number of seconds"))?,
        None => 60,
    };
    crate::setup::cargo_fuzz()?;
    // cargo-fuzz needs nightly-only flags; RUSTC_BOOTSTRAP lets the one stable toolchain
    // on this machine accept them (no other toolchain can be installed here).
    run(Command::new(crate::util::cargo_bin("cargo-fuzz"))
        .current_dir(dir)
        .env("RUSTC_BOOTSTRAP", "1")
        .args([
            "fuzz",
            "run",
            target,
            "--",
            &format!("-max_total_time={secs}"),
        ]))
}
