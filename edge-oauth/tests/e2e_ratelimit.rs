//! Rate limits in local workerd with wrangler.toml's limits as configured (Workers
//! rate-limiting bindings, emulated by miniflare with the same fixed windows): a burst over a
//! limit gets 429 with `Retry-After` and an RFC 6749-style JSON error (pages get a page), and
//! another client is unaffected.

#![cfg(not(target_arch = "wasm32"))] // drives workerd from the host
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure report

mod common;

use common::*;
use serde_json::json;

/// wrangler.toml: RL_CLIENT 100 per 10 s, RL_PASSWORD 20 per 60 s, RL_SIGNUP 10 per 60 s.
const PER_CLIENT: usize = 100;
const PASSWORD_ATTEMPTS: usize = 20;
const SIGNUPS: usize = 10;

/// Sends `attempt` until it answers 429 or `max` tries; returns (successes before, the 429).
/// Fixed windows can reset once during a burst, so up to twice the limit may pass first.
fn burst(max: usize, attempt: impl Fn(usize) -> Resp) -> (usize, Resp) {
    for i in 0..max {
        let r = attempt(i);
        if r.status == 429 {
            return (i, r);
        }
    }
    panic!("no 429 after {max} requests");
}

fn confidential(w: &Worker) -> (String, String) {
    let id = unique("rl");
    let v = w.create_client(
        json!({ "client_id": id, "grant_types": ["client_credentials"], "scopes": ["api"] }),
    );
    (id, v["client_secret"].as_str().unwrap().to_string())
}

#[test]
fn bursts_get_429_with_retry_after_and_others_are_unaffected() {
    let w = Worker::start_strict("ratelimit", &[("SIGNUP", "on")]);
    let (a, b) = (confidential(&w), confidential(&w));
    let token = |c: &(String, String)| {
        post_form(
            &w.url("/oauth2/token"),
            &[("Authorization", &basic(&c.0, &c.1))],
            &[("grant_type", "client_credentials")],
        )
    };

    // One client over its limit...
    let (passed, r) = burst(3 * PER_CLIENT, |_| token(&a));
    assert!(
        (PER_CLIENT..=2 * PER_CLIENT).contains(&passed),
        "{passed} passed"
    );
    assert_eq!(r.header("retry-after"), Some("10"));
    assert_eq!(r.error(), "temporarily_unavailable");
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    // ...while another client is served.
    let other = token(&b);
    assert_eq!(other.status, 200, "{}", other.body);
    // A wrong secret counts too: the limit runs before the password hash is computed.
    let wrong = post_form(
        &w.url("/oauth2/token"),
        &[("Authorization", &basic(&a.0, "not-the-secret"))],
        &[("grant_type", "client_credentials")],
    );
    assert!(matches!(wrong.status, 429 | 401), "{}", wrong.status);

    // Sign-ups per address: a page, with Retry-After.
    let (passed, r) = burst(3 * SIGNUPS, |i| {
        let page = get(&w.url("/signup"), &[]);
        assert_eq!(page.status, 200);
        post_form(
            &w.url("/signup"),
            &[("Cookie", &cookie(&page).unwrap())],
            &[
                ("form_state", &hidden(&page.body, "form_state").unwrap()),
                ("csrf", &hidden(&page.body, "csrf").unwrap()),
                ("username", &unique(&format!("burst{i}"))),
                ("password", "long enough password"),
            ],
        )
    });
    assert!(
        (SIGNUPS..=2 * SIGNUPS).contains(&passed),
        "{passed} sign-ups passed"
    );
    assert_eq!(r.header("retry-after"), Some("60"));
    assert!(r.header("content-type").unwrap().starts_with("text/html"));

    // Password attempts on the sign-in page, per address and account.
    let client = unique("web");
    w.create_client(
        json!({ "client_id": client, "public": true, "redirect_uris": ["http://127.0.0.1:9/cb"] }),
    );
    let url = format!(
        "{}?{}",
        w.url("/oauth2/authorize"),
        form(&[
            ("response_type", "code"),
            ("client_id", &client),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
            ),
            ("code_challenge_method", "S256"),
        ])
    );
    let page = get(&url, &[]);
    let ck = cookie(&page).unwrap();
    let (passed, r) = burst(3 * PASSWORD_ATTEMPTS, |_| {
        post_form(
            &w.url("/oauth2/authorize"),
            &[("Cookie", &ck)],
            &[
                ("action", "login"),
                ("form_state", &hidden(&page.body, "form_state").unwrap()),
                ("csrf", &hidden(&page.body, "csrf").unwrap()),
                ("username", "someone"),
                ("password", "guess"),
            ],
        )
    });
    assert!(passed <= 2 * PASSWORD_ATTEMPTS, "{passed} guesses passed");
    assert_eq!(r.header("retry-after"), Some("60"));
    assert!(r.body.contains("Too many attempts"));
    let log = w.log();
    assert!(
        !log.contains("panicked") && !log.contains("RuntimeError"),
        "{log}"
    );
}
