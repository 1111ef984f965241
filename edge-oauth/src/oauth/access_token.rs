//! Access tokens: JWTs in the RFC 9068 profile (`typ: at+jwt`), HS256 with the server's
//! signing key. Self-contained, so checking one needs no lookup; revocation is a D1 row by
//! `jti` (or by family), which the worker checks in the same query that loads the user.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::client::GrantType;
use super::keys::{Purpose, SigningKey};

/// Longest access token accepted.
pub const MAX_LEN: usize = 4096;
/// Seconds of clock skew tolerated on `iat`.
pub const SKEW: u64 = 60;

/// The claims.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// The user id, or the client id for client_credentials.
    pub sub: String,
    /// Audience: this issuer (its userinfo and `/turn/credentials` are the resources).
    pub aud: String,
    /// The client it was issued to.
    pub client_id: String,
    /// Space-separated scope.
    pub scope: String,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// Expires at, Unix seconds.
    pub exp: u64,
    /// Unique id (16 random bytes, base64url): the revocation and audit key.
    pub jti: String,
    /// The grant type that produced it.
    pub gty: String,
    /// The token family (one authorization and its refresh tokens), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fid: Option<String>,
}

impl AccessClaims {
    /// The user the token acts for (`None` for client_credentials).
    pub fn user_id(&self) -> Option<&str> {
        (self.gty != GrantType::ClientCredentials.as_str()).then_some(self.sub.as_str())
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    kid: String,
    typ: String,
}

/// Why a string is not a valid access token of this server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// Not three base64url JSON parts, wrong header, or too long.
    Malformed,
    /// The signature does not verify under this server's key.
    BadSignature,
    /// Another issuer or audience.
    WrongIssuer,
    /// Past `exp`, or `iat` in the future.
    Expired,
}

/// Looks like a JWT (cheap; used to route introspection).
pub fn looks_like(token: &str) -> bool {
    token.starts_with("eyJ") && token.bytes().filter(|&b| b == b'.').count() == 2
}

/// Signs the claims.
pub fn encode(key: &SigningKey, claims: &AccessClaims) -> String {
    let header = Header {
        alg: "HS256".into(),
        kid: key.kid().into(),
        typ: "at+jwt".into(),
    };
    let mut out = String::with_capacity(400);
    URL_SAFE_NO_PAD.encode_string(serde_json::to_vec(&header).unwrap_or_default(), &mut out);
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(serde_json::to_vec(claims).unwrap_or_default(), &mut out);
    let tag = key.sign(Purpose::AccessToken, out.as_bytes());
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(tag, &mut out);
    out
}

/// Verifies signature, header, issuer, audience and times.
pub fn decode(
    key: &SigningKey,
    token: &str,
    issuer: &str,
    now: u64,
) -> Result<AccessClaims, Rejection> {
    if token.len() > MAX_LEN {
        return Err(Rejection::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Rejection::Malformed);
    };
    let signed_len = h.len() + 1 + p.len();
    let signed = token.get(..signed_len).ok_or(Rejection::Malformed)?;
    let tag = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| Rejection::Malformed)?;
    if !key.verify(Purpose::AccessToken, signed.as_bytes(), &tag) {
        return Err(Rejection::BadSignature);
    }
    let header: Header = URL_SAFE_NO_PAD
        .decode(h)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(Rejection::Malformed)?;
    if header.alg != "HS256" || header.typ != "at+jwt" || header.kid != key.kid() {
        return Err(Rejection::Malformed);
    }
    let claims: AccessClaims = URL_SAFE_NO_PAD
        .decode(p)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(Rejection::Malformed)?;
    if claims.iss != issuer || claims.aud != issuer {
        return Err(Rejection::WrongIssuer);
    }
    if now >= claims.exp || claims.iat > now.saturating_add(SKEW) {
        return Err(Rejection::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> AccessClaims {
        AccessClaims {
            iss: "https://a.example".into(),
            sub: "u_1".into(),
            aud: "https://a.example".into(),
            client_id: "c1".into(),
            scope: "openid turn".into(),
            iat: 1000,
            exp: 1900,
            jti: "j1".into(),
            gty: "authorization_code".into(),
            fid: Some("f1".into()),
        }
    }

    #[test]
    fn round_trip_and_times() {
        let k = SigningKey::new(&[1; 32]).unwrap();
        let t = encode(&k, &claims());
        assert!(looks_like(&t));
        assert_eq!(decode(&k, &t, "https://a.example", 1000).unwrap(), claims());
        assert_eq!(
            decode(&k, &t, "https://a.example", 1900),
            Err(Rejection::Expired)
        );
        assert_eq!(
            decode(&k, &t, "https://a.example", 900),
            Err(Rejection::Expired)
        );
        assert_eq!(
            decode(&k, &t, "https://b.example", 1000),
            Err(Rejection::WrongIssuer)
        );
        assert_eq!(claims().user_id(), Some("u_1"));
    }

    #[test]
    fn tampering_and_other_keys_fail() {
        let k = SigningKey::new(&[1; 32]).unwrap();
        let t = encode(&k, &claims());
        let other = SigningKey::new(&[2; 32]).unwrap();
        assert_eq!(
            decode(&other, &t, "https://a.example", 1000),
            Err(Rejection::BadSignature)
        );
        let mut c = claims();
        c.scope = "openid turn admin".into();
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).unwrap());
        let parts: Vec<&str> = t.split('.').collect();
        let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert_eq!(
            decode(&k, &forged, "https://a.example", 1000),
            Err(Rejection::BadSignature)
        );
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            "eyJ.eyJ.!!!",
            &"x".repeat(MAX_LEN + 1),
        ] {
            assert!(decode(&k, bad, "https://a.example", 1000).is_err(), "{bad}");
        }
    }

    #[test]
    fn alg_none_is_refused() {
        let k = SigningKey::new(&[1; 32]).unwrap();
        let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","kid":"x","typ":"at+jwt"}"#);
        let p = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims()).unwrap());
        assert!(decode(&k, &format!("{h}.{p}."), "https://a.example", 1000).is_err());
    }
}
