//! Sign-in sessions over HTTP against the built worker: a sign-in starts a session (a new one
//! at every sign-in, the browser's previous one ended), the next authorization with an earlier
//! consent is answered without a page, `prompt` and `max_age` are honoured, and the account
//! page lists the sessions and signs out everywhere (POST with its CSRF check).

#![cfg(not(target_arch = "wasm32"))] // drives workerd from the host
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure report

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use serde_json::{Value, json};

const REDIRECT: &str = "http://127.0.0.1:9/cb";
const PASSWORD: &str = "correct horse battery";

fn authorize_url(w: &Worker, client: &str, extra: &[(&str, &str)]) -> String {
    let challenge = edge_oauth::oauth::flows::pkce::s256(&"v".repeat(50));
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", client),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
        ("state", "st"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    pairs.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
    pairs.extend_from_slice(extra);
    format!("{}?{}", w.url("/oauth2/authorize"), form(&pairs))
}

/// Signs in on the authorization page with `session` (a browser's session cookie, if any):
/// the login answer (a consent page, or a redirect when consent was given before) and the
/// new session cookie it set.
fn login(w: &Worker, url: &str, session: Option<&str>) -> (Resp, String) {
    let jar = |csrf: &str| match session {
        Some(s) => format!("{csrf}; {s}"),
        None => csrf.to_string(),
    };
    let page = get(
        url,
        &session
            .map(|s| ("Cookie", s))
            .into_iter()
            .collect::<Vec<_>>(),
    );
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("id=\"username\""), "a sign-in page");
    let csrf = cookie(&page).unwrap();
    let r = post_form(
        &w.url("/oauth2/authorize"),
        &[("Cookie", &jar(&csrf))],
        &[
            ("action", "login"),
            ("form_state", &hidden(&page.body, "form_state").unwrap()),
            ("csrf", &hidden(&page.body, "csrf").unwrap()),
            ("username", &w_user(w)),
            ("password", PASSWORD),
        ],
    );
    let set = r.header("set-cookie").unwrap_or_default().to_string();
    assert!(set.starts_with("edge_session="), "{set}");
    let attrs: Vec<&str> = set.split("; ").collect();
    for a in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(attrs.contains(&a), "{a} in {set}");
    }
    assert!(!attrs.contains(&"Secure"), "an http issuer: no Secure");
    let pair = set.split(';').next().unwrap().to_string();
    // Consent, if asked, posted with the page's CSRF cookie.
    if r.status == 200 {
        let done = post_form(
            &w.url("/oauth2/authorize"),
            &[("Cookie", &jar(&csrf))],
            &[
                ("action", "consent"),
                ("form_state", &hidden(&r.body, "form_state").unwrap()),
                ("csrf", &hidden(&r.body, "csrf").unwrap()),
                ("decision", "allow"),
            ],
        );
        assert_eq!(done.status, 303, "{}", done.body);
        return (done, pair);
    }
    (r, pair)
}

fn w_user(_: &Worker) -> String {
    USER.with(|u| u.clone())
}

thread_local! {
    static USER: String = unique("sess");
}

/// The `error` of a redirect, or `code` when it carries one.
fn outcome(r: &Resp) -> String {
    let loc = r.header("location").unwrap_or_default();
    query_param(loc, "error").unwrap_or_else(|| {
        if query_param(loc, "code").is_some() {
            "code".into()
        } else {
            format!("HTTP {}", r.status)
        }
    })
}

