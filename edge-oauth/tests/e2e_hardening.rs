//! Issue 22's edge gaps, over HTTP against the local worker: redirects to self-registered
//! apps go through a page (item 4), "revoke everything of a person" covers the apps they
//! registered (item 5), an expired `id_token_hint` is confirmed before anything is revoked and
//! logout works by form POST (item 6), userinfo's profile claims need `profile` (item 11), the
//! CSRF cookie's attributes (item 12), reserved scopes refused at the admin API, and passwords
//! rehashed at sign-in when the iteration count rises.

#![cfg(not(target_arch = "wasm32"))] // drives workerd from the host
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure report

mod common;

use std::sync::OnceLock;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";
const REDIRECT: &str = "http://127.0.0.1:9/cb";
const BYE: &str = "http://127.0.0.1:9/bye";
/// ID tokens of this file's worker live this long, so a test can hold an expired one.
const ID_TOKEN_TTL: u64 = 4;

fn worker() -> &'static Worker {
    static W: OnceLock<Worker> = OnceLock::new();
    W.get_or_init(|| Worker::start("hardening", &[("ID_TOKEN_TTL", &ID_TOKEN_TTL.to_string())]))
}

/// The text of the element with `id` (up to its first tag).
fn element_text(html: &str, id: &str) -> Option<String> {
    let start = html.find(&format!("id=\"{id}\">"))? + id.len() + 6;
    let end = start + html[start..].find('<')?;
    Some(html[start..end].to_string())
}

/// The `href` of the interstitial's continue link, unescaped.
fn continue_link(html: &str) -> Option<String> {
    let start = html.find("id=\"continue\" href=\"")? + 20;
    let end = start + html[start..].find('"')?;
    Some(html[start..end].replace("&amp;", "&"))
}

/// A person registers an app on `/create_client` (public, code flow and refresh, `openid`
/// `turn`, or confidential with client_credentials): returns (client id, secret if any).
fn console_app(w: &Worker, user: &str, confidential: bool) -> (String, Option<String>) {
    let page = get(&w.url("/create_client"), &[]);
    assert_eq!(page.status, 200, "{}", page.body);
    let ck = cookie(&page).unwrap();
    let login = post_form(
        &w.url("/create_client"),
        &[("Cookie", &ck)],
        &[
            ("action", "login"),
            ("form_state", &hidden(&page.body, "form_state").unwrap()),
            ("csrf", &hidden(&page.body, "csrf").unwrap()),
            ("username", user),
            ("password", PASSWORD),
        ],
    );
    assert_eq!(login.status, 200, "{}", login.body);
    let state = hidden(&login.body, "form_state").unwrap();
    let csrf = hidden(&login.body, "csrf").unwrap();
    let mut fields = vec![
        ("action", "create"),
        ("form_state", state.as_str()),
        ("csrf", csrf.as_str()),
        ("name", "Someone's app"),
        ("scope.openid", "on"),
        ("scope.profile", "on"),
        ("scope.turn", "on"),
    ];
    if confidential {
        fields.extend([("type", "confidential"), ("grant.client_credentials", "on")]);
    } else {
        fields.extend([
            ("type", "public"),
            ("grant.authorization_code", "on"),
            ("grant.refresh_token", "on"),
            ("redirect_uris", REDIRECT),
            ("post_logout_redirect_uris", BYE),
        ]);
    }
    let created = post_form(&w.url("/create_client"), &[("Cookie", &ck)], &fields);
    assert_eq!(created.status, 201, "{}", created.body);
    (
        element_text(&created.body, "client-id").unwrap(),
        element_text(&created.body, "client-secret"),
    )
}

/// A new person: (username, user id).
fn person(w: &Worker) -> (String, String) {
    let user = unique("person");
    let id = w.create_user(&user, PASSWORD);
    (user, id)
}

/// An admin-registered public app like the console one.
fn admin_app(w: &Worker) -> String {
    let id = unique("admin-app");
    w.create_client(json!({
        "client_id": id, "public": true, "redirect_uris": [REDIRECT],
        "post_logout_redirect_uris": [BYE],
        "grant_types": ["authorization_code", "refresh_token"], "scopes": ["openid", "turn", "profile"],
    }));
    id
}

