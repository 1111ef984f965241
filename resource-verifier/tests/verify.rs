//! Tokens signed here with the fixture keys (RS256 with `rsa`, ES256 with `p256`), checked
//! by the verifier: every acceptance and every refusal.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure report

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::signature::{SignatureEncoding, Signer};
use resource_verifier::guard::{Challenge, guard};
use resource_verifier::{Jwks, JwksCache, Need, Rejection, Verifier};
use rsa::{BigUint, RsaPrivateKey};
use serde_json::{Value, json};
use sha2::Sha256;

const KEYS: &str = include_str!("test-keys.json");
const ISS: &str = "https://auth.example";
/// This resource server's identifier (RFC 8707): what its tokens carry in `aud`.
const RES: &str = "https://api.example/mcp";
const NOW: u64 = 1_800_000_000;

fn key(i: usize) -> Value {
    let v: Value = serde_json::from_str(KEYS).unwrap();
    v["keys"][i].clone()
}

fn num(k: &Value, m: &str) -> BigUint {
    BigUint::from_bytes_be(&B64.decode(k[m].as_str().unwrap()).unwrap())
}

/// Signs `claims` with fixture key `i` (0, 2: RSA; 1, 3: EC) under `header` overrides.
fn sign(i: usize, claims: &Value, header: Value) -> String {
    let k = key(i);
    let mut h = json!({ "alg": k["alg"], "kid": k["kid"], "typ": "at+jwt" });
    for (name, v) in header.as_object().unwrap() {
        h[name] = v.clone();
    }
    let input = format!(
        "{}.{}",
        B64.encode(h.to_string()),
        B64.encode(claims.to_string())
    );
    let sig = if k["kty"] == "RSA" {
        let pk = RsaPrivateKey::from_components(
            num(&k, "n"),
            num(&k, "e"),
            num(&k, "d"),
            vec![num(&k, "p"), num(&k, "q")],
        )
        .unwrap();
        let sk = rsa::pkcs1v15::SigningKey::<Sha256>::new(pk);
        sk.sign(input.as_bytes()).to_vec()
    } else {
        let d = B64.decode(k["d"].as_str().unwrap()).unwrap();
        let sk = p256::ecdsa::SigningKey::from_slice(&d).unwrap();
        let s: p256::ecdsa::Signature = sk.sign(input.as_bytes());
        s.to_vec()
    };
    format!("{input}.{}", B64.encode(sig))
}

fn claims() -> Value {
    json!({
        "iss": ISS, "sub": "u_1", "aud": RES, "client_id": "c1", "scope": "openid api",
        "iat": NOW, "exp": NOW + 300, "jti": "j1", "rights": ["api:write"]
    })
}

/// The public set of fixture keys `which`.
fn jwks(which: &[usize]) -> Jwks {
    let keys: Vec<Value> = which
        .iter()
        .map(|&i| {
            let mut k = key(i);
            for private in ["d", "p", "q", "dp", "dq", "qi"] {
                k.as_object_mut().unwrap().remove(private);
            }
            k
        })
        .collect();
    Jwks::from_json(json!({ "keys": keys }).to_string().as_bytes()).unwrap()
}

#[test]
fn both_algorithms_verify_and_carry_their_claims() {
    let v = Verifier::new(ISS, RES);
    let set = jwks(&[0, 1]);
    for i in [0, 1] {
        let t = sign(i, &claims(), json!({}));
        let ok = v.verify(&t, &set, NOW + 10).unwrap();
        assert_eq!(ok.claims().sub, "u_1");
        assert!(ok.require_scope("api").is_ok());
        assert!(ok.require_right("api:write").is_ok());
        assert_eq!(
            ok.require_scope("admin").unwrap_err(),
            Rejection::InsufficientScope
        );
        assert_eq!(
            ok.require_right("api:admin").unwrap_err(),
            Rejection::MissingRight
        );
    }
}

