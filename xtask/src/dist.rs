//! `cargo xtask dist`: relay-native as a Debian package and as a static Linux tarball, in
//! target/dist/. One statically linked release build (glibc, `+crt-static`) serves both, so
//! the package runs on any amd64 Debian or Ubuntu whatever its libc. The packaging files live
//! in relay-native/packaging (the unit, the commented default relay.toml, the maintainer
//! scripts); `check` is the test step: install the package, check what it installed, purge
//! it, and find nothing left.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{Result, cargo, probe, run, target_dir};

/// The one target the package and the tarball are built for.
const TARGET: &str = "x86_64-unknown-linux-gnu";
/// The package's name, its system user and its configuration directory's name.
const PACKAGE: &str = "relay-native";
const USER: &str = "edgeturn";
/// Where the package puts its unit (Debian 12 and Ubuntu ship units there).
const UNIT_PATH: &str = "/lib/systemd/system/relay-native.service";
const CONFIG_DIR: &str = "/etc/edgeturn";
const STATE_DIR: &str = "/var/lib/edgeturn";

/// What `dist` built.
pub struct Dist {
    pub deb: PathBuf,
    pub tarball: PathBuf,
}

/// Builds the static binary, then the package and the tarball.
pub fn dist(root: &Path) -> Result<Dist> {
    for (tool, package) in [("dpkg-deb", "dpkg"), ("tar", "tar")] {
        if probe("which", &[tool]).is_none() {
            return Err(format!("{tool} is missing: apt-get install {package}").into());
        }
    }
    run(cargo()
        .current_dir(root)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .args(["build", "--release", "-p", PACKAGE, "--target", TARGET]))?;
    let bin = target_dir(root).join(TARGET).join("release").join(PACKAGE);
    let version = probe(&bin, &["--version"])
        .and_then(|v| v.split_whitespace().nth(1).map(str::to_string))
        .ok_or_else(|| format!("{} --version printed no version", bin.display()))?;
    let out = target_dir(root).join("dist");
    std::fs::create_dir_all(&out)?;
    let deb = deb(root, &bin, &version, &out)?;
    let tarball = tarball(root, &bin, &version, &out)?;
    eprintln!("dist: {}\ndist: {}", deb.display(), tarball.display());
    Ok(Dist { deb, tarball })
}

/// A fresh, empty directory.
fn fresh_dir(dir: &Path) -> Result {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    Ok(())
}

/// Copies `from` to `to` (parents created) with `mode`.
fn put(from: &Path, to: &Path, mode: u32) -> Result {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::copy(from, to).map_err(|e| format!("{} -> {}: {e}", from.display(), to.display()))?;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// The documentation both artifacts carry: (source in the repository, name in the artifact).
const DOCS: [(&str, &str); 5] = [
    ("README.md", "README.md"),
    ("docs/deploy-relay.md", "deploy-relay.md"),
    ("docs/relay.md", "relay.md"),
    ("LICENSE-APACHE", "LICENSE-APACHE"),
    ("LICENSE-MIT", "LICENSE-MIT"),
];

fn deb(root: &Path, bin: &Path, version: &str, out: &Path) -> Result<PathBuf> {
    let pkg = root.join("relay-native/packaging");
    let stage = out.join("deb-root");
    fresh_dir(&stage)?;
    put(bin, &stage.join("usr/bin/relay-native"), 0o755)?;
    put(
        &pkg.join("relay-native.service"),
        &stage.join(UNIT_PATH.trim_start_matches('/')),
        0o644,
    )?;
    // Readable by root and (after postinst's chgrp) the relay's group only.
    put(
        &pkg.join("relay.toml"),
        &stage.join("etc/edgeturn/relay.toml"),
        0o640,
    )?;
    std::fs::set_permissions(
        stage.join("etc/edgeturn"),
        std::fs::Permissions::from_mode(0o750),
    )?;
    let doc = stage.join("usr/share/doc/relay-native");
    for (from, name) in DOCS {
        put(&root.join(from), &doc.join(name), 0o644)?;
    }
    let size_kib = du_kib(&stage)?;
    let meta = stage.join("DEBIAN");
    std::fs::create_dir_all(&meta)?;
    let control = std::fs::read_to_string(pkg.join("debian/control"))?
        .replace("@VERSION@", version)
        .replace("@SIZE@", &size_kib.to_string());
    std::fs::write(meta.join("control"), control)?;
    std::fs::set_permissions(meta.join("control"), std::fs::Permissions::from_mode(0o644))?;
    put(
        &pkg.join("debian/conffiles"),
        &meta.join("conffiles"),
        0o644,
    )?;
    for script in ["postinst", "prerm", "postrm"] {
        put(&pkg.join("debian").join(script), &meta.join(script), 0o755)?;
    }
    let deb = out.join(format!("{PACKAGE}_{version}_amd64.deb"));
    run(Command::new("dpkg-deb")
        .args(["--build", "--root-owner-group"])
        .arg(&stage)
        .arg(&deb))?;
    Ok(deb)
}

/// Disk use of `dir` in KiB, as dpkg counts Installed-Size.
fn du_kib(dir: &Path) -> Result<u64> {
    let out = probe("du", &["-sk", &dir.to_string_lossy()]).ok_or("du failed")?;
    out.split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("du printed {out:?}").into())
}

