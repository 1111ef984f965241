//! A table of bad requests against the running worker, each with the status and error code
//! it must get (RFC 6749 section 5.2, RFC 6750, RFC 7009, RFC 7662, and the admin API).

#![cfg(not(target_arch = "wasm32"))] // drives workerd from the host
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure report

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

const REDIRECT: &str = "http://127.0.0.1:9/cb";
const PASSWORD: &str = "correct horse battery";

struct Ctx {
    w: Worker,
    conf: (String, String),
    conf2: (String, String),
    public: String,
    user: String,
    expired_code: (String, String),
    short_access: String,
    short_refresh: String,
    short_turn: String,
    short: (String, String),
    /// A public client with the device grant.
    device: String,
    /// A device code past DEVICE_CODE_TTL.
    expired_device: String,
    /// An initial access token for registration.
    initial: String,
}

/// What a case must get.
enum Expect {
    /// JSON error: status and `error`.
    Json(u16, &'static str),
    /// 303 back to the client with `error=...` in the query.
    Redirect(&'static str),
    /// An HTML error page with this status (nothing sent to an untrusted redirect URI).
    Page(u16),
    /// 200 with `{"active": false}`.
    Inactive,
}

struct Case {
    name: &'static str,
    run: Box<dyn Fn(&Ctx) -> Resp>,
    expect: Expect,
}

fn case(name: &'static str, expect: Expect, run: impl Fn(&Ctx) -> Resp + 'static) -> Case {
    Case {
        name,
        run: Box::new(run),
        expect,
    }
}

fn token(c: &Ctx, headers: &[(&str, &str)], pairs: &[(&str, &str)]) -> Resp {
    post_form(&c.w.url("/oauth2/token"), headers, pairs)
}

fn auth(id: &(String, String)) -> String {
    basic(&id.0, &id.1)
}

/// A fresh code for `client` with a known verifier: (code, verifier).
fn fresh_code(w: &Worker, client: &str, user: &str) -> (String, String) {
    code_for(
        w,
        client,
        REDIRECT,
        user,
        PASSWORD,
        &[("scope", "openid turn"), ("state", "st")],
    )
}

fn authorize_url(c: &Ctx, overrides: &[(&str, &str)]) -> String {
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", c.public.as_str()),
        ("redirect_uri", REDIRECT),
        ("state", "st"),
        (
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        ),
        ("code_challenge_method", "S256"),
    ];
    for (k, v) in overrides {
        pairs.retain(|(pk, _)| pk != k);
        if !v.is_empty() {
            pairs.push((k, v));
        }
    }
    format!("{}?{}", c.w.url("/oauth2/authorize"), form(&pairs))
}

fn refresh_for(c: &Ctx, client: &(String, String)) -> String {
    let r = token(
        c,
        &[("Authorization", &auth(client))],
        &[
            ("grant_type", "password"),
            ("username", &c.user),
            ("password", PASSWORD),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["refresh_token"].as_str().unwrap().to_string()
}

fn access_for(c: &Ctx, scope: &str) -> String {
    let r = token(
        c,
        &[("Authorization", &auth(&c.conf))],
        &[("grant_type", "client_credentials"), ("scope", scope)],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["access_token"].as_str().unwrap().to_string()
}

/// Starts a device authorization for `client`; returns the device code.
fn device_code(c: &Ctx, client: &str) -> String {
    let r = post_form(
        &c.w.url("/oauth2/device_authorization"),
        &[],
        &[("client_id", client)],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["device_code"].as_str().unwrap().to_string()
}

fn poll(c: &Ctx, code: &str) -> Resp {
    token(
        c,
        &[],
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", &c.device),
            ("device_code", code),
        ],
    )
}

/// A JWT with the given header over valid-looking claims, signed by nothing this server
/// holds (the signature is junk or made with a fixture key outside the worker's set).
fn forged(c: &Ctx, header: Value) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    let claims = json!({
        "iss": c.w.base, "sub": "u_x", "aud": c.w.base, "client_id": c.conf.0, "scope": "openid",
        "iat": 1, "exp": 9_999_999_999u64, "jti": "j", "gty": "password",
    });
    format!(
        "{}.{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string()),
        B64.encode([1u8; 64])
    )
}

/// The `kid` of the `i`th published key.
fn published_kid(c: &Ctx, i: usize) -> String {
    get(&c.w.url("/certs"), &[]).json()["keys"][i]["kid"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Userinfo with a forged token of this header.
fn userinfo_forged(c: &Ctx, header: Value) -> Resp {
    let t = forged(c, header);
    get(
        &c.w.url("/oauth2/userinfo"),
        &[("Authorization", &format!("Bearer {t}"))],
    )
}

/// GETs a page and posts its form back with `fields`, with or without its CSRF cookie, and
/// with the sealed state passed through `state` (to tamper with it).
fn page_post(
    c: &Ctx,
    path: &str,
    with_cookie: bool,
    state: impl Fn(String) -> String,
    fields: &[(&str, &str)],
) -> Resp {
    let page = get(&c.w.url(path), &[]);
    let ck = cookie(&page).unwrap();
    let headers: Vec<(&str, &str)> = if with_cookie {
        vec![("Cookie", ck.as_str())]
    } else {
        vec![]
    };
    let sealed = state(hidden(&page.body, "form_state").unwrap());
    let csrf = hidden(&page.body, "csrf").unwrap();
    let mut all = vec![("form_state", sealed.as_str()), ("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    post_form(&c.w.url(path), &headers, &all)
}

fn register(c: &Ctx, token: Option<&str>, body: &[u8]) -> Resp {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut h = vec![("Content-Type", "application/json")];
    if let Some(a) = &auth {
        h.push(("Authorization", a));
    }
    request("POST", &c.w.url("/oauth2/register"), &h, Some(body))
}

fn setup() -> Ctx {
    let w = Worker::start("errors", &[("DEVICE_CODE_TTL", "5")]);
    let mk = |prefix: &str, body: Value| {
        let id = unique(prefix);
        let mut body = body;
        body["client_id"] = json!(id);
        let v = w.create_client(body);
        (
            id,
            v["client_secret"].as_str().unwrap_or_default().to_string(),
        )
    };
    let all = json!([
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "password"
    ]);
    let conf = mk(
        "conf",
        json!({ "redirect_uris": [REDIRECT], "grant_types": all, "scopes": ["openid", "turn", "api"] }),
    );
    let conf2 = mk(
        "conf2",
        json!({ "redirect_uris": [REDIRECT], "grant_types": all, "scopes": ["openid", "turn", "api"] }),
    );
    let public = mk(
        "pub",
        json!({ "public": true, "redirect_uris": [REDIRECT], "scopes": ["openid", "turn"] }),
    )
    .0;
    let short = mk(
        "short",
        json!({ "redirect_uris": [REDIRECT], "grant_types": all, "scopes": ["openid", "turn"], "access_token_ttl": 1, "refresh_token_ttl": 1 }),
    );
    let user = unique("user");
    w.create_user(&user, PASSWORD);
    let mut c = Ctx {
        w,
        conf,
        conf2,
        public,
        user,
        expired_code: (String::new(), String::new()),
        short_access: String::new(),
        short_refresh: String::new(),
        short_turn: String::new(),
        short,
        device: String::new(),
        expired_device: String::new(),
        initial: String::new(),
    };
    c.device = unique("tv");
    c.w.create_client(json!({
        "client_id": c.device, "public": true,
        "grant_types": ["urn:ietf:params:oauth:grant-type:device_code"], "scopes": ["openid"],
    }));
    c.expired_device = device_code(&c, &c.device);
    c.initial = c.w.initial_access_token();
    // Things that must expire: a code (CODE_TTL=5 in the fixture), and the short client's
    // access, refresh and TURN tokens (1 s, plus shared-token's 5 s clock-skew grace for TURN).
    c.expired_code = fresh_code(&c.w, &c.public, &c.user);
    let r = token(
        &c,
        &[("Authorization", &auth(&c.short))],
        &[
            ("grant_type", "password"),
            ("username", &c.user),
            ("password", PASSWORD),
            ("scope", "openid"),
        ],
    );
    c.short_access = r.json()["access_token"].as_str().unwrap().to_string();
    c.short_refresh = r.json()["refresh_token"].as_str().unwrap().to_string();
    let r = token(
        &c,
        &[("Authorization", &auth(&c.short))],
        &[("grant_type", "client_credentials"), ("scope", "turn")],
    );
    c.short_turn = r.json()["access_token"].as_str().unwrap().to_string();
    std::thread::sleep(Duration::from_secs(7));
    c
}

fn cases() -> Vec<Case> {
    use Expect::*;
    vec![
        // ---- client authentication at the token endpoint
        case("wrong secret (basic)", Json(401, "invalid_client"), |c| {
            token(
                c,
                &[("Authorization", &basic(&c.conf.0, "wrong-secret"))],
                &[("grant_type", "client_credentials")],
            )
        }),
        case("wrong secret (post)", Json(401, "invalid_client"), |c| {
            token(
                c,
                &[],
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", &c.conf.0),
                    ("client_secret", "wrong-secret"),
                ],
            )
        }),
        case("unknown client", Json(401, "invalid_client"), |c| {
            token(
                c,
                &[("Authorization", &basic("no-such-client", "x"))],
                &[("grant_type", "client_credentials")],
            )
        }),
        case(
            "no client authentication",
            Json(401, "invalid_client"),
            |c| token(c, &[], &[("grant_type", "client_credentials")]),
        ),
        case(
            "public client sends a secret",
            Json(401, "invalid_client"),
            |c| {
                token(
                    c,
                    &[("Authorization", &basic(&c.public, "invented"))],
                    &[("grant_type", "refresh_token"), ("refresh_token", "rt1.x")],
                )
            },
        ),
        case(
            "confidential client without its secret",
            Json(401, "invalid_client"),
            |c| {
                token(
                    c,
                    &[],
                    &[
                        ("grant_type", "client_credentials"),
                        ("client_id", &c.conf.0),
                    ],
                )
            },
        ),
        case(
            "two client authentication methods",
            Json(400, "invalid_request"),
            |c| {
                token(
                    c,
                    &[("Authorization", &auth(&c.conf))],
                    &[
                        ("grant_type", "client_credentials"),
                        ("client_secret", &c.conf.1),
                    ],
                )
            },
        ),
        case("malformed Basic header", Json(401, "invalid_client"), |c| {
            token(
                c,
                &[("Authorization", "Basic %%%not-base64")],
                &[("grant_type", "client_credentials")],
            )
        }),
        // ---- the request itself
        case("missing grant_type", Json(400, "invalid_request"), |c| {
            token(c, &[("Authorization", &auth(&c.conf))], &[])
        }),
        case(
            "unsupported grant_type",
            Json(400, "unsupported_grant_type"),
            |c| {
                token(
                    c,
                    &[("Authorization", &auth(&c.conf))],
                    &[("grant_type", "implicit")],
                )
            },
        ),
        case(
            "grant not allowed for the client",
            Json(400, "unauthorized_client"),
            |c| {
                token(
                    c,
                    &[],
                    &[
                        ("grant_type", "client_credentials"),
                        ("client_id", &c.public),
                    ],
                )
            },
        ),
        case(
            "scope beyond the client's",
            Json(400, "invalid_scope"),
            |c| {
                token(
                    c,
                    &[("Authorization", &auth(&c.conf))],
                    &[("grant_type", "client_credentials"), ("scope", "api admin")],
                )
            },
        ),
        case("malformed scope", Json(400, "invalid_scope"), |c| {
            token(
                c,
                &[("Authorization", &auth(&c.conf))],
                &[("grant_type", "client_credentials"), ("scope", "a\"b")],
            )
        }),
        case(
            "aud names another TURN server",
            Json(400, "invalid_target"),
            |c| {
                token(
                    c,
                    &[("Authorization", &auth(&c.conf))],
                    &[
                        ("grant_type", "client_credentials"),
                        ("scope", "turn"),
                        ("aud", "evil.example"),
                    ],
                )
            },
        ),
        case("repeated parameter", Json(400, "invalid_request"), |c| {
            let body = "grant_type=client_credentials&scope=api&scope=turn";
            request(
                "POST",
                &c.w.url("/oauth2/token"),
                &[
                    ("Authorization", &auth(&c.conf)),
                    ("Content-Type", "application/x-www-form-urlencoded"),
                ],
                Some(body.as_bytes()),
            )
        }),
        case("wrong content type", Json(400, "invalid_request"), |c| {
            request(
                "POST",
                &c.w.url("/oauth2/token"),
                &[
                    ("Authorization", &auth(&c.conf)),
                    ("Content-Type", "application/json"),
                ],
                Some(br#"{"grant_type":"client_credentials"}"#),
            )
        }),
        case("no content type", Json(400, "invalid_request"), |c| {
            request(
                "POST",
                &c.w.url("/oauth2/token"),
                &[("Authorization", &auth(&c.conf))],
                Some(b"grant_type=client_credentials"),
            )
        }),
        case("body not UTF-8", Json(400, "invalid_request"), |c| {
            request(
                "POST",
                &c.w.url("/oauth2/token"),
                &[
                    ("Authorization", &auth(&c.conf)),
                    ("Content-Type", "application/x-www-form-urlencoded"),
                ],
                Some(b"grant_type=\xff\xfe"),
            )
        }),
        case(
            "malformed JSON at /token",
            Json(400, "invalid_request"),
            |c| {
                request(
                    "POST",
                    &c.w.url("/token"),
                    &[("Content-Type", "application/json")],
                    Some(b"{\"grant_type\": \"password\", "),
                )
            },
        ),
        case("JSON array at /token", Json(400, "invalid_request"), |c| {
            request(
                "POST",
                &c.w.url("/token"),
                &[("Content-Type", "application/json")],
                Some(b"[1,2]"),
            )
        }),
        case(
            "oversized body (Content-Length)",
            Json(413, "invalid_request"),
            |c| {
                let big = format!("grant_type=client_credentials&pad={}", "a".repeat(20_000));
                request(
                    "POST",
                    &c.w.url("/oauth2/token"),
                    &[
                        ("Authorization", &auth(&c.conf)),
                        ("Content-Type", "application/x-www-form-urlencoded"),
                    ],
                    Some(big.as_bytes()),
                )
            },
        ),
        case(
            "oversized body (chunked, no length)",
            Json(413, "invalid_request"),
            |c| {
                let big = format!("grant_type=client_credentials&pad={}", "a".repeat(40_000))
                    .into_bytes();
                let r = agent()
                    .post(&c.w.url("/oauth2/token"))
                    .set("Authorization", &auth(&c.conf))
                    .set("Content-Type", "application/x-www-form-urlencoded")
                    .send(std::io::Cursor::new(big));
                match r {
                    Ok(r) | Err(ureq::Error::Status(_, r)) => {
                        let status = r.status();
                        Resp {
                            status,
                            headers: vec![],
                            body: r.into_string().unwrap_or_default(),
                        }
                    }
                    Err(e) => panic!("{e}"),
                }
            },
        ),
        case(
            "GET on the token endpoint",
            Json(405, "method_not_allowed"),
            |c| get(&c.w.url("/oauth2/token"), &[]),
        ),
        case("unknown endpoint", Json(404, "not_found"), |c| {
            get(&c.w.url("/oauth2/nothing"), &[])
        }),
        // ---- authorization codes and PKCE
        case("PKCE verifier mismatch", Json(400, "invalid_grant"), |c| {
            let (code, _) = fresh_code(&c.w, &c.public, &c.user);
            token(
                c,
                &[],
                &[
                    ("grant_type", "authorization_code"),
                    ("client_id", &c.public),
                    ("code", &code),
                    ("redirect_uri", REDIRECT),
                    ("code_verifier", &"w".repeat(50)),
                ],
            )
        }),
        case("missing code_verifier", Json(400, "invalid_request"), |c| {
            let (code, _) = fresh_code(&c.w, &c.public, &c.user);
            token(
                c,
                &[],
                &[
                    ("grant_type", "authorization_code"),
                    ("client_id", &c.public),
                    ("code", &code),
                    ("redirect_uri", REDIRECT),
                ],
            )
        }),
        case(
            "redirect_uri mismatch at the token endpoint",
            Json(400, "invalid_grant"),
            |c| {
                let (code, v) = fresh_code(&c.w, &c.public, &c.user);
                token(
                    c,
                    &[],
                    &[
                        ("grant_type", "authorization_code"),
                        ("client_id", &c.public),
                        ("code", &code),
                        ("redirect_uri", "http://127.0.0.1:9/other"),
                        ("code_verifier", &v),
                    ],
                )
            },
        ),
        case(
            "code issued to another client",
            Json(400, "invalid_grant"),
            |c| {
                let (code, v) = fresh_code(&c.w, &c.public, &c.user);
                token(
                    c,
                    &[("Authorization", &auth(&c.conf))],
                    &[
                        ("grant_type", "authorization_code"),
                        ("code", &code),
                        ("redirect_uri", REDIRECT),
                        ("code_verifier", &v),
                    ],
                )
            },
        ),
        case("unknown code", Json(400, "invalid_grant"), |c| {
            token(
                c,
                &[],
                &[
                    ("grant_type", "authorization_code"),
                    ("client_id", &c.public),
                    ("code", "ac1.nope"),
                    ("redirect_uri", REDIRECT),
                    ("code_verifier", &"v".repeat(50)),
                ],
            )
        }),
        case("replayed code", Json(400, "invalid_grant"), |c| {
            let (code, v) = fresh_code(&c.w, &c.public, &c.user);
            let p = [
                ("grant_type", "authorization_code"),
                ("client_id", c.public.as_str()),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &v),
            ];
            assert_eq!(token(c, &[], &p).status, 200);
            token(c, &[], &p)
        }),
        case("expired code", Json(400, "invalid_grant"), |c| {
            let (code, v) = &c.expired_code;
            token(
                c,
                &[],
                &[
                    ("grant_type", "authorization_code"),
                    ("client_id", &c.public),
                    ("code", code),
                    ("redirect_uri", REDIRECT),
                    ("code_verifier", v),
                ],
            )
        }),
        // ---- refresh tokens
        case("reused refresh token", Json(400, "invalid_grant"), |c| {
            let rt = refresh_for(c, &c.conf);
            let p = [
                ("grant_type", "refresh_token"),
                ("refresh_token", rt.as_str()),
            ];
            assert_eq!(
                token(c, &[("Authorization", &auth(&c.conf))], &p).status,
                200
            );
            token(c, &[("Authorization", &auth(&c.conf))], &p)
        }),
        case(
            "refresh token of another client",
            Json(400, "invalid_grant"),
            |c| {
                let rt = refresh_for(c, &c.conf);
                token(
                    c,
                    &[("Authorization", &auth(&c.conf2))],
                    &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
                )
            },
        ),
        case("expired refresh token", Json(400, "invalid_grant"), |c| {
            token(
                c,
                &[("Authorization", &auth(&c.short))],
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &c.short_refresh),
                ],
            )
        }),
        case("revoked refresh token", Json(400, "invalid_grant"), |c| {
            let rt = refresh_for(c, &c.conf);
            assert_eq!(
                post_form(
                    &c.w.url("/oauth2/revoke"),
                    &[("Authorization", &auth(&c.conf))],
                    &[("token", &rt)]
                )
                .status,
                200
            );
            token(
                c,
                &[("Authorization", &auth(&c.conf))],
                &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
            )
        }),
        case(
            "refresh asking for a wider scope",
            Json(400, "invalid_scope"),
            |c| {
                let r = token(
                    c,
                    &[("Authorization", &auth(&c.conf))],
                    &[
                        ("grant_type", "password"),
                        ("username", &c.user),
                        ("password", PASSWORD),
                        ("scope", "openid"),
                    ],
                );
                let rt = r.json()["refresh_token"].as_str().unwrap().to_string();
                token(
                    c,
                    &[("Authorization", &auth(&c.conf))],
                    &[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", &rt),
                        ("scope", "openid api"),
                    ],
                )
            },
        ),
        case("missing refresh_token", Json(400, "invalid_request"), |c| {
            token(
                c,
                &[("Authorization", &auth(&c.conf))],
                &[("grant_type", "refresh_token")],
            )
        }),
        // ---- password grant
        case("wrong password", Json(400, "invalid_grant"), |c| {
            token(
                c,
                &[("Authorization", &auth(&c.conf))],
                &[
                    ("grant_type", "password"),
                    ("username", &c.user),
                    ("password", "not the password"),
                ],
            )
        }),
        case("unknown user", Json(400, "invalid_grant"), |c| {
            token(
                c,
                &[("Authorization", &auth(&c.conf))],
                &[
                    ("grant_type", "password"),
                    ("username", "nobody-here"),
                    ("password", PASSWORD),
                ],
            )
        }),
        // ---- the authorization endpoint
        case("PKCE plain refused", Redirect("invalid_request"), |c| {
            get(
                &authorize_url(c, &[("code_challenge_method", "plain")]),
                &[],
            )
        }),
        case(
            "PKCE method missing (means plain)",
            Redirect("invalid_request"),
            |c| get(&authorize_url(c, &[("code_challenge_method", "")]), &[]),
        ),
        case("no code_challenge", Redirect("invalid_request"), |c| {
            get(&authorize_url(c, &[("code_challenge", "")]), &[])
        }),
        case(
            "response_type token",
            Redirect("unsupported_response_type"),
            |c| get(&authorize_url(c, &[("response_type", "token")]), &[]),
        ),
        case(
            "scope beyond the client's at authorize",
            Redirect("invalid_scope"),
            |c| get(&authorize_url(c, &[("scope", "admin")]), &[]),
        ),
        case("unregistered redirect_uri", Page(400), |c| {
            get(
                &authorize_url(c, &[("redirect_uri", "http://127.0.0.1:9/evil")]),
                &[],
            )
        }),
        case("unknown client at authorize", Page(400), |c| {
            get(&authorize_url(c, &[("client_id", "nobody")]), &[])
        }),
        case("sign-in post without the CSRF cookie", Page(403), |c| {
            let page = get(&authorize_url(c, &[]), &[]);
            post_form(
                &c.w.url("/oauth2/authorize"),
                &[],
                &[
                    ("action", "login"),
                    ("form_state", &hidden(&page.body, "form_state").unwrap()),
                    ("csrf", &hidden(&page.body, "csrf").unwrap()),
                    ("username", &c.user),
                    ("password", PASSWORD),
                ],
            )
        }),
        case("sign-in post with a tampered form state", Page(400), |c| {
            let page = get(&authorize_url(c, &[]), &[]);
            let ck = cookie(&page).unwrap();
            let state = hidden(&page.body, "form_state")
                .unwrap()
                .replacen('e', "f", 1);
            post_form(
                &c.w.url("/oauth2/authorize"),
                &[("Cookie", &ck)],
                &[
                    ("action", "login"),
                    ("form_state", &state),
                    ("csrf", &hidden(&page.body, "csrf").unwrap()),
                    ("username", &c.user),
                    ("password", PASSWORD),
                ],
            )
        }),
        // ---- protected resources
        case(
            "userinfo without a token",
            Json(401, "invalid_token"),
            |c| get(&c.w.url("/oauth2/userinfo"), &[]),
        ),
        case(
            "userinfo with a malformed token",
            Json(401, "invalid_token"),
            |c| {
                get(
                    &c.w.url("/oauth2/userinfo"),
                    &[("Authorization", "Bearer eyJhbGciOi.not.valid")],
                )
            },
        ),
        case("expired access token", Json(401, "invalid_token"), |c| {
            get(
                &c.w.url("/oauth2/userinfo"),
                &[("Authorization", &format!("Bearer {}", c.short_access))],
            )
        }),
        case("revoked access token", Json(401, "invalid_token"), |c| {
            let at = access_for(c, "turn api");
            assert_eq!(
                post_form(
                    &c.w.url("/oauth2/revoke"),
                    &[("Authorization", &auth(&c.conf))],
                    &[("token", &at)]
                )
                .status,
                200
            );
            get(
                &c.w.url("/turn/credentials"),
                &[("Authorization", &format!("Bearer {at}"))],
            )
        }),
        case(
            "turn credentials without scope turn",
            Json(403, "insufficient_scope"),
            |c| {
                let at = access_for(c, "api");
                get(
                    &c.w.url("/turn/credentials"),
                    &[("Authorization", &format!("Bearer {at}"))],
                )
            },
        ),
        case(
            "userinfo without scope openid",
            Json(403, "insufficient_scope"),
            |c| {
                let at = access_for(c, "api");
                get(
                    &c.w.url("/oauth2/userinfo"),
                    &[("Authorization", &format!("Bearer {at}"))],
                )
            },
        ),
        // ---- introspection and revocation
        case(
            "introspection by a public client",
            Json(401, "invalid_client"),
            |c| {
                post_form(
                    &c.w.url("/oauth2/introspect"),
                    &[],
                    &[("client_id", &c.public), ("token", "x")],
                )
            },
        ),
        case(
            "introspection without a token",
            Json(400, "invalid_request"),
            |c| {
                post_form(
                    &c.w.url("/oauth2/introspect"),
                    &[("Authorization", &auth(&c.conf))],
                    &[],
                )
            },
        ),
        case("introspection of an expired TURN token", Inactive, |c| {
            post_form(
                &c.w.url("/oauth2/introspect"),
                &[("Authorization", &auth(&c.short))],
                &[("token", &c.short_turn)],
            )
        }),
        case(
            "introspection with a wrong secret",
            Json(401, "invalid_client"),
            |c| {
                post_form(
                    &c.w.url("/oauth2/introspect"),
                    &[("Authorization", &basic(&c.conf.0, "nope"))],
                    &[("token", "x")],
                )
            },
        ),
        case(
            "revoking an authorization code",
            Json(400, "unsupported_token_type"),
            |c| {
                post_form(
                    &c.w.url("/oauth2/revoke"),
                    &[("Authorization", &auth(&c.conf))],
                    &[("token", "ac1.something")],
                )
            },
        ),
        case(
            "revoking another client's token",
            Json(400, "unauthorized_client"),
            |c| {
                let at = access_for(c, "api");
                post_form(
                    &c.w.url("/oauth2/revoke"),
                    &[("Authorization", &auth(&c.conf2))],
                    &[("token", &at)],
                )
            },
        ),
        // ---- admin API
        case(
            "admin API with a wrong secret",
            Json(401, "invalid_token"),
            |c| {
                get(
                    &c.w.url("/admin/clients"),
                    &[("Authorization", "Bearer not-the-admin-secret")],
                )
            },
        ),
        case(
            "admin API without a secret",
            Json(401, "invalid_token"),
            |c| get(&c.w.url("/admin/users"), &[]),
        ),
        case(
            "admin: client with a non-loopback http redirect",
            Json(400, "invalid_request"),
            |c| {
                post_json(
                    &c.w.url("/admin/clients"),
                    &[("Authorization", &c.w.admin_auth())],
                    &json!({ "redirect_uris": ["http://evil.example/cb"] }),
                )
            },
        ),
        case(
            "admin: duplicate client id",
            Json(409, "invalid_request"),
            |c| {
                post_json(
                    &c.w.url("/admin/clients"),
                    &[("Authorization", &c.w.admin_auth())],
                    &json!({ "client_id": c.conf.0, "grant_types": ["client_credentials"] }),
                )
            },
        ),
        case("admin: unknown field", Json(400, "invalid_request"), |c| {
            post_json(
                &c.w.url("/admin/users"),
                &[("Authorization", &c.w.admin_auth())],
                &json!({ "username": "x", "password": "longenough", "role": "root" }),
            )
        }),
        case(
            "admin: a malformed right",
            Json(400, "invalid_request"),
            |c| c.w.set_rights("u_x", &["Admin Everything"]),
        ),
        case(
            "admin: rights of an unknown user",
            Json(404, "not_found"),
            |c| c.w.set_rights("u_nobody", &["api:write"]),
        ),
        // ---- OpenID Connect at the authorization endpoint
        case(
            "prompt=none without a session",
            Redirect("login_required"),
            |c| get(&authorize_url(c, &[("prompt", "none")]), &[]),
        ),
        case("prompt=none with login", Redirect("invalid_request"), |c| {
            get(&authorize_url(c, &[("prompt", "none login")]), &[])
        }),
        case(
            "implicit: response_type id_token",
            Redirect("unsupported_response_type"),
            |c| get(&authorize_url(c, &[("response_type", "id_token")]), &[]),
        ),
        case(
            "hybrid: response_type code id_token",
            Redirect("unsupported_response_type"),
            |c| {
                get(
                    &authorize_url(c, &[("response_type", "code id_token")]),
                    &[],
                )
            },
        ),
        case("a request object", Redirect("request_not_supported"), |c| {
            get(
                &authorize_url(c, &[("request", "eyJhbGciOiJub25lIn0.e30.")]),
                &[],
            )
        }),
        case(
            "a request_uri",
            Redirect("request_uri_not_supported"),
            |c| {
                get(
                    &authorize_url(c, &[("request_uri", "https://app.example/req")]),
                    &[],
                )
            },
        ),
        case("nonce too long", Redirect("invalid_request"), |c| {
            get(&authorize_url(c, &[("nonce", &"n".repeat(513))]), &[])
        }),
        case("max_age not a number", Redirect("invalid_request"), |c| {
            get(&authorize_url(c, &[("max_age", "soon")]), &[])
        }),
        // ---- signed tokens
        case(
            "access token signed by an unknown key",
            Json(401, "invalid_token"),
            |c| {
                userinfo_forged(
                    c,
                    json!({ "alg": "RS256", "kid": "not-a-key-here", "typ": "at+jwt" }),
                )
            },
        ),
        case(
            "access token with a forged signature",
            Json(401, "invalid_token"),
            |c| {
                userinfo_forged(
                    c,
                    json!({ "alg": "ES256", "kid": published_kid(c, 1), "typ": "at+jwt" }),
                )
            },
        ),
        case(
            "access token with alg none",
            Json(401, "invalid_token"),
            |c| userinfo_forged(c, json!({ "alg": "none", "kid": "x", "typ": "at+jwt" })),
        ),
        case(
            "an ID token used as an access token",
            Json(401, "invalid_token"),
            |c| {
                userinfo_forged(
                    c,
                    json!({ "alg": "RS256", "kid": published_kid(c, 0), "typ": "JWT" }),
                )
            },
        ),
        case("POST to the keys", Json(405, "method_not_allowed"), |c| {
            post_form(&c.w.url("/certs"), &[], &[])
        }),
        // ---- logout
        case(
            "logout to an unregistered post_logout_redirect_uri",
            Page(400),
            |c| {
                get(
                    &format!(
                        "{}?{}",
                        c.w.url("/oauth2/logout"),
                        form(&[
                            ("client_id", c.public.as_str()),
                            ("post_logout_redirect_uri", "http://127.0.0.1:9/evil")
                        ])
                    ),
                    &[],
                )
            },
        ),
        case("logout with a forged id_token_hint", Page(400), |c| {
            let t = forged(
                c,
                json!({ "alg": "RS256", "kid": published_kid(c, 0), "typ": "JWT" }),
            );
            get(
                &format!(
                    "{}?{}",
                    c.w.url("/oauth2/logout"),
                    form(&[("id_token_hint", &t)])
                ),
                &[],
            )
        }),
        case("logout redirect without any client", Page(400), |c| {
            get(
                &format!(
                    "{}?{}",
                    c.w.url("/oauth2/logout"),
                    form(&[("post_logout_redirect_uri", REDIRECT)])
                ),
                &[],
            )
        }),
        // ---- the device flow (RFC 8628 section 3.5)
        case(
            "device: unknown device_code",
            Json(400, "invalid_grant"),
            |c| poll(c, "dc1.nope"),
        ),
        case(
            "device: not answered yet",
            Json(400, "authorization_pending"),
            |c| {
                let code = device_code(c, &c.device);
                poll(c, &code)
            },
        ),
        case("device: polling too fast", Json(400, "slow_down"), |c| {
            let code = device_code(c, &c.device);
            assert_eq!(poll(c, &code).error(), "authorization_pending");
            poll(c, &code)
        }),
        case(
            "device: expired device code",
            Json(400, "expired_token"),
            |c| poll(c, &c.expired_device),
        ),
        case(
            "device: missing device_code",
            Json(400, "invalid_request"),
            |c| {
                token(
                    c,
                    &[],
                    &[
                        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                        ("client_id", &c.device),
                    ],
                )
            },
        ),
        case(
            "device authorization by a client without the grant",
            Json(400, "unauthorized_client"),
            |c| {
                post_form(
                    &c.w.url("/oauth2/device_authorization"),
                    &[],
                    &[("client_id", &c.public)],
                )
            },
        ),
        case("device page: a wrong user code", Page(400), |c| {
            page_post(
                c,
                "/device",
                true,
                |s| s,
                &[
                    ("action", "login"),
                    ("user_code", "BBBB-BBBB"),
                    ("username", &c.user),
                    ("password", PASSWORD),
                ],
            )
        }),
        case("device page post without the CSRF cookie", Page(403), |c| {
            page_post(c, "/device", false, |s| s, &[("action", "login")])
        }),
        // ---- dynamic client registration (RFC 7591 section 3.2.2, RFC 7592)
        case(
            "registration without an initial access token",
            Json(401, "invalid_token"),
            |c| register(c, None, br#"{"redirect_uris":["https://a.example/cb"]}"#),
        ),
        case(
            "registration with a wrong initial access token",
            Json(401, "invalid_token"),
            |c| {
                register(
                    c,
                    Some("iat1.wrong"),
                    br#"{"redirect_uris":["https://a.example/cb"]}"#,
                )
            },
        ),
        case(
            "registration of an implicit client",
            Json(400, "invalid_client_metadata"),
            |c| {
                register(
                    c,
                    Some(&c.initial),
                    br#"{"redirect_uris":["https://a.example/cb"],"response_types":["token"]}"#,
                )
            },
        ),
        case(
            "registration with an http redirect URI",
            Json(400, "invalid_redirect_uri"),
            |c| {
                register(
                    c,
                    Some(&c.initial),
                    br#"{"redirect_uris":["http://evil.example/cb"]}"#,
                )
            },
        ),
        case(
            "registration asking for the password grant",
            Json(400, "invalid_client_metadata"),
            |c| {
                register(
                    c,
                    Some(&c.initial),
                    br#"{"redirect_uris":["https://a.example/cb"],"grant_types":["password"]}"#,
                )
            },
        ),
        case(
            "registration with a scope beyond the allowed",
            Json(400, "invalid_client_metadata"),
            |c| {
                register(
                    c,
                    Some(&c.initial),
                    br#"{"redirect_uris":["https://a.example/cb"],"scope":"openid admin"}"#,
                )
            },
        ),
        case(
            "registration body not JSON",
            Json(400, "invalid_client_metadata"),
            |c| register(c, Some(&c.initial), b"redirect_uris=x"),
        ),
        case(
            "oversized registration body",
            Json(413, "invalid_request"),
            |c| {
                let big = format!(r#"{{"client_name":"{}"}}"#, "a".repeat(20_000));
                register(c, Some(&c.initial), big.as_bytes())
            },
        ),
        case(
            "client configuration with a wrong registration token",
            Json(401, "invalid_token"),
            |c| {
                let r = register(
                    c,
                    Some(&c.initial),
                    br#"{"redirect_uris":["https://a.example/cb"]}"#,
                );
                assert_eq!(r.status, 201, "{}", r.body);
                let uri = r.json()["registration_client_uri"]
                    .as_str()
                    .unwrap()
                    .to_string();
                get(&uri, &[("Authorization", "Bearer rat1.wrong")])
            },
        ),
        case(
            "client configuration of an admin-registered client",
            Json(401, "invalid_token"),
            |c| {
                get(
                    &c.w.url(&format!("/oauth2/register/{}", c.public)),
                    &[("Authorization", "Bearer rat1.anything")],
                )
            },
        ),
        // ---- pages
        case("sign-up while closed", Page(404), |c| {
            get(&c.w.url("/signup"), &[])
        }),
        case(
            "create_client post without the CSRF cookie",
            Page(403),
            |c| {
                page_post(
                    c,
                    "/create_client",
                    false,
                    |s| s,
                    &[
                        ("action", "login"),
                        ("username", &c.user),
                        ("password", PASSWORD),
                    ],
                )
            },
        ),
        case("create_client with a tampered state", Page(400), |c| {
            page_post(
                c,
                "/create_client",
                true,
                |s| s.replacen('e', "f", 1),
                &[("action", "create")],
            )
        }),
    ]
}

#[test]
fn bad_requests_get_the_right_status_and_error() {
    let ctx = setup();
    let cases = cases();
    assert!(cases.len() >= 90);
    let mut failures = Vec::new();
    for c in &cases {
        let r = (c.run)(&ctx);
        let ok = match c.expect {
            Expect::Json(status, code) => {
                let mut ok = r.status == status && r.error() == code;
                if code == "invalid_client" {
                    ok &= r
                        .header("www-authenticate")
                        .is_some_and(|h| h.starts_with("Basic"));
                }
                if code == "invalid_token" || code == "insufficient_scope" {
                    ok &= r
                        .header("www-authenticate")
                        .is_some_and(|h| h.starts_with("Bearer"));
                }
                ok && (r.headers.is_empty()
                    || r.header("content-type")
                        .is_some_and(|t| t.starts_with("application/json")))
            }
            Expect::Redirect(code) => {
                r.status == 303
                    && r.header("location").is_some_and(|l| {
                        l.starts_with(REDIRECT)
                            && query_param(l, "error").as_deref() == Some(code)
                            && query_param(l, "state").as_deref() == Some("st")
                    })
            }
            Expect::Page(status) => {
                r.status == status
                    && r.header("location").is_none()
                    && r.header("content-type")
                        .is_some_and(|t| t.starts_with("text/html"))
            }
            Expect::Inactive => r.status == 200 && r.json() == json!({ "active": false }),
        };
        eprintln!(
            "{} {:<50} -> {} {}",
            if ok { "ok  " } else { "FAIL" },
            c.name,
            r.status,
            r.error()
        );
        if !ok {
            failures.push(format!(
                "{}: got {} {:?} {}",
                c.name,
                r.status,
                r.header("location"),
                r.body.chars().take(300).collect::<String>()
            ));
        }
    }
    eprintln!("{} cases, {} failed", cases.len(), failures.len());
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
    // The worker never panicked (a panic would abort the wasm instance and log it).
    let log = ctx.w.log();
    assert!(
        !log.contains("panicked") && !log.contains("RuntimeError"),
        "worker log shows a panic:\n{log}"
    );
}
