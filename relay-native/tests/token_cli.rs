#![allow(clippy::unwrap_used, clippy::indexing_slicing)]
//! `relay-native token mint|open` through the real binary: JSON out, and one clear line and
//! a non-zero exit for each way a token can be wrong.

mod common;

use std::process::{Command, Output};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::*;

const KEYS: &str = r#"[{"kid":"k1","alg":"A256GCM","key":"MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEK"},
                      {"kid":"k2","alg":"A128GCM","key":"MTIzNDU2Nzg5MDEyMzQ1Ngo="}]"#;
const OTHER: &str =
    r#"[{"kid":"k1","alg":"A256GCM","key":"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY="}]"#;

fn cli(args: &[&str], keys_json: &str) -> Output {
    Command::new(relay_bin())
        .args(args)
        .env("EDGETURN_KEYS", keys_json)
        .output()
        .unwrap()
}

fn mint(extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["token", "mint", "--server-name", "turn.test"];
    args.extend_from_slice(extra);
    let out = cli(&args, KEYS);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn open_err(token: &str, kid: &str, server: &str, keys: &str) -> String {
    let out = cli(
        &[
            "token",
            "open",
            "--server-name",
            server,
            "--kid",
            kid,
            token,
        ],
        keys,
    );
    assert!(!out.status.success(), "open should have failed");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    err
}

#[test]
fn mint_then_open() {
    let m = mint(&[]);
    assert_eq!(m["kid"], "k2", "the last key in the file seals");
    assert_eq!(m["alg"], "A128GCM");
    assert_eq!(
        STANDARD
            .decode(m["mac_key"].as_str().unwrap())
            .unwrap()
            .len(),
        20
    );
    assert!(
        m["browser"]["username"]
            .as_str()
            .unwrap()
            .starts_with("et1.k2.")
    );
    let token = m["access_token"].as_str().unwrap();
    let out = cli(
        &[
            "token",
            "open",
            "--server-name",
            "turn.test",
            "--kid",
            "k2",
            token,
        ],
        KEYS,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let o: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(o["mac_key"], m["mac_key"]);
    assert_eq!(o["token_id"], m["token_id"]);
    assert_eq!(o["expires_at"], m["expires_at"]);
}

#[test]
fn mint_with_kid_lifetime_and_sha256_profile() {
    let m = mint(&["--kid", "k1", "--lifetime", "60", "--sha256"]);
    assert_eq!(m["kid"], "k1");
    assert_eq!(m["lifetime"], 60);
    assert_eq!(
        STANDARD
            .decode(m["mac_key"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );
}

#[test]
fn each_failure_has_its_own_message() {
    let m = mint(&["--kid", "k1"]);
    let token = m["access_token"].as_str().unwrap();
    assert!(open_err(token, "k1", "turn.test", OTHER).contains("wrong key"));
    assert!(open_err(token, "k1", "turn.other", KEYS).contains("wrong server name"));
    assert!(open_err(token, "nope", "turn.test", KEYS).contains("no key with kid"));
    assert!(open_err("not base64!", "k1", "turn.test", KEYS).contains("not valid base64"));
    let raw = STANDARD.decode(token).unwrap();
    let truncated = STANDARD.encode(&raw[..raw.len() - 1]);
    let e = open_err(&truncated, "k1", "turn.test", KEYS);
    assert!(e.contains("wrong key") || e.contains("truncated"), "{e}");
    assert!(open_err(&STANDARD.encode(&raw[..10]), "k1", "turn.test", KEYS).contains("truncated"));
    // Expiry: a token minted with lifetime 1 and opened with no clock skew after it ended.
    let short = mint(&["--kid", "k1", "--lifetime", "1"]);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let out = cli(
        &[
            "token",
            "open",
            "--server-name",
            "turn.test",
            "--kid",
            "k1",
            "--clock-skew",
            "0",
            short["access_token"].as_str().unwrap(),
        ],
        KEYS,
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("expired"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn missing_keys_is_a_clear_error() {
    let out = Command::new(relay_bin())
        .args(["token", "mint", "--server-name", "x"])
        .env_remove("EDGETURN_KEYS")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--keys FILE or set EDGETURN_KEYS"));
}

#[test]
fn bad_serve_config_exits_with_a_clear_error() {
    for (args, want) in [
        (
            vec!["serve", "--listen", "127.0.0.1:0", "--realm", "r"],
            "no credentials configured",
        ),
        (
            vec!["serve", "--listen", "0.0.0.0:3478", "--user", "a:b"],
            "--relay-ip is required",
        ),
        (
            vec!["serve", "--listen", "127.0.0.1:0", "--user", "nopassword"],
            "NAME:PASSWORD",
        ),
        (
            vec![
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--keys",
                "/nonexistent/keys.json",
            ],
            "/nonexistent/keys.json",
        ),
    ] {
        let out = Command::new(relay_bin())
            .args(&args)
            .env_remove("EDGETURN_KEYS")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(want),
            "{args:?}: {err}"
        );
    }
}
