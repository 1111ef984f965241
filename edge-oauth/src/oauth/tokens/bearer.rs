//! Protected resources (userinfo, `/turn/credentials`): the bearer token (RFC 6750 section
//! 2.1, header only), its signature and times, then its standing in D1.

use super::access_token::{self, AccessClaims};
use super::jwt::{Parsed, SignatureValid};
use crate::oauth::config::Config;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::scope::{EMAIL, PROFILE};
use crate::store::reads::BearerStatus;

/// How a token was presented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// `Authorization: Bearer` (RFC 6750).
    Bearer,
    /// `Authorization: DPoP`, with a `DPoP` proof (RFC 9449 section 7.1).
    Dpop,
}

/// The token from `Authorization: Bearer <token>` or `Authorization: DPoP <token>`.
pub fn from_header_any(authorization: Option<&str>) -> Result<(Scheme, &str), OAuthError> {
    let h = authorization
        .ok_or_else(|| OAuthError::invalid_token("a bearer token is required"))?
        .trim();
    if let Some((scheme, token)) = h.split_once(' ')
        && scheme.eq_ignore_ascii_case("dpop")
        && !token.trim().is_empty()
    {
        return Ok((Scheme::Dpop, token.trim()));
    }
    from_header(authorization).map(|t| (Scheme::Bearer, t))
}