fn tarball(root: &Path, bin: &Path, version: &str, out: &Path) -> Result<PathBuf> {
    let name = format!("{PACKAGE}-{version}-x86_64-linux");
    let stage = out.join("tar-root");
    fresh_dir(&stage)?;
    let top = stage.join(&name);
    put(bin, &top.join("relay-native"), 0o755)?;
    let pkg = root.join("relay-native/packaging");
    put(
        &pkg.join("relay-native.service"),
        &top.join("relay-native.service"),
        0o644,
    )?;
    put(&pkg.join("relay.toml"), &top.join("relay.toml"), 0o644)?;
    for (from, to) in DOCS {
        put(&root.join(from), &top.join("doc").join(to), 0o644)?;
    }
    let tarball = out.join(format!("{name}.tar.gz"));
    run(Command::new("tar")
        .args(["--owner=0", "--group=0", "--numeric-owner", "-czf"])
        .arg(&tarball)
        .arg("-C")
        .arg(&stage)
        .arg(&name))?;
    Ok(tarball)
}

/// The test step: builds the package, installs it with dpkg, checks what it installed
/// (user, modes, `check-config` as the relay's user on the default configuration,
/// `systemd-analyze verify` on the unit), purges it and checks that nothing is left. It
/// refuses to run over an existing installation, and purges even when a check fails.
pub fn check(root: &Path) -> Result {
    let d = dist(root)?;
    check_tarball(&d.tarball)?;
    if probe("dpkg-query", &["-W", PACKAGE]).is_some()
        || Path::new(CONFIG_DIR).exists()
        || probe("getent", &["passwd", USER]).is_some()
    {
        return Err(format!(
            "{PACKAGE} (or {CONFIG_DIR}, or the user {USER}) is already on this machine: the \
             package test installs and purges it, so it will not run over an existing installation"
        )
        .into());
    }
    run(Command::new("dpkg").arg("-i").arg(&d.deb))?;
    let installed = installed_as_intended();
    run(Command::new("dpkg").args(["--purge", PACKAGE]))?;
    installed?;
    nothing_left()
}

/// The tarball holds the binary, the unit, the default configuration and the docs.
fn check_tarball(tarball: &Path) -> Result {
    let list = probe("tar", &["-tzf", &tarball.to_string_lossy()]).ok_or("tar -t failed")?;
    for want in [
        "/relay-native",
        "/relay-native.service",
        "/relay.toml",
        "/doc/deploy-relay.md",
    ] {
        if !list.lines().any(|l| l.ends_with(want)) {
            return Err(format!("{} lacks {want}:\n{list}", tarball.display()).into());
        }
    }
    Ok(())
}

/// (owner, group, mode) of `path`.
fn owner_mode(path: &str) -> Result<(String, String, u32)> {
    let m = std::fs::metadata(path).map_err(|e| format!("{path}: {e}"))?;
    let name = |db: &str, id: u32| {
        probe("getent", &[db, &id.to_string()])
            .and_then(|l| l.split(':').next().map(str::to_string))
            .unwrap_or_else(|| id.to_string())
    };
    Ok((
        name("passwd", m.uid()),
        name("group", m.gid()),
        m.mode() & 0o7777,
    ))
}

fn installed_as_intended() -> Result {
    let passwd = probe("getent", &["passwd", USER]).ok_or("postinst made no user edgeturn")?;
    if !passwd.trim_end().ends_with("/usr/sbin/nologin") {
        return Err(format!("the user edgeturn can log in: {passwd}").into());
    }
    for (path, want) in [
        (CONFIG_DIR, ("root", USER, 0o750)),
        ("/etc/edgeturn/relay.toml", ("root", USER, 0o640)),
        ("/etc/edgeturn/keys.json", ("root", USER, 0o640)),
        (STATE_DIR, (USER, USER, 0o700)),
        ("/usr/bin/relay-native", ("root", "root", 0o755)),
        (UNIT_PATH, ("root", "root", 0o644)),
    ] {
        let (owner, group, mode) = owner_mode(path)?;
        if (owner.as_str(), group.as_str(), mode) != want {
            return Err(format!(
                "{path} is {owner}:{group} {mode:04o}, not {}:{} {:04o}",
                want.0, want.1, want.2
            )
            .into());
        }
    }
    // The default configuration runs as installed, read with the relay's own rights.
    run(Command::new("runuser").args([
        "-u",
        USER,
        "--",
        "/usr/bin/relay-native",
        "check-config",
        "--config",
        "/etc/edgeturn/relay.toml",
    ]))?;
    let out = Command::new("systemd-analyze")
        .args(["verify", UNIT_PATH])
        .output()
        .map_err(|e| format!("systemd-analyze (apt-get install systemd): {e}"))?;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() || !said.trim().is_empty() {
        return Err(format!("systemd-analyze verify {UNIT_PATH}: {}\n{said}", out.status).into());
    }
    eprintln!("dist: installed as intended; check-config and systemd-analyze verify pass");
    Ok(())
}

fn nothing_left() -> Result {
    let mut left: Vec<String> = [
        "/usr/bin/relay-native",
        UNIT_PATH,
        CONFIG_DIR,
        STATE_DIR,
        "/usr/share/doc/relay-native",
    ]
    .iter()
    .filter(|p| Path::new(p).exists())
    .map(|p| p.to_string())
    .collect();
    for db in ["passwd", "group"] {
        if probe("getent", &[db, USER]).is_some() {
            left.push(format!("{db} entry {USER}"));
        }
    }
    if probe("dpkg-query", &["-W", PACKAGE]).is_some() {
        left.push(format!("dpkg's record of {PACKAGE}"));
    }
    if left.is_empty() {
        eprintln!("dist: purged; nothing left behind");
        Ok(())
    } else {
        Err(format!("dpkg --purge {PACKAGE} left behind: {}", left.join(", ")).into())
    }
}
