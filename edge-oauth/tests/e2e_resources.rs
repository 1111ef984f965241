//! Tokens for many resource servers (docs/edge-oauth.md, "Resource servers and agents"):
//! resource-verifier's example server run twice, as two resource servers with their own
//! identifiers and protected resource metadata, and clients that find the edge from a 401
//! (RFC 9728), ask for a token for one resource (RFC 8707) and see the other refuse it.

#![cfg(not(target_arch = "wasm32"))] // drives workerd from the host
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure report

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use common::*;
use serde_json::{Value, json};

const REDIRECT: &str = "http://127.0.0.1:9/cb";
const PASSWORD: &str = "correct horse battery";

/// Builds resource-verifier's example resource server; returns its path.
fn build_example() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(&cargo)
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
    std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join("target"))
        .join("debug/examples/protected")
}

/// One running example resource server; killed when dropped (also when a test fails).
struct ResourceServer {
    child: Child,
    /// Its resource identifier, which is also its protected URL: `http://ADDR/hello`.
    resource: String,
}

impl ResourceServer {
    fn start(example: &std::path::Path, w: &Worker, scope: &str) -> ResourceServer {
        let addr = format!("127.0.0.1:{}", free_port());
        let resource = format!("http://{addr}/hello");
        let child = Command::new(example)
            .args([w.base.as_str(), &resource, &addr, scope])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = ResourceServer { child, resource };
        for _ in 0..100 {
            if std::net::TcpStream::connect(&addr).is_ok() {
                return server;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("the example resource server did not listen on {addr}");
    }
}

impl Drop for ResourceServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn openid_client_gets_a_token_for_one_resource_that_another_refuses() {
    let example = build_example();
    let w = Worker::start("resources", &[]);
    let a = ResourceServer::start(&example, &w, "api");
    let b = ResourceServer::start(&example, &w, "api");
    let id = unique("agent");
    let created = w.create_client(json!({
        "client_id": id, "public": true, "redirect_uris": [REDIRECT],
        "scopes": ["openid", "api"], "resources": [a.resource, b.resource],
    }));
    assert_eq!(created["resources"].as_array().map(Vec::len), Some(2));
    let user = unique("user");
    w.create_user(&user, PASSWORD);
    let config = json!({
        "resourceA": a.resource, "resourceB": b.resource, "clientId": id,
        "redirectUri": REDIRECT, "username": user, "password": PASSWORD,
    });
    let out = node("e2e/resource-client.mjs", &[&config.to_string()]);
    let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    eprintln!("{v:#}");
    assert_eq!(v["ok"], true, "{v:#}");
    // RFC 9728: the metadata names the edge, found from the 401.
    assert_eq!(v["metadata"]["authorization_servers"], json!([w.base]));
    assert_eq!(v["discovery"]["resourceIndicators"], true);
    // RFC 8707: the token is for A only.
    assert_eq!(v["aud"], a.resource.as_str());
    assert_eq!(v["atA"]["status"], 200, "{}", v["atA"]["body"]);
    assert_eq!(v["atB"]["status"], 401);
    let challenge = v["atB"]["challenge"].as_str().unwrap();
    assert!(challenge.contains("invalid_token"), "{challenge}");
    assert!(
        challenge.contains(&format!(
            "resource_metadata=\"{}\"",
            b.resource
                .replace("/hello", "/.well-known/oauth-protected-resource/hello")
        )),
        "{challenge}"
    );
    // A refresh may not widen the grant to B.
    assert_eq!(v["widen"], "invalid_target");
    assert_eq!(v["refreshedAtA"], 200);
}

#[test]
fn resources_on_client_credentials_and_the_edge_s_own_endpoints() {
    let w = Worker::start("resources-cc", &[]);
    let api = "https://api.example/v1";
    let id = unique("svc");
    let v = w.create_client(json!({
        "client_id": id, "grant_types": ["client_credentials"], "scopes": ["api", "turn"],
        "resources": [api],
    }));
    let secret = v["client_secret"].as_str().unwrap().to_string();
    let token = |extra: &[(&str, &str)]| {
        let mut form = vec![("grant_type", "client_credentials")];
        form.extend_from_slice(extra);
        post_form(
            &w.url("/oauth2/token"),
            &[("Authorization", &basic(&id, &secret))],
            &form,
        )
    };
    let claims = |r: &Resp| -> Value {
        let t = r.json()["access_token"].as_str().unwrap().to_string();
        let p = t.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, p).unwrap(),
        )
        .unwrap()
    };
    // The registered resource, twice (the parameter may repeat) with the issuer.
    let both = token(&[("scope", "api"), ("resource", api), ("resource", &w.base)]);
    assert_eq!(both.status, 200, "{}", both.body);
    let mut aud: Vec<String> = serde_json::from_value(claims(&both)["aud"].clone()).unwrap();
    aud.sort();
    let mut want = vec![api.to_string(), w.base.clone()];
    want.sort();
    assert_eq!(aud, want);
    // A relative URI, a fragment, an unregistered resource: invalid_target.
    for bad in ["/v1", "https://api.example/v1#x", "https://other.example/"] {
        let r = token(&[("resource", bad)]);
        assert_eq!(
            (r.status, r.error().as_str()),
            (400, "invalid_target"),
            "{bad}"
        );
    }
    // A TURN token is for the TURN service only.
    let r = token(&[("scope", "turn"), ("resource", api)]);
    assert_eq!((r.status, r.error().as_str()), (400, "invalid_target"));
    // A token for the API is not accepted by the edge's own endpoints.
    let for_api = token(&[("scope", "api"), ("resource", api)]);
    assert_eq!(claims(&for_api)["aud"], api);
    let at = for_api.json()["access_token"].as_str().unwrap().to_string();
    let turn = post_form(
        &w.url("/turn/credentials"),
        &[("Authorization", &format!("Bearer {at}"))],
        &[],
    );
    assert_eq!(turn.status, 401, "{}", turn.body);
    // The same client's token for the edge itself (no resource named) is.
    let own = token(&[("scope", "api turn")]);
    assert_eq!(claims(&own)["aud"], w.base.as_str());
    let own = own.json()["access_token"].as_str().unwrap().to_string();
    let turn = post_form(
        &w.url("/turn/credentials"),
        &[("Authorization", &format!("Bearer {own}"))],
        &[],
    );
    assert_eq!(turn.status, 200, "{}", turn.body);
    // Introspection still answers for it (any audience of this issuer).
    let intro = post_form(
        &w.url("/oauth2/introspect"),
        &[("Authorization", &basic(&id, &secret))],
        &[("token", &at)],
    );
    assert_eq!(intro.json()["active"], true, "{}", intro.body);
    assert_eq!(intro.json()["aud"], api);
}

