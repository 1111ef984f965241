//! Every grant, refresh rotation and reuse detection, introspection, revocation, userinfo,
//! `/turn/credentials` and the seed's JSON `/token`, driven over HTTP against the built
//! worker in local workerd with D1, mostly through the `oauth2` crate.

#![cfg(not(target_arch = "wasm32"))] // drives workerd from the host
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure report

mod common;

use std::sync::{Arc, Barrier};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD};
use common::*;
use oauth2::basic::{BasicErrorResponseType, BasicTokenType};
use oauth2::{
    AccessToken, AuthorizationCode, CsrfToken, PkceCodeChallenge, RequestTokenError,
    ResourceOwnerPassword, ResourceOwnerUsername, Scope, StandardRevocableToken,
    TokenIntrospectionResponse, TokenResponse,
};
use serde_json::json;
use shared_token::Validation;

const REDIRECT: &str = "http://127.0.0.1:9/callback";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn grant_error<T: std::fmt::Debug>(
    r: Result<T, RequestTokenError<std::io::Error, oauth2::basic::BasicErrorResponse>>,
) -> BasicErrorResponseType {
    match r {
        Err(RequestTokenError::ServerResponse(e)) => e.error().clone(),
        other => panic!("expected an OAuth error response, got {other:?}"),
    }
}

/// A public web client (code + refresh, `openid turn`) and a user; signs in through the
/// pages with PKCE and returns (client id, token response).
fn code_flow(w: &Worker, scopes: &[&str]) -> (String, TokenResp) {
    let id = unique("web");
    w.create_client(json!({ "client_id": id, "public": true, "redirect_uris": [REDIRECT], "scopes": ["openid", "turn"] }));
    let user = unique("user");
    w.create_user(&user, "correct horse battery");
    let c = oauth_client(w, &id, None, REDIRECT);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut req = c
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(challenge);
    for s in scopes {
        req = req.add_scope(Scope::new(s.to_string()));
    }
    let (url, csrf) = req.url();
    let location = sign_in(w, url.as_str(), &user, "correct horse battery", "allow")
        .unwrap_or_else(|r| panic!("{r:?}"));
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(
        query_param(&location, "state").as_deref(),
        Some(csrf.secret().as_str())
    );
    assert_eq!(
        query_param(&location, "iss").as_deref(),
        Some(w.base.as_str()),
        "RFC 9207 iss"
    );
    let code = query_param(&location, "code").unwrap();
    let token = c
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .request(&oauth_http)
        .unwrap();
    (id, token)
}

fn bearer(at: &str) -> String {
    format!("Bearer {at}")
}

#[test]
fn discovery_documents() {
    let w = shared();
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let r = get(&w.url(path), &[]);
        assert_eq!(r.status, 200, "{path}");
        let m = r.json();
        assert_eq!(m["issuer"], w.base.as_str());
        assert_eq!(m["token_endpoint"], w.url("/oauth2/token").as_str());
        assert_eq!(
            m["authorization_endpoint"],
            w.url("/oauth2/authorize").as_str()
        );
        assert_eq!(
            m["introspection_endpoint"],
            w.url("/oauth2/introspect").as_str()
        );
        assert_eq!(m["revocation_endpoint"], w.url("/oauth2/revoke").as_str());
        assert_eq!(m["userinfo_endpoint"], w.url("/oauth2/userinfo").as_str());
        assert_eq!(m["code_challenge_methods_supported"], json!(["S256"]));
    }
    assert_eq!(get(&w.url("/health"), &[]).json()["status"], "ok");
}

