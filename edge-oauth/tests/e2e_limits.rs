//! Per-person keys and the rate limits nobody can spend for somebody else (issue 22), in
//! local workerd with wrangler.toml's limits as configured: every TURN token carries its
//! person's (or app's) account key and TURN minting is limited per person; a client's
//! wrong secrets count per (address, client), so a stranger cannot spend the client's budget;
//! the password grant counts per address as the sign-in page does; `/create_client` caps and
//! rate-limits the apps of a person and, like `/device`'s approval, re-checks the person on
//! every post; a relay reports usage only for
//! its own relay id; wrong admin secrets are limited per address.
//!
//! Source addresses are set with `CF-Connecting-IP`, which the worker reads as Cloudflare's.

#![cfg(not(target_arch = "wasm32"))] // drives workerd from the host
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure report

mod common;

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use common::*;
use serde_json::{Value, json};
use shared_token::{AccountKey, Validation};

/// wrangler.toml: RL_TURN 30 per 60 s, RL_CLIENT_FAIL 20 per 60 s, RL_PASSWORD 20 per 60 s,
/// RL_ADMIN_FAIL 10 per 60 s.
const TURN_LIMIT: usize = 30;
const CLIENT_FAILURES: usize = 20;
const PASSWORD_ATTEMPTS: usize = 20;
const ADMIN_FAILURES: usize = 10;
/// RL_SIGNUP: 10 per 60 s, apps registered per person.
const REGISTRATIONS: usize = 10;
/// The cap this worker runs with (`MAX_APPS_PER_PERSON`).
const MAX_APPS: usize = 3;
const PASSWORD: &str = "correct horse battery";

fn worker() -> &'static Worker {
    static W: OnceLock<Worker> = OnceLock::new();
    W.get_or_init(|| {
        Worker::start_strict("limits", &[("MAX_APPS_PER_PERSON", &MAX_APPS.to_string())])
    })
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn from(address: &str) -> (&'static str, &str) {
    ("CF-Connecting-IP", address)
}

/// Sends `attempt` until it answers 429 or `max` tries; returns (answers before, the 429).
/// Fixed windows can reset once during a burst, so up to twice a limit may pass first.
fn burst(max: usize, mut attempt: impl FnMut(usize) -> Resp) -> (usize, Resp) {
    for i in 0..max {
        let r = attempt(i);
        if r.status == 429 {
            return (i, r);
        }
    }
    panic!("no 429 after {max} requests");
}

/// A person with a public app allowing the password grant: (username, client id).
fn person(w: &Worker) -> (String, String) {
    let client_id = unique("app");
    w.create_client(json!({ "client_id": client_id, "public": true, "grant_types": ["password"], "scopes": ["openid", "turn"] }));
    let user = unique("person");
    w.create_user(&user, PASSWORD);
    (user, client_id)
}

fn password_grant(w: &Worker, who: &(String, String), scope: &str, address: &str) -> Resp {
    post_form(
        &w.url("/oauth2/token"),
        &[from(address)],
        &[
            ("grant_type", "password"),
            ("client_id", &who.1),
            ("username", &who.0),
            ("password", PASSWORD),
            ("scope", scope),
        ],
    )
}

fn bearer_of(w: &Worker, who: &(String, String), address: &str) -> String {
    let r = password_grant(w, who, "openid turn", address);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["access_token"].as_str().unwrap().to_string()
}

fn turn_credentials(w: &Worker, bearer: &str, address: &str) -> Resp {
    get(
        &w.url("/turn/credentials"),
        &[
            ("Authorization", &format!("Bearer {bearer}")),
            from(address),
        ],
    )
}

/// The account sealed in a `/turn/credentials` answer's browser credential.
fn credential_account(w: &Worker, r: &Resp) -> AccountKey {
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let username = v["iceServers"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|s| s.get("username"))
        .and_then(Value::as_str)
        .unwrap()
        .to_string();
    let parsed = shared_token::browser::parse_username(&username).unwrap();
    let ring = w.keyring();
    let opened = ring
        .open(
            parsed.kid,
            &parsed.token,
            SERVER_NAME.as_bytes(),
            now(),
            &Validation::default(),
        )
        .unwrap();
    opened.claims.account.expect("the token carries an account")
}

/// The account sealed in a token-endpoint TURN token (`token_type: pop`).
fn token_account(w: &Worker, r: &Resp) -> AccountKey {
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["token_type"], "pop", "{v}");
    let token = B64.decode(v["access_token"].as_str().unwrap()).unwrap();
    let ring = w.keyring();
    let opened = ring
        .open(
            v["kid"].as_str().unwrap(),
            &token,
            SERVER_NAME.as_bytes(),
            now(),
            &Validation::default(),
        )
        .unwrap();
    opened.claims.account.expect("the token carries an account")
}