/// An authorization request that is refused with a redirect (implicit flow).
fn refused_authorize(w: &Worker, client: &str) -> Resp {
    get(
        &format!(
            "{}?{}",
            w.url("/oauth2/authorize"),
            form(&[
                ("response_type", "token"),
                ("client_id", client),
                ("redirect_uri", REDIRECT),
                ("state", "s-1"),
            ])
        ),
        &[],
    )
}

#[test]
fn authorization_errors_of_self_registered_apps_go_through_a_page() {
    let w = worker();
    let (user, _) = person(w);
    let (own, _) = console_app(w, &user, false);
    let r = refused_authorize(w, &own);
    assert_eq!(
        r.status, 400,
        "no redirect for a self-registered app: {r:?}"
    );
    assert!(r.header("location").is_none());
    assert!(r.body.contains("127.0.0.1:9"), "{}", r.body);
    let link = continue_link(&r.body).expect("a link onwards");
    assert!(link.starts_with(&format!("{REDIRECT}?error=unsupported_response_type")));
    assert_eq!(query_param(&link, "state").as_deref(), Some("s-1"));
    // An admin-registered app is redirected to at once, as before.
    let admin = admin_app(w);
    let r = refused_authorize(w, &admin);
    assert_eq!(r.status, 303, "{r:?}");
    assert!(
        r.header("location")
            .unwrap()
            .starts_with(&format!("{REDIRECT}?error=unsupported_response_type"))
    );
}

#[test]
fn logout_to_self_registered_apps_goes_through_a_page() {
    let w = worker();
    let (user, _) = person(w);
    let (own, _) = console_app(w, &user, false);
    let logout = |client: &str| {
        get(
            &format!(
                "{}?{}",
                w.url("/oauth2/logout"),
                form(&[
                    ("client_id", client),
                    ("post_logout_redirect_uri", BYE),
                    ("state", "bye")
                ])
            ),
            &[],
        )
    };
    let r = logout(&own);
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.header("location").is_none());
    assert_eq!(continue_link(&r.body).unwrap(), format!("{BYE}?state=bye"));
    let r = logout(&admin_app(w));
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(r.header("location").unwrap(), format!("{BYE}?state=bye"));
}