#[test]
fn code_flow_with_pkce_userinfo_turn_credentials_refresh_rotation_and_reuse() {
    let w = shared();
    let (id, token) = code_flow(w, &["openid", "turn"]);
    assert_eq!(*token.token_type(), BasicTokenType::Bearer);
    let at = token.access_token().secret().clone();
    let rt1 = token.refresh_token().expect("a refresh token").clone();
    assert!(token.expires_in().unwrap().as_secs() > 0);

    // userinfo
    let ui = get(
        &w.url("/oauth2/userinfo"),
        &[("Authorization", &bearer(&at))],
    );
    assert_eq!(ui.status, 200, "{}", ui.body);
    // Without `profile`, no names (OpenID Connect Core 5.4, as in the ID token).
    assert!(ui.json().get("preferred_username").is_none(), "{}", ui.body);
    assert!(ui.json()["sub"].as_str().unwrap().starts_with("u_"));

    // /turn/credentials: Cloudflare's shape, a browser credential that opens with shared-token.
    let tc = get(
        &w.url("/turn/credentials"),
        &[("Authorization", &bearer(&at))],
    );
    assert_eq!(tc.status, 200, "{}", tc.body);
    let v = tc.json();
    let servers = v["iceServers"].as_array().unwrap();
    let turn = servers
        .iter()
        .find(|s| s.get("username").is_some())
        .unwrap();
    assert!(
        turn["urls"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u.as_str().unwrap().starts_with("turn"))
    );
    let username = turn["username"].as_str().unwrap();
    let parsed = shared_token::browser::parse_username(username).unwrap();
    assert_eq!(parsed.kid, KID);
    let ring = w.keyring();
    let valid = ring
        .open(
            parsed.kid,
            &parsed.token,
            SERVER_NAME.as_bytes(),
            now(),
            &Validation::default(),
        )
        .unwrap();
    assert_eq!(
        turn["credential"].as_str().unwrap(),
        shared_token::browser::credential_for(&valid.claims.mac_key)
    );
    assert_eq!(v["tokenId"].as_str().unwrap(), valid.id.to_string());
    assert_eq!(v["kid"], KID);
    assert!(v["expiresAt"].as_u64().unwrap() > now());

    // Refresh rotation: a new refresh token each time; the old one is spent.
    let c = oauth_client(w, &id, None, REDIRECT);
    let t2 = c.exchange_refresh_token(&rt1).request(&oauth_http).unwrap();
    let rt2 = t2.refresh_token().unwrap().clone();
    assert_ne!(rt2.secret(), rt1.secret());
    assert_eq!(
        get(
            &w.url("/oauth2/userinfo"),
            &[("Authorization", &bearer(t2.access_token().secret()))]
        )
        .status,
        200
    );
    // A refresh may narrow the scope.
    let t3 = c
        .exchange_refresh_token(&rt2)
        .add_scope(Scope::new("turn".into()))
        .request(&oauth_http)
        .unwrap();
    assert_eq!(
        *t3.token_type(),
        BasicTokenType::Extension("pop".into()),
        "scope turn alone yields a TURN token"
    );
    let rt3 = t3.refresh_token().unwrap().clone();

    // Reuse detection: presenting rt1 again revokes the whole family.
    assert_eq!(
        grant_error(c.exchange_refresh_token(&rt1).request(&oauth_http)),
        BasicErrorResponseType::InvalidGrant
    );
    assert_eq!(
        grant_error(c.exchange_refresh_token(&rt3).request(&oauth_http)),
        BasicErrorResponseType::InvalidGrant
    );
    for access in [&at, t2.access_token().secret()] {
        let r = get(
            &w.url("/oauth2/userinfo"),
            &[("Authorization", &bearer(access))],
        );
        assert_eq!(
            (r.status, r.error().as_str()),
            (401, "invalid_token"),
            "{}",
            r.body
        );
        assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    }
    let audit = w.audit();
    assert!(
        audit.iter().any(|e| e["event"] == "family.revoked"
            && e["detail"] == "refresh_reuse"
            && e["client_id"] == id.as_str()),
        "reuse is audited"
    );
}