/// A DPoP key (P-256) and the proofs it makes.
struct DpopKey(p256::ecdsa::SigningKey);

impl DpopKey {
    fn new(seed: u8) -> DpopKey {
        DpopKey(p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap())
    }

    /// A proof for `method url`, for `token` when given (`ath`), with the server `nonce`.
    fn proof(&self, method: &str, url: &str, token: Option<&str>, nonce: Option<&str>) -> String {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
        use p256::ecdsa::signature::Signer;
        use sha2::Digest;
        let p = self.0.verifying_key().to_encoded_point(false);
        let header = json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": {
            "kty": "EC", "crv": "P-256", "x": B64.encode(p.x().unwrap()), "y": B64.encode(p.y().unwrap()) } });
        let mut claims = json!({
            "jti": unique("jti"), "htm": method, "htu": url,
            "iat": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
        });
        if let Some(t) = token {
            claims["ath"] = json!(B64.encode(sha2::Sha256::digest(t.as_bytes())));
        }
        if let Some(n) = nonce {
            claims["nonce"] = json!(n);
        }
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let sig: p256::ecdsa::Signature = self.0.sign(input.as_bytes());
        format!("{input}.{}", B64.encode(sig.to_bytes()))
    }
}

#[test]
fn dpop_bound_tokens_work_only_with_their_key_and_a_stolen_refresh_token_is_useless() {
    let example = build_example();
    let w = Worker::start("dpop", &[("DPOP_NONCE", "required")]);
    let rs = ResourceServer::start(&example, &w, "api");
    let id = unique("agent");
    w.create_client(json!({
        "client_id": id, "public": true, "redirect_uris": [REDIRECT],
        "scopes": ["openid", "api"], "resources": [rs.resource],
    }));
    let user = unique("user");
    w.create_user(&user, PASSWORD);
    let (code, verifier) = code_for(
        &w,
        &id,
        REDIRECT,
        &user,
        PASSWORD,
        &[("scope", "api"), ("resource", &rs.resource)],
    );
    let token_url = w.url("/oauth2/token");
    let key = DpopKey::new(11);
    let thief = DpopKey::new(12);
    let exchange = |proof: &str| {
        post_form(
            &token_url,
            &[("DPoP", proof)],
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &verifier),
                ("client_id", &id),
            ],
        )
    };
    // The server nonce (RFC 9449 section 8): first refused with one to use.
    let first = exchange(&key.proof("POST", &token_url, None, None));
    assert_eq!(
        (first.status, first.error().as_str()),
        (400, "use_dpop_nonce")
    );
    let nonce = first.header("dpop-nonce").expect("DPoP-Nonce").to_string();
    // A proof for another URL is refused before anything is spent.
    let wrong = exchange(&key.proof("POST", &w.url("/elsewhere"), None, Some(&nonce)));
    assert_eq!(
        (wrong.status, wrong.error().as_str()),
        (400, "invalid_dpop_proof")
    );
    let r = exchange(&key.proof("POST", &token_url, None, Some(&nonce)));
    assert_eq!(r.status, 200, "{}", r.body);
    let body = r.json();
    assert_eq!(body["token_type"], "DPoP");
    let at = body["access_token"].as_str().unwrap().to_string();
    let rt = body["refresh_token"].as_str().unwrap().to_string();

    // At the example resource server.
    let call = |auth: &str, proof: Option<&str>| {
        let mut h = vec![("Authorization", auth.to_string())];
        if let Some(p) = proof {
            h.push(("DPoP", p.to_string()));
        }
        let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
        get(&rs.resource, &h)
    };
    let dpop_auth = format!("DPoP {at}");
    let proof = key.proof("GET", &rs.resource, Some(&at), None);
    let ok = call(&dpop_auth, Some(&proof));
    assert_eq!(ok.status, 200, "{}", ok.body);
    let refused = |r: Resp, want: &str| {
        assert_eq!(r.status, 401, "{}", r.body);
        assert_eq!(r.json()["error"], want, "{}", r.body);
    };
    refused(call(&dpop_auth, Some(&proof)), "invalid_dpop_proof"); // replayed
    refused(call(&dpop_auth, None), "invalid_dpop_proof"); // no proof
    refused(call(&format!("Bearer {at}"), None), "invalid_token"); // as a bearer token
    refused(
        call(
            &dpop_auth,
            Some(&thief.proof("GET", &rs.resource, Some(&at), None)),
        ),
        "invalid_dpop_proof",
    ); // another key
    let elsewhere = rs.resource.replace("/hello", "/other");
    refused(
        call(
            &dpop_auth,
            Some(&key.proof("GET", &elsewhere, Some(&at), None)),
        ),
        "invalid_dpop_proof",
    ); // wrong htu
    // The edge's own endpoints take bearer tokens only: a bound one is refused there.
    let info = get(
        &w.url("/oauth2/userinfo"),
        &[("Authorization", &format!("Bearer {at}"))],
    );
    assert_eq!(info.status, 401);

    // A stolen refresh token: useless without the key.
    let refresh = |proof: Option<String>| {
        let mut h = vec![];
        if let Some(p) = &proof {
            h.push(("DPoP", p.as_str()));
        }
        post_form(
            &token_url,
            &h,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &rt),
                ("client_id", &id),
            ],
        )
    };
    let none = refresh(None);
    assert_eq!((none.status, none.error().as_str()), (400, "invalid_grant"));
    let stolen = refresh(Some(thief.proof("POST", &token_url, None, Some(&nonce))));
    assert_eq!(
        (stolen.status, stolen.error().as_str()),
        (400, "invalid_grant")
    );
    // The holder of the key still refreshes (the failed attempts spent nothing).
    let own = refresh(Some(key.proof("POST", &token_url, None, Some(&nonce))));
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(own.json()["token_type"], "DPoP");
    let at2 = own.json()["access_token"].as_str().unwrap().to_string();
    let ok = call(
        &format!("DPoP {at2}"),
        Some(&key.proof("GET", &rs.resource, Some(&at2), None)),
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    // Its metadata says DPoP.
    let meta = get(
        &rs.resource
            .replace("/hello", "/.well-known/oauth-protected-resource/hello"),
        &[],
    );
    assert_eq!(
        meta.json()["dpop_signing_alg_values_supported"],
        json!(["ES256"])
    );
    let disco = get(&w.url("/.well-known/openid-configuration"), &[]);
    assert_eq!(
        disco.json()["dpop_signing_alg_values_supported"],
        json!(["ES256"])
    );
}

