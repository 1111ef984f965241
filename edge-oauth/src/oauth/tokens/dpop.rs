//! DPoP (RFC 9449) at the token endpoint: a client proves possession of a key with a `DPoP`
//! header (a JWT it signs per request), and the tokens it gets are bound to that key: the
//! access token carries `cnf.jkt` (the key's RFC 7638 thumbprint) and `token_type: DPoP`, and
//! a public client's refresh tokens (its token family) are bound too, so a stolen refresh token
//! is useless without the key (section 5).
//!
//! The proof's signature is checked by the worker with WebCrypto ([`Unverified::jwk`]); the
//! rest is decided here: [`parse`] (shape, `typ`, `alg`, a public `jwk`), then [`check`]
//! (`htm`, `htu`, `iat` window, the server nonce when required), then [`bind`].
//!
//! Proofs are ES256 only: workerd's WebCrypto has Ed25519 too, but resource-verifier checks
//! proofs with RustCrypto's P-256, and one algorithm on both sides keeps them the same.
//! Replaying a proof at the token endpoint gains nothing a single-use grant allows twice
//! (codes and refresh tokens are claimed once; client_credentials also needs the secret), so
//! no `jti` store is kept here; the `iat` window is short, and `DPOP_NONCE=required` adds
//! server nonces (section 8).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::signing_keys;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::flows::grants::{Family, Grant};
use crate::oauth::keys::{Purpose, SigningKey};

/// The request header.
pub const HEADER: &str = "DPoP";
/// The response header that hands out a server nonce.
pub const NONCE_HEADER: &str = "DPoP-Nonce";
/// The proof's `typ` (section 4.2).
pub const TYP: &str = "dpop+jwt";
/// The proof algorithms accepted (`dpop_signing_alg_values_supported`).
pub const ALGS: [&str; 1] = ["ES256"];
/// Longest proof looked at.
pub const MAX_PROOF_LEN: usize = 4096;
/// Seconds a proof's `iat` may lie in the past.
pub const MAX_AGE: u64 = 120;
/// Seconds a proof's `iat` may lie in the future (clock skew).
pub const SKEW: u64 = 60;
/// Seconds a server nonce window lasts; the current and the previous one are accepted.
pub const NONCE_WINDOW: u64 = 300;

/// `cnf` of a bound access token (RFC 7800 section 3.1, RFC 9449 section 6.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// The key's RFC 7638 SHA-256 thumbprint, base64url.
    pub jkt: String,
}

#[derive(Deserialize)]
struct Header {
    typ: String,
    alg: String,
    jwk: Map<String, Value>,
}

#[derive(Clone, Debug, Deserialize)]
struct Claims {
    jti: String,
    htm: String,
    htu: String,
    iat: u64,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    ath: Option<String>,
}

/// A proof whose shape is right, waiting for its signature check.
#[derive(Clone, Debug)]
pub struct Unverified {
    /// What the signature covers.
    pub input: String,
    /// The signature (`r || s`).
    pub signature: Vec<u8>,
    jwk: String,
    jkt: String,
    claims: Claims,
}

/// Proof that the worker verified the proof's signature with its own `jwk`.
#[derive(Clone, Copy, Debug)]
pub struct ProofSignatureValid(());

impl ProofSignatureValid {
    /// Made by the code that verified the signature.
    pub fn checked() -> ProofSignatureValid {
        ProofSignatureValid(())
    }
}

/// A checked proof: the key it binds tokens to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    /// The key's thumbprint.
    pub jkt: String,
}

fn invalid(d: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidDpopProof, d)
}

/// The RFC 7638 thumbprint of a P-256 public key.
pub fn thumbprint(x: &str, y: &str) -> String {
    signing_keys::thumbprint(&[("crv", "P-256"), ("kty", "EC"), ("x", x), ("y", y)])
}

fn b64_32(v: Option<&Value>) -> Option<&str> {
    let s = v?.as_str()?;
    (URL_SAFE_NO_PAD.decode(s).ok()?.len() == 32).then_some(s)
}