#[test]
fn sessions_answer_without_pages_rotate_at_sign_in_and_end_everywhere() {
    let w = Worker::start("sessions", &[]);
    let app = unique("app");
    w.create_client(json!({
        "client_id": app, "public": true, "redirect_uris": [REDIRECT], "scopes": ["openid", "turn"],
    }));
    w.create_user(&w_user(&w), PASSWORD);
    let with = |s: &str| vec![("Cookie", s.to_string())];
    let silently = |extra: &[(&str, &str)], session: Option<&str>| {
        let h: Vec<(&str, String)> = session.map(with).unwrap_or_default();
        let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
        get(&authorize_url(&w, &app, extra), &h)
    };

    // No session: prompt=none is login_required.
    assert_eq!(
        outcome(&silently(&[("prompt", "none")], None)),
        "login_required"
    );
    // First sign-in: the pages, then a code; a session cookie.
    let (first, a) = login(&w, &authorize_url(&w, &app, &[]), None);
    assert_eq!(outcome(&first), "code");
    // With it: a code without a page, prompt=none or not.
    assert_eq!(outcome(&silently(&[], Some(&a))), "code");
    assert_eq!(outcome(&silently(&[("prompt", "none")], Some(&a))), "code");
    // A scope not consented to: consent_required silently, the consent page otherwise.
    let wider = [("scope", "openid turn"), ("prompt", "none")];
    let r = silently(&wider, Some(&a));
    assert_eq!(outcome(&r), "consent_required", "{}", r.body);
    let page = silently(&[("scope", "openid turn")], Some(&a));
    assert_eq!(page.status, 200);
    assert!(page.body.contains("value=\"allow\""), "the consent page");
    assert!(
        silently(&[("prompt", "consent")], Some(&a))
            .body
            .contains("value=\"allow\"")
    );
    // prompt=login and max_age=0 show the sign-in page again.
    for extra in [[("prompt", "login")], [("max_age", "0")]] {
        let r = silently(&extra, Some(&a));
        assert_eq!(r.status, 200);
        assert!(r.body.contains("id=\"username\""), "{extra:?}");
    }
    assert_eq!(outcome(&silently(&[("max_age", "3600")], Some(&a))), "code");

    // Another browser signs in: consent is remembered (no consent page), a second session.
    let (second, b) = login(&w, &authorize_url(&w, &app, &[]), None);
    assert_eq!(outcome(&second), "code");
    assert_ne!(a, b);
    // Signing in again in the first browser gives it a new session and ends the old one.
    let (third, c) = login(
        &w,
        &authorize_url(&w, &app, &[("prompt", "login")]),
        Some(&a),
    );
    assert_eq!(outcome(&third), "code");
    assert_ne!(a, c);
    assert_eq!(
        outcome(&silently(&[("prompt", "none")], Some(&a))),
        "login_required"
    );
    assert_eq!(outcome(&silently(&[("prompt", "none")], Some(&c))), "code");

    // The account page lists the two live sessions, this one marked.
    let acct = get(&w.url("/account"), &[("Cookie", &c)]);
    assert_eq!(acct.status, 200, "{}", acct.body);
    assert!(acct.body.contains(&w_user(&w)));
    assert_eq!(
        acct.body.matches("class=\"session\"").count(),
        2,
        "{}",
        acct.body
    );
    assert_eq!(acct.body.matches("(this browser)").count(), 1);
    let csp = acct.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let csrf = cookie(&acct).unwrap();
    let token = hidden(&acct.body, "csrf").unwrap();
    // "Sign out everywhere" without the CSRF cookie, or with another token: refused.
    let everywhere = |jar: &str, field: &str| {
        post_form(
            &w.url("/account"),
            &[("Cookie", jar)],
            &[("action", "everywhere"), ("csrf", field)],
        )
    };
    assert_eq!(everywhere(&c, &token).status, 403);
    assert_eq!(everywhere(&format!("{csrf}; {c}"), "forged").status, 403);
    assert_eq!(outcome(&silently(&[("prompt", "none")], Some(&b))), "code");
    let out = everywhere(&format!("{csrf}; {c}"), &token);
    assert_eq!(out.status, 200, "{}", out.body);
    assert!(out.body.contains("signed-out-everywhere"));
    assert!(
        out.header("set-cookie")
            .unwrap_or_default()
            .contains("Max-Age=0")
    );
    // Both browsers are signed out.
    for s in [&b, &c] {
        assert_eq!(
            outcome(&silently(&[("prompt", "none")], Some(s))),
            "login_required"
        );
    }
    let signed_out = get(&w.url("/account"), &[("Cookie", &c)]);
    assert!(signed_out.body.contains("Sign in to your account"));
    assert!(
        w.audit()
            .iter()
            .any(|e| e["event"] == "session.ended" && e["detail"] == "everywhere")
    );
}