#[test]
fn every_refusal() {
    let v = Verifier::new(ISS, RES);
    let set = jwks(&[0, 1]);
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = claims();
        f(&mut c);
        c
    };
    let good = sign(1, &claims(), json!({}));
    let mut tampered: Vec<&str> = good.split('.').collect();
    let other_payload = B64.encode(with(&|c| c["scope"] = json!("openid api admin")).to_string());
    tampered[1] = &other_payload;
    let cases: Vec<(String, u64, Rejection)> = vec![
        ("junk".into(), NOW, Rejection::Malformed),
        (tampered.join("."), NOW, Rejection::BadSignature),
        (sign(2, &claims(), json!({})), NOW, Rejection::UnknownKey),
        (
            sign(1, &claims(), json!({ "typ": "JWT" })),
            NOW,
            Rejection::Malformed,
        ),
        (
            sign(1, &claims(), json!({ "alg": "RS256" })),
            NOW,
            Rejection::Malformed,
        ),
        (
            sign(1, &claims(), json!({ "alg": "none" })),
            NOW,
            Rejection::Malformed,
        ),
        (
            sign(1, &claims(), json!({ "alg": "HS256" })),
            NOW,
            Rejection::Malformed,
        ),
        (
            sign(
                1,
                &with(&|c| c["iss"] = json!("https://evil.example")),
                json!({}),
            ),
            NOW,
            Rejection::WrongIssuer,
        ),
        (
            sign(
                1,
                &with(&|c| c["aud"] = json!("https://other.example")),
                json!({}),
            ),
            NOW,
            Rejection::WrongAudience,
        ),
        // A token asked for no resource names only the issuer: not for this resource.
        (
            sign(1, &with(&|c| c["aud"] = json!(ISS)), json!({})),
            NOW,
            Rejection::WrongAudience,
        ),
        (good.clone(), NOW + 300 + 60, Rejection::Expired),
        (good.clone(), NOW - 61, Rejection::NotYetValid),
        // A signature from the right key over other bytes (RSA key 0's signature, EC header).
        (
            format!(
                "{}.{}",
                good.rsplit_once('.').unwrap().0,
                sign(0, &claims(), json!({})).rsplit_once('.').unwrap().1
            ),
            NOW,
            Rejection::BadSignature,
        ),
    ];
    for (token, now, want) in cases {
        assert_eq!(v.verify(&token, &set, now).unwrap_err(), want, "{token}");
    }
    // Audience as a list.
    let t = sign(
        1,
        &with(&|c| c["aud"] = json!(["https://other.example", RES])),
        json!({}),
    );
    assert!(v.verify(&t, &set, NOW).is_ok());
}

