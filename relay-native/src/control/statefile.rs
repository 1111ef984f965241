//! The relay's state files (revocation list, usage spool): made readable by the relay's user
//! only (0600, in a 0700 directory), never through a symlink someone planted, and replaced
//! through a temporary file whose name cannot be guessed.
//!
//! A predictable temporary name opened with `File::create` follows a symlink planted there:
//! whoever can write the state directory could make the relay overwrite any file it can
//! write. Here every file is opened with O_NOFOLLOW, and a temporary one also with O_EXCL
//! (`create_new`) under a random name; the rename then replaces the target itself, even if
//! the target is a symlink (rename never follows one).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

/// Mode of every state file.
pub const FILE_MODE: u32 = 0o600;
/// Mode of a state directory the relay makes.
pub const DIR_MODE: u32 = 0o700;

fn no_follow() -> i32 {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::OFlags;
        // The flag's bits fit an i32 (open(2)'s flags argument).
        i32::try_from((OFlags::NOFOLLOW | OFlags::CLOEXEC).bits()).unwrap_or(0)
    }
    #[cfg(not(target_os = "linux"))]
    {
        0
    }
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

/// Makes `dir` (and its parents) if missing; those made are 0700.
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(|e| io_err("create", dir, e))
}

/// Opens `path` for appending, made 0600 if missing; refuses a symlink.
pub fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(FILE_MODE)
        .custom_flags(no_follow())
        .open(path)
        .map_err(|e| io_err("open", path, e))
}

fn random_suffix() -> std::io::Result<String> {
    let mut b = [0u8; 12];
    getrandom::fill(&mut b).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// Writes `text` to `dir/name` through a new 0600 temporary file with a random name and a
/// rename, then syncs the directory.
pub fn replace(dir: &Path, name: &str, text: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{name}.{}.tmp", random_suffix()?));
    let path = dir.join(name);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .custom_flags(no_follow())
        .open(&tmp)
        .map_err(|e| io_err("create", &tmp, e))?;
    let written = f
        .write_all(text)
        .map_err(|e| io_err("write", &tmp, e))
        .and_then(|()| f.sync_all().map_err(|e| io_err("sync", &tmp, e)))
        .and_then(|()| std::fs::rename(&tmp, &path).map_err(|e| io_err("rename to", &path, e)));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    File::open(dir).and_then(|d| d.sync_all())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn scratch(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!(
            "relay-native-statefile-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_are_0600_in_a_0700_directory() {
        let dir = scratch("modes").join("state");
        create_dir(&dir).unwrap();
        assert_eq!(mode(&dir), DIR_MODE);
        replace(&dir, "done", b"7").unwrap();
        assert_eq!(mode(&dir.join("done")), FILE_MODE);
        let mut f = open_append(&dir.join("records.jsonl")).unwrap();
        f.write_all(b"x\n").unwrap();
        assert_eq!(mode(&dir.join("records.jsonl")), FILE_MODE);
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn planted_symlinks_are_not_followed() {
        let root = scratch("symlinks");
        let dir = root.join("state");
        create_dir(&dir).unwrap();
        let victim = root.join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        // At the target of a replace: the symlink is replaced, the victim untouched.
        symlink(&victim, dir.join("revocations.json")).unwrap();
        replace(&dir, "revocations.json", b"{}").unwrap();
        let meta = std::fs::symlink_metadata(dir.join("revocations.json")).unwrap();
        assert!(meta.file_type().is_file());
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        // The old fixed temporary name is no longer used: a symlink there is ignored.
        symlink(&victim, dir.join("done.tmp")).unwrap();
        replace(&dir, "done", b"1").unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        // At an appended file: refused.
        symlink(&victim, dir.join("records.jsonl")).unwrap();
        assert!(open_append(&dir.join("records.jsonl")).is_err());
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