#[test]
fn the_account_page_signs_in_and_out() {
    let w = Worker::start("account", &[]);
    w.create_user(&w_user(&w), PASSWORD);
    let page = get(&w.url("/account"), &[]);
    assert_eq!(page.status, 200);
    let csrf = cookie(&page).unwrap();
    let token = hidden(&page.body, "csrf").unwrap();
    let post = |jar: &str, pairs: &[(&str, &str)]| {
        post_form(&w.url("/account"), &[("Cookie", jar)], pairs)
    };
    let wrong = post(
        &csrf,
        &[
            ("action", "login"),
            ("csrf", &token),
            ("username", &w_user(&w)),
            ("password", "nope"),
        ],
    );
    assert_eq!(wrong.status, 401);
    let ok = post(
        &csrf,
        &[
            ("action", "login"),
            ("csrf", &token),
            ("username", &w_user(&w)),
            ("password", PASSWORD),
        ],
    );
    assert_eq!((ok.status, ok.header("location")), (303, Some("/account")));
    let s = cookie(&ok).unwrap();
    assert!(s.starts_with("edge_session="));
    let mine = get(&w.url("/account"), &[("Cookie", &s)]);
    assert!(mine.body.contains("id=\"sign-out\""), "{}", mine.body);
    let csrf = cookie(&mine).unwrap();
    let token = hidden(&mine.body, "csrf").unwrap();
    let out = post(
        &format!("{csrf}; {s}"),
        &[("action", "signout"), ("csrf", &token)],
    );
    assert!(out.body.contains("id=\"signed-out\""));
    let after = get(&w.url("/account"), &[("Cookie", &s)]);
    assert!(
        after.body.contains("Sign in to your account"),
        "the session ended"
    );
}

/// A relying party's back-channel logout endpoint on loopback: answers every POST with 200
/// and passes on each request body; the thread stops by itself after `life`.
fn receiver(life: Duration) -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let until = Instant::now() + life;
        while Instant::now() < until {
            let Ok((mut conn, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            };
            conn.set_nonblocking(false).unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Headers, then Content-Length bytes of body.
            let body = loop {
                let Ok(n) = conn.read(&mut chunk) else {
                    break None;
                };
                if n == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if body.len() >= len {
                        break Some(format!(
                            "{}\n{body}",
                            head.lines().next().unwrap_or_default()
                        ));
                    }
                }
            };
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            if let Some(b) = body {
                let _ = tx.send(b);
            }
        }
    });
    (port, rx)
}