/// Splits a `DPoP` header value and checks what needs no key: `typ: dpop+jwt`, `alg: ES256`,
/// and a `jwk` that is a P-256 public key and nothing private (section 4.3, checks 1-6).
pub fn parse(proof: &str) -> Result<Unverified, OAuthError> {
    if proof.len() > MAX_PROOF_LEN {
        return Err(invalid("the DPoP proof is too long"));
    }
    let mut parts = proof.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("the DPoP proof is not a JWT"));
    };
    let header: Header = URL_SAFE_NO_PAD
        .decode(h)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| invalid("the DPoP proof's header is malformed"))?;
    if header.typ != TYP {
        return Err(invalid("the DPoP proof's typ must be dpop+jwt"));
    }
    if !ALGS.contains(&header.alg.as_str()) {
        return Err(invalid("DPoP proofs must be ES256"));
    }
    let jwk = &header.jwk;
    if ["d", "p", "q", "dp", "dq", "qi", "k"]
        .iter()
        .any(|m| jwk.contains_key(*m))
    {
        return Err(invalid("the DPoP proof's jwk holds a private key"));
    }
    let (Some("EC"), Some("P-256"), Some(x), Some(y)) = (
        jwk.get("kty").and_then(Value::as_str),
        jwk.get("crv").and_then(Value::as_str),
        b64_32(jwk.get("x")),
        b64_32(jwk.get("y")),
    ) else {
        return Err(invalid("the DPoP proof's jwk is not a P-256 public key"));
    };
    let claims: Claims = URL_SAFE_NO_PAD
        .decode(p)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| invalid("the DPoP proof's claims are malformed"))?;
    if claims.jti.is_empty() || claims.jti.len() > 256 {
        return Err(invalid("the DPoP proof's jti is missing or too long"));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| invalid("the DPoP proof's signature is malformed"))?;
    let input = proof
        .get(..h.len() + 1 + p.len())
        .ok_or_else(|| invalid("the DPoP proof is not a JWT"))?
        .to_string();
    Ok(Unverified {
        input,
        signature,
        jwk: serde_json::json!({ "kty": "EC", "crv": "P-256", "x": x, "y": y, "ext": true })
            .to_string(),
        jkt: thumbprint(x, y),
        claims,
    })
}

impl Unverified {
    /// The public key as a JWK, for WebCrypto's `importKey("jwk", ...)`.
    pub fn jwk(&self) -> &str {
        &self.jwk
    }
}

/// A URL without its query and fragment (section 4.3, check 9).
pub fn without_query(url: &str) -> &str {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    url.get(..end).unwrap_or(url)
}

/// The server nonce for `now` (stateless: an HMAC of the time window under the server's key).
pub fn nonce(key: &SigningKey, now: u64) -> String {
    nonce_for(key, now / NONCE_WINDOW)
}

fn nonce_for(key: &SigningKey, window: u64) -> String {
    let mac = key.sign(Purpose::Page, format!("dpop-nonce\0{window}").as_bytes());
    URL_SAFE_NO_PAD.encode(mac.get(..16).unwrap_or(&mac))
}

/// `use_dpop_nonce` with a fresh nonce to send in `DPoP-Nonce` (section 8).
pub fn use_nonce(key: &SigningKey, now: u64) -> OAuthError {
    OAuthError::new(
        ErrorCode::UseDpopNonce,
        "the authorization server requires a nonce in the DPoP proof",
    )
    .with_dpop_nonce(nonce(key, now))
}

/// The checks after the signature: method, URL, time, and the server nonce when `nonces` is
/// `Some` (section 4.3, checks 8-11).
pub fn check(
    u: Unverified,
    _signature: ProofSignatureValid,
    method: &str,
    url: &str,
    now: u64,
    nonces: Option<&SigningKey>,
) -> Result<Proof, OAuthError> {
    let c = &u.claims;
    if c.htm != method {
        return Err(invalid("the DPoP proof is for another method"));
    }
    if without_query(&c.htu) != without_query(url) {
        return Err(invalid("the DPoP proof is for another URL"));
    }
    if c.iat > now.saturating_add(SKEW) || c.iat.saturating_add(MAX_AGE) < now {
        return Err(invalid("the DPoP proof is too old or from the future"));
    }
    if let Some(key) = nonces {
        let window = now / NONCE_WINDOW;
        let fresh = c.nonce.as_deref().is_some_and(|n| {
            n == nonce_for(key, window) || n == nonce_for(key, window.saturating_sub(1))
        });
        if !fresh {
            return Err(use_nonce(key, now));
        }
    }
    Ok(Proof { jkt: u.jkt })
}

/// The `jti`s of proofs this isolate accepted at the edge's own resources, each kept until its
/// proof is too old to pass anyway; bounded, refusing new proofs when full of live ones.
#[derive(Debug, Default)]
pub struct SeenProofs {
    seen: std::collections::HashMap<String, u64>,
}

/// Most proofs remembered per isolate.
pub const MAX_SEEN: usize = 4096;

impl SeenProofs {
    fn admit(&mut self, key: String, until: u64, now: u64) -> bool {
        if self.seen.get(&key).is_some_and(|&t| t >= now) {
            return false;
        }
        if self.seen.len() >= MAX_SEEN {
            self.seen.retain(|_, t| *t >= now);
            if self.seen.len() >= MAX_SEEN {
                return false;
            }
        }
        self.seen.insert(key, until);
        true
    }
}

