//! The control plane at the edge, over HTTP against the built worker in local workerd with
//! D1: relays as OAuth clients with the `relay` scope, heartbeats and the nearest healthy
//! relays in `/turn/credentials`, usage batches applied exactly once, the revocation feed's
//! long poll, and the errors of each. The whole system (relay-native processes with the
//! worker) is tested in relay-native/tests/control.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure report

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use shared_token::TokenId;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn worker() -> &'static Worker {
    static W: std::sync::OnceLock<Worker> = std::sync::OnceLock::new();
    W.get_or_init(|| {
        Worker::start(
            "control",
            &[
                ("DEV_CALLER_LOCATION", "1"),
                ("RELAY_STALE_AFTER", "3"),
                ("RELAY_LIST_CACHE_TTL", "0"),
                ("REVOCATION_POLL_MS", "200"),
            ],
        )
    })
}

/// A relay's client and a bearer token for it.
fn relay_client(w: &Worker) -> (String, String) {
    let id = unique("relay");
    let c = w.create_client(
        json!({ "client_id": id, "grant_types": ["client_credentials"], "scopes": ["relay"] }),
    );
    let secret = c["client_secret"].as_str().unwrap().to_string();
    (id.clone(), token(w, &id, &secret, "relay"))
}

fn token(w: &Worker, id: &str, secret: &str, scope: &str) -> String {
    let r = post_form(
        &w.url("/oauth2/token"),
        &[("Authorization", &basic(id, secret))],
        &[("grant_type", "client_credentials"), ("scope", scope)],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["access_token"].as_str().unwrap().to_string()
}

fn bearer(t: &str) -> String {
    format!("Bearer {t}")
}

fn heartbeat(
    w: &Worker,
    tok: &str,
    relay_id: &str,
    at: Option<(f64, f64)>,
    load: f64,
    draining: bool,
) -> Resp {
    post_json(
        &w.url("/relay/heartbeat"),
        &[("Authorization", &bearer(tok))],
        &json!({
            "relay_id": relay_id,
            "urls": [format!("turn:{relay_id}.example:3478?transport=udp")],
            "region": "test",
            "latitude": at.map(|a| a.0),
            "longitude": at.map(|a| a.1),
            "allocations": (load * 100.0) as u64,
            "capacity": 100,
            "load": load,
            "draining": draining,
            "version": "test",
            "revocation_cursor": 0,
            "usage_backlog": 0,
            "usage_dropped": 0,
        }),
    )
}

/// A person's bearer token with `openid turn` (password grant) and their user id.
fn person(w: &Worker) -> (String, String) {
    let (bearer, user_id, _) = w.person_with_app();
    (bearer, user_id)
}

/// The relay ids named by `/turn/credentials` for a caller at `at`, in order.
fn named(w: &Worker, person: &str, at: &str) -> Vec<String> {
    let r = get(
        &w.url("/turn/credentials"),
        &[
            ("Authorization", &bearer(person)),
            ("X-Dev-Caller-Location", at),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["iceServers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s.get("username").is_some())
        .map(|s| {
            let u = s["urls"][0].as_str().unwrap();
            u.trim_start_matches("turn:")
                .split('.')
                .next()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn only_relay_clients_reach_the_relay_endpoints() {
    let w = worker();
    let (_, tok) = relay_client(w);
    let beat = heartbeat(w, &tok, &unique("r"), None, 0.0, false);
    assert_eq!(beat.status, 200);
    // Not drained from the console: the reply asks nothing of the relay.
    assert_eq!(beat.json()["drain"], false, "{}", beat.json());
    // No token, a bad token: 401 with a Bearer challenge.
    for auth in [None, Some("Bearer nope")] {
        let h: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
        let r = get(&w.url("/relay/revocations"), &h);
        assert_eq!(
            (r.status, r.error().as_str()),
            (401, "invalid_token"),
            "{}",
            r.body
        );
        assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    }
    // A person's token, an API client's token: 403 insufficient_scope.
    let (p, _) = person(w);
    let api = unique("api");
    let c = w.create_client(
        json!({ "client_id": api, "grant_types": ["client_credentials"], "scopes": ["api"] }),
    );
    let api_tok = token(w, &api, c["client_secret"].as_str().unwrap(), "api");
    for t in [&p, &api_tok] {
        for (m, path) in [
            ("GET", "/relay/revocations"),
            ("POST", "/relay/heartbeat"),
            ("POST", "/relay/usage"),
        ] {
            let r = request(
                m,
                &w.url(path),
                &[("Authorization", &bearer(t))],
                Some(b"{}"),
            );
            assert_eq!(
                (r.status, r.error().as_str()),
                (403, "insufficient_scope"),
                "{m} {path}: {}",
                r.body
            );
        }
    }
    // The relay scope goes only to a confidential client_credentials-only client.
    for bad in [
        json!({ "public": true, "grant_types": ["password"], "scopes": ["relay"] }),
        json!({ "grant_types": ["client_credentials"], "scopes": ["relay", "turn"] }),
        json!({ "grant_types": ["client_credentials", "password"], "scopes": ["relay"] }),
        json!({ "redirect_uris": ["http://127.0.0.1:9/cb"], "scopes": ["relay"] }),
    ] {
        let r = post_json(
            &w.url("/admin/clients"),
            &[("Authorization", &w.admin_auth())],
            &bad,
        );
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
    }
    // Wrong methods.
    assert_eq!(
        post_json(&w.url("/relay/revocations"), &[], &json!({})).status,
        405
    );
    assert_eq!(get(&w.url("/relay/heartbeat"), &[]).status, 405);
}

#[test]
fn heartbeats_place_relays_and_callers_get_the_nearest_healthy_ones() {
    let w = worker();
    let (_, t1) = relay_client(w);
    let (_, t2) = relay_client(w);
    let (_, t3) = relay_client(w);
    let tag = unique("x").replace('-', "");
    let (fra, par, iad) = (
        format!("fra{tag}"),
        format!("par{tag}"),
        format!("iad{tag}"),
    );
    let beat = |draining_par: bool| {
        assert_eq!(
            heartbeat(w, &t1, &fra, Some((50.11, 8.68)), 0.9, false).status,
            200
        );
        assert_eq!(
            heartbeat(w, &t2, &par, Some((48.86, 2.35)), 0.1, draining_par).status,
            200
        );
        assert_eq!(
            heartbeat(w, &t3, &iad, Some((38.95, -77.45)), 0.0, false).status,
            200
        );
    };
    beat(false);
    let (p, _) = person(w);
    let ours = |at: &str| -> Vec<String> {
        named(w, &p, at)
            .into_iter()
            .filter(|id| id.ends_with(&tag))
            .collect()
    };
    // Frankfurt: Paris is as near (one band) and less loaded; then Frankfurt; then Virginia.
    assert_eq!(ours("50.11,8.68"), [par.clone(), fra.clone(), iad.clone()]);
    // Washington: Virginia first.
    assert_eq!(ours("38.9,-77.0").first(), Some(&iad));
    // A draining relay is not handed out.
    beat(true);
    assert_eq!(ours("50.11,8.68"), [fra.clone(), iad.clone()]);
    // Another relay client cannot take a relay's id.
    let r = heartbeat(w, &t1, &par, None, 0.0, false);
    assert_eq!(
        (r.status, r.error().as_str()),
        (409, "invalid_request"),
        "{}",
        r.body
    );
    // The admin sees every relay and whether it is handed out.
    let relays = |w: &Worker| -> Vec<Value> {
        let r = get(
            &w.url("/admin/relays"),
            &[("Authorization", &w.admin_auth())],
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["relays"].as_array().unwrap().clone()
    };
    let row = |id: &str| relays(w).into_iter().find(|r| r["relay_id"] == id).unwrap();
    assert_eq!(
        (
            row(&fra)["healthy"].as_bool(),
            row(&par)["healthy"].as_bool()
        ),
        (Some(true), Some(false))
    );
    assert_eq!(row(&par)["draining"], true);
    assert_eq!(
        row(&fra)["urls"][0],
        format!("turn:{fra}.example:3478?transport=udp")
    );
    assert_eq!(get(&w.url("/admin/relays"), &[]).status, 401);
    // Relays that stop heartbeating drop out within the staleness window (3 s here).
    std::thread::sleep(Duration::from_millis(4200));
    assert!(ours("50.11,8.68").is_empty());
    assert_eq!(row(&iad)["healthy"], false);
    // Bad heartbeats.
    let (_, t) = relay_client(w);
    for bad in [
        json!({}),
        json!({ "relay_id": "a b", "urls": ["turn:x"], "allocations": 0, "capacity": 1, "load": 0.0 }),
        json!({ "relay_id": "ok", "urls": ["https://x"], "allocations": 0, "capacity": 1, "load": 0.0 }),
        json!({ "relay_id": "ok", "urls": ["turn:x"], "allocations": 0, "capacity": 1, "load": 0.0, "latitude": 100.0, "longitude": 0.0 }),
    ] {
        let r = post_json(
            &w.url("/relay/heartbeat"),
            &[("Authorization", &bearer(&t))],
            &bad,
        );
        assert_eq!(
            (r.status, r.error().as_str()),
            (400, "invalid_request"),
            "{bad}: {}",
            r.body
        );
    }
}

fn record(seq: u64, token_id: &str, first: bool, bytes: u64) -> Value {
    json!({
        "seq": seq, "token_id": token_id, "transport": "udp", "start": now() - 10, "end": null,
        "at": now(), "first": first, "to_peer_packets": 1, "to_peer_bytes": bytes,
        "to_client_packets": 2, "to_client_bytes": 2 * bytes,
    })
}

fn post_usage(w: &Worker, tok: &str, relay: &str, epoch: &str, records: Vec<Value>) -> Resp {
    post_json(
        &w.url("/relay/usage"),
        &[("Authorization", &bearer(tok))],
        &json!({ "relay_id": relay, "epoch": epoch, "records": records }),
    )
}

fn token_usage(w: &Worker, token_id: &str) -> Value {
    let r = get(
        &w.url("/admin/usage?by=token,transport"),
        &[("Authorization", &w.admin_auth())],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["token_id"] == token_id)
        .cloned()
        .unwrap_or(Value::Null)
}

#[test]
fn usage_batches_count_exactly_once() {
    let w = worker();
    let (relay, tok) = relay_client(w);
    let tid = TokenId::of(unique("token").as_bytes()).to_string();
    let batch = vec![record(1, &tid, true, 100), record(2, &tid, false, 50)];
    let r = post_usage(w, &tok, &relay, "epoch-a", batch.clone());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["applied_through"], 2);
    assert!(r.json()["d1"]["rows_written"].as_u64().unwrap() > 0);
    // The same batch again (its answer was lost): nothing more.
    let r = post_usage(w, &tok, &relay, "epoch-a", batch);
    assert_eq!(
        (r.status, r.json()["applied_through"].as_u64()),
        (200, Some(2))
    );
    // Overlapping: only record 3 is new.
    let r = post_usage(
        w,
        &tok,
        &relay,
        "epoch-a",
        vec![record(2, &tid, false, 50), record(3, &tid, false, 1)],
    );
    assert_eq!(r.json()["applied_through"], 3);
    let u = token_usage(w, &tid);
    assert_eq!(
        (
            u["allocations"].as_u64(),
            u["to_peer_bytes"].as_u64(),
            u["to_client_bytes"].as_u64(),
            u["to_peer_packets"].as_u64()
        ),
        (Some(1), Some(151), Some(302), Some(3)),
        "{u}"
    );
    // A new epoch (the relay's state was wiped) starts its own count.
    let r = post_usage(
        w,
        &tok,
        &relay,
        "epoch-b",
        vec![record(1, &tid, true, 1000)],
    );
    assert_eq!(r.json()["applied_through"], 1);
    assert_eq!(token_usage(w, &tid)["to_peer_bytes"], 1151);
    // Eight copies of one batch at once add once.
    let tid2 = TokenId::of(unique("token").as_bytes()).to_string();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (tok, relay, tid2) = (tok.clone(), relay.clone(), tid2.clone());
            std::thread::spawn(move || {
                post_usage(
                    worker(),
                    &tok,
                    &relay,
                    "epoch-c",
                    vec![record(1, &tid2, true, 7)],
                )
                .status
            })
        })
        .collect();
    let statuses: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 409),
        "{statuses:?}"
    );
    assert_eq!(token_usage(w, &tid2)["to_peer_bytes"], 7, "{statuses:?}");
    // Bad batches.
    for (bad, why) in [
        (json!({}), "fields"),
        (
            json!({ "relay_id": relay, "epoch": "e", "records": [record(2, &tid, false, 1), record(1, &tid, false, 1)] }),
            "order",
        ),
        (
            json!({ "relay_id": relay, "epoch": "e", "records": [record(1, "not-a-token-id", false, 1)] }),
            "token id",
        ),
        (
            json!({ "relay_id": relay, "epoch": "e;", "records": [] }),
            "epoch",
        ),
    ] {
        let r = post_json(
            &w.url("/relay/usage"),
            &[("Authorization", &bearer(&tok))],
            &bad,
        );
        assert_eq!(
            (r.status, r.error().as_str()),
            (400, "invalid_request"),
            "{why}: {}",
            r.body
        );
    }
    // The admin report needs the admin secret, and good parameters.
    assert_eq!(get(&w.url("/admin/usage"), &[]).status, 401);
    for q in ["by=user;drop", "from=yesterday", "limit=0"] {
        let r = get(
            &w.url(&format!("/admin/usage?{q}")),
            &[("Authorization", &w.admin_auth())],
        );
        assert_eq!(r.status, 400, "{q}: {}", r.body);
    }
}

#[test]
fn the_feed_is_a_long_poll() {
    let w = worker();
    let (_, tok) = relay_client(w);
    let t = Instant::now();
    let r = get(
        &w.url("/relay/revocations?cursor=0&wait=2"),
        &[("Authorization", &bearer(&tok))],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert!(v["revocations"].is_array() && v["cursor"].is_u64(), "{v}");
    // Nothing revoked in this test's worker yet: it waited (about) the time asked.
    if v["revocations"].as_array().unwrap().is_empty() {
        assert!(
            t.elapsed() >= Duration::from_millis(1500),
            "{:?}",
            t.elapsed()
        );
    }
    // A cursor from another database comes back to this feed's head.
    let r = get(
        &w.url("/relay/revocations?cursor=999999"),
        &[("Authorization", &bearer(&tok))],
    );
    assert!(r.json()["cursor"].as_u64().unwrap() < 999_999, "{}", r.body);
    for q in ["cursor=-1", "cursor=x", "wait=1.5"] {
        let r = get(
            &w.url(&format!("/relay/revocations?{q}")),
            &[("Authorization", &bearer(&tok))],
        );
        assert_eq!(
            (r.status, r.error().as_str()),
            (400, "invalid_request"),
            "{q}"
        );
    }
}

/// Every token id in the feed past `cursor` (following `more`), and the new cursor.
fn feed_from(w: &Worker, tok: &str, mut cursor: u64) -> (Vec<String>, u64) {
    let mut ids = vec![];
    loop {
        let r = get(
            &w.url(&format!("/relay/revocations?cursor={cursor}")),
            &[("Authorization", &bearer(tok))],
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        ids.extend(
            v["revocations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["token_id"].as_str().unwrap().to_string()),
        );
        cursor = v["cursor"].as_u64().unwrap();
        if !v["more"].as_bool().unwrap() {
            return (ids, cursor);
        }
    }
}

/// The client a token was issued to, from the audit trail.
fn issued_to(w: &Worker, token_id: &str) -> String {
    w.audit()
        .iter()
        .find(|e| e["token_id"] == token_id)
        .and_then(|e| e["client_id"].as_str().map(str::to_string))
        .unwrap()
}

/// A browser credential from `/turn/credentials`: (username, token id).
fn credential(w: &Worker, person: &str) -> (String, String) {
    let r = get(
        &w.url("/turn/credentials"),
        &[("Authorization", &bearer(person))],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let user = v["iceServers"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|s| s["username"].as_str())
        .unwrap()
        .to_string();
    (user, v["tokenId"].as_str().unwrap().to_string())
}

/// A TURN token from the token endpoint (client_credentials, scope turn): (base64, token id).
fn turn_token(w: &Worker, id: &str, secret: &str) -> (String, String) {
    let r = post_form(
        &w.url("/oauth2/token"),
        &[("Authorization", &basic(id, secret))],
        &[("grant_type", "client_credentials"), ("scope", "turn")],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let t = r.json()["access_token"].as_str().unwrap().to_string();
    let raw = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &t).unwrap();
    (t, TokenId::of(&raw).to_string())
}

#[test]
fn every_revocation_of_a_turn_token_reaches_the_feed() {
    let w = worker();
    let (_, relay) = relay_client(w);
    let (_, mut cursor) = feed_from(w, &relay, 0);
    let expect = |what: &str, ids: &[&String], cursor: &mut u64| {
        let (got, next) = feed_from(w, &relay, *cursor);
        for id in ids {
            assert!(got.contains(id), "{what}: {id} not in the feed: {got:?}");
        }
        *cursor = next;
    };

    // RFC 7009 revocation of a TURN token and of a browser credential.
    let app = unique("svc");
    let c = w.create_client(
        json!({ "client_id": app, "grant_types": ["client_credentials"], "scopes": ["turn"] }),
    );
    let secret = c["client_secret"].as_str().unwrap().to_string();
    let (tok, tok_id) = turn_token(w, &app, &secret);
    let r = post_form(
        &w.url("/oauth2/revoke"),
        &[("Authorization", &basic(&app, &secret))],
        &[("token", &tok)],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    expect("RFC 7009, TURN token", &[&tok_id], &mut cursor);

    let (p, user_id) = person(w);
    let (username, cred_id) = credential(w, &p);
    // The person's app (the public client the password grant used) revokes it.
    let client = issued_to(w, &cred_id);
    let r = post_form(
        &w.url("/oauth2/revoke"),
        &[],
        &[("token", &username), ("client_id", &client)],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    expect("RFC 7009, browser credential", &[&cred_id], &mut cursor);
    // Revoking it again adds nothing.
    post_form(
        &w.url("/oauth2/revoke"),
        &[],
        &[("token", &username), ("client_id", &client)],
    );
    assert!(feed_from(w, &relay, cursor).0.is_empty());

    // "Revoke everything of user X": their other credentials.
    let (_, a) = credential(w, &p);
    let (_, b) = credential(w, &p);
    let r = post_json(
        &w.url(&format!("/admin/users/{user_id}/revoke")),
        &[("Authorization", &w.admin_auth())],
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()["turn_tokens"].as_u64().unwrap() >= 2, "{}", r.body);
    expect("revoke everything of a user", &[&a, &b], &mut cursor);
    // Their bearer token is revoked too (its family is).
    assert_eq!(
        get(
            &w.url("/turn/credentials"),
            &[("Authorization", &bearer(&p))]
        )
        .status,
        401
    );
    let r = post_json(
        &w.url("/admin/users/u_nobody/revoke"),
        &[("Authorization", &w.admin_auth())],
        &json!({}),
    );
    assert_eq!(r.status, 404);
    assert_eq!(
        post_json(
            &w.url(&format!("/admin/users/{user_id}/revoke")),
            &[],
            &json!({})
        )
        .status,
        401
    );

    // Deleting a user.
    let (p2, user2) = person(w);
    let (_, d) = credential(w, &p2);
    let r = request(
        "DELETE",
        &w.url(&format!("/admin/users/{user2}")),
        &[("Authorization", &w.admin_auth())],
        None,
    );
    assert_eq!(r.status, 204, "{}", r.body);
    expect("user deleted", &[&d], &mut cursor);

    // Deleting a client: its client_credentials TURN tokens (no family).
    let (_, e) = turn_token(w, &app, &secret);
    let r = request(
        "DELETE",
        &w.url(&format!("/admin/clients/{app}")),
        &[("Authorization", &w.admin_auth())],
        None,
    );
    assert_eq!(r.status, 204, "{}", r.body);
    expect("client deleted", &[&e], &mut cursor);

    // Signing out (RP-initiated logout with the ID token): the browser credentials the app
    // got for that person.
    let (tokens, rp) = signed_in_with_openid(w);
    let (_, f) = credential(w, tokens["access_token"].as_str().unwrap());
    let r = get(
        &format!(
            "{}?{}",
            w.url("/oauth2/logout"),
            form(&[("id_token_hint", tokens["id_token"].as_str().unwrap())])
        ),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    expect("logout", &[&f], &mut cursor);
    // A logout without a hint revokes nothing, so adds nothing.
    let r = get(
        &format!(
            "{}?{}",
            w.url("/oauth2/logout"),
            form(&[("client_id", &rp)])
        ),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(feed_from(w, &relay, cursor).0.is_empty());
}

/// A person signed in through the pages (code + PKCE, scope `openid turn`) at a new public
/// client: the token response, and the client id.
fn signed_in_with_openid(w: &Worker) -> (Value, String) {
    const REDIRECT: &str = "http://127.0.0.1:9/cb";
    let rp = unique("rp");
    w.create_client(json!({
        "client_id": rp, "public": true, "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code"], "scopes": ["openid", "turn"],
    }));
    let user = unique("signer");
    w.create_user(&user, "correct horse battery");
    let (code, verifier) = code_for(
        w,
        &rp,
        REDIRECT,
        &user,
        "correct horse battery",
        &[("scope", "openid turn"), ("nonce", "n-1")],
    );
    let r = post_form(
        &w.url("/oauth2/token"),
        &[],
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &rp),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    (r.json(), rp)
}

#[test]
fn usage_joins_to_the_client_and_user_of_the_token() {
    let w = worker();
    let (relay, tok) = relay_client(w);
    let (p, user_id) = person(w);
    let (_, cred_id) = credential(w, &p);
    let client = issued_to(w, &cred_id);
    let r = post_usage(
        w,
        &tok,
        &relay,
        "join",
        vec![record(1, &cred_id, true, 40), record(2, &cred_id, false, 2)],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = get(
        &w.url(&format!("/admin/usage?by=user,client&user_id={user_id}")),
        &[("Authorization", &w.admin_auth())],
    );
    let v = r.json();
    assert_eq!(v["rows"].as_array().unwrap().len(), 1, "{v}");
    let row = &v["rows"][0];
    assert_eq!(
        (row["user_id"].as_str(), row["client_id"].as_str()),
        (Some(user_id.as_str()), Some(client.as_str()))
    );
    assert_eq!(
        (
            row["to_peer_bytes"].as_u64(),
            row["to_client_bytes"].as_u64(),
            row["allocations"].as_u64()
        ),
        (Some(42), Some(84), Some(1))
    );
    assert_eq!(v["total"]["to_peer_bytes"], 42);
    // By client, the same.
    let r = get(
        &w.url(&format!("/admin/usage?by=client&client_id={client}")),
        &[("Authorization", &w.admin_auth())],
    );
    assert_eq!(r.json()["total"]["to_client_packets"], 4);
    // The person sees their own, by day and client.
    let r = get(&w.url("/turn/usage"), &[("Authorization", &bearer(&p))]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["total"]["to_peer_bytes"], 42);
    assert_eq!(r.json()["rows"][0]["client_id"], client.as_str());
    // Someone else sees nothing of it; a client_credentials token has no person.
    let (other, _) = person(w);
    assert_eq!(
        get(&w.url("/turn/usage"), &[("Authorization", &bearer(&other))]).json()["total"]["to_peer_bytes"],
        0
    );
    assert_eq!(
        get(&w.url("/turn/usage"), &[("Authorization", &bearer(&tok))]).status,
        403
    );
    assert_eq!(get(&w.url("/turn/usage"), &[]).status, 401);
}