#[test]
fn replayed_code_revokes_what_it_issued() {
    let w = shared();
    let id = unique("replay");
    w.create_client(json!({ "client_id": id, "public": true, "redirect_uris": [REDIRECT], "scopes": ["openid"] }));
    let user = unique("user");
    w.create_user(&user, "correct horse battery");
    let c = oauth_client(w, &id, None, REDIRECT);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _) = c
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(challenge)
        .url();
    let code = query_param(
        &sign_in(w, url.as_str(), &user, "correct horse battery", "allow").unwrap(),
        "code",
    )
    .unwrap();
    let verifier2 = oauth2::PkceCodeVerifier::new(verifier.secret().clone());
    let first = c
        .exchange_code(AuthorizationCode::new(code.clone()))
        .set_pkce_verifier(verifier)
        .request(&oauth_http)
        .unwrap();
    let at = first.access_token().secret().clone();
    assert_eq!(
        get(
            &w.url("/oauth2/userinfo"),
            &[("Authorization", &bearer(&at))]
        )
        .status,
        200
    );
    let replay = c
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier2)
        .request(&oauth_http);
    assert_eq!(grant_error(replay), BasicErrorResponseType::InvalidGrant);
    assert_eq!(
        get(
            &w.url("/oauth2/userinfo"),
            &[("Authorization", &bearer(&at))]
        )
        .status,
        401
    );
    assert_eq!(
        grant_error(
            c.exchange_refresh_token(first.refresh_token().unwrap())
                .request(&oauth_http)
        ),
        BasicErrorResponseType::InvalidGrant
    );
}

#[test]
fn denied_consent_redirects_with_access_denied() {
    let w = shared();
    let id = unique("deny");
    w.create_client(json!({ "client_id": id, "public": true, "redirect_uris": [REDIRECT] }));
    let user = unique("user");
    w.create_user(&user, "correct horse battery");
    let c = oauth_client(w, &id, None, REDIRECT);
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf) = c
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(challenge)
        .url();
    let loc = sign_in(w, url.as_str(), &user, "correct horse battery", "deny").unwrap();
    assert_eq!(query_param(&loc, "error").as_deref(), Some("access_denied"));
    assert_eq!(
        query_param(&loc, "state").as_deref(),
        Some(csrf.secret().as_str())
    );
    assert!(query_param(&loc, "code").is_none());
}

#[test]
fn concurrent_refreshes_of_one_token_cannot_both_succeed() {
    let w = shared();
    let (id, token) = code_flow(w, &["openid"]);
    let rt = token.refresh_token().unwrap().secret().clone();
    const N: usize = 8;
    let barrier = Arc::new(Barrier::new(N));
    let handles: Vec<_> = (0..N)
        .map(|_| {
            let (b, rt, id, url) = (
                barrier.clone(),
                rt.clone(),
                id.clone(),
                w.url("/oauth2/token"),
            );
            std::thread::spawn(move || {
                b.wait();
                post_form(
                    &url,
                    &[],
                    &[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", &rt),
                        ("client_id", &id),
                    ],
                )
            })
        })
        .collect();
    let results: Vec<Resp> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let ok: Vec<&Resp> = results.iter().filter(|r| r.status == 200).collect();
    assert_eq!(ok.len(), 1, "exactly one refresh wins: {results:?}");
    assert!(
        results
            .iter()
            .filter(|r| r.status != 200)
            .all(|r| r.status == 400 && r.error() == "invalid_grant")
    );
    // The losers were reuses: the family is revoked, the winner's new refresh token too.
    let winner_rt = ok[0].json()["refresh_token"].as_str().unwrap().to_string();
    let r = post_form(
        &w.url("/oauth2/token"),
        &[],
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &winner_rt),
            ("client_id", &id),
        ],
    );
    assert_eq!((r.status, r.error().as_str()), (400, "invalid_grant"));
}

