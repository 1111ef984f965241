//! Running commands: echo them, fail with the command line on a non-zero exit.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The error type of every task.
pub type Error = Box<dyn std::error::Error>;
/// Result of a task.
pub type Result<T = ()> = std::result::Result<T, Error>;

/// The repository root (the parent of xtask/).
pub fn root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// Describes a command for messages.
pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs `cmd` with inherited stdio; an error names the command and its exit status.
pub fn run(cmd: &mut Command) -> Result {
    eprintln!("$ {}", describe(cmd));
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start `{}`: {e}", describe(cmd)))?;
    if !status.success() {
        return Err(format!("`{}` failed: {status}", describe(cmd)).into());
    }
    Ok(())
}

/// Stdout of a command, or None when it cannot run or fails (for "is it installed?" probes).
pub fn probe<S: AsRef<OsStr>>(program: S, args: &[&str]) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `cargo` as invoked by the user (respects $CARGO). Builds from here must carry
/// relay-native's kernel fast path: setup installs clang for it, and a build without it fails
/// instead of quietly leaving `--offload` out.
pub fn cargo() -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.env("EDGETURN_REQUIRE_OFFLOAD", "1");
    c
}

/// `$HOME/.cargo/bin/NAME` (or `$CARGO_HOME/bin/NAME`).
pub fn cargo_bin(name: &str) -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo")
        });
    home.join("bin").join(name)
}

/// A tool from the project's pinned node_modules.
pub fn node_bin(root: &Path, name: &str) -> PathBuf {
    root.join("node_modules").join(".bin").join(name)
}

/// The cargo target directory ($CARGO_TARGET_DIR or ./target).
pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

/// `"key":"value"` or `"key":number` from one line of JSON.
pub fn json_field(text: &str, key: &str) -> Option<String> {
    let start = text.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = text.get(start..)?.trim_start();
    let rest = rest.strip_prefix('"').unwrap_or(rest);
    let end = rest.find(['"', ',', '}'])?;
    rest.get(..end).map(|v| v.trim().to_string())
}
