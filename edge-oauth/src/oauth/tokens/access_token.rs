//! Access tokens: JWTs in the RFC 9068 profile (`typ: at+jwt`), signed with the server's
//! asymmetric keys (RS256 or ES256, `ACCESS_TOKEN_ALG`), so a resource server checks one
//! offline with the published keys (`/certs`; see the `resource-verifier` crate). Their
//! standing (revoked `jti`, revoked family, deleted client or user) is a D1 row this server
//! checks where it serves them (userinfo, `/turn/credentials`, introspection).

use serde::{Deserialize, Serialize};

use super::dpop::Confirmation;
use super::jwt::{self, Parsed, SignatureValid, TYP_ACCESS, Unsigned};
use super::resource::Audience;
use super::signing_keys::SigningKey;
use crate::oauth::clients::client::GrantType;

/// Seconds of clock skew tolerated on `iat`.
pub const SKEW: u64 = 60;

/// The claims.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// The user id, or the client id for client_credentials.
    pub sub: String,
    /// Audience: the resources asked for (RFC 8707), or this issuer when none was (its
    /// userinfo and `/turn/credentials` are then the resources).
    pub aud: Audience,
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
    /// When the person signed in (RFC 9068 section 2.2.1), for grants with a sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<u64>,
    /// The person's rights that the granted scope covers ([`crate::oauth::people::rights`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rights: Vec<String>,
    /// The DPoP key the token is bound to (RFC 9449 section 6.1), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

impl AccessClaims {
    /// The user the token acts for (`None` for client_credentials).
    pub fn user_id(&self) -> Option<&str> {
        (self.gty != GrantType::ClientCredentials.as_str()).then_some(self.sub.as_str())
    }

    /// The JWT to sign with `key`.
    pub fn unsigned(&self, key: &SigningKey) -> Unsigned {
        Unsigned::new(key, TYP_ACCESS, self)
    }
}

/// Why a string is not a valid access token of this server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// Not a JWT this server signs (shape, header, algorithm, `typ`), or signed with a key
    /// it does not hold (any more).
    Malformed,
    /// The signature does not verify.
    BadSignature,
    /// Another issuer or audience.
    WrongIssuer,
    /// Past `exp`, or `iat` in the future.
    Expired,
}

/// Splits a presented token (no signature check yet: the worker does that with WebCrypto).
pub fn parse(token: &str) -> Result<Parsed, Rejection> {
    jwt::parse(token, TYP_ACCESS).map_err(|_| Rejection::Malformed)
}

/// The claims of a token whose signature verified, for the edge's own resources (userinfo,
/// `/turn/credentials`): issuer, audience (the issuer must be in `aud`: a token asked for
/// another resource, RFC 8707, is not accepted here) and times.
pub fn check(
    parsed: &Parsed,
    proof: SignatureValid,
    issuer: &str,
    now: u64,
) -> Result<AccessClaims, Rejection> {
    let claims = check_issued(parsed, proof, issuer, now)?;
    if !claims.aud.contains(issuer) {
        return Err(Rejection::WrongIssuer);
    }
    Ok(claims)
}

/// The claims of a token whose signature verified, whatever resource it is for (RFC 7662
/// introspection answers for every audience): issuer and times.
pub fn check_issued(
    parsed: &Parsed,
    proof: SignatureValid,
    issuer: &str,
    now: u64,
) -> Result<AccessClaims, Rejection> {
    let claims: AccessClaims = parsed.claims(proof).map_err(|_| Rejection::Malformed)?;
    if claims.iss != issuer {
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
    use crate::oauth::config::tests::config;
    use crate::oauth::tokens::jwt::tests::{sign, verify};
    use crate::oauth::tokens::signing_keys::Alg;

    fn claims() -> AccessClaims {
        AccessClaims {
            iss: "https://auth.example".into(),
            sub: "u_1".into(),
            aud: Audience::One("https://auth.example".into()),
            client_id: "c1".into(),
            scope: "openid turn".into(),
            iat: 1000,
            exp: 1900,
            jti: "j1".into(),
            gty: "authorization_code".into(),
            fid: Some("f1".into()),
            auth_time: Some(990),
            rights: vec!["turn:priority".into()],
            cnf: None,
        }
    }

    fn decode(token: &str, now: u64) -> Result<AccessClaims, Rejection> {
        let c = config();
        let p = parse(token)?;
        let proof = verify(&c.signing_keys, &p).ok_or(Rejection::BadSignature)?;
        check(&p, proof, "https://auth.example", now)
    }

    #[test]
    fn both_algorithms_round_trip_and_times_are_checked() {
        let c = config();
        for alg in [Alg::Rs256, Alg::Es256] {
            let key = c.signing_keys.signer(alg, 0).unwrap();
            let t = sign(&c.signing_keys, claims().unsigned(key));
            assert!(jwt::looks_like(&t));
            assert_eq!(decode(&t, 1000).unwrap(), claims());
            assert_eq!(decode(&t, 1900), Err(Rejection::Expired));
            assert_eq!(decode(&t, 900), Err(Rejection::Expired));
        }
        let mut other = claims();
        other.iss = "https://b.example".into();
        let key = c.signing_keys.signer(Alg::Es256, 0).unwrap();
        let t = sign(&c.signing_keys, other.unsigned(key));
        assert_eq!(decode(&t, 1000), Err(Rejection::WrongIssuer));
        // A token for another resource is not for the edge's own endpoints; one that names
        // the issuer among others is.
        let mut api = claims();
        api.aud = Audience::One("https://api.example/".into());
        let t = sign(&c.signing_keys, api.unsigned(key));
        assert_eq!(decode(&t, 1000), Err(Rejection::WrongIssuer));
        let mut both = claims();
        both.aud = Audience::Many(vec![
            "https://api.example/".into(),
            "https://auth.example".into(),
        ]);
        let t = sign(&c.signing_keys, both.clone().unsigned(key));
        assert_eq!(decode(&t, 1000), Ok(both));
    }

    #[test]
    fn tampering_fails() {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let c = config();
        let key = c.signing_keys.signer(Alg::Rs256, 0).unwrap();
        let t = sign(&c.signing_keys, claims().unsigned(key));
        let mut wider = claims();
        wider.scope = "openid turn admin".into();
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&wider).unwrap());
        let parts: Vec<&str> = t.split('.').collect();
        let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert_eq!(decode(&forged, 1000), Err(Rejection::BadSignature));
        let json = serde_json::to_value(claims()).unwrap();
        assert_eq!(json["rights"], serde_json::json!(["turn:priority"]));
        let mut bare = claims();
        bare.rights.clear();
        bare.auth_time = None;
        let json = serde_json::to_value(bare).unwrap();
        assert!(json.get("rights").is_none() && json.get("auth_time").is_none());
    }
}