/// A loopback HTTP server for client ID metadata documents: path -> JSON, counting requests;
/// stopped when dropped. [`ENDLESS`] is a document that never ends: 1 KiB chunks every 100 ms,
/// chunked (no `Content-Length`), for at most 30 s.
struct DocumentServer {
    base: String,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The path of the document that never ends.
const ENDLESS: &str = "/agent/endless.json";

impl DocumentServer {
    fn start_on(port: u16, documents: Vec<(String, String)>) -> DocumentServer {
        use std::io::{BufRead, BufReader, Write};
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (h, s) = (hits.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut conn) = conn else { continue };
                let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                loop {
                    let mut l = String::new();
                    if reader.read_line(&mut l).unwrap_or(0) == 0 || l.trim().is_empty() {
                        break;
                    }
                }
                let path = line.split(' ').nth(1).unwrap_or_default().to_string();
                h.fetch_add(1, Ordering::SeqCst);
                if path == ENDLESS {
                    let _ = write!(
                        conn,
                        "HTTP/1.1 200 X\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                    );
                    let chunk = format!("400\r\n{}\r\n", " ".repeat(1024));
                    for _ in 0..300 {
                        if conn.write_all(chunk.as_bytes()).is_err() {
                            break;
                        }
                        std::thread::sleep(std::time::Duration::from_millis(100));
                    }
                    continue;
                }
                let (status, body) = documents
                    .iter()
                    .find(|(p, _)| *p == path)
                    .map_or((404, String::new()), |(_, b)| (200, b.clone()));
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nCache-Control: max-age=300\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        DocumentServer {
            base,
            hits,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for DocumentServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(self.base.trim_start_matches("http://"));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn an_agent_with_a_client_id_metadata_document_gets_a_token_another_resource_refuses() {
    let example = build_example();
    // The documents are served on loopback over http: allowed only in local mode.
    let w = Worker::start(
        "cimd",
        &[
            ("CLIENT_METADATA_DOCUMENTS", "local"),
            ("REGISTRATION_SCOPES", "openid api"),
        ],
    );
    let a = ResourceServer::start(&example, &w, "api");
    let b = ResourceServer::start(&example, &w, "api");
    // The documents name their own URL: pick the port first.
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client_id = format!("{base}/agent/client.json");
    let doc = json!({
        "client_id": client_id, "client_name": "Test agent", "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"], "token_endpoint_auth_method": "none",
        "scope": "openid api", "resources": [a.resource],
    });
    let wrong =
        json!({ "client_id": "http://127.0.0.1:1/other.json", "redirect_uris": [REDIRECT] });
    let docs = DocumentServer::start_on(
        port,
        vec![
            ("/agent/client.json".into(), doc.to_string()),
            ("/agent/wrong.json".into(), wrong.to_string()),
        ],
    );
    assert_eq!(docs.base, base);
    let disco = get(&w.url("/.well-known/oauth-authorization-server"), &[]);
    assert_eq!(disco.json()["client_id_metadata_document_supported"], true);
    let user = unique("user");
    w.create_user(&user, PASSWORD);
    let config = json!({
        "resourceA": a.resource, "resourceB": b.resource, "clientId": client_id,
        "redirectUri": REDIRECT, "username": user, "password": PASSWORD,
    });
    let out = node("e2e/resource-client.mjs", &[&config.to_string()]);
    let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    eprintln!("{v:#}");
    let log = w.log();
    let log_tail = log
        .get(log.len().saturating_sub(3000)..)
        .unwrap_or_default();
    assert_eq!(v["ok"], true, "{}\n{log_tail}", v["error"]);
    assert_eq!(v["aud"], a.resource.as_str());
    assert_eq!(v["atA"]["status"], 200, "{}", v["atA"]["body"]);
    assert_eq!(v["atB"]["status"], 401);
    assert_eq!(v["widen"], "invalid_target");
    // Fetched once, then kept (Cache-Control: max-age=300) for the pages and the token
    // endpoint (one isolate locally).
    assert_eq!(
        docs.hits.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the document is cached"
    );
    // A document whose client_id is not its URL is no client; nor is a missing one.
    for path in ["/agent/wrong.json", "/agent/missing.json"] {
        let id = format!("{base}{path}");
        let url = format!(
            "{}?{}",
            w.url("/oauth2/authorize"),
            form(&[
                ("response_type", "code"),
                ("client_id", &id),
                ("redirect_uri", REDIRECT),
                (
                    "code_challenge",
                    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
                ),
                ("code_challenge_method", "S256"),
            ])
        );
        let page = get(&url, &[]);
        assert_eq!(page.status, 400, "{path}: {}", page.body);
    }
    // A document that streams on without end is cut at its size limit (or the deadline), not
    // read to its end: refused within seconds.
    let started = std::time::Instant::now();
    let id = format!("{base}{ENDLESS}");
    let url = format!(
        "{}?{}",
        w.url("/oauth2/authorize"),
        form(&[
            ("response_type", "code"),
            ("client_id", &id),
            ("redirect_uri", REDIRECT),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
            ),
            ("code_challenge_method", "S256"),
        ])
    );
    let page = get(&url, &[]);
    assert_eq!(page.status, 400, "{ENDLESS}: {}", page.body);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "an endless document held the request for {:?}",
        started.elapsed()
    );
}

#[test]
fn dpop_bound_tokens_at_the_edge_s_own_endpoints() {
    let w = Worker::start("dpop-own", &[]);
    let id = unique("app");
    let v = w.create_client(json!({
        "client_id": id, "grant_types": ["password"], "scopes": ["openid", "turn"],
    }));
    let secret = v["client_secret"].as_str().unwrap().to_string();
    let user = unique("user");
    w.create_user(&user, PASSWORD);
    let key = DpopKey::new(21);
    let token_url = w.url("/oauth2/token");
    let r = post_form(
        &token_url,
        &[
            ("Authorization", &basic(&id, &secret)),
            ("DPoP", &key.proof("POST", &token_url, None, None)),
        ],
        &[
            ("grant_type", "password"),
            ("username", &user),
            ("password", PASSWORD),
            ("scope", "openid turn"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["token_type"], "DPoP");
    let at = r.json()["access_token"].as_str().unwrap().to_string();
    let userinfo = w.url("/oauth2/userinfo");
    // As a bearer token: refused, with a DPoP challenge.
    let bearer = get(&userinfo, &[("Authorization", &format!("Bearer {at}"))]);
    assert_eq!(bearer.status, 401);
    assert!(
        bearer
            .header("www-authenticate")
            .unwrap()
            .starts_with("DPoP "),
        "{:?}",
        bearer.header("www-authenticate")
    );
    let auth = format!("DPoP {at}");
    let proof = key.proof("GET", &userinfo, Some(&at), None);
    let ok = get(&userinfo, &[("Authorization", &auth), ("DPoP", &proof)]);
    assert_eq!(ok.status, 200, "{}", ok.body);
    let again = get(&userinfo, &[("Authorization", &auth), ("DPoP", &proof)]);
    assert_eq!(
        (again.status, again.error().as_str()),
        (401, "invalid_dpop_proof")
    );
    let none = get(&userinfo, &[("Authorization", &auth)]);
    assert_eq!(
        (none.status, none.error().as_str()),
        (401, "invalid_dpop_proof")
    );
    let other = DpopKey::new(22).proof("GET", &userinfo, Some(&at), None);
    let stolen = get(&userinfo, &[("Authorization", &auth), ("DPoP", &other)]);
    assert_eq!(
        (stolen.status, stolen.error().as_str()),
        (401, "invalid_dpop_proof")
    );
    // TURN credentials with the bound token and a proof for that endpoint.
    let creds_url = w.url("/turn/credentials");
    let creds = post_form(
        &creds_url,
        &[
            ("Authorization", &auth),
            ("DPoP", &key.proof("POST", &creds_url, Some(&at), None)),
        ],
        &[],
    );
    assert_eq!(creds.status, 200, "{}", creds.body);
}

/// A directory removed when dropped (also when a test fails).
struct RemoveDir(PathBuf);

impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A test CA and a certificate it signs for `127.0.0.1`, as PEM files in `dir`:
/// `(ca, cert, key)`.
fn loopback_tls(dir: &std::path::Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "edgeturn test CA (client documents)");
    let issuer = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let paths = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&paths.0, issuer.as_ref().pem()).unwrap();
    std::fs::write(&paths.1, leaf.pem()).unwrap();
    std::fs::write(&paths.2, leaf_key.serialize_pem()).unwrap();
    paths
}

#[test]
fn the_mcp_sdk_gets_a_token_for_one_resource_through_a_metadata_document_and_another_refuses_it() {
    let example = build_example();
    // The SDK takes only https document URLs: the script serves the document on loopback with
    // a certificate from this CA, which workerd's fetch trusts (NODE_EXTRA_CA_CERTS).
    let tls = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("mcp-sdk-tls-{}", std::process::id()));
    let _cleanup = RemoveDir(tls.clone());
    let (ca, cert, key) = loopback_tls(&tls);
    let w = Worker::start_with_env(
        "mcp-sdk",
        &[
            ("CLIENT_METADATA_DOCUMENTS", "local"),
            ("REGISTRATION_SCOPES", "openid api"),
        ],
        &[("NODE_EXTRA_CA_CERTS", ca.to_str().unwrap())],
    );
    let a = ResourceServer::start(&example, &w, "api");
    let b = ResourceServer::start(&example, &w, "api");
    let client_id = format!("https://127.0.0.1:{}/mcp/client.json", free_port());
    let doc = json!({
        "client_id": client_id, "client_name": "MCP SDK test agent", "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"], "token_endpoint_auth_method": "none",
        "scope": "openid api", "resources": [a.resource],
    });
    let user = unique("user");
    w.create_user(&user, PASSWORD);
    let config = json!({
        "resourceA": a.resource, "resourceB": b.resource, "clientId": client_id,
        "document": doc.to_string(), "certFile": cert, "keyFile": key,
        "redirectUri": REDIRECT, "username": user, "password": PASSWORD,
    });
    let out = node("e2e/mcp-client.mjs", &[&config.to_string()]);
    let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    eprintln!("{v:#}");
    let log = w.log();
    let log_tail = log
        .get(log.len().saturating_sub(3000)..)
        .unwrap_or_default();
    assert_eq!(v["ok"], true, "{}\n{log_tail}", v["error"]);
    // The SDK found the edge from A's protected resource metadata (RFC 9728) and read that
    // the edge takes client ID metadata documents, so it used the document's URL as client_id
    // without registering.
    assert_eq!(v["metadata"]["resource"], a.resource.as_str());
    assert_eq!(v["discovery"]["authorizationServer"], w.base.as_str());
    assert_eq!(v["discovery"]["issuer"], w.base.as_str());
    assert_eq!(v["discovery"]["cimd"], true);
    assert_eq!(v["clientInformation"]["client_id"], client_id.as_str());
    // The authorization request it built: PKCE S256, the resource (RFC 8707) = A only, the
    // scope from A's metadata.
    let req = &v["authorization"];
    assert_eq!(req["endpoint"], w.url("/oauth2/authorize").as_str());
    assert_eq!(req["clientId"], client_id.as_str());
    assert_eq!(req["resource"], json!([a.resource]));
    assert_eq!(req["codeChallengeMethod"], "S256");
    assert_eq!(req["codeChallengeLength"], 43, "base64url of a SHA-256");
    assert_eq!(req["scope"], "api");
    assert_eq!(req["redirectUri"], REDIRECT);
    // The edge fetched the document (over https, trusting the test CA), then kept it.
    assert_eq!(v["documentHits"], 1, "{log_tail}");
    // The token is for A: A takes it, B (another resource-verifier server) refuses it.
    assert_eq!(v["tokenType"], "Bearer");
    assert_eq!(v["aud"], a.resource.as_str());
    assert_eq!(v["clientIdClaim"], client_id.as_str());
    assert_eq!(v["atA"]["status"], 200, "{}", v["atA"]["body"]);
    assert_eq!(v["atB"]["status"], 401, "{}", v["atB"]["body"]);
    let challenge = v["atB"]["challenge"].as_str().unwrap();
    assert!(challenge.contains("invalid_token"), "{challenge}");
    // The SDK's refresh keeps the resource: still A only.
    assert_eq!(v["refreshToken"], true);
    assert_eq!(v["refreshedAtA"], 200);
    assert_eq!(v["refreshedAtB"], 401);
}