#[test]
fn client_credentials_bearer_and_turn_with_introspection_and_revocation() {
    let w = shared();
    let id = unique("svc");
    let created = w.create_client(json!({ "client_id": id, "grant_types": ["client_credentials"], "scopes": ["api", "turn"] }));
    let secret = created["client_secret"].as_str().unwrap().to_string();
    let c = oauth_client(w, &id, Some(&secret), REDIRECT);

    // Bearer JWT, introspected by its own client.
    let t = c
        .exchange_client_credentials()
        .add_scope(Scope::new("api".into()))
        .request(&oauth_http)
        .unwrap();
    assert_eq!(*t.token_type(), BasicTokenType::Bearer);
    assert!(t.refresh_token().is_none(), "RFC 6749 4.4.3");
    let i = c.introspect(t.access_token()).request(&oauth_http).unwrap();
    assert!(i.active());
    assert_eq!(i.client_id().unwrap().as_str(), id);
    assert_eq!(
        i.scopes()
            .unwrap()
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>(),
        ["api"]
    );
    assert!(i.exp().unwrap().timestamp() as u64 > now());

    // TURN token (scope turn): RFC 7635 fields, opens with shared-token, introspects by opening.
    let turn = c
        .exchange_client_credentials()
        .add_scope(Scope::new("turn".into()))
        .request(&oauth_http)
        .unwrap();
    assert_eq!(*turn.token_type(), BasicTokenType::Extension("pop".into()));
    let extra = turn.extra_fields();
    assert_eq!(extra.kid.as_deref(), Some(KID));
    assert_eq!(extra.username.as_deref(), Some(KID));
    assert_eq!(extra.alg.as_deref(), Some("HMAC-SHA-1"));
    assert_eq!(extra.key, extra.mac_key);
    let mac_key = B64.decode(extra.mac_key.as_deref().unwrap()).unwrap();
    assert_eq!(
        (mac_key.len(), &mac_key[16..]),
        (20, &[0u8; 4][..]),
        "coturn-compatible profile"
    );
    let token_bytes = B64.decode(turn.access_token().secret()).unwrap();
    let ring = w.keyring();
    let valid = ring
        .open(
            KID,
            &token_bytes,
            SERVER_NAME.as_bytes(),
            now(),
            &Validation::default(),
        )
        .unwrap();
    assert_eq!(valid.claims.mac_key.secret(), mac_key.as_slice());
    assert_eq!(
        u64::from(valid.claims.lifetime),
        turn.expires_in().unwrap().as_secs()
    );
    let ti = c
        .introspect(turn.access_token())
        .request(&oauth_http)
        .unwrap();
    assert!(ti.active());
    assert_eq!(ti.extra_fields().kid.as_deref(), Some(KID));
    assert_eq!(
        ti.exp().unwrap().timestamp() as u64,
        valid.claims.expires_at().unwrap()
    );
    assert_eq!(ti.jti(), Some(valid.id.to_string().as_str()));

    // RFC 7635 `aud` names the TURN server: a TURN token even with several scopes.
    let by_aud = c
        .exchange_client_credentials()
        .add_scope(Scope::new("api".into()))
        .add_scope(Scope::new("turn".into()))
        .add_extra_param("aud", SERVER_NAME)
        .request(&oauth_http)
        .unwrap();
    assert_eq!(
        *by_aud.token_type(),
        BasicTokenType::Extension("pop".into())
    );

    // Revocation (RFC 7009) of both, then introspection says inactive. (The oauth2 crate
    // refuses a revocation URL without TLS, as RFC 7009 asks; locally it is plain HTTP, so
    // these requests are sent directly.)
    let auth = basic(&id, &secret);
    assert!(matches!(
        c.revoke_token(StandardRevocableToken::AccessToken(
            t.access_token().clone()
        )),
        Err(oauth2::ConfigurationError::InsecureUrl(_))
    ));
    let revoke = |token: &str, hint: &str| {
        post_form(
            &w.url("/oauth2/revoke"),
            &[("Authorization", &auth)],
            &[("token", token), ("token_type_hint", hint)],
        )
    };
    assert_eq!(
        revoke(t.access_token().secret(), "access_token").status,
        200
    );
    assert!(
        !c.introspect(t.access_token())
            .request(&oauth_http)
            .unwrap()
            .active()
    );
    assert_eq!(
        revoke(turn.access_token().secret(), "access_token").status,
        200
    );
    assert!(
        !c.introspect(turn.access_token())
            .request(&oauth_http)
            .unwrap()
            .active()
    );
    // Revoking garbage is 200 (RFC 7009 section 2.2).
    assert_eq!(revoke("garbage", "access_token").status, 200);
}