#[test]
fn jwks_documents() {
    assert!(Jwks::from_json(b"nope").is_err());
    assert!(Jwks::from_json(br#"{"keys":[]}"#).is_err());
    assert!(Jwks::from_json(br#"{"keys":[{"kty":"oct","kid":"h","k":"AAAA"}]}"#).is_err());
    let mut enc = key(1);
    enc["use"] = json!("enc");
    let doc = json!({ "keys": [enc, key(3)] }).to_string();
    let set = Jwks::from_json(doc.as_bytes()).unwrap();
    assert_eq!(set.kids().count(), 1, "an encryption key is skipped");
}

#[test]
fn cache_fetches_when_empty_stale_or_rotated_and_not_more() {
    let v = Verifier::new(ISS, RES);
    let doc = |which: &[usize]| {
        let keys: Vec<Value> = which.iter().map(|&i| key(i)).collect();
        json!({ "keys": keys }).to_string()
    };
    let mut c = JwksCache::new(300, 30);
    assert_eq!(c.need(NOW), Need::Fetch);
    c.attempt(NOW);
    c.store(doc(&[1]).as_bytes(), Some("public, max-age=600"), NOW)
        .unwrap();
    assert_eq!(c.need(NOW + 599), Need::Nothing);
    assert_eq!(c.need(NOW + 600), Need::Fetch);
    // A token from a key published after the fetch: unknown, so the cache wants a fetch...
    let rotated = sign(3, &claims(), json!({}));
    assert_eq!(
        c.verify(&v, &rotated, NOW + 1).unwrap_err(),
        Rejection::UnknownKey
    );
    // ...but not within 30 s of the last attempt (forged kids cannot make it hammer the edge).
    assert_eq!(c.need(NOW + 10), Need::Nothing);
    assert_eq!(c.need(NOW + 31), Need::Fetch);
    c.attempt(NOW + 31);
    c.store(doc(&[1, 3]).as_bytes(), None, NOW + 31).unwrap();
    assert!(c.verify(&v, &rotated, NOW + 31).is_ok());
    assert_eq!(c.need(NOW + 31 + 299), Need::Nothing, "default max-age");
    // A bad document keeps the set in hand.
    assert!(c.store(b"{}", None, NOW + 40).is_err());
    assert!(c.jwks().is_some());
}

#[test]
fn guard_answers_rfc_6750() {
    let v = Verifier::new(ISS, RES);
    let set = jwks(&[0, 1]);
    let t = sign(0, &claims(), json!({}));
    let auth = format!("Bearer {t}");
    let check = |tok: &str| v.verify(tok, &set, NOW);
    let plain = Challenge::new("r");
    assert!(guard(&plain, Some(&auth), "api", &["api:write"], check).is_ok());
    let missing = guard(&plain, None, "api", &[], check).unwrap_err();
    assert_eq!(
        (missing.status, missing.www_authenticate.as_str()),
        (401, "Bearer realm=\"r\"")
    );
    // RFC 9728 section 5.1: the challenge names the resource metadata.
    let meta = resource_verifier::ResourceMetadata::new(RES, ISS);
    let r = Challenge::new("r").with_resource_metadata(&meta.url().unwrap());
    let missing = guard(&r, None, "api", &[], check).unwrap_err();
    assert_eq!(
        missing.www_authenticate,
        "Bearer realm=\"r\", resource_metadata=\"https://api.example/.well-known/oauth-protected-resource/mcp\""
    );
    let mut for_other = claims();
    for_other["aud"] = json!("https://other.example/");
    let other = sign(0, &for_other, json!({}));
    let refused = guard(&r, Some(&format!("Bearer {other}")), "api", &[], check).unwrap_err();
    assert_eq!(refused.status, 401);
    assert!(
        refused.www_authenticate.contains("resource_metadata=")
            && refused.www_authenticate.contains("invalid_token")
    );
    let scope = guard(&plain, Some(&auth), "admin", &[], check).unwrap_err();
    assert_eq!(scope.status, 403);
    assert!(
        scope
            .www_authenticate
            .contains("error=\"insufficient_scope\"")
    );
    let right = guard(&plain, Some(&auth), "api", &["api:admin"], check).unwrap_err();
    assert_eq!(right.status, 403);
    let bad = guard(&plain, Some("Bearer x.y.z"), "api", &[], check).unwrap_err();
    assert_eq!(bad.status, 401);
    assert!(bad.body.contains("invalid_token"));
    assert!(guard(&plain, Some("Basic abc"), "api", &[], check).is_err());
}

/// A DPoP proof signed with P-256 key `seed` for `method url`, for `token`, made at `iat`.
fn dpop_proof(seed: u8, method: &str, url: &str, token: &str, iat: u64, jti: &str) -> String {
    let sk = p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap();
    let header = json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": dpop_jwk(seed) });
    let claims = json!({
        "jti": jti, "htm": method, "htu": url, "iat": iat,
        "ath": resource_verifier::dpop::ath(token),
    });
    let input = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let s: p256::ecdsa::Signature = sk.sign(input.as_bytes());
    format!("{input}.{}", B64.encode(s.to_vec()))
}

fn dpop_jwk(seed: u8) -> Value {
    let sk = p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap();
    let p = sk.verifying_key().to_encoded_point(false);
    json!({ "kty": "EC", "crv": "P-256", "x": B64.encode(p.x().unwrap()), "y": B64.encode(p.y().unwrap()) })
}

fn dpop_jkt(seed: u8) -> String {
    let j = dpop_jwk(seed);
    resource_verifier::dpop::thumbprint(j["x"].as_str().unwrap(), j["y"].as_str().unwrap())
}

#[test]
fn dpop_bound_tokens_need_a_fresh_proof_from_their_key_for_this_request() {
    use resource_verifier::ReplayCache;
    use resource_verifier::guard::{Presented, guard_request};
    let v = Verifier::new(ISS, RES);
    let set = jwks(&[0, 1]);
    let mut bound = claims();
    bound["cnf"] = json!({ "jkt": dpop_jkt(5) });
    let t = sign(1, &bound, json!({}));
    let plain = sign(1, &claims(), json!({}));
    let ch = Challenge::new("r");
    let mut replay = ReplayCache::new(100);
    let dpop_auth = format!("DPoP {t}");
    let run = |auth: &str, proof: Option<&str>, url: &str, replay: &mut ReplayCache| {
        let req = Presented {
            authorization: Some(auth),
            dpop: proof,
            method: "GET",
            url,
        };
        guard_request(&ch, &req, "api", &[], NOW, replay, |tok| {
            v.verify(tok, &set, NOW)
        })
    };
    let good = dpop_proof(5, "GET", RES, &t, NOW, "p1");
    let ok = run(&dpop_auth, Some(&good), RES, &mut replay).unwrap();
    assert_eq!(ok.claims().cnf.as_ref().unwrap().jkt, dpop_jkt(5));
    let code = |r: Result<resource_verifier::Verified, resource_verifier::guard::Refusal>| {
        let r = r.unwrap_err();
        assert_eq!(r.status, 401);
        assert!(
            r.www_authenticate.starts_with("DPoP "),
            "{}",
            r.www_authenticate
        );
        serde_json::from_str::<Value>(&r.body).unwrap()["error"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // The same proof again: a replay.
    assert_eq!(
        code(run(&dpop_auth, Some(&good), RES, &mut replay)),
        "invalid_dpop_proof"
    );
    // As a bearer token, with or without a proof.
    let bearer = format!("Bearer {t}");
    let p2 = dpop_proof(5, "GET", RES, &t, NOW, "p2");
    assert_eq!(
        code(run(&bearer, Some(&p2), RES, &mut replay)),
        "invalid_token"
    );
    // Without a proof; with another key; for another URL, method or token; too old.
    assert_eq!(
        code(run(&dpop_auth, None, RES, &mut replay)),
        "invalid_dpop_proof"
    );
    let other_key = dpop_proof(6, "GET", RES, &t, NOW, "p3");
    assert_eq!(
        code(run(&dpop_auth, Some(&other_key), RES, &mut replay)),
        "invalid_dpop_proof"
    );
    let other_url = dpop_proof(5, "GET", "https://other.example/mcp", &t, NOW, "p4");
    assert_eq!(
        code(run(&dpop_auth, Some(&other_url), RES, &mut replay)),
        "invalid_dpop_proof"
    );
    let other_method = dpop_proof(5, "POST", RES, &t, NOW, "p5");
    assert_eq!(
        code(run(&dpop_auth, Some(&other_method), RES, &mut replay)),
        "invalid_dpop_proof"
    );
    let other_token = dpop_proof(5, "GET", RES, &plain, NOW, "p6");
    assert_eq!(
        code(run(&dpop_auth, Some(&other_token), RES, &mut replay)),
        "invalid_dpop_proof"
    );
    let old = dpop_proof(5, "GET", RES, &t, NOW - 600, "p7");
    assert_eq!(
        code(run(&dpop_auth, Some(&old), RES, &mut replay)),
        "invalid_dpop_proof"
    );
    // The query is not part of htu.
    let q = dpop_proof(5, "GET", RES, &t, NOW, "p8");
    assert!(run(&dpop_auth, Some(&q), &format!("{RES}?x=1"), &mut replay).is_ok());
    // An unbound token under the DPoP scheme; and as a bearer token it still works.
    let p9 = dpop_proof(5, "GET", RES, &plain, NOW, "p9");
    assert_eq!(
        code(run(&format!("DPoP {plain}"), Some(&p9), RES, &mut replay)),
        "invalid_token"
    );
    assert!(run(&format!("Bearer {plain}"), None, RES, &mut replay).is_ok());
}
