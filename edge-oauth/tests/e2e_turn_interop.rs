//! TURN tokens the running worker issues (token endpoint, `/turn/credentials`, the seed's
//! `/token`) open with shared-token natively and with coturn's own `turnutils_oauth`.

#![cfg(not(target_arch = "wasm32"))] // drives workerd from the host
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure report

mod common;

use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use common::*;
use serde_json::json;
use shared_token::Validation;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn turnutils_oauth(args: &[&str]) -> std::process::Output {
    Command::new("turnutils_oauth").args(args).output().unwrap_or_else(|e| {
        panic!("turnutils_oauth (Debian package coturn) must be installed; `cargo xtask setup` installs it: {e}")
    })
}

fn between<'a>(hay: &'a [u8], start: &[u8], end: &[u8]) -> Option<&'a [u8]> {
    let from = hay.windows(start.len()).position(|w| w == start)? + start.len();
    let rest = hay.get(from..)?;
    let len = rest.windows(end.len()).position(|w| w == end)?;
    rest.get(..len)
}

/// Opens `token` natively and with coturn; checks both agree on mac_key, time and lifetime.
fn cross_check(w: &Worker, label: &str, token: &[u8], mac_key: Option<&[u8]>) {
    let ring = w.keyring();
    let valid = ring
        .open(
            KID,
            token,
            SERVER_NAME.as_bytes(),
            now(),
            &Validation::default(),
        )
        .unwrap_or_else(|e| panic!("{label}: {e}"));
    if let Some(k) = mac_key {
        assert_eq!(
            valid.claims.mac_key.secret(),
            k,
            "{label}: the mac_key in the response is the one sealed"
        );
    }
    let key = valid.claims.mac_key.secret().to_vec();
    assert_eq!(
        (key.len(), &key[16..]),
        (20, &[0u8; 4][..]),
        "{label}: coturn-compatible mac_key"
    );

    let t = B64.encode(token);
    let base = [
        "-i",
        SERVER_NAME,
        "-j",
        KID,
        "-k",
        &w.key_b64,
        "-l",
        "1",
        "-m",
        "1",
        "-n",
        "A256GCM",
    ];
    let mut args = base.to_vec();
    args.extend(["-d", "-v", "-t", &t]);
    let out = turnutils_oauth(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("Valid token"),
        "{label}: coturn refused the token:\n{stdout}"
    );
    assert!(
        stdout.contains(&format!("unixtime: {}", valid.claims.timestamp.unix_secs())),
        "{label}:\n{stdout}"
    );
    assert!(
        stdout.contains(&format!("lifetime: {}", valid.claims.lifetime)),
        "{label}:\n{stdout}"
    );
    // coturn prints the mac key as a C string: the bytes before the first 0x00.
    let printed = between(&out.stdout, b"mac key: ", b"\n    mac key length:")
        .unwrap_or_else(|| panic!("{label}: no mac key line:\n{stdout}"));
    assert!(
        stdout.contains("mac key length: 20"),
        "{label}: coturn's key_length check:\n{stdout}"
    );
    let c_string = key.split(|&b| b == 0).next().unwrap();
    assert_eq!(printed, c_string, "{label}: coturn read another mac_key");

    // Sealed for our server name only: coturn refuses it under another.
    let mut wrong = base.to_vec();
    wrong[1] = "other.example";
    wrong.extend(["-d", "-t", &t]);
    assert!(
        !turnutils_oauth(&wrong).status.success(),
        "{label}: coturn accepted a token for another server name"
    );
}

#[test]
fn worker_tokens_open_natively_and_with_coturn() {
    let w = shared();
    let id = unique("turn");
    let v = w.create_client(json!({ "client_id": id, "grant_types": ["client_credentials", "password"], "scopes": ["turn", "openid"] }));
    let secret = v["client_secret"].as_str().unwrap().to_string();
    let auth = basic(&id, &secret);

    // The token endpoint (client_credentials, scope turn and aud), several times: random keys and nonces.
    for (i, extra) in [
        vec![("scope", "turn")],
        vec![("scope", "turn openid"), ("aud", SERVER_NAME)],
        vec![("scope", "turn")],
    ]
    .into_iter()
    .enumerate()
    {
        let mut pairs = vec![("grant_type", "client_credentials")];
        pairs.extend(extra);
        let r = post_form(&w.url("/oauth2/token"), &[("Authorization", &auth)], &pairs);
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        assert_eq!(v["token_type"], "pop");
        let token = B64.decode(v["access_token"].as_str().unwrap()).unwrap();
        let mac = B64.decode(v["mac_key"].as_str().unwrap()).unwrap();
        cross_check(w, &format!("token endpoint #{i}"), &token, Some(&mac));
    }

    // /turn/credentials: the token inside the browser username.
    let user = unique("user");
    w.create_user(&user, "correct horse battery");
    let r = post_form(
        &w.url("/oauth2/token"),
        &[("Authorization", &auth)],
        &[
            ("grant_type", "password"),
            ("username", &user),
            ("password", "correct horse battery"),
            ("scope", "openid turn"),
        ],
    );
    let at = r.json()["access_token"].as_str().unwrap().to_string();
    let r = get(
        &w.url("/turn/credentials"),
        &[("Authorization", &format!("Bearer {at}"))],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let server = v["iceServers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s.get("username").is_some())
        .unwrap()
        .clone();
    let parsed =
        shared_token::browser::parse_username(server["username"].as_str().unwrap()).unwrap();
    assert_eq!(parsed.kid, KID);
    cross_check(w, "/turn/credentials", &parsed.token, None);

    // The seed's JSON /token.
    let seed = unique("seedturn");
    w.create_client(json!({ "client_id": seed, "public": true, "grant_types": ["password"], "scopes": ["turn"] }));
    let r = post_json(
        &w.url("/token"),
        &[],
        &json!({ "grant_type": "password", "username": user, "password": "correct horse battery", "client_id": seed }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let token = B64.decode(v["access_token"].as_str().unwrap()).unwrap();
    let mac = B64.decode(v["mac_key"].as_str().unwrap()).unwrap();
    cross_check(w, "seed /token", &token, Some(&mac));
}
