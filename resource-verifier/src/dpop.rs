//! DPoP (RFC 9449) at a resource server: a token bound to a key (`cnf.jkt`) is accepted only
//! as `Authorization: DPoP <token>` with a `DPoP` proof signed by that key for this very
//! request (`htm`, `htu`), fresh (`iat`), for this token (`ath`) and never seen before (`jti`,
//! kept in a bounded [`ReplayCache`]). ES256 proofs only.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Verifier as _;
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::verify::Rejection;

/// The proof algorithms accepted (`dpop_signing_alg_values_supported`).
pub const ALGS: [&str; 1] = ["ES256"];
/// Longest proof looked at.
pub const MAX_PROOF_LEN: usize = 4096;
/// Seconds a proof's `iat` may lie in the past.
pub const MAX_AGE: u64 = 120;
/// Seconds a proof's `iat` may lie in the future (clock skew).
pub const SKEW: u64 = 60;

/// The `jti`s of proofs seen, each kept until its proof could no longer pass the `iat` check.
/// Bounded: when full of unexpired entries it refuses new proofs rather than forget one
/// (forgetting would let that proof be replayed).
#[derive(Clone, Debug)]
pub struct ReplayCache {
    seen: HashMap<String, u64>,
    capacity: usize,
}

impl ReplayCache {
    /// At most `capacity` proofs remembered at once.
    pub fn new(capacity: usize) -> ReplayCache {
        ReplayCache {
            seen: HashMap::new(),
            capacity: capacity.max(1),
        }
    }

    /// Remembers `key` until `until`; false when it was already there (a replay) or the cache
    /// is full of live entries.
    fn admit(&mut self, key: String, until: u64, now: u64) -> Result<(), Rejection> {
        if self.seen.get(&key).is_some_and(|&t| t >= now) {
            return Err(Rejection::DpopReplay);
        }
        if self.seen.len() >= self.capacity {
            self.seen.retain(|_, &mut t| t >= now);
            if self.seen.len() >= self.capacity {
                return Err(Rejection::DpopReplay);
            }
        }
        self.seen.insert(key, until);
        Ok(())
    }

    /// How many proofs are remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// True when none is.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[derive(Deserialize)]
struct Header {
    typ: String,
    alg: String,
    jwk: Map<String, Value>,
}

#[derive(Deserialize)]
struct Claims {
    jti: String,
    htm: String,
    htu: String,
    iat: u64,
    ath: Option<String>,
}

/// The RFC 7638 thumbprint of a P-256 public key.
pub fn thumbprint(x: &str, y: &str) -> String {
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// `ath`: the base64url SHA-256 of the access token (RFC 9449 section 4.2).
pub fn ath(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}

fn without_query(url: &str) -> &str {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    url.get(..end).unwrap_or(url)
}

fn coordinate(v: Option<&Value>) -> Option<(&str, Vec<u8>)> {
    let s = v?.as_str()?;
    let bytes = URL_SAFE_NO_PAD.decode(s).ok()?;
    (bytes.len() == 32).then_some((s, bytes))
}

/// What a request says, for its proof's checks.
#[derive(Clone, Copy, Debug)]
pub struct ProofRequest<'a> {
    /// The `DPoP` header.
    pub proof: &'a str,
    /// The HTTP method.
    pub method: &'a str,
    /// The URL the request was sent to (scheme, host, path; the query is ignored).
    pub url: &'a str,
    /// The access token it presents.
    pub access_token: &'a str,
    /// The token's `cnf.jkt`.
    pub jkt: &'a str,
}

/// Checks a proof (RFC 9449 section 4.3 and 7.1) at `now`, remembering its `jti` in `replay`.
pub fn check_proof(
    r: &ProofRequest<'_>,
    now: u64,
    replay: &mut ReplayCache,
) -> Result<(), Rejection> {
    let bad = Rejection::InvalidDpopProof;
    if r.proof.len() > MAX_PROOF_LEN {
        return Err(bad);
    }
    let mut parts = r.proof.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad);
    };
    let header: Header = URL_SAFE_NO_PAD
        .decode(h)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(bad)?;
    if header.typ != "dpop+jwt" || !ALGS.contains(&header.alg.as_str()) {
        return Err(bad);
    }
    let jwk = &header.jwk;
    if ["d", "p", "q", "dp", "dq", "qi", "k"]
        .iter()
        .any(|m| jwk.contains_key(*m))
    {
        return Err(bad);
    }
    let (Some("EC"), Some("P-256"), Some((x, xb)), Some((y, yb))) = (
        jwk.get("kty").and_then(Value::as_str),
        jwk.get("crv").and_then(Value::as_str),
        coordinate(jwk.get("x")),
        coordinate(jwk.get("y")),
    ) else {
        return Err(bad);
    };
    let mut sec1 = Vec::with_capacity(65);
    sec1.push(4);
    sec1.extend_from_slice(&xb);
    sec1.extend_from_slice(&yb);
    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).map_err(|_| bad)?;
    let signature = URL_SAFE_NO_PAD.decode(s).map_err(|_| bad)?;
    let signed = r.proof.get(..h.len() + 1 + p.len()).ok_or(bad)?;
    let valid = p256::ecdsa::Signature::from_slice(&signature)
        .is_ok_and(|sig| key.verify(signed.as_bytes(), &sig).is_ok());
    if !valid {
        return Err(bad);
    }
    if thumbprint(x, y) != r.jkt {
        return Err(Rejection::DpopKeyMismatch);
    }
    let claims: Claims = URL_SAFE_NO_PAD
        .decode(p)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(bad)?;
    if claims.htm != r.method || without_query(&claims.htu) != without_query(r.url) {
        return Err(bad);
    }
    if claims.iat > now.saturating_add(SKEW) || claims.iat.saturating_add(MAX_AGE) < now {
        return Err(bad);
    }
    if claims.ath.as_deref() != Some(ath(r.access_token).as_str()) {
        return Err(bad);
    }
    if claims.jti.is_empty() || claims.jti.len() > 256 {
        return Err(bad);
    }
    replay.admit(
        format!("{}:{}", r.jkt, claims.jti),
        claims.iat.saturating_add(MAX_AGE),
        now,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_replay_cache_is_bounded_and_forgets_only_what_expired() {
        let mut c = ReplayCache::new(2);
        assert!(c.admit("a".into(), 10, 0).is_ok());
        assert_eq!(c.admit("a".into(), 10, 5), Err(Rejection::DpopReplay));
        assert!(c.admit("b".into(), 20, 5).is_ok());
        // Full of live entries: refused rather than forgetting one.
        assert_eq!(c.admit("c".into(), 20, 5), Err(Rejection::DpopReplay));
        // Once "a" expired, it makes room.
        assert!(c.admit("c".into(), 30, 11).is_ok());
        assert_eq!(c.len(), 2);
        assert_eq!(ath("x").len(), 43);
    }
}
