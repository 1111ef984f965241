//! Builds the browser helper with wasm-pack (Rust -> wasm32 -> wasm-bindgen -> wasm-opt), once
//! per wasm-pack target, each an npm package packed with `npm pack` into target/npm/; and lays
//! the web build out in www/public/pkg, where the worker serves it to any origin.
//!
//! wasm-pack runs with `--mode no-install` and a PATH that leads to the pinned wasm-bindgen
//! (~/.cargo/bin) and the npm-installed wasm-opt (node_modules/.bin), so it never downloads.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::util::{Result, cargo_bin, json_field, node_bin, run, target_dir};

/// What the helper may weigh, gzip -9: a page's download (wasm + JS) and each npm tarball.
pub const GZIP_BUDGET: usize = 60 * 1024;

/// The files' stem (`--out-name`): edgeturn.js, edgeturn_bg.wasm, edgeturn.d.ts.
const OUT_NAME: &str = "edgeturn";

/// A wasm-pack target and the npm package built for it.
#[derive(Clone, Copy)]
pub struct Target {
    /// wasm-pack's `--target`.
    pub name: &'static str,
    /// The npm package name.
    pub package: &'static str,
}

/// The web build is the package: it loads in a browser with no bundler (also straight from
/// the edge), and Vite, webpack 5 and Parcel take it as it is. The bundler build is for
/// bundlers set up for WebAssembly ES module integration (no `init()`).
pub const TARGETS: [Target; 2] = [
    Target {
        name: "web",
        package: "edgeturn",
    },
    Target {
        name: "bundler",
        package: "edgeturn-bundler",
    },
];

/// target/npm: the packages (`web/`, `bundler/`) and their tarballs.
pub fn npm_dir(root: &Path) -> PathBuf {
    target_dir(root).join("npm")
}

/// The unpacked package of a target.
pub fn package_dir(root: &Path, target: Target) -> PathBuf {
    npm_dir(root).join(target.name)
}

/// The `npm pack` tarball of a target's package.
pub fn tarball(root: &Path, target: Target) -> Result<PathBuf> {
    let manifest = std::fs::read_to_string(package_dir(root, target).join("package.json"))?;
    let version = json_field(&manifest.replace('\n', ""), "version")
        .ok_or("the package's package.json has no version")?;
    Ok(npm_dir(root).join(format!("{}-{version}.tgz", target.package)))
}

/// Builds and packs both packages, then www/public/pkg from the web build.
pub fn build(root: &Path) -> Result {
    for target in TARGETS {
        let dir = package_dir(root, target);
        wasm_pack(root, target, &dir)?;
        // wasm-pack names the package after the crate and lists only the built files; npm
        // packs the license texts only when listed.
        run(Command::new("npm").current_dir(&dir).args([
            "pkg",
            "set",
            &format!("name={}", target.package),
            "files[]=LICENSE-MIT",
            "files[]=LICENSE-APACHE",
        ]))?;
        run(Command::new("npm")
            .current_dir(&dir)
            .args(["pack", "--silent", "--pack-destination"])
            .arg(npm_dir(root)))?;
    }
    publish(
        root,
        &package_dir(root, TARGETS[0]),
        &root.join("www/public/pkg"),
    )?;
    for target in TARGETS {
        let (page, tarball) = sizes(root, target)?;
        eprintln!(
            "www helper, {} build: {page} bytes gzip (wasm + JS); {}: {tarball} bytes",
            target.name,
            self::tarball(root, target)?.display()
        );
    }
    Ok(())
}

