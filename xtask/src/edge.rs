//! The edge worker: `build` (worker-build with the pinned wasm-bindgen, wasm-opt and esbuild,
//! never a download) and `bench` (p50/p99 of the token endpoint in local workerd, and the
//! worker's gzip size). Standard library only.
//!
//! Also the pieces a local run needs: starting `wrangler dev` with local D1 from a copy of
//! the root wrangler.toml without `[build]` ([`Dev`]), secrets for `.dev.vars`
//! ([`dev_vars`]), and seeding the demo client and user through the admin API ([`seed_demo`]).

use std::error::Error;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

fn home_bin(name: &str) -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo"));
    home.join("bin").join(name)
}

fn node_bin(root: &Path, name: &str) -> PathBuf {
    root.join("node_modules").join(".bin").join(name)
}

fn need(path: &Path, hint: &str) -> Result {
    if path.exists() {
        Ok(())
    } else {
        Err(format!("{} is missing ({hint})", path.display()).into())
    }
}

/// The built worker: edge-oauth/build/index.js and its wasm.
pub fn worker_js(root: &Path) -> PathBuf {
    root.join("edge-oauth/build/index.js")
}

/// Builds the worker with `worker-build --release` into edge-oauth/build, using the pinned
/// tools (worker-build would otherwise download wasm-bindgen and wasm-opt from GitHub).
pub fn build(root: &Path) -> Result {
    let worker_build = home_bin("worker-build");
    let wasm_bindgen = home_bin("wasm-bindgen");
    let wasm_opt = node_bin(root, "wasm-opt");
    let esbuild = node_bin(root, "esbuild");
    need(&worker_build, "cargo install worker-build --version 0.8.7 --locked")?;
    need(&wasm_bindgen, "cargo install wasm-bindgen-cli at the Cargo.lock version")?;
    need(&wasm_opt, "npm ci installs binaryen")?;
    need(&esbuild, "npm ci installs wrangler, which brings esbuild")?;
    let target = root.join("target").join("edge-worker");
    let mut cmd = Command::new(&worker_build);
    cmd.arg("--release")
        .current_dir(root.join("edge-oauth"))
        .env("WASM_BINDGEN_BIN", &wasm_bindgen)
        .env("WASM_OPT_BIN", &wasm_opt)
        .env("ESBUILD_BIN", &esbuild)
        .env("CARGO_TARGET_DIR", &target);
    eprintln!("$ worker-build --release (in edge-oauth, target {})", target.display());
    let started = Instant::now();
    let status = cmd.status().map_err(|e| format!("cannot start {}: {e}", worker_build.display()))?;
    if !status.success() {
        return Err(format!("worker-build failed: {status}").into());
    }
    let js = worker_js(root);
    need(&js, "worker-build did not write it")?;
    eprintln!("edge worker built in {:.0}s: {} gzip bytes", started.elapsed().as_secs_f64(), gzip_size(root)?);
    Ok(())
}

/// gzip -9 size of what `wrangler deploy` uploads: the wasm and the JavaScript around it.
pub fn gzip_size(root: &Path) -> Result<usize> {
    let dir = root.join("edge-oauth/build");
    let mut total = 0;
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if path.is_file() && matches!(ext, "wasm" | "js" | "mjs") {
            let out = Command::new("gzip").arg("-9").arg("-c").arg(&path).output()?;
            if !out.status.success() {
                return Err(format!("gzip {} failed", path.display()).into());
            }
            total += out.stdout.len();
        }
    }
    if total == 0 {
        return Err(format!("{} holds no built worker; run `cargo xtask build-edge`", dir.display()).into());
    }
    Ok(total)
}