#[test]
fn turn_tokens_carry_the_persons_account_and_are_limited_per_person() {
    let w = worker();
    let addr = "198.51.100.10";
    let (alice, bob) = (person(w), person(w));
    let (a, b) = (bearer_of(w, &alice, addr), bearer_of(w, &bob, addr));

    // Two credentials of one person: one account; another person: another.
    let a1 = credential_account(w, &turn_credentials(w, &a, addr));
    let a2 = credential_account(w, &turn_credentials(w, &a, addr));
    let b1 = credential_account(w, &turn_credentials(w, &b, addr));
    assert_eq!(a1, a2);
    assert_ne!(a1, b1);
    // The token endpoint's TURN token for the same person: the same account.
    let at = token_account(w, &password_grant(w, &alice, "turn", addr));
    assert_eq!(at, a1);

    // An app's own TURN tokens (no person): the app's account, apart from any person's.
    let app = unique("turnapp");
    let secret = w.create_client(
        json!({ "client_id": app, "grant_types": ["client_credentials"], "scopes": ["turn"] }),
    )["client_secret"]
        .as_str()
        .unwrap()
        .to_string();
    let app_token = || {
        post_form(
            &w.url("/oauth2/token"),
            &[("Authorization", &basic(&app, &secret)), from(addr)],
            &[("grant_type", "client_credentials"), ("scope", "turn")],
        )
    };
    let c1 = token_account(w, &app_token());
    assert_eq!(c1, token_account(w, &app_token()));
    assert!(c1 != a1 && c1 != b1);

    // A burst of one person's credentials is limited...
    let (passed, r) = burst(3 * TURN_LIMIT, |_| turn_credentials(w, &a, addr));
    assert!(passed <= 2 * TURN_LIMIT, "{passed} credentials passed");
    assert_eq!(r.header("retry-after"), Some("60"));
    assert_eq!(r.error(), "temporarily_unavailable");
    // ...on the token endpoint too (one budget per person)...
    let r = password_grant(w, &alice, "turn", addr);
    assert_eq!(
        (r.status, r.error().as_str()),
        (429, "temporarily_unavailable")
    );
    // ...while another person, from the same address, still gets credentials.
    assert_eq!(credential_account(w, &turn_credentials(w, &b, addr)), b1);
}

fn confidential(w: &Worker) -> (String, String) {
    let id = unique("conf");
    let v = w.create_client(json!({
        "client_id": id,
        "grant_types": ["client_credentials", "urn:ietf:params:oauth:grant-type:device_code"],
        "scopes": ["api"],
    }));
    (id, v["client_secret"].as_str().unwrap().to_string())
}

fn client_token(w: &Worker, id: &str, secret: &str, address: &str) -> Resp {
    post_form(
        &w.url("/oauth2/token"),
        &[("Authorization", &basic(id, secret)), from(address)],
        &[("grant_type", "client_credentials")],
    )
}

#[test]
fn a_strangers_wrong_secrets_do_not_spend_the_clients_budget() {
    let w = worker();
    let (id, secret) = confidential(w);
    let attacker = "198.51.100.20";
    let mut refused = 0;
    for _ in 0..150 {
        let r = client_token(w, &id, "not-the-secret", attacker);
        assert!(matches!(r.status, 401 | 429), "{}: {}", r.status, r.body);
        refused += usize::from(r.status == 429);
    }
    // Failures count per (address, client): the guesser is stopped...
    assert!(
        refused >= 150 - 2 * CLIENT_FAILURES,
        "only {refused} of 150 wrong secrets refused"
    );
    // ...and from that address even the right secret waits for the window...
    let r = client_token(w, &id, &secret, attacker);
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.header("retry-after"), Some("60"));
    // ...while the client itself, from its own address, is served.
    let r = client_token(w, &id, &secret, "198.51.100.21");
    assert_eq!(r.status, 200, "{}", r.body);
    // The device-authorization endpoint authenticates under the same counters.
    let device = |address: &str| {
        post_form(
            &w.url("/oauth2/device_authorization"),
            &[("Authorization", &basic(&id, &secret)), from(address)],
            &[("scope", "api")],
        )
    };
    assert_eq!(device(attacker).status, 429);
    let r = device("198.51.100.21");
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn spraying_usernames_at_the_password_grant_from_one_address_is_limited() {
    let w = worker();
    let client_id = unique("spray");
    w.create_client(
        json!({ "client_id": client_id, "public": true, "grant_types": ["password"], "scopes": ["turn"] }),
    );
    let sprayer = "198.51.100.30";
    let (passed, r) = burst(3 * PASSWORD_ATTEMPTS, |i| {
        post_form(
            &w.url("/oauth2/token"),
            &[from(sprayer)],
            &[
                ("grant_type", "password"),
                ("client_id", &client_id),
                ("username", &format!("sprayed-{i}-{}", unique("u"))),
                ("password", "Winter2026!"),
                ("scope", "turn"),
            ],
        )
    });
    assert!(
        passed <= 2 * PASSWORD_ATTEMPTS,
        "{passed} sprayed guesses passed"
    );
    assert_eq!(r.header("retry-after"), Some("60"));
    assert_eq!(r.error(), "temporarily_unavailable");
    // Someone else, elsewhere, signs in.
    let someone = person(w);
    let r = password_grant(w, &someone, "turn", "198.51.100.31");
    assert_eq!(r.status, 200, "{}", r.body);
}