#[test]
fn revoking_everything_of_a_person_covers_the_apps_they_registered() {
    let w = worker();
    let (user, user_id) = person(w);
    let (app, secret) = console_app(w, &user, true);
    let secret = secret.expect("a confidential app's secret is shown once");
    let cc = |scope: &str| {
        post_form(
            &w.url("/oauth2/token"),
            &[("Authorization", &basic(&app, &secret))],
            &[("grant_type", "client_credentials"), ("scope", scope)],
        )
    };
    // A TURN token (relays learn of its revocation from the feed) and an access token.
    let r = cc("turn");
    assert_eq!(r.status, 200, "{}", r.body);
    let r = cc("profile");
    assert_eq!(r.status, 200, "{}", r.body);
    let token = r.json()["access_token"].as_str().unwrap().to_string();
    // A resource server that introspects every token.
    let rs = unique("rs");
    let rs_secret = w.create_client(json!({
        "client_id": rs, "grant_types": ["client_credentials"], "scopes": ["introspection"],
        "allow_reserved_scopes": true,
    }))["client_secret"]
        .as_str()
        .unwrap()
        .to_string();
    let active = || {
        let r = post_form(
            &w.url("/oauth2/introspect"),
            &[("Authorization", &basic(&rs, &rs_secret))],
            &[("token", &token)],
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["active"].as_bool().unwrap()
    };
    assert!(active());
    let r = post_json(
        &w.url(&format!("/admin/users/{user_id}/revoke")),
        &[("Authorization", &w.admin_auth())],
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["apps_deleted"], 1, "{}", r.body);
    assert!(
        r.json()["turn_tokens"].as_u64().unwrap() >= 1,
        "the app's TURN token enters the relays' feed: {}",
        r.body
    );
    assert!(!active(), "the app's token must stop standing");
    let r = cc("profile");
    assert_eq!(
        (r.status, r.error().as_str()),
        (401, "invalid_client"),
        "the app must not authenticate any more: {}",
        r.body
    );
}

/// Signs a new person in at an admin app with `openid`: (tokens, username).
fn signed_in(w: &Worker, client: &str, scope: &str) -> (Value, String) {
    let (user, _) = person(w);
    let (code, verifier) = code_for(w, client, REDIRECT, &user, PASSWORD, &[("scope", scope)]);
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
    (r.json(), user)
}

fn refresh(w: &Worker, client: &str, token: &str) -> Resp {
    post_form(
        &w.url("/oauth2/token"),
        &[],
        &[
            ("grant_type", "refresh_token"),
            ("client_id", client),
            ("refresh_token", token),
        ],
    )
}

#[test]
fn an_expired_id_token_hint_is_confirmed_before_anything_is_revoked() {
    let w = worker();
    let client = admin_app(w);
    let (t, _) = signed_in(w, &client, "openid turn");
    let id_token = t["id_token"].as_str().unwrap().to_string();
    let mut rt = t["refresh_token"].as_str().unwrap().to_string();
    std::thread::sleep(Duration::from_secs(ID_TOKEN_TTL + 2));
    let params = [
        ("id_token_hint", id_token.as_str()),
        ("post_logout_redirect_uri", BYE),
        ("state", "bye"),
    ];
    // A plain GET with the expired hint: a page asking, nothing revoked.
    let ask = get(
        &format!("{}?{}", w.url("/oauth2/logout"), form(&params)),
        &[],
    );
    assert_eq!(ask.status, 200, "{ask:?}");
    assert!(ask.body.contains("id=\"confirm-signout\""), "{}", ask.body);
    assert_eq!(
        hidden(&ask.body, "id_token_hint").as_deref(),
        Some(id_token.as_str())
    );
    let set = ask.header("set-cookie").unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/oauth2/logout"] {
        assert!(set.contains(attr), "{attr} in {set}");
    }
    let r = refresh(w, &client, &rt);
    assert_eq!(r.status, 200, "not revoked before confirming: {}", r.body);
    rt = r.json()["refresh_token"].as_str().unwrap().to_string();
    // A cross-site form post of the same fields (no cookie) confirms nothing.
    let csrf = hidden(&ask.body, "csrf").unwrap();
    let mut confirm: Vec<(&str, &str)> = params.to_vec();
    confirm.extend([("confirm", "yes"), ("csrf", csrf.as_str())]);
    let forged = post_form(&w.url("/oauth2/logout"), &[], &confirm);
    assert_eq!(forged.status, 200, "{forged:?}");
    assert!(forged.body.contains("id=\"confirm-signout\""));
    let r = refresh(w, &client, &rt);
    assert_eq!(r.status, 200, "not revoked by a forged post: {}", r.body);
    rt = r.json()["refresh_token"].as_str().unwrap().to_string();
    // The page's own post (with its cookie) signs out and returns to the app.
    let done = post_form(
        &w.url("/oauth2/logout"),
        &[("Cookie", &cookie(&ask).unwrap())],
        &confirm,
    );
    assert_eq!(done.status, 303, "{done:?}");
    assert_eq!(done.header("location").unwrap(), format!("{BYE}?state=bye"));
    let r = refresh(w, &client, &rt);
    assert_eq!(
        (r.status, r.error().as_str()),
        (400, "invalid_grant"),
        "{}",
        r.body
    );
}

#[test]
fn logout_by_form_post_with_a_valid_hint_revokes_at_once() {
    let w = worker();
    let client = admin_app(w);
    let (t, _) = signed_in(w, &client, "openid turn");
    let id_token = t["id_token"].as_str().unwrap();
    let rt = t["refresh_token"].as_str().unwrap();
    let r = post_form(
        &w.url("/oauth2/logout"),
        &[],
        &[
            ("id_token_hint", id_token),
            ("post_logout_redirect_uri", BYE),
        ],
    );
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(r.header("location").unwrap(), BYE);
    assert_eq!(refresh(w, &client, rt).error(), "invalid_grant");
}

