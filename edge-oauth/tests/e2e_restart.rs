//! D1 state survives a restart of the local worker: clients, users, refresh-token families,
//! revocations and the audit trail are all still there.

#![cfg(not(target_arch = "wasm32"))] // drives workerd from the host
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure report

mod common;

use common::*;
use serde_json::json;

#[test]
fn state_survives_a_restart() {
    let mut w = Worker::start("restart", &[]);
    let id = unique("keep");
    let v = w.create_client(json!({ "client_id": id, "grant_types": ["password", "refresh_token", "client_credentials"], "scopes": ["openid", "profile", "api"] }));
    let secret = v["client_secret"].as_str().unwrap().to_string();
    let auth = basic(&id, &secret);
    let user = unique("user");
    w.create_user(&user, "correct horse battery");
    let tok = post_form(
        &w.url("/oauth2/token"),
        &[("Authorization", &auth)],
        &[
            ("grant_type", "password"),
            ("username", &user),
            ("password", "correct horse battery"),
            ("scope", "openid profile"),
        ],
    );
    assert_eq!(tok.status, 200, "{}", tok.body);
    let at = tok.json()["access_token"].as_str().unwrap().to_string();
    let rt = tok.json()["refresh_token"].as_str().unwrap().to_string();
    let revoked = post_form(
        &w.url("/oauth2/token"),
        &[("Authorization", &auth)],
        &[("grant_type", "client_credentials"), ("scope", "api")],
    );
    let revoked = revoked.json()["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        post_form(
            &w.url("/oauth2/revoke"),
            &[("Authorization", &auth)],
            &[("token", &revoked)]
        )
        .status,
        200
    );
    let introspect = |w: &Worker, t: &str| {
        post_form(
            &w.url("/oauth2/introspect"),
            &[("Authorization", &auth)],
            &[("token", t)],
        )
        .json()["active"]
            .clone()
    };
    assert_eq!(introspect(&w, &revoked), json!(false));
    // Let the after-response audit writes land, then count.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let audit_before = w.audit().len();

    w.stop();
    assert_ne!(
        get(&w.url("/health"), &[]).status,
        200,
        "the worker is down"
    );
    w.launch();

    // The user still signs in, the client still authenticates, the refresh token rotates,
    // the access token still stands, the revocation is remembered, the audit trail is kept.
    let ui = get(
        &w.url("/oauth2/userinfo"),
        &[("Authorization", &format!("Bearer {at}"))],
    );
    assert_eq!(ui.status, 200, "{}", ui.body);
    assert_eq!(ui.json()["preferred_username"], user.as_str());
    let r = post_form(
        &w.url("/oauth2/token"),
        &[("Authorization", &auth)],
        &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(introspect(&w, &revoked), json!(false));
    assert_eq!(introspect(&w, &at), json!(true));
    let r = post_form(
        &w.url("/oauth2/token"),
        &[("Authorization", &auth)],
        &[
            ("grant_type", "password"),
            ("username", &user),
            ("password", "correct horse battery"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // Reusing the rotated refresh token is still detected after the restart.
    let r = post_form(
        &w.url("/oauth2/token"),
        &[("Authorization", &auth)],
        &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
    );
    assert_eq!((r.status, r.error().as_str()), (400, "invalid_grant"));
    assert!(
        w.audit().len() > audit_before,
        "audit rows from before the restart are kept and new ones added"
    );
    let clients = get(
        &w.url("/admin/clients"),
        &[("Authorization", &w.admin_auth())],
    );
    assert!(clients.body.contains(&id));
}