/// Signs in to `/create_client` from `address`: (the console page, its CSRF cookie).
fn console(w: &Worker, user: &str, address: &str) -> (Resp, String) {
    let page = get(&w.url("/create_client"), &[from(address)]);
    assert_eq!(page.status, 200, "{}", page.body);
    let ck = cookie(&page).unwrap();
    let r = post_form(
        &w.url("/create_client"),
        &[("Cookie", &ck), from(address)],
        &[
            ("action", "login"),
            ("form_state", &hidden(&page.body, "form_state").unwrap()),
            ("csrf", &hidden(&page.body, "csrf").unwrap()),
            ("username", user),
            ("password", PASSWORD),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    (r, ck)
}

fn create_app(w: &Worker, page: &Resp, ck: &str, address: &str, name: &str) -> Resp {
    post_form(
        &w.url("/create_client"),
        &[("Cookie", ck), from(address)],
        &[
            ("action", "create"),
            ("form_state", &hidden(&page.body, "form_state").unwrap()),
            ("csrf", &hidden(&page.body, "csrf").unwrap()),
            ("name", name),
            ("type", "confidential"),
            ("grant.client_credentials", "on"),
            ("scope.turn", "on"),
        ],
    )
}

#[test]
fn create_client_caps_apps_per_person_and_rechecks_the_person() {
    let w = worker();
    let addr = "198.51.100.40";
    let user = unique("owner");
    let user_id = w.create_user(&user, PASSWORD);
    let (mut page, ck) = console(w, &user, addr);
    for i in 0..MAX_APPS {
        page = create_app(w, &page, &ck, addr, &format!("app {i}"));
        assert_eq!(page.status, 201, "app {i}: {}", page.body);
    }
    // One more: a clear error on the console, and nothing registered.
    let r = create_app(w, &page, &ck, addr, "one too many");
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.body
            .contains(&format!("You already have {MAX_APPS} apps")),
        "{}",
        r.body
    );
    assert!(!r.body.contains("one too many"), "{}", r.body);
    // Registrations are rate-limited per person (and address) too: a page with Retry-After.
    let (passed, r) = burst(3 * REGISTRATIONS, |i| {
        create_app(w, &page, &ck, addr, &format!("burst {i}"))
    });
    assert!(passed <= 2 * REGISTRATIONS, "{passed} registrations passed");
    assert_eq!(r.header("retry-after"), Some("60"));
    assert!(r.body.contains("Too many attempts"), "{}", r.body);

    // The person is deleted while their console is open: the next post is refused.
    let del = request(
        "DELETE",
        &w.url(&format!("/admin/users/{user_id}")),
        &[("Authorization", &w.admin_auth())],
        None,
    );
    assert_eq!(del.status, 204, "{}", del.body);
    let r = create_app(w, &page, &ck, addr, "after deletion");
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.body.contains("no longer exists"), "{}", r.body);
}

