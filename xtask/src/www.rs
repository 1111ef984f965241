//! Builds the browser helper: Rust -> wasm32 -> wasm-bindgen ES module (`--target web`, no
//! bundler) -> wasm-opt, into www/public/pkg where the worker serves it as a static asset.

use std::path::Path;
use std::process::Command;

use crate::util::{Result, cargo, cargo_bin, node_bin, run};

/// Builds www/public/pkg/{edgeturn.js, edgeturn_bg.wasm, edgeturn.d.ts}.
pub fn build(root: &Path) -> Result {
    run(cargo().current_dir(root).args([
        "build",
        "-p",
        "www",
        "--release",
        "--target",
        "wasm32-unknown-unknown",
    ]))?;
    let wasm = crate::util::target_dir(root).join("wasm32-unknown-unknown/release/edgeturn.wasm");
    let out = root.join("www/public/pkg");
    run(Command::new(cargo_bin("wasm-bindgen"))
        .arg("--target")
        .arg("web")
        .arg("--out-dir")
        .arg(&out)
        .arg(&wasm))?;
    let bg = out.join("edgeturn_bg.wasm");
    run(Command::new(node_bin(root, "wasm-opt"))
        .args([
            "-Oz",
            "--enable-bulk-memory",
            "--enable-nontrapping-float-to-int",
            "--enable-sign-ext",
            "--enable-mutable-globals",
        ])
        .arg(&bg)
        .arg("-o")
        .arg(&bg))?;
    let sizes = gzip_sizes(&[out.join("edgeturn_bg.wasm"), out.join("edgeturn.js")])?;
    eprintln!("www helper: {} bytes gzip (wasm + js)", sizes);
    Ok(())
}

/// Sum of gzip -9 sizes.
pub fn gzip_sizes(files: &[std::path::PathBuf]) -> Result<usize> {
    let mut total = 0;
    for f in files {
        let out = Command::new("gzip").arg("-9").arg("-c").arg(f).output()?;
        if !out.status.success() {
            return Err(format!("gzip {} failed", f.display()).into());
        }
        total += out.stdout.len();
    }
    Ok(total)
}