#[test]
fn introspection_is_per_client_unless_resource_server() {
    let w = shared();
    let mk = |scopes: serde_json::Value| {
        let id = unique("rs");
        let v = w.create_client(json!({
            "client_id": id, "grant_types": ["client_credentials"], "scopes": scopes,
            "allow_reserved_scopes": true,
        }));
        (id.clone(), v["client_secret"].as_str().unwrap().to_string())
    };
    let (a, a_secret) = mk(json!(["api"]));
    let (b, b_secret) = mk(json!(["api"]));
    let (rs, rs_secret) = mk(json!(["introspection"]));
    let ca = oauth_client(w, &a, Some(&a_secret), REDIRECT);
    let t = ca
        .exchange_client_credentials()
        .request(&oauth_http)
        .unwrap();
    let cb = oauth_client(w, &b, Some(&b_secret), REDIRECT);
    assert!(
        !cb.introspect(t.access_token())
            .request(&oauth_http)
            .unwrap()
            .active(),
        "another client sees nothing"
    );
    let crs = oauth_client(w, &rs, Some(&rs_secret), REDIRECT);
    assert!(
        crs.introspect(t.access_token())
            .request(&oauth_http)
            .unwrap()
            .active(),
        "a resource server sees it"
    );
    // And another client may not revoke it.
    let r = post_form(
        &w.url("/oauth2/revoke"),
        &[("Authorization", &basic(&b, &b_secret))],
        &[("token", t.access_token().secret())],
    );
    assert_eq!((r.status, r.error().as_str()), (400, "unauthorized_client"));
}

#[test]
fn refresh_token_revocation_and_introspection() {
    let w = shared();
    let id = unique("conf");
    let created = w.create_client(json!({
        "client_id": id, "redirect_uris": [REDIRECT], "scopes": ["openid", "turn"],
        "grant_types": ["authorization_code", "refresh_token", "password"],
    }));
    let secret = created["client_secret"].as_str().unwrap().to_string();
    let user = unique("user");
    w.create_user(&user, "correct horse battery");
    let c = oauth_client(w, &id, Some(&secret), REDIRECT);
    let t = c
        .exchange_password(
            &ResourceOwnerUsername::new(user.clone()),
            &ResourceOwnerPassword::new("correct horse battery".into()),
        )
        .add_scope(Scope::new("openid".into()))
        .request(&oauth_http)
        .unwrap();
    let rt = t.refresh_token().unwrap().clone();
    let i = c
        .introspect(&AccessToken::new(rt.secret().clone()))
        .request(&oauth_http)
        .unwrap();
    assert!(i.active());
    assert_eq!(
        *i.token_type().unwrap(),
        BasicTokenType::Extension("refresh_token".into())
    );
    let r = post_form(
        &w.url("/oauth2/revoke"),
        &[("Authorization", &basic(&id, &secret))],
        &[("token", rt.secret()), ("token_type_hint", "refresh_token")],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        !c.introspect(&AccessToken::new(rt.secret().clone()))
            .request(&oauth_http)
            .unwrap()
            .active()
    );
    assert_eq!(
        grant_error(c.exchange_refresh_token(&rt).request(&oauth_http)),
        BasicErrorResponseType::InvalidGrant
    );
    // The family's access token went with it.
    assert_eq!(
        get(
            &w.url("/oauth2/userinfo"),
            &[("Authorization", &bearer(t.access_token().secret()))]
        )
        .status,
        401
    );
}