fn claims_of(jwt: &str) -> Value {
    serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(jwt.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn ending_a_session_sends_signed_logout_tokens_to_its_apps() {
    let w = Worker::start("backchannel", &[]);
    let meta = get(&w.url("/.well-known/openid-configuration"), &[]).json();
    assert_eq!(meta["backchannel_logout_supported"], true);
    assert_eq!(meta["backchannel_logout_session_supported"], true);
    let (port, rx) = receiver(Duration::from_secs(60));
    let app = unique("bc");
    let listening = unique("quiet");
    for (id, bc) in [
        (&app, Some(format!("http://127.0.0.1:{port}/bc"))),
        (&listening, None),
    ] {
        let mut c = json!({
            "client_id": id, "public": true, "redirect_uris": [REDIRECT], "scopes": ["openid"],
            "id_token_signed_response_alg": "ES256",
        });
        if let Some(uri) = bc {
            c["backchannel_logout_uri"] = json!(uri);
            c["backchannel_logout_session_required"] = json!(true);
        }
        w.create_client(c);
    }
    // Refused: a back-channel URI that is neither https nor loopback.
    let bad = post_json(
        &w.url("/admin/clients"),
        &[("Authorization", &w.admin_auth())],
        &json!({ "redirect_uris": [REDIRECT], "backchannel_logout_uri": "http://example.com/bc" }),
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    w.create_user(&w_user(&w), PASSWORD);

    // Sign in to the app and redeem the code: the family carries the session.
    let (first, session) = login(&w, &authorize_url(&w, &app, &[]), None);
    let code = query_param(first.header("location").unwrap(), "code").unwrap();
    let tokens = post_form(
        &w.url("/oauth2/token"),
        &[],
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &app),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &"v".repeat(50)),
        ],
    );
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    let id_token = tokens.json()["id_token"].as_str().unwrap().to_string();
    let sid = claims_of(&id_token)["sid"].as_str().unwrap().to_string();
    // The other app, same session, no back-channel URI: nothing is sent to it.
    let other = get(&authorize_url(&w, &listening, &[]), &[("Cookie", &session)]);
    assert_eq!(other.status, 200, "consent for the second app");
    let allowed = post_form(
        &w.url("/oauth2/authorize"),
        &[("Cookie", &cookie(&other).unwrap())],
        &[
            ("action", "consent"),
            ("form_state", &hidden(&other.body, "form_state").unwrap()),
            ("csrf", &hidden(&other.body, "csrf").unwrap()),
            ("decision", "allow"),
        ],
    );
    let code = query_param(allowed.header("location").unwrap(), "code").unwrap();
    let quiet = post_form(
        &w.url("/oauth2/token"),
        &[],
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &listening),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &"v".repeat(50)),
        ],
    );
    assert_eq!(quiet.status, 200, "{}", quiet.body);
    assert_eq!(
        claims_of(quiet.json()["id_token"].as_str().unwrap())["sid"],
        sid.as_str()
    );

    // RP-initiated logout ends the session; the answer does not wait for the app.
    let started = Instant::now();
    let out = get(
        &format!(
            "{}?{}",
            w.url("/oauth2/logout"),
            form(&[("id_token_hint", &id_token)])
        ),
        &[("Cookie", &session)],
    );
    assert_eq!(out.status, 200, "{}", out.body);
    assert!(started.elapsed() < Duration::from_secs(5));
    let got = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("a logout token within 30 s");
    let (request_line, body) = got.split_once('\n').unwrap();
    assert_eq!(request_line, "POST /bc HTTP/1.1");
    let token = form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.to_string())
        .expect("a logout_token field");
    // jose verifies it against the published keys, as the app would; a tampered copy fails.
    let mut tampered = token.clone();
    tampered.push('A');
    let cases: Vec<Value> = [("token", &token), ("tampered", &tampered)]
        .iter()
        .map(|(n, t)| json!({ "name": n, "token": t, "audience": app, "typ": "logout+jwt" }))
        .collect();
    let out = node(
        "e2e/jose-verify.mjs",
        &[
            &w.url("/.well-known/jwks.json"),
            &w.base,
            &Value::Array(cases).to_string(),
        ],
    );
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v[0]["valid"], true, "{v}");
    assert_eq!(v[0]["alg"], "ES256", "signed like the app's ID tokens");
    assert_eq!(v[1]["valid"], false, "{v}");
    let c = claims_of(&token);
    assert_eq!(c["sid"], sid.as_str());
    assert_eq!(c["sub"], claims_of(&id_token)["sub"]);
    assert_eq!(
        c["events"],
        json!({ "http://schemas.openid.net/event/backchannel-logout": {} })
    );
    assert!(c.get("nonce").is_none() && c["jti"].as_str().is_some_and(|j| !j.is_empty()));
    // One token only: the other app registered no back-channel URI.
    assert!(rx.recv_timeout(Duration::from_secs(2)).is_err());

    // "Sign out everywhere" on the account page tells the app too.
    let (again, session) = login(&w, &authorize_url(&w, &app, &[]), None);
    let code = query_param(again.header("location").unwrap(), "code").unwrap();
    let redeemed = post_form(
        &w.url("/oauth2/token"),
        &[],
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &app),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &"v".repeat(50)),
        ],
    );
    let new_sid = claims_of(redeemed.json()["id_token"].as_str().unwrap())["sid"].clone();
    let acct = get(&w.url("/account"), &[("Cookie", &session)]);
    let jar = format!("{}; {session}", cookie(&acct).unwrap());
    let bye = post_form(
        &w.url("/account"),
        &[("Cookie", &jar)],
        &[
            ("action", "everywhere"),
            ("csrf", &hidden(&acct.body, "csrf").unwrap()),
        ],
    );
    assert_eq!(bye.status, 200);
    let got = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("a second logout token");
    let body = got.split_once('\n').unwrap().1;
    let token = form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.to_string())
        .unwrap();
    assert_eq!(claims_of(&token)["sid"], new_sid);

    // RFC 7591 registration takes and returns the back-channel metadata.
    let reg = post_json(
        &w.url("/oauth2/register"),
        &[(
            "Authorization",
            &format!("Bearer {}", w.initial_access_token()),
        )],
        &json!({
            "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none",
            "backchannel_logout_uri": "https://rp.example/bc", "backchannel_logout_session_required": true,
        }),
    );
    assert_eq!(reg.status, 201, "{}", reg.body);
    assert_eq!(
        reg.json()["backchannel_logout_uri"],
        "https://rp.example/bc"
    );
    assert_eq!(reg.json()["backchannel_logout_session_required"], true);
    let refused = post_json(
        &w.url("/oauth2/register"),
        &[(
            "Authorization",
            &format!("Bearer {}", w.initial_access_token()),
        )],
        &json!({ "redirect_uris": [REDIRECT], "backchannel_logout_uri": "https://rp.example/bc#frag" }),
    );
    assert_eq!(refused.status, 400, "{}", refused.body);
}

