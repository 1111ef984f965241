//! The edge as an OpenID Provider, checked with libraries nobody here wrote: panva's
//! `openid-client` (an OpenID Certified relying party) through every flow, `jose` verifying
//! access and ID tokens from the published keys across a key rotation, and this repository's
//! `resource-verifier` (RustCrypto) checking tokens offline with scopes and rights.

#![cfg(not(target_arch = "wasm32"))] // drives workerd from the host
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure report

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use common::*;
use resource_verifier::guard::{Challenge, guard};
use resource_verifier::{Rejection, Verifier};
use serde_json::{Value, json};

const REDIRECT: &str = "http://127.0.0.1:9/cb";
const BYE: &str = "http://127.0.0.1:9/bye";
const PASSWORD: &str = "correct horse battery";

/// The `kid` in a JWT's header.
fn kid(token: &str) -> String {
    let h: Value =
        serde_json::from_slice(&B64.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
    h["kid"].as_str().unwrap().to_string()
}

/// A client_credentials access token for `client` (confidential, Basic).
fn cc_token(w: &Worker, client: &(String, String), scope: &str) -> String {
    let r = post_form(
        &w.url("/oauth2/token"),
        &[("Authorization", &basic(&client.0, &client.1))],
        &[("grant_type", "client_credentials"), ("scope", scope)],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["access_token"].as_str().unwrap().to_string()
}

fn confidential(w: &Worker, scopes: &[&str]) -> (String, String) {
    let id = unique("cc");
    let v = w.create_client(
        json!({ "client_id": id, "grant_types": ["client_credentials"], "scopes": scopes }),
    );
    (id, v["client_secret"].as_str().unwrap().to_string())
}

#[test]
fn openid_client_runs_discovery_code_refresh_device_registration_and_logout() {
    let w = Worker::start("oidc-client", &[]);
    let rp = unique("rp");
    w.create_client(json!({
        "client_id": rp, "public": true, "redirect_uris": [REDIRECT], "post_logout_redirect_uris": [BYE],
        "scopes": ["openid", "profile", "email", "turn"],
    }));
    let device = unique("tv");
    w.create_client(json!({
        "client_id": device, "public": true,
        "grant_types": ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"],
        "scopes": ["openid", "turn"],
    }));
    let user = unique("user");
    w.create_user_with_email(&user, PASSWORD, Some(&format!("{user}@example.com")));
    let config = json!({
        "issuer": w.base, "clientId": rp, "redirectUri": REDIRECT, "postLogoutRedirectUri": BYE,
        "deviceClientId": device, "username": user, "password": PASSWORD,
        "initialAccessToken": w.initial_access_token(),
    });
    let out = node("e2e/oidc-client.mjs", &[&config.to_string()]);
    let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    eprintln!("{v:#}");
    assert_eq!(v["ok"], true);
    assert_eq!(v["discovery"]["algs"], json!(["RS256", "ES256"]));
    assert_eq!(v["code"]["aud"], rp.as_str());
    assert_eq!(v["code"]["azp"], rp.as_str());
    assert_eq!(v["code"]["email"], format!("{user}@example.com"));
    assert_eq!(v["userinfo"]["preferred_username"], user.as_str());
    assert_eq!(v["userinfo"]["email_verified"], false);
    assert_eq!(v["device"]["sub"], v["code"]["sub"]);
    assert_eq!(v["deviceDenied"], "access_denied");
    assert_eq!(v["registrationWithoutToken"], "invalid_token");
    assert_eq!(v["registration"]["afterDelete"], "invalid_client");
    assert_eq!(v["logout"]["location"], format!("{BYE}?state=bye"));
    assert_eq!(v["refreshAfterLogout"], "invalid_grant");
    // The logout's revocation is in the audit trail, with its reason.
    assert!(w.audit().iter().any(|e| e["event"] == "families.revoked"
        && e["detail"] == "logout"
        && e["client_id"] == rp.as_str()));

    // Sessions: a second authorization with prompt=none gets tokens without a page, in the
    // same session (sid) with the same sign-in (auth_time); acr says which was which.
    let s = &v["session"];
    assert!(
        s["first"]["sid"]
            .as_str()
            .is_some_and(|x| x.starts_with("s_")),
        "{s}"
    );
    assert_eq!(s["first"]["amr"], json!(["pwd"]));
    assert_eq!(s["first"]["acr"], "1", "signed in for this authorization");
    assert_eq!(s["silent"]["sid"], s["first"]["sid"]);
    assert_eq!(s["silent"]["amr"], json!(["pwd"]));
    assert_eq!(s["silent"]["acr"], "0", "answered from the session cookie");
    // max_age=0 shows the sign-in page again; no session (or one ended by RP-initiated
    // logout) is login_required.
    assert_eq!(s["maxAge0"], json!({ "status": 200, "signInPage": true }));
    assert_eq!(s["noSession"], "login_required");
    assert_eq!(s["logoutClearsCookie"], true);
    assert_eq!(s["afterLogout"], "login_required");
    assert!(w.audit().iter().any(|e| e["event"] == "session.started"));
    assert!(
        w.audit()
            .iter()
            .any(|e| e["event"] == "session.ended" && e["detail"] == "logout")
    );
}

/// Runs jose over `cases` (name, token, audience, typ) and returns name -> (valid, kid).
fn jose(w: &Worker, cases: &[(&str, &str, &str, &str)]) -> Vec<(String, bool, String)> {
    let list: Vec<Value> = cases
        .iter()
        .map(|(name, token, aud, typ)| json!({ "name": name, "token": token, "audience": aud, "typ": typ }))
        .collect();
    let out = node(
        "e2e/jose-verify.mjs",
        &[
            &w.url("/.well-known/jwks.json"),
            &w.base,
            &Value::Array(list).to_string(),
        ],
    );
    let v: Vec<Value> = serde_json::from_str(out.trim()).unwrap();
    v.iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["valid"].as_bool().unwrap(),
                r["kid"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn id_token(w: &Worker, client: &str, user: &str) -> String {
    let (code, verifier) = code_for(
        w,
        client,
        REDIRECT,
        user,
        PASSWORD,
        &[("scope", "openid"), ("nonce", "n-1")],
    );
    let r = post_form(
        &w.url("/oauth2/token"),
        &[],
        &[
            ("grant_type", "authorization_code"),
            ("client_id", client),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["id_token"].as_str().unwrap().to_string()
}

fn introspect_active(w: &Worker, caller: &(String, String), token: &str) -> bool {
    let r = post_form(
        &w.url("/oauth2/introspect"),
        &[("Authorization", &basic(&caller.0, &caller.1))],
        &[("token", token)],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["active"] == true
}

#[test]
fn jose_verifies_with_the_published_keys_and_follows_a_rotation() {
    let mut w = Worker::start("rotation", &[]);
    // The keys as published: public members only, cacheable.
    let jwks = get(&w.url("/certs"), &[]);
    assert_eq!(jwks.status, 200);
    assert_eq!(jwks.header("cache-control"), Some("public, max-age=300"));
    assert_eq!(jwks.body, get(&w.url("/.well-known/jwks.json"), &[]).body);
    for k in jwks.json()["keys"].as_array().unwrap() {
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(k.get(private).is_none(), "{k}");
        }
    }
    let client = confidential(&w, &["api", "turn", "openid"]);
    let rp = unique("rp");
    w.create_client(json!({ "client_id": rp, "public": true, "redirect_uris": [REDIRECT], "scopes": ["openid"] }));
    let es_rp = unique("es-rp");
    w.create_client(json!({ "client_id": es_rp, "public": true, "redirect_uris": [REDIRECT], "scopes": ["openid"], "id_token_signed_response_alg": "ES256" }));
    let user = unique("user");
    w.create_user(&user, PASSWORD);

    let old_at = cc_token(&w, &client, "api");
    let old_id = id_token(&w, &rp, &user);
    let es_id = id_token(&w, &es_rp, &user);
    let mut tampered: Vec<String> = old_at.split('.').map(str::to_string).collect();
    tampered[1] = B64.encode(
        json!({ "iss": w.base, "sub": "admin", "aud": w.base, "iat": 1, "exp": 9_999_999_999u64 })
            .to_string(),
    );
    let tampered = tampered.join(".");
    let r = jose(
        &w,
        &[
            ("access", &old_at, &w.base, "at+jwt"),
            ("id", &old_id, &rp, "JWT"),
            ("id-es256", &es_id, &es_rp, "JWT"),
            ("tampered", &tampered, &w.base, "at+jwt"),
            ("id as access", &old_id, &w.base, "at+jwt"),
        ],
    );
    assert_eq!(
        r.iter()
            .map(|(n, v, _)| (n.as_str(), *v))
            .collect::<Vec<_>>(),
        [
            ("access", true),
            ("id", true),
            ("id-es256", true),
            ("tampered", false),
            ("id as access", false)
        ]
    );
    let old_kid = kid(&old_at);

    // Rotation, step 1: a new RSA key joins the set (last of its algorithm: it signs).
    w.restart_with("SIGNING_KEYS", &signing_keys(&[0, 1, 2]));
    let new_at = cc_token(&w, &client, "api");
    assert_ne!(kid(&new_at), old_kid, "the newest key signs");
    let r = jose(
        &w,
        &[
            ("old", &old_at, &w.base, "at+jwt"),
            ("new", &new_at, &w.base, "at+jwt"),
            ("old id", &old_id, &rp, "JWT"),
        ],
    );
    assert!(r.iter().all(|(_, v, _)| *v), "both keys published: {r:?}");
    assert!(introspect_active(&w, &client, &old_at));

    // Step 2: the old key is removed; its tokens stop verifying everywhere.
    w.restart_with("SIGNING_KEYS", &signing_keys(&[1, 2]));
    let r = jose(
        &w,
        &[
            ("old", &old_at, &w.base, "at+jwt"),
            ("new", &new_at, &w.base, "at+jwt"),
            ("old id", &old_id, &rp, "JWT"),
        ],
    );
    assert_eq!(
        r.iter()
            .map(|(n, v, _)| (n.as_str(), *v))
            .collect::<Vec<_>>(),
        [("old", false), ("new", true), ("old id", false)]
    );
    assert!(!introspect_active(&w, &client, &old_at));
    assert!(introspect_active(&w, &client, &new_at));
    let turn = cc_token(&w, &client, "turn openid");
    assert_eq!(
        get(
            &w.url("/turn/credentials"),
            &[("Authorization", &format!("Bearer {turn}"))]
        )
        .status,
        200
    );
    let old_turn_use = get(
        &w.url("/turn/credentials"),
        &[("Authorization", &format!("Bearer {old_at}"))],
    );
    assert_eq!(
        (old_turn_use.status, old_turn_use.error().as_str()),
        (401, "invalid_token")
    );
}

/// Builds resource-verifier's example endpoint; returns its path.
fn build_example() -> std::path::PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = std::process::Command::new(&cargo)
        .current_dir(root())
        .args([
            "build",
            "-q",
            "-p",
            "resource-verifier",
            "--features",
            "blocking",
            "--example",
            "protected",
        ])
        .status()
        .unwrap();
    assert!(built.success(), "building the example failed");
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| root().join("target"));
    target.join("debug/examples/protected")
}

/// Runs the example endpoint at `addr` (its resource identifier `http://{addr}/hello`) against
/// this worker: `GET /hello` for scope `api` and right `api:write`.
fn example_endpoint(
    example: &std::path::Path,
    w: &Worker,
    addr: &str,
    api: &str,
    narrow: &str,
    own: &str,
) {
    let resource = format!("http://{addr}/hello");
    let mut child = std::process::Command::new(example)
        .args([w.base.as_str(), &resource, addr, "api", "api:write"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://{addr}/hello");
    let mut ready = false;
    for _ in 0..100 {
        if std::net::TcpStream::connect(addr).is_ok() {
            ready = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let results = ready.then(|| {
        (
            get(&url, &[("Authorization", &format!("Bearer {api}"))]),
            get(&url, &[("Authorization", &format!("Bearer {narrow}"))]),
            get(&url, &[]),
            get(&url, &[("Authorization", &format!("Bearer {own}"))]),
        )
    });
    let _ = child.kill();
    let _ = child.wait();
    let (ok, narrow, none, own) = results.expect("the example endpoint did not listen");
    // A token asked for no resource is the edge's own (aud = issuer): not for this one.
    assert_eq!(own.status, 401, "{}", own.body);
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(ok.json()["hello"].as_str().unwrap().starts_with("u_"));
    assert_eq!(narrow.status, 403);
    assert!(
        narrow
            .header("www-authenticate")
            .unwrap()
            .contains("insufficient_scope")
    );
    assert_eq!(none.status, 401);
}

#[test]
fn resource_verifier_checks_edge_tokens_offline_with_scopes_and_rights() {
    let example = build_example();
    let w = Worker::start("resource", &[]);
    let id = unique("app");
    // The example endpoint's resource identifier, registered for the client (RFC 8707).
    let addr = format!("127.0.0.1:{}", free_port());
    let resource = format!("http://{addr}/hello");
    let v = w.create_client(json!({
        "client_id": id, "grant_types": ["password"], "scopes": ["openid", "api", "turn"], "access_token_ttl": 2,
        "resources": [resource],
    }));
    assert_eq!(v["resources"], json!([resource]));
    let app = (id, v["client_secret"].as_str().unwrap().to_string());
    let user = unique("user");
    let user_id = w.create_user(&user, PASSWORD);
    assert_eq!(
        w.set_rights(&user_id, &["api:write", "turn:priority"])
            .status,
        204
    );
    assert_eq!(w.set_rights("u_nobody", &["api:write"]).status, 404);
    let token_for = |scope: &str, resource: Option<&str>| {
        let mut form = vec![
            ("grant_type", "password"),
            ("username", user.as_str()),
            ("password", PASSWORD),
            ("scope", scope),
        ];
        form.extend(resource.map(|r| ("resource", r)));
        let r = post_form(
            &w.url("/oauth2/token"),
            &[("Authorization", &basic(&app.0, &app.1))],
            &form,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["access_token"].as_str().unwrap().to_string()
    };
    let token = |scope: &str| token_for(scope, Some(&resource));
    let api = token("openid api");
    // A resource the client did not register: invalid_target (RFC 8707 section 2).
    let unregistered = post_form(
        &w.url("/oauth2/token"),
        &[("Authorization", &basic(&app.0, &app.1))],
        &[
            ("grant_type", "password"),
            ("username", &user),
            ("password", PASSWORD),
            ("resource", "https://elsewhere.example/api"),
        ],
    );
    assert_eq!(
        (unregistered.status, unregistered.error().as_str()),
        (400, "invalid_target")
    );
    let mut remote = resource_verifier::blocking::Remote::new(
        &w.url("/.well-known/jwks.json"),
        Verifier::new(&w.base, &resource).with_leeway(0),
    );
    let ok = remote.verify(&api).unwrap();
    assert_eq!(ok.claims().sub, user_id);
    assert_eq!(
        ok.claims().rights,
        ["api:write"],
        "only rights the scope covers"
    );
    // The example endpoint's guard: scope and rights.
    let auth = format!("Bearer {api}");
    let mut check = |t: &str| remote.verify(t);
    let api_realm = Challenge::new("api");
    assert!(guard(&api_realm, Some(&auth), "api", &["api:write"], &mut check).is_ok());
    let missing = guard(
        &api_realm,
        Some(&auth),
        "api",
        &["turn:priority"],
        &mut check,
    )
    .unwrap_err();
    assert_eq!(missing.status, 403);
    assert!(missing.www_authenticate.contains("insufficient_scope"));
    assert_eq!(
        guard(&api_realm, Some(&auth), "admin", &[], &mut check)
            .unwrap_err()
            .status,
        403
    );
    // The example protected endpoint (resource-verifier/examples/protected.rs), as a process.
    example_endpoint(
        &example,
        &w,
        &addr,
        &api,
        &token("openid"),
        &token_for("openid api", None),
    );
    // A token without the api scope carries none of its rights.
    let narrow = token("openid");
    assert!(remote.verify(&narrow).unwrap().claims().rights.is_empty());
    // Forged and expired tokens.
    let mut forged: Vec<String> = api.split('.').map(str::to_string).collect();
    forged[2] = B64.encode([7u8; 256]);
    assert_eq!(
        remote.verify(&forged.join(".")).unwrap_err(),
        Rejection::BadSignature
    );
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(remote.verify(&api).unwrap_err(), Rejection::Expired);
    let other = resource_verifier::blocking::Remote::new(
        &w.url("/.well-known/jwks.json"),
        Verifier::new("https://elsewhere.example", &resource),
    )
    .verify(&token("openid api"))
    .unwrap_err();
    assert_eq!(other, Rejection::WrongIssuer);
}