#[test]
fn password_grant_is_per_client_opt_in() {
    let w = shared();
    let user = unique("user");
    w.create_user(&user, "correct horse battery");
    let u = ResourceOwnerUsername::new(user.clone());
    let p = ResourceOwnerPassword::new("correct horse battery".into());
    let off = unique("nopw");
    let s_off = w.create_client(
        json!({ "client_id": off, "grant_types": ["client_credentials"], "scopes": ["turn"] }),
    );
    let c = oauth_client(w, &off, s_off["client_secret"].as_str(), REDIRECT);
    assert_eq!(
        grant_error(c.exchange_password(&u, &p).request(&oauth_http)),
        BasicErrorResponseType::UnauthorizedClient
    );
    let on = unique("pw");
    let s_on = w
        .create_client(json!({ "client_id": on, "grant_types": ["password"], "scopes": ["turn"] }));
    let c = oauth_client(w, &on, s_on["client_secret"].as_str(), REDIRECT);
    let t = c.exchange_password(&u, &p).request(&oauth_http).unwrap();
    assert_eq!(*t.token_type(), BasicTokenType::Extension("pop".into()));
    assert!(
        t.refresh_token().is_none(),
        "no refresh_token grant, no refresh token"
    );
    let wrong = ResourceOwnerPassword::new("wrong password".into());
    assert_eq!(
        grant_error(c.exchange_password(&u, &wrong).request(&oauth_http)),
        BasicErrorResponseType::InvalidGrant
    );
}