/// The token from `Authorization: Bearer <token>`.
pub fn from_header(authorization: Option<&str>) -> Result<&str, OAuthError> {
    let h = authorization
        .ok_or_else(|| OAuthError::invalid_token("a bearer token is required"))?
        .trim();
    let (scheme, token) = h
        .split_once(' ')
        .ok_or_else(|| OAuthError::invalid_token("a bearer token is required"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(OAuthError::invalid_token("a bearer token is required"));
    }
    Ok(token.trim())
}

fn not_valid() -> OAuthError {
    OAuthError::invalid_token("the access token is not valid")
}

/// Splits the token (no I/O); the worker then checks its signature with WebCrypto.
pub fn parse(token: &str) -> Result<Parsed, OAuthError> {
    access_token::parse(token).map_err(|_| not_valid())
}

/// The token's claims once its signature verified (`proof` is `None` when it did not):
/// issuer, audience and times, for a token presented under `scheme`: a DPoP-bound token only
/// as `DPoP` (its proof is then checked by the caller against `cnf.jkt`), an unbound one only
/// as `Bearer` (RFC 9449 section 7.2). The worker then loads its [`BearerStatus`].
pub fn verify_presented(
    config: &Config,
    parsed: &Parsed,
    proof: Option<SignatureValid>,
    scheme: Scheme,
    now: u64,
) -> Result<AccessClaims, OAuthError> {
    let proof = proof.ok_or_else(not_valid)?;
    let claims = access_token::check(parsed, proof, &config.issuer, now).map_err(|r| match r {
        access_token::Rejection::Expired => {
            OAuthError::invalid_token("the access token has expired")
        }
        _ => not_valid(),
    })?;
    match (scheme, &claims.cnf) {
        (Scheme::Bearer, Some(_)) => Err(OAuthError::invalid_token(
            "a DPoP-bound token needs the DPoP scheme and a proof",
        )
        .with_dpop_challenge()),
        (Scheme::Dpop, None) => Err(OAuthError::invalid_token(
            "the token is not bound to a DPoP key",
        )
        .with_dpop_challenge()),
        _ => Ok(claims),
    }
}

/// A bearer token that verified and is in good standing.
#[derive(Clone, Debug)]
pub struct ActiveBearer {
    /// Its claims.
    pub claims: AccessClaims,
    /// The user's name, when it acts for a user.
    pub username: Option<String>,
    /// The user's display name.
    pub name: Option<String>,
    /// The user's email.
    pub email: Option<String>,
    /// True once verified.
    pub email_verified: bool,
}

/// True when D1 says the token still stands: not revoked, family not revoked, client and
/// (if any) user still exist, and not issued before everything of its user was revoked.
pub fn stands(claims: &AccessClaims, status: &BearerStatus) -> bool {
    status.revoked.is_none()
        && status.family_revoked_at.is_none()
        // A client named by its metadata document has no row (its tokens stand while the rest
        // does; they are short-lived).
        && (status.client_exists.is_some()
            || crate::oauth::clients::metadata_document::is_document_id(&claims.client_id))
        && (claims.user_id().is_none() || status.username.is_some())
        && status
            .user_revoked_before
            .is_none_or(|t| claims.user_id().is_none() || claims.iat > t)
}

/// Combines the verified claims with their standing.
pub fn check(claims: AccessClaims, status: BearerStatus) -> Result<ActiveBearer, OAuthError> {
    if !stands(&claims, &status) {
        return Err(OAuthError::invalid_token(
            "the access token has been revoked",
        ));
    }
    Ok(ActiveBearer {
        claims,
        username: status.username,
        name: status.name,
        email: status.email,
        email_verified: status.email_verified == Some(1),
    })
}

impl ActiveBearer {
    fn has_scope(&self, scope: &str) -> bool {
        self.claims.scope.split(' ').any(|s| s == scope)
    }

    /// `insufficient_scope` (403) unless the token has `scope`.
    pub fn require_scope(&self, scope: &str) -> Result<(), OAuthError> {
        if self.has_scope(scope) {
            Ok(())
        } else {
            Err(OAuthError::new(
                ErrorCode::InsufficientScope,
                "the access token lacks the scope this resource needs",
            ))
        }
    }

    /// The OpenID Connect userinfo claims: `sub`, with scope `profile` the account's
    /// `preferred_username` and `name`, and with scope `email` its `email` and whether the person verified it.
    pub fn userinfo(&self) -> Result<serde_json::Value, OAuthError> {
        let user = self.claims.user_id().ok_or_else(|| {
            OAuthError::new(
                ErrorCode::InsufficientScope,
                "a client_credentials token has no user",
            )
        })?;
        let mut v = serde_json::json!({ "sub": user });
        if let Some(obj) = v.as_object_mut() {
            // The ID token's rule (OpenID Connect Core section 5.4): `profile` releases the
            // sign-in and display names, `email` the address.
            if self.has_scope(PROFILE) {
                if let Some(username) = &self.username {
                    obj.insert(
                        "preferred_username".into(),
                        serde_json::Value::String(username.clone()),
                    );
                }
                if let Some(name) = &self.name {
                    obj.insert("name".into(), serde_json::Value::String(name.clone()));
                }
            }
            if let Some(email) = self.email.as_ref().filter(|_| self.has_scope(EMAIL)) {
                obj.insert("email".into(), serde_json::Value::String(email.clone()));
                obj.insert(
                    "email_verified".into(),
                    serde_json::Value::Bool(self.email_verified),
                );
            }
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(gty: &str) -> AccessClaims {
        AccessClaims {
            iss: "i".into(),
            sub: "u_1".into(),
            aud: crate::oauth::tokens::resource::Audience::One("i".into()),
            client_id: "c".into(),
            scope: "openid turn".into(),
            iat: 0,
            exp: 10,
            jti: "j".into(),
            gty: gty.into(),
            fid: None,
            auth_time: None,
            rights: vec![],
            cnf: None,
        }
    }

    fn ok_status() -> BearerStatus {
        BearerStatus {
            client_exists: Some(1),
            username: Some("alice".into()),
            ..Default::default()
        }
    }

    #[test]
    fn header_forms() {
        assert_eq!(from_header(Some("Bearer abc")).unwrap(), "abc");
        assert_eq!(from_header(Some("bearer  abc ")).unwrap(), "abc");
        for h in [
            None,
            Some(""),
            Some("Basic abc"),
            Some("Bearer"),
            Some("Bearer   "),
        ] {
            let e = from_header(h).unwrap_err();
            assert_eq!((e.code, e.status), (ErrorCode::InvalidToken, 401));
        }
    }

    #[test]
    fn standing() {
        assert!(check(claims("authorization_code"), ok_status()).is_ok());
        for s in [
            BearerStatus {
                revoked: Some(1),
                ..ok_status()
            },
            BearerStatus {
                family_revoked_at: Some(5),
                ..ok_status()
            },
            BearerStatus {
                client_exists: None,
                ..ok_status()
            },
            BearerStatus {
                username: None,
                ..ok_status()
            },
            BearerStatus {
                user_revoked_before: Some(0),
                ..ok_status()
            },
        ] {
            assert_eq!(
                check(claims("authorization_code"), s).unwrap_err().code,
                ErrorCode::InvalidToken
            );
        }
        // A client named by its metadata document has no row; its family still counts.
        let mut cimd = claims("authorization_code");
        cimd.client_id = "https://agent.example/client.json".into();
        let no_row = BearerStatus {
            client_exists: None,
            ..ok_status()
        };
        assert!(check(cimd.clone(), no_row.clone()).is_ok());
        let revoked = BearerStatus {
            family_revoked_at: Some(5),
            ..no_row
        };
        assert!(check(cimd, revoked).is_err());
        // A client_credentials token needs no user.
        assert!(
            check(
                claims("client_credentials"),
                BearerStatus {
                    username: None,
                    ..ok_status()
                }
            )
            .is_ok()
        );
    }

    #[test]
    fn scopes_and_userinfo() {
        let b = check(claims("authorization_code"), ok_status()).unwrap();
        assert!(b.require_scope("turn").is_ok());
        let e = b.require_scope("admin").unwrap_err();
        assert_eq!((e.code, e.status), (ErrorCode::InsufficientScope, 403));
        // Without `profile`, only `sub` (as in the ID token).
        let bare = b.userinfo().unwrap();
        assert_eq!(bare["sub"], "u_1");
        assert!(bare.get("preferred_username").is_none() && bare.get("name").is_none());
        let mut with_profile = claims("authorization_code");
        with_profile.scope = "openid profile".into();
        let status = BearerStatus {
            name: Some("Alice A".into()),
            ..ok_status()
        };
        let p = check(with_profile, status).unwrap().userinfo().unwrap();
        assert_eq!(p["preferred_username"], "alice");
        assert_eq!(p["name"], "Alice A");
        let cc = check(claims("client_credentials"), ok_status()).unwrap();
        assert!(cc.userinfo().is_err());
    }
}
