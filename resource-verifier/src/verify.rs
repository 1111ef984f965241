//! The checks: header, signature, issuer, audience, times.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Verifier as _;
use serde::Deserialize;
use sha2::Sha256;

use crate::claims::{AccessClaims, Verified};
use crate::jwks::{Jwks, Key};

/// Longest token looked at.
pub const MAX_TOKEN_LEN: usize = 8192;

/// Why a token is refused. [`Rejection::error_code`] maps each to RFC 6750.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// Not a compact JWS with a JSON header and claims, `typ` other than `at+jwt` (RFC 9068
    /// section 4), or an algorithm other than RS256/ES256 (no `none`, no HMAC confusion).
    Malformed,
    /// Signed with a key the set lacks (maybe a newer one: refetch the set, see
    /// [`crate::JwksCache`]).
    UnknownKey,
    /// The signature does not verify.
    BadSignature,
    /// Another issuer.
    WrongIssuer,
    /// Not for this resource: its identifier is not in `aud` (RFC 8707, RFC 9068 section 4).
    WrongAudience,
    /// Past `exp`.
    Expired,
    /// `iat` in the future.
    NotYetValid,
    /// Valid, but without the scope this endpoint needs.
    InsufficientScope,
    /// Valid, but the user lacks the right this endpoint needs.
    MissingRight,
    /// A DPoP-bound token presented as a bearer token (RFC 9449 section 7.2).
    BoundTokenAsBearer,
    /// `Authorization: DPoP` with a token that is not bound.
    NotBound,
    /// The DPoP proof is missing, malformed, badly signed, or for another method, URL, time
    /// or token (RFC 9449 section 4.3).
    InvalidDpopProof,
    /// The DPoP proof was made with another key than the token is bound to.
    DpopKeyMismatch,
    /// The DPoP proof was used before (its `jti`).
    DpopReplay,
}

impl Rejection {
    /// The RFC 6750 section 3.1 error code: `insufficient_scope` (403) when the token is
    /// valid but not enough, `invalid_token` (401) otherwise.
    pub fn error_code(self) -> &'static str {
        match self {
            Rejection::InsufficientScope | Rejection::MissingRight => "insufficient_scope",
            Rejection::InvalidDpopProof | Rejection::DpopKeyMismatch | Rejection::DpopReplay => {
                "invalid_dpop_proof"
            }
            _ => "invalid_token",
        }
    }

    /// The authentication scheme of the challenge that answers it.
    pub fn scheme(self) -> &'static str {
        match self {
            Rejection::BoundTokenAsBearer
            | Rejection::NotBound
            | Rejection::InvalidDpopProof
            | Rejection::DpopKeyMismatch
            | Rejection::DpopReplay => "DPoP",
            _ => "Bearer",
        }
    }

    /// The HTTP status for [`Rejection::error_code`].
    pub fn status(self) -> u16 {
        match self {
            Rejection::InsufficientScope | Rejection::MissingRight => 403,
            _ => 401,
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rejection::Malformed => "the token is not an access token",
            Rejection::UnknownKey => "the token is signed with an unknown key",
            Rejection::BadSignature => "the token's signature does not verify",
            Rejection::WrongIssuer => "the token is from another issuer",
            Rejection::WrongAudience => "the token is not for this resource",
            Rejection::Expired => "the token has expired",
            Rejection::NotYetValid => "the token is not valid yet",
            Rejection::InsufficientScope => "the token lacks the scope this resource needs",
            Rejection::MissingRight => "the user lacks the right this resource needs",
            Rejection::BoundTokenAsBearer => "a DPoP-bound token needs the DPoP scheme and a proof",
            Rejection::NotBound => "the token is not bound to a DPoP key",
            Rejection::InvalidDpopProof => "the DPoP proof is not valid for this request",
            Rejection::DpopKeyMismatch => {
                "the DPoP proof is made with another key than the token's"
            }
            Rejection::DpopReplay => "the DPoP proof was already used",
        })
    }
}

impl std::error::Error for Rejection {}

/// What a token must say to be accepted here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verifier {
    issuer: String,
    resource: String,
    leeway: u64,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: String,
    typ: Option<String>,
}

impl Verifier {
    /// Tokens from `issuer` (the edge's `issuer`) for the resource server `resource`: its
    /// resource identifier (RFC 8707), which clients name in `resource` when they ask for a
    /// token and which the token must then carry in `aud`. A token asked for another resource,
    /// or for none (edge-oauth then names only itself in `aud`), is refused
    /// ([`Rejection::WrongAudience`]). 60 s of clock leeway.
    pub fn new(issuer: &str, resource: &str) -> Verifier {
        Verifier {
            issuer: issuer.trim_end_matches('/').to_string(),
            resource: resource.to_string(),
            leeway: 60,
        }
    }

    /// The resource identifier tokens must name.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The issuer tokens must come from.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Sets the clock leeway in seconds.
    pub fn with_leeway(mut self, seconds: u64) -> Verifier {
        self.leeway = seconds;
        self
    }

    /// Checks `token` at `now` (Unix seconds) against `jwks`.
    pub fn verify(&self, token: &str, jwks: &Jwks, now: u64) -> Result<Verified, Rejection> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(Rejection::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Rejection::Malformed);
        };
        let header: Header = URL_SAFE_NO_PAD
            .decode(h)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(Rejection::Malformed)?;
        let typ_ok = header.typ.as_deref().is_some_and(|t| {
            t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
        });
        if !typ_ok {
            return Err(Rejection::Malformed);
        }
        let signature = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| Rejection::Malformed)?;
        let signed = token
            .get(..h.len() + 1 + p.len())
            .ok_or(Rejection::Malformed)?;
        let key = jwks.get(&header.kid).ok_or(Rejection::UnknownKey)?;
        let valid = match (header.alg.as_str(), key) {
            ("RS256", Key::Rsa(k)) => {
                let vk = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(k.clone());
                rsa::pkcs1v15::Signature::try_from(signature.as_slice())
                    .is_ok_and(|sig| vk.verify(signed.as_bytes(), &sig).is_ok())
            }
            ("ES256", Key::Ec(k)) => p256::ecdsa::Signature::from_slice(&signature)
                .is_ok_and(|sig| k.verify(signed.as_bytes(), &sig).is_ok()),
            // The header's alg must be the key's: no algorithm confusion.
            _ => return Err(Rejection::Malformed),
        };
        if !valid {
            return Err(Rejection::BadSignature);
        }
        let claims: AccessClaims = URL_SAFE_NO_PAD
            .decode(p)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(Rejection::Malformed)?;
        if claims.iss != self.issuer {
            return Err(Rejection::WrongIssuer);
        }
        if !claims.aud.contains(&self.resource) {
            return Err(Rejection::WrongAudience);
        }
        if now >= claims.exp.saturating_add(self.leeway) {
            return Err(Rejection::Expired);
        }
        if claims.iat > now.saturating_add(self.leeway) {
            return Err(Rejection::NotYetValid);
        }
        Ok(Verified::new(claims))
    }
}
