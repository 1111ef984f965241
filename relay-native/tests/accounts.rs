#![allow(clippy::unwrap_used, clippy::indexing_slicing)]
//! Per-account allocation quotas through the real binary: tokens minted separately for one
//! person (the account sealed inside them by `token mint --account`) share that person's
//! `--max-allocations-per-user`; another person is not affected.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::turn::{SERVER_NAME, token_relay};
use common::*;
use relay_native::probe::Transport;
use relay_native::probe::client::{Credentials, Reply, TurnClient, choose};
use relay_native::probe::token::PopToken;

/// `token mint` with `extra` flags: its JSON.
fn mint(keys: &Path, extra: &[&str]) -> serde_json::Value {
    mint_json(keys, SERVER_NAME, extra)
}

/// Allocates with `creds` (after the 401): the relay's final answer.
fn allocate(relay: SocketAddr, creds: Credentials) -> (TurnClient, Reply) {
    let mut c = TurnClient::connect(relay, &Transport::Udp, Duration::from_secs(3)).unwrap();
    let challenge = c.allocate(None).unwrap();
    assert_eq!(challenge.error.as_ref().map(|e| e.0), Some(401));
    c.challenged(&challenge);
    let signature = choose(&creds, None, c.offered()).unwrap();
    c.set_credentials(creds, signature);
    let r = c.allocate(Some(600)).unwrap();
    (c, r)
}

fn oauth(v: &serde_json::Value) -> Credentials {
    Credentials::Token(PopToken::from_json(v, relay_native::probe::unix_now()).unwrap())
}

fn browser(v: &serde_json::Value) -> Credentials {
    Credentials::LongTerm {
        username: v["browser"]["username"].as_str().unwrap().to_string(),
        password: v["browser"]["credential"].as_str().unwrap().to_string(),
    }
}

#[test]
fn a_second_credential_of_one_account_is_refused_486_and_another_account_allocates() {
    let dir = scratch("accounts-quota");
    let (relay, addr, _, keys) = token_relay(&dir, 2, &["--max-allocations-per-user", "1"]);
    let secret = dir.join("account-secret");
    std::fs::write(&secret, "issuer account secret\n").unwrap();
    let secret = secret.to_str().unwrap();

    // Person 42: an RFC 7635 token, derived from KIND:ID and the secret...
    let first = mint(
        &keys,
        &["--account", "user:42", "--account-secret-file", secret],
    );
    let account = first["account"].as_str().unwrap().to_string();
    assert_eq!(account.len(), 16, "{first}");
    // ... and a browser credential minted separately, naming the same account by its key.
    let second = mint(&keys, &["--account-key", &account]);
    assert_eq!(second["account"], account.as_str());
    assert_ne!(first["token_id"], second["token_id"]);
    // Person 7.
    let other = mint(
        &keys,
        &["--account", "user:7", "--account-secret-file", secret],
    );
    assert_ne!(other["account"], account.as_str());

    let (_c1, r1) = allocate(addr, oauth(&first));
    assert!(r1.error.is_none(), "first allocation: {r1:?}");
    let (_c2, r2) = allocate(addr, browser(&second));
    assert_eq!(
        r2.error.as_ref().map(|e| e.0),
        Some(486),
        "the same account's second credential: {r2:?}"
    );
    let (_c3, r3) = allocate(addr, oauth(&second));
    assert_eq!(r3.error.as_ref().map(|e| e.0), Some(486), "{r3:?}");
    let (_c4, r4) = allocate(addr, browser(&other));
    assert!(r4.error.is_none(), "another account: {r4:?}");

    // Logs name the account, never who it is.
    let log = eventually(Duration::from_secs(5), || {
        let log = relay.log_text();
        if log.contains("allocation refused: quota") {
            Ok(log)
        } else {
            Err(log)
        }
    });
    assert!(log.contains(&format!("account={account}")), "{log}");
    assert!(!log.contains("user:42"), "{log}");
}

#[test]
fn mint_refuses_a_malformed_account() {
    let dir = scratch("accounts-mint");
    let keys = common::turn::key_file(&dir);
    for extra in [
        vec!["--account-key", "short"],
        vec!["--account", "nokind", "--account-secret-file", "/dev/null"],
        vec!["--account", "user:1"],
    ] {
        let out = Command::new(relay_bin())
            .args(["token", "mint", "--keys", keys.to_str().unwrap()])
            .args(["--server-name", SERVER_NAME])
            .args(&extra)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{extra:?} should fail");
        assert!(!String::from_utf8_lossy(&out.stderr).is_empty());
    }
}