/// The checks of a proof that comes with a DPoP-bound access token to one of the edge's own
/// resources (RFC 9449 section 7.1): those of [`check`], then the token's hash (`ath`), its key
/// (`cnf.jkt`) and a `jti` not seen before. Refusals are 401 with a `DPoP` challenge.
#[allow(clippy::too_many_arguments)]
pub fn check_at_resource(
    u: Unverified,
    signature: ProofSignatureValid,
    method: &str,
    url: &str,
    access_token: &str,
    jkt: &str,
    now: u64,
    seen: &mut SeenProofs,
) -> Result<(), OAuthError> {
    let ath = u.claims.ath.clone();
    let jti = u.claims.jti.clone();
    let iat = u.claims.iat;
    let refuse = |d: &'static str| invalid(d).with_dpop_challenge();
    let proof = check(u, signature, method, url, now, None).map_err(|e| e.with_dpop_challenge())?;
    let want = URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()));
    if ath.as_deref() != Some(want.as_str()) {
        return Err(refuse("the DPoP proof is for another access token"));
    }
    if proof.jkt != jkt {
        return Err(refuse(
            "the DPoP proof is made with another key than the token's",
        ));
    }
    if !seen.admit(format!("{jkt}:{jti}"), iat.saturating_add(MAX_AGE), now) {
        return Err(refuse("the DPoP proof was already used"));
    }
    Ok(())
}