#[test]
fn userinfo_releases_profile_claims_only_with_profile() {
    let w = worker();
    let client = admin_app(w);
    let userinfo = |t: &Value| {
        let r = get(
            &w.url("/oauth2/userinfo"),
            &[(
                "Authorization",
                &format!("Bearer {}", t["access_token"].as_str().unwrap()),
            )],
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    };
    let (t, _) = signed_in(w, &client, "openid turn");
    let bare = userinfo(&t);
    assert!(bare["sub"].is_string());
    assert!(
        bare.get("preferred_username").is_none() && bare.get("name").is_none(),
        "without profile: {bare}"
    );
    let (t, user) = signed_in(w, &client, "openid profile");
    let p = userinfo(&t);
    assert_eq!(p["preferred_username"], user.as_str());
    assert_eq!(p["name"], format!("{user} name"));
}

#[test]
fn the_admin_api_gives_reserved_scopes_only_when_asked() {
    let w = worker();
    let r = post_json(
        &w.url("/admin/clients"),
        &[("Authorization", &w.admin_auth())],
        &json!({ "grant_types": ["client_credentials"], "scopes": ["api", "introspection"] }),
    );
    assert_eq!((r.status, r.error().as_str()), (400, "invalid_request"));
    assert!(r.body.contains("allow_reserved_scopes"), "{}", r.body);
    let r = post_json(
        &w.url("/admin/clients"),
        &[("Authorization", &w.admin_auth())],
        &json!({ "grant_types": ["client_credentials"], "scopes": ["introspection"], "allow_reserved_scopes": true }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
}

#[test]
fn reserved_registration_scopes_stop_the_worker_with_a_clear_error() {
    let w = Worker::start_with(
        "reserved",
        &[("REGISTRATION_SCOPES", "openid turn introspection")],
        false,
    );
    let r = get(&w.url("/health"), &[]);
    assert_eq!(r.status, 500, "{r:?}");
    assert!(
        r.body
            .contains("REGISTRATION_SCOPES must not include the reserved scopes introspection"),
        "{}",
        r.body
    );
}

#[test]
fn passwords_are_rehashed_at_sign_in_when_the_iteration_count_rises() {
    let mut w = Worker::start("rehash", &[("PASSWORD_PBKDF2_ITERATIONS", "1000")]);
    let client = unique("pw");
    w.create_client(
        json!({ "client_id": client, "public": true, "grant_types": ["password"], "scopes": ["openid"] }),
    );
    let (user, user_id) = person(&w);
    w.restart_with("PASSWORD_PBKDF2_ITERATIONS", "2000");
    let sign_in = |w: &Worker| {
        post_form(
            &w.url("/oauth2/token"),
            &[],
            &[
                ("grant_type", "password"),
                ("client_id", &client),
                ("username", &user),
                ("password", PASSWORD),
            ],
        )
    };
    let rehashed = |w: &Worker| {
        w.audit()
            .iter()
            .filter(|e| e["event"] == "user.password_rehashed" && e["user_id"] == user_id.as_str())
            .count()
    };
    assert_eq!(rehashed(&w), 0);
    assert_eq!(sign_in(&w).status, 200);
    assert_eq!(
        rehashed(&w),
        1,
        "the first sign-in at the new count rehashes"
    );
    // The new record works, and is not rehashed again.
    assert_eq!(sign_in(&w).status, 200);
    assert_eq!(rehashed(&w), 1);
    // A wrong password rehashes nothing.
    w.restart_with("PASSWORD_PBKDF2_ITERATIONS", "3000");
    let wrong = post_form(
        &w.url("/oauth2/token"),
        &[],
        &[
            ("grant_type", "password"),
            ("client_id", &client),
            ("username", &user),
            ("password", "wrong"),
        ],
    );
    assert_eq!(wrong.status, 400);
    assert_eq!(rehashed(&w), 1);
}