#[test]
fn recovery_in_chromium_verifies_the_address_and_resets_the_password_once() {
    let w = Worker::start("recovery", &[("SIGNUP", "on")]);
    let admin = w.admin_auth().trim_start_matches("Bearer ").to_string();
    let out = node("e2e/recovery.mjs", &[&w.base, &admin]);
    let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    eprintln!("{v:#}");
    assert_eq!(v["ok"], true);
    assert_eq!(v["verified"], true);
    assert_eq!(v["verifyTwice"], "This link does not work", "single use");
    assert_eq!(v["sessionsBefore"], 1);
    assert_eq!(v["sameAnswer"], true, "no account enumeration");
    assert_eq!(v["resetTwice"], "This link does not work", "single use");
    assert_eq!(
        v["signedOutBefore"], true,
        "the reset ended the earlier session"
    );
    assert_eq!(v["newPasswordWorks"], true);
    // Only hashes are stored; the audit trail says what happened.
    let audit = w.audit();
    for ev in [
        "user.email_verified",
        "user.password_reset",
        "session.ended",
    ] {
        assert!(audit.iter().any(|e| e["event"] == ev), "{ev}");
    }

    // The verified address reaches the ID token and userinfo.
    let app = unique("mail");
    w.create_client(json!({
        "client_id": app, "public": true, "redirect_uris": [REDIRECT], "scopes": ["openid", "email"],
    }));
    let username = v["username"].as_str().unwrap();
    let loc = sign_in(
        &w,
        &page_url(&w, &app),
        username,
        v["password"].as_str().unwrap(),
        "allow",
    )
    .unwrap();
    let tokens = post_form(
        &w.url("/oauth2/token"),
        &[],
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &app),
            ("code", &query_param(&loc, "code").unwrap()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &"v".repeat(50)),
        ],
    );
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    let t = tokens.json();
    assert_eq!(
        claims_of(t["id_token"].as_str().unwrap())["email_verified"],
        true
    );
    let info = get(
        &w.url("/oauth2/userinfo"),
        &[(
            "Authorization",
            &format!("Bearer {}", t["access_token"].as_str().unwrap()),
        )],
    );
    assert_eq!(info.json()["email_verified"], true, "{}", info.body);
}

fn page_url(w: &Worker, app: &str) -> String {
    authorize_url(w, app, &[("scope", "openid email")])
}

#[test]
fn forgot_password_is_refused_without_csrf_and_bad_links_get_a_page() {
    let w = shared();
    let bad = get(&w.url("/reset_password?token=nope"), &[]);
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("This link does not work"));
    let verify = get(&w.url("/verify_email?token=nope"), &[]);
    assert_eq!(verify.status, 400);
    let forgot = post_form(
        &w.url("/forgot_password"),
        &[],
        &[("email", "a@example.com")],
    );
    assert_eq!(forgot.status, 403);
    let page = get(&w.url("/forgot_password"), &[]);
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
}

#[test]
fn passkeys_in_chromium_register_sign_in_and_refuse_what_they_must() {
    // WebAuthn takes no IP address as RP ID: this worker's issuer is `localhost`.
    let w = Worker::start("passkeys", &[("ISSUER", "http://localhost:{port}")]);
    let user = unique("pk");
    w.create_user(&user, PASSWORD);
    let app = unique("pkapp");
    // Chromium refuses port 9; nothing listens here: the script reads the code from the redirect.
    let redirect = "http://127.0.0.1:45678/cb";
    w.create_client(json!({
        "client_id": app, "public": true, "redirect_uris": [redirect], "scopes": ["openid"],
    }));
    let origin = w.base.replace("127.0.0.1", "localhost");
    let out = node(
        "e2e/passkeys.mjs",
        &[&origin, &user, PASSWORD, &app, redirect],
    );
    let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    eprintln!("{v:#}");
    assert_eq!(v["ok"], true);
    assert_eq!(v["passkeys"], 1);
    assert_eq!(v["discoverable"], true);
    assert_eq!(v["passkeySignIn"], true);
    assert!(
        v["sessionMethods"].as_str().unwrap().contains("hwk user"),
        "{v}"
    );
    assert_eq!(v["replay"], "wrong_challenge");
    assert_eq!(v["wrongOrigin"], "wrong_origin");
    assert_eq!(v["wrongRpId"], "wrong_rp_id");
    assert_eq!(v["counterBack"], "counter_went_back");
    assert_eq!(v["idToken"]["amr"], json!(["hwk", "user"]));
    assert_eq!(v["idToken"]["acr"], "1");
    assert!(v["idToken"]["sid"].as_str().is_some());
    assert!(w.audit().iter().any(|e| e["event"] == "passkey.added"));
}