fn relay(w: &Worker) -> String {
    let id = unique("relay");
    let c = w.create_client(
        json!({ "client_id": id, "grant_types": ["client_credentials"], "scopes": ["relay"] }),
    );
    let r = post_form(
        &w.url("/oauth2/token"),
        &[(
            "Authorization",
            &basic(&id, c["client_secret"].as_str().unwrap()),
        )],
        &[("grant_type", "client_credentials"), ("scope", "relay")],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    format!("Bearer {}", r.json()["access_token"].as_str().unwrap())
}

fn usage(w: &Worker, relay: &str, relay_id: &str) -> Resp {
    let tid = shared_token::TokenId::of(unique("token").as_bytes()).to_string();
    post_json(
        &w.url("/relay/usage"),
        &[("Authorization", relay)],
        &json!({ "relay_id": relay_id, "epoch": "e1", "records": [{
            "seq": 1, "token_id": tid, "transport": "udp", "start": now() - 10, "end": null,
            "at": now(), "first": true, "to_peer_packets": 1, "to_peer_bytes": 100,
            "to_client_packets": 1, "to_client_bytes": 100,
        }] }),
    )
}

#[test]
fn a_relay_reports_usage_only_for_its_own_relay_id() {
    let w = worker();
    let (first, second) = (relay(w), relay(w));
    let relay_id = unique("r");
    let hb = post_json(
        &w.url("/relay/heartbeat"),
        &[("Authorization", &first)],
        &json!({
            "relay_id": relay_id, "urls": ["turn:192.0.2.1:3478?transport=udp"], "region": "test",
            "latitude": null, "longitude": null, "allocations": 0, "capacity": 100, "load": 0.0,
            "draining": false, "version": "test", "revocation_cursor": 0, "usage_backlog": 0,
            "usage_dropped": 0,
        }),
    );
    assert_eq!(hb.status, 200, "{}", hb.body);
    // Another relay client posting usage under the first one's id: refused, as its
    // heartbeat would be.
    let r = usage(w, &second, &relay_id);
    assert_eq!(
        (r.status, r.error().as_str()),
        (409, "invalid_request"),
        "{}",
        r.body
    );
    // The relay that holds the id reports.
    let r = usage(w, &first, &relay_id);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["applied_through"], 1);
}

#[test]
fn wrong_admin_secrets_are_limited_per_address() {
    let w = worker();
    let guesser = "198.51.100.50";
    let users = |auth: &str, address: &str| {
        get(
            &w.url("/admin/users"),
            &[("Authorization", auth), from(address)],
        )
    };
    let (passed, r) = burst(3 * ADMIN_FAILURES, |i| {
        let r = users(&format!("Bearer wrong-admin-secret-{i}"), guesser);
        assert!(matches!(r.status, 401 | 429), "{}", r.status);
        r
    });
    assert!(passed <= 2 * ADMIN_FAILURES, "{passed} guesses passed");
    assert_eq!(r.header("retry-after"), Some("60"));
    // The right secret from that address waits too; from another address it works.
    assert_eq!(users(&w.admin_auth(), guesser).status, 429);
    assert_eq!(users(&w.admin_auth(), "198.51.100.51").status, 200);
}

#[test]
fn a_deleted_person_cannot_approve_a_device_from_an_open_consent_page() {
    let w = worker();
    let addr = "198.51.100.60";
    let client_id = unique("tv");
    w.create_client(json!({
        "client_id": client_id, "public": true,
        "grant_types": ["urn:ietf:params:oauth:grant-type:device_code"], "scopes": ["turn"],
    }));
    let user = unique("viewer");
    let user_id = w.create_user(&user, PASSWORD);
    let started = post_form(
        &w.url("/oauth2/device_authorization"),
        &[from(addr)],
        &[("client_id", &client_id), ("scope", "turn")],
    );
    assert_eq!(started.status, 200, "{}", started.body);
    let user_code = started.json()["user_code"].as_str().unwrap().to_string();
    let page = get(&w.url("/device"), &[from(addr)]);
    assert_eq!(page.status, 200, "{}", page.body);
    let ck = cookie(&page).unwrap();
    let consent = post_form(
        &w.url("/device"),
        &[("Cookie", &ck), from(addr)],
        &[
            ("action", "login"),
            ("form_state", &hidden(&page.body, "form_state").unwrap()),
            ("csrf", &hidden(&page.body, "csrf").unwrap()),
            ("user_code", &user_code),
            ("username", &user),
            ("password", PASSWORD),
        ],
    );
    assert_eq!(consent.status, 200, "{}", consent.body);
    let del = request(
        "DELETE",
        &w.url(&format!("/admin/users/{user_id}")),
        &[("Authorization", &w.admin_auth())],
        None,
    );
    assert_eq!(del.status, 204, "{}", del.body);
    let r = post_form(
        &w.url("/device"),
        &[("Cookie", &ck), from(addr)],
        &[
            ("action", "decide"),
            ("form_state", &hidden(&consent.body, "form_state").unwrap()),
            ("csrf", &hidden(&consent.body, "csrf").unwrap()),
            ("decision", "allow"),
        ],
    );
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.body.contains("no longer exists"), "{}", r.body);
}