/// Binds a grant to the proof's key: the access token always (`cnf.jkt`), a new family of a
/// public client too. A family bound before (`family_jkt`) needs a proof with the same key
/// (`invalid_grant`: a stolen bound refresh token is useless without it).
pub fn bind(
    grant: &mut Grant,
    proof: Option<&Proof>,
    family_jkt: Option<&str>,
    public_client: bool,
) -> Result<(), OAuthError> {
    if let Some(bound) = family_jkt
        && proof.is_none_or(|p| p.jkt != bound)
    {
        return Err(OAuthError::invalid_grant(
            "the refresh token is bound to a DPoP key: send a DPoP proof made with it",
        ));
    }
    let Some(p) = proof else {
        return Ok(());
    };
    // An RFC 7635 TURN token is proof-of-possession already (its mac_key); DPoP binds JWTs.
    if !grant.turn {
        grant.dpop_jkt = Some(p.jkt.clone());
    }
    if grant.family == Family::New && public_client {
        grant.family_dpop_jkt = Some(p.jkt.clone());
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use p256::ecdsa::signature::Signer;
    use serde_json::json;

    /// A proof signed with P-256 key `seed` (test helper shared with the grant tests).
    pub(crate) fn proof(seed: u8, claims: &Value, header_extra: &Value) -> String {
        let sk = p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap();
        let point = sk.verifying_key().to_encoded_point(false);
        let mut header = json!({
            "typ": TYP, "alg": "ES256",
            "jwk": { "kty": "EC", "crv": "P-256",
                "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()),
                "y": URL_SAFE_NO_PAD.encode(point.y().unwrap()) },
        });
        for (k, v) in header_extra.as_object().unwrap() {
            header[k] = v.clone();
        }
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig: p256::ecdsa::Signature = sk.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
    }

    const URL: &str = "https://auth.example/oauth2/token";

    fn claims(now: u64) -> Value {
        json!({ "jti": "j1", "htm": "POST", "htu": URL, "iat": now })
    }

    fn checked(p: &str, now: u64, nonces: Option<&SigningKey>) -> Result<Proof, OAuthError> {
        check(
            parse(p)?,
            ProofSignatureValid::checked(),
            "POST",
            URL,
            now,
            nonces,
        )
    }

    #[test]
    fn the_rfc_7638_thumbprint_vector() {
        // RFC 7638 section 3.1 is an RSA key; this is the same construction over the EC
        // members, checked against the digest of the canonical JSON computed independently.
        let t = thumbprint("x1", "y1");
        let want = URL_SAFE_NO_PAD.encode(Sha256::digest(
            br#"{"crv":"P-256","kty":"EC","x":"x1","y":"y1"}"#,
        ));
        assert_eq!(t, want);
        assert_eq!(t.len(), 43);
    }

    #[test]
    fn a_good_proof_and_every_refusal() {
        let now = 1_000_000;
        let good = proof(7, &claims(now), &json!({}));
        let p = checked(&good, now, None).unwrap();
        assert_eq!(
            p,
            checked(&proof(7, &claims(now + 5), &json!({})), now, None).unwrap()
        );
        assert_ne!(
            p,
            checked(&proof(8, &claims(now), &json!({})), now, None).unwrap()
        );
        // The URL's query is ignored (section 4.3).
        let mut q = claims(now);
        q["htu"] = json!(format!("{URL}?x=1"));
        assert!(checked(&proof(7, &q, &json!({})), now, None).is_ok());
        let bad = |c: Value, h: Value| checked(&proof(7, &c, &h), now, None).unwrap_err().code;
        let with = |k: &str, v: Value| {
            let mut c = claims(now);
            c[k] = v;
            c
        };
        for (c, h) in [
            (claims(now), json!({ "typ": "JWT" })),
            (claims(now), json!({ "alg": "RS256" })),
            (
                claims(now),
                json!({ "jwk": { "kty": "EC", "crv": "P-256", "x": "AA", "y": "AA" } }),
            ),
            (claims(now), json!({ "jwk": { "kty": "oct", "k": "AAAA" } })),
            (with("htm", json!("GET")), json!({})),
            (with("htu", json!("https://auth.example/other")), json!({})),
            (with("iat", json!(now - MAX_AGE - 1)), json!({})),
            (with("iat", json!(now + SKEW + 1)), json!({})),
            (with("jti", json!("")), json!({})),
        ] {
            assert_eq!(bad(c, h.clone()), ErrorCode::InvalidDpopProof, "{h}");
        }
        // A private key in the jwk.
        let sk_d = URL_SAFE_NO_PAD.encode([7u8; 32]);
        let mut h = json!({});
        let pub_jwk = {
            let full = proof(7, &claims(now), &json!({}));
            let head = full.split('.').next().unwrap().to_string();
            let v: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(head).unwrap()).unwrap();
            v["jwk"].clone()
        };
        let mut private = pub_jwk;
        private["d"] = json!(sk_d);
        h["jwk"] = private;
        assert_eq!(bad(claims(now), h), ErrorCode::InvalidDpopProof);
        assert_eq!(parse("a.b").unwrap_err().code, ErrorCode::InvalidDpopProof);
    }

    #[test]
    fn proofs_at_the_edge_s_resources_name_the_token_and_are_used_once() {
        let now = 1_000_000;
        let url = "https://auth.example/oauth2/userinfo";
        let at = "eyJ.token.x";
        let ath = URL_SAFE_NO_PAD.encode(Sha256::digest(at.as_bytes()));
        let jkt = checked(&proof(7, &claims(now), &json!({})), now, None)
            .unwrap()
            .jkt;
        let make = |seed: u8, jti: &str, ath: &str| {
            proof(
                seed,
                &json!({ "jti": jti, "htm": "GET", "htu": url, "iat": now, "ath": ath }),
                &json!({}),
            )
        };
        let mut seen = SeenProofs::default();
        let run = |p: &str, seen: &mut SeenProofs| {
            check_at_resource(
                parse(p).unwrap(),
                ProofSignatureValid::checked(),
                "GET",
                url,
                at,
                &jkt,
                now,
                seen,
            )
        };
        let good = make(7, "a", &ath);
        assert!(run(&good, &mut seen).is_ok());
        for bad in [good.clone(), make(8, "b", &ath), make(7, "c", "wrong")] {
            let e = run(&bad, &mut seen).unwrap_err();
            assert_eq!((e.code, e.status), (ErrorCode::InvalidDpopProof, 401));
            assert!(e.www_authenticate("r").unwrap().starts_with("DPoP "));
        }
    }

    #[test]
    fn server_nonces_are_required_when_configured() {
        let key = SigningKey::new(&[3; 32]).unwrap();
        let now = 1_000_000;
        let without = checked(&proof(7, &claims(now), &json!({})), now, Some(&key)).unwrap_err();
        assert_eq!(without.code, ErrorCode::UseDpopNonce);
        let n = without.dpop_nonce.clone().unwrap();
        assert_eq!(n, nonce(&key, now));
        let mut c = claims(now);
        c["nonce"] = json!(n);
        assert!(checked(&proof(7, &c, &json!({})), now, Some(&key)).is_ok());
        // Still good in the next window, not in the one after.
        let later = now + NONCE_WINDOW;
        c["iat"] = json!(later);
        assert!(checked(&proof(7, &c, &json!({})), later, Some(&key)).is_ok());
        let stale = now + 2 * NONCE_WINDOW;
        c["iat"] = json!(stale);
        assert_eq!(
            checked(&proof(7, &c, &json!({})), stale, Some(&key))
                .unwrap_err()
                .code,
            ErrorCode::UseDpopNonce
        );
    }
}