#[test]
fn seed_json_token_endpoint() {
    let w = shared();
    // LEGACY_CLIENT_ID=seed-legacy in the fixture: the client the seed's body-only request uses.
    let r = post_json(
        &w.url("/admin/clients"),
        &[("Authorization", &w.admin_auth())],
        &json!({
            "client_id": "seed-legacy", "public": true, "grant_types": ["password"], "scopes": ["turn"],
        }),
    );
    assert!(r.status == 201 || r.status == 409, "{}", r.body);
    let user = unique("seed");
    w.create_user(&user, "seed password 1");
    let r = post_json(
        &w.url("/token"),
        &[],
        &json!({ "grant_type": "password", "username": user, "password": "seed password 1" }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    for field in [
        "access_token",
        "token_type",
        "expires_in",
        "username",
        "mac_key",
        "kid",
        "key",
        "alg",
    ] {
        assert!(v.get(field).is_some(), "missing {field}: {v}");
    }
    assert_eq!(v["token_type"], "pop");
    assert_eq!(v["username"], KID);
    assert_eq!(v["kid"], KID);
    assert_eq!(v["key"], v["mac_key"]);
    let mac_key = B64.decode(v["mac_key"].as_str().unwrap()).unwrap();
    let token = B64.decode(v["access_token"].as_str().unwrap()).unwrap();
    let ring = w.keyring();
    let valid = ring
        .open(
            v["username"].as_str().unwrap(),
            &token,
            SERVER_NAME.as_bytes(),
            now(),
            &Validation::default(),
        )
        .unwrap();
    assert_eq!(valid.claims.mac_key.secret(), mac_key.as_slice());
    // Wrong password: RFC 6749 error in JSON.
    let r = post_json(
        &w.url("/token"),
        &[],
        &json!({ "grant_type": "password", "username": user, "password": "nope nope" }),
    );
    assert_eq!((r.status, r.error().as_str()), (400, "invalid_grant"));
}

#[test]
fn admin_api_lists_and_deletes_and_deleted_clients_lose_their_tokens() {
    let w = shared();
    let id = unique("gone");
    let v = w.create_client(json!({ "client_id": id, "grant_types": ["client_credentials"], "scopes": ["turn", "openid"] }));
    let secret = v["client_secret"].as_str().unwrap().to_string();
    let list = get(
        &w.url("/admin/clients"),
        &[("Authorization", &w.admin_auth())],
    );
    assert_eq!(list.status, 200);
    assert!(list.body.contains(&id));
    assert!(
        !list.body.contains("pbkdf2") && !list.body.contains(&secret),
        "no hashes or secrets in listings"
    );
    let at = post_form(
        &w.url("/oauth2/token"),
        &[("Authorization", &basic(&id, &secret))],
        &[("grant_type", "client_credentials"), ("scope", "openid")],
    );
    let at = at.json()["access_token"].as_str().unwrap().to_string();
    let del = request(
        "DELETE",
        &w.url(&format!("/admin/clients/{id}")),
        &[("Authorization", &w.admin_auth())],
        None,
    );
    assert_eq!(del.status, 204);
    let r = get(
        &w.url("/turn/credentials"),
        &[("Authorization", &bearer(&at))],
    );
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_token"));
    let r = post_form(
        &w.url("/oauth2/token"),
        &[("Authorization", &basic(&id, &secret))],
        &[("grant_type", "client_credentials")],
    );
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_client"));
    let users = get(
        &w.url("/admin/users"),
        &[("Authorization", &w.admin_auth())],
    );
    assert_eq!(users.status, 200);
    assert!(!users.body.contains("pbkdf2"));
}

#[test]
fn audit_trail_and_logs_hold_ids_never_secrets() {
    let w = shared();
    let id = unique("aud");
    let v = w.create_client(json!({ "client_id": id, "grant_types": ["client_credentials"], "scopes": ["turn", "api"] }));
    let secret = v["client_secret"].as_str().unwrap().to_string();
    let mut secrets = vec![secret.clone()];
    let mut token_ids = vec![];
    for scope in ["api", "turn"] {
        let r = post_form(
            &w.url("/oauth2/token"),
            &[("Authorization", &basic(&id, &secret))],
            &[("grant_type", "client_credentials"), ("scope", scope)],
        );
        let v = r.json();
        let at = v["access_token"].as_str().unwrap().to_string();
        if scope == "turn" {
            secrets.push(v["mac_key"].as_str().unwrap().to_string());
            token_ids.push(shared_token::TokenId::of(&B64.decode(&at).unwrap()).to_string());
        } else {
            let payload = at.split('.').nth(1).unwrap();
            let claims: serde_json::Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
            token_ids.push(claims["jti"].as_str().unwrap().to_string());
        }
        secrets.push(at);
    }
    // A failed attempt with a wrong secret must not log it either.
    let wrong = format!("{secret}-WRONG");
    post_form(
        &w.url("/oauth2/token"),
        &[("Authorization", &basic(&id, &wrong))],
        &[("grant_type", "client_credentials")],
    );
    secrets.push(wrong);
    // client_credentials audit rows are written just after the response (waitUntil).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let audit = loop {
        let a = w.audit();
        let ids: Vec<&str> = a.iter().filter_map(|e| e["token_id"].as_str()).collect();
        if token_ids.iter().all(|t| ids.contains(&t.as_str()))
            || std::time::Instant::now() > deadline
        {
            break a;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let ours: Vec<_> = audit
        .iter()
        .filter(|e| e["client_id"] == id.as_str())
        .collect();
    for t in &token_ids {
        assert!(
            ours.iter().any(|e| e["token_id"] == t.as_str()),
            "token {t} is audited: {ours:?}"
        );
    }
    assert!(ours.iter().any(|e| e["event"] == "turn_token.issued"));
    let audit_text = serde_json::to_string(&audit).unwrap();
    let log = w.log();
    for s in &secrets {
        assert!(
            !audit_text.contains(s.as_str()),
            "a secret in the audit trail"
        );
        assert!(!log.contains(s.as_str()), "a secret in the worker log");
    }
    assert!(!log.contains(&w.admin), "the admin secret in the log");
}