/// `wasm-pack build www --release --target T` into `out`, offline.
fn wasm_pack(root: &Path, target: Target, out: &Path) -> Result {
    let wasm_pack = cargo_bin("wasm-pack");
    if !wasm_pack.exists() {
        return Err(format!(
            "{} is missing: `cargo xtask setup` installs it",
            wasm_pack.display()
        )
        .into());
    }
    let _ = std::fs::remove_dir_all(out);
    let mut path =
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).collect::<Vec<_>>();
    path.insert(0, cargo_bin("wasm-bindgen").with_file_name(""));
    path.insert(0, node_bin(root, "wasm-opt").with_file_name(""));
    run(Command::new(wasm_pack)
        .current_dir(root)
        .env("PATH", std::env::join_paths(path)?)
        .args(["build", "www", "--release", "--mode", "no-install"])
        .args(["--target", target.name, "--out-name", OUT_NAME, "--out-dir"])
        .arg(out))
}

/// Lays out `dir` (the worker's www/public/pkg) from the web package: the build under
/// `VERSION-HASH/` (content-addressed, cached immutably), and at the stable names a module
/// and its types that re-export that build.
fn publish(root: &Path, package: &Path, dir: &Path) -> Result {
    let js = std::fs::read(package.join(format!("{OUT_NAME}.js")))?;
    let wasm = std::fs::read(package.join(format!("{OUT_NAME}_bg.wasm")))?;
    let manifest = std::fs::read_to_string(package.join("package.json"))?;
    let version =
        json_field(&manifest.replace('\n', ""), "version").ok_or("package.json has no version")?;
    let hash = Sha256::new()
        .chain_update(&js)
        .chain_update(&wasm)
        .finalize();
    let build = format!("{version}-{}", hex(hash.get(..6).unwrap_or_default()));
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.join(&build))?;
    for entry in std::fs::read_dir(package)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        // The module, its wasm and their types; not the wasm's own internal typings.
        if [".js", "_bg.wasm", ".d.ts"]
            .map(|ext| format!("{OUT_NAME}{ext}"))
            .contains(&name.to_string())
        {
            std::fs::copy(&path, dir.join(&build).join(name))?;
        }
    }
    let reexport = format!(
        "// The edgeturn helper's current build. Files under {build}/ never change; this one\n\
         // does with each deploy (docs/www.md).\n\
         export * from \"./{build}/{OUT_NAME}.js\";\n\
         export {{ default }} from \"./{build}/{OUT_NAME}.js\";\n"
    );
    std::fs::write(dir.join(format!("{OUT_NAME}.js")), &reexport)?;
    std::fs::write(dir.join(format!("{OUT_NAME}.d.ts")), &reexport)?;
    eprintln!(
        "www helper served at /pkg/{OUT_NAME}.js -> /pkg/{build}/ (in {})",
        dir.strip_prefix(root).unwrap_or(dir).display()
    );
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// gzip -9 of what a page loads from the target's package (its wasm and JS files), and the
/// size of its tarball (already gzip).
pub fn sizes(root: &Path, target: Target) -> Result<(usize, usize)> {
    let mut loaded = Vec::new();
    for entry in std::fs::read_dir(package_dir(root, target))? {
        let path = entry?.path();
        if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("js" | "wasm")
        ) {
            loaded.push(path);
        }
    }
    let page = gzip_sizes(&loaded)?;
    let tarball = std::fs::metadata(tarball(root, target)?)?.len() as usize;
    Ok((page, tarball))
}

/// Fails when a package, or what a page loads from it, is over [`GZIP_BUDGET`].
pub fn check_budget(root: &Path) -> Result {
    for target in TARGETS {
        let (page, tarball) = sizes(root, target)?;
        for (what, size) in [("wasm + JS", page), ("npm tarball", tarball)] {
            if size > GZIP_BUDGET {
                return Err(format!(
                    "the {} build's {what} is {size} bytes gzip, over the {GZIP_BUDGET}-byte budget",
                    target.name
                )
                .into());
            }
            eprintln!(
                "{} build, {what}: {size} bytes gzip (budget {GZIP_BUDGET})",
                target.name
            );
        }
    }
    Ok(())
}

/// Sum of gzip -9 sizes.
pub fn gzip_sizes(files: &[PathBuf]) -> Result<usize> {
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
