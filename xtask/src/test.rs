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
        "the whole system: Chromium signs in and opens a relayed data channel; relay-native probe with the edge's tokens against relay-native and coturn",
        || crate::e2e::www(root),
    )?;
    step("fuzz token opening for 20 s (no crash)", || {
        fuzz(root, &["20".to_string()])
    })?;
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

/// Criterion benchmark of sealing and opening tokens.
pub fn bench_token(root: &Path) -> Result {
    run(cargo()
        .current_dir(root)
        .args(["bench", "-p", "shared-token", "--bench", "token"]))
}

/// Runs the token-opening fuzz target for a bounded time.
pub fn fuzz(root: &Path, args: &[String]) -> Result {
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
        .current_dir(root.join("shared-token"))
        .env("RUSTC_BOOTSTRAP", "1")
        .args([
            "fuzz",
            "run",
            "open_token",
            "--",
            &format!("-max_total_time={secs}"),
        ]))
}
