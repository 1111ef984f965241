//! `cargo xtask signing-key`: a new RS256 or ES256 key for the edge's `SIGNING_KEYS` secret,
//! generated with WebCrypto by xtask/signing-key.mjs (Node's, the same implementation the
//! worker signs with), printed as a one-key set or appended to a set file. The local run and
//! the benchmark make their sets the same way.

use std::path::Path;
use std::process::Command;

use crate::util::{Result, run};

/// The generator script.
fn script(root: &Path) -> std::path::PathBuf {
    root.join("xtask/signing-key.mjs")
}

/// Appends a new `alg` key to the set in `file` (creating it).
pub fn add(root: &Path, alg: &str, file: &Path) -> Result {
    run(Command::new("node")
        .arg(script(root))
        .args(["--alg", alg, "--add"])
        .arg(file))
}

/// The set in `file`, made with one RS256 and one ES256 key when it does not exist yet.
pub fn ensure_set(root: &Path, file: &Path) -> Result<String> {
    if !file.exists() {
        add(root, "RS256", file)?;
        add(root, "ES256", file)?;
    }
    Ok(std::fs::read_to_string(file)?.trim().to_string())
}

/// The task: `[--alg RS256|ES256] [--nbf UNIX_SECONDS] [--add FILE]`, passed to the script.
pub fn task(root: &Path, args: &[String]) -> Result {
    run(Command::new("node").arg(script(root)).args(args))
}
