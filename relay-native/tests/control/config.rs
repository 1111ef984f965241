//! `check-config` checks `[control]` as `serve` does (the client secret read, never printed)
//! and prints it as it will run; a `[control]` that cannot run fails with the setting's name.

use std::process::{Command, Output};

use crate::common::{relay_bin, scratch};

const SECRET: &str = "relay-client-secret-4711";

fn check_config(dir: &std::path::Path, toml: &str, args: &[&str]) -> Output {
    let path = dir.join("relay.toml");
    std::fs::write(&path, toml).unwrap();
    Command::new(relay_bin())
        .arg("check-config")
        .arg("--config")
        .arg(&path)
        .args(args)
        .env_remove("EDGETURN_KEYS")
        .env_remove("EDGETURN_RELAY_CLIENT_SECRET")
        .output()
        .unwrap()
}

#[test]
fn check_config_checks_and_prints_the_control_plane() {
    let dir = scratch("control-check-config");
    let secret_file = dir.join("secret");
    std::fs::write(&secret_file, SECRET).unwrap();
    let state = dir.join("state");
    let toml = |edge: &str| {
        format!(
            r#"listen = ["0.0.0.0:3478", "[::1]:3479"]
relay_ip = ["203.0.113.9"]
users = ["alice:pw"]
max_allocations = 500

[control]
edge = "{edge}"
client_id = "relay-fra"
client_secret_file = "{}"
state_dir = "{}"
region = "eu-central"
latitude = 50.11
longitude = 8.68
"#,
            secret_file.display(),
            state.display()
        )
    };
    let out = check_config(&dir, &toml("https://edge.example"), &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let control = text
        .split("\n[control]")
        .nth(1)
        .unwrap_or_else(|| panic!("no [control] in:\n{text}"));
    for want in [
        r#"edge = "https://edge.example""#,
        r#"client_id = "relay-fra""#,
        r#"relay_id = "relay-fra""#,
        // Dual stack: each listening address by its family's relay address, or by itself.
        r#"urls = ["turn:203.0.113.9:3478?transport=udp", "turn:203.0.113.9:3478?transport=tcp", "turn:[::1]:3479?transport=udp", "turn:[::1]:3479?transport=tcp"]"#,
        "capacity = 500",
        "heartbeat_secs = 10.0",
        "feed_wait_secs = 20",
        r#"region = "eu-central""#,
        "latitude = 50.11",
    ] {
        assert!(control.contains(want), "missing {want:?} in:\n{text}");
    }
    assert!(
        !text.contains(SECRET),
        "check-config printed the secret:\n{text}"
    );

    // The edge gets the client secret: plain http only to a loopback address.
    let out = check_config(&dir, &toml("http://edge.example"), &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("https"), "{err}");
    assert!(!err.contains(SECRET), "{err}");
    // A flag overrides the file's key.
    let out = check_config(
        &dir,
        &toml("https://edge.example"),
        &["--edge-client-id", "has space"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("client_id"), "{err}");
    // A secret file that cannot be read is named; an empty one is refused.
    std::fs::write(&secret_file, "  \n").unwrap();
    let out = check_config(&dir, &toml("https://edge.example"), &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("empty"), "{err}");
    std::fs::remove_file(&secret_file).unwrap();
    let out = check_config(&dir, &toml("https://edge.example"), &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("client_secret_file"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
