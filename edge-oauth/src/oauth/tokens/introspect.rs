//! Token introspection (RFC 7662).
//!
//! Callers are confidential clients. A client sees the details of tokens issued to it; a
//! client whose scope includes `introspection` (a resource server) sees any token. Anything
//! else, like any invalid, expired or revoked token, is `{"active": false}`.

use serde_json::{Value, json};

use super::access_token::{self, AccessClaims};
use super::bearer;
use super::jwt::{self, Parsed, SignatureValid};
use super::turn::{self, OpenedTurn};
use crate::oauth::clients::client_auth::AuthenticatedClient;
use crate::oauth::config::Config;
use crate::oauth::error::OAuthError;
use crate::oauth::ids;
use crate::oauth::scope::INTROSPECTION;
use crate::store::reads::{BearerStatus, RefreshRow, TurnStatus};

/// What a presented token is, as far as can be told without D1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Presented {
    /// An access token of the right shape; the worker checks its signature, then
    /// [`access_claims`] its issuer and times.
    Access(Parsed),
    /// A refresh token, by lookup key.
    Refresh {
        /// hex SHA-256.
        key: String,
    },
    /// A TURN token that opened.
    Turn(OpenedTurn),
    /// Not a token of this server, or no longer valid by itself.
    Unknown,
}

/// Classifies a presented token string.
pub fn classify(config: &Config, token: &str, now: u64) -> Presented {
    if jwt::looks_like(token) {
        return match access_token::parse(token) {
            Ok(p) => Presented::Access(p),
            Err(_) => Presented::Unknown,
        };
    }
    if token.starts_with(ids::REFRESH_PREFIX) {
        return Presented::Refresh {
            key: ids::lookup_key(token),
        };
    }
    if token.starts_with(ids::CODE_PREFIX) {
        return Presented::Unknown;
    }
    turn::open(config, token, now).map_or(Presented::Unknown, Presented::Turn)
}

/// The claims of a presented access token once the worker checked its signature (`proof` is
/// `None` when it did not verify): `None` for anything not valid by itself.
pub fn access_claims(
    config: &Config,
    parsed: &Parsed,
    proof: Option<SignatureValid>,
    now: u64,
) -> Option<AccessClaims> {
    access_token::check_issued(parsed, proof?, &config.issuer, now).ok()
}

/// Introspection is for confidential clients (`invalid_client` otherwise).
pub fn require_confidential(caller: &AuthenticatedClient) -> Result<(), OAuthError> {
    if caller.is_confidential() {
        Ok(())
    } else {
        Err(OAuthError::invalid_client(
            "introspection needs a confidential client",
        ))
    }
}

fn may_see(caller: &AuthenticatedClient, owner: Option<&str>) -> bool {
    owner == Some(caller.id()) || caller.record().scope.contains(INTROSPECTION)
}

/// `{"active": false}`.
pub fn inactive() -> Value {
    json!({ "active": false })
}

/// The answer for an access token.
pub fn access(caller: &AuthenticatedClient, claims: &AccessClaims, status: &BearerStatus) -> Value {
    if !bearer::stands(claims, status) || !may_see(caller, Some(&claims.client_id)) {
        return inactive();
    }
    let mut v = json!({
        "active": true,
        "token_type": "Bearer",
        "scope": claims.scope,
        "client_id": claims.client_id,
        "sub": claims.sub,
        "aud": claims.aud,
        "iss": claims.iss,
        "exp": claims.exp,
        "iat": claims.iat,
        "jti": claims.jti,
    });
    if let (Some(name), Some(obj)) = (&status.username, v.as_object_mut()) {
        obj.insert("username".into(), Value::String(name.clone()));
    }
    v
}

/// The answer for a refresh token.
pub fn refresh(caller: &AuthenticatedClient, row: Option<&RefreshRow>, now: u64) -> Value {
    match row {
        Some(r)
            if r.used_at.is_none()
                && r.family_revoked_at.is_none()
                && now < r.expires_at
                && may_see(caller, Some(&r.client_id)) =>
        {
            json!({
                "active": true,
                "token_type": "refresh_token",
                "scope": r.scope,
                "client_id": r.client_id,
                "sub": r.user_id.clone().unwrap_or_else(|| r.client_id.clone()),
                "exp": r.expires_at,
                "iat": r.created_at,
            })
        }
        _ => inactive(),
    }
}

/// The answer for a TURN token that opened: active, exp, iat and kid from the token itself;
/// client and user from the audit trail when this server issued it.
pub fn turn(caller: &AuthenticatedClient, opened: &OpenedTurn, status: &TurnStatus) -> Value {
    if status.revoked.is_some() || !may_see(caller, status.client_id.as_deref()) {
        return inactive();
    }
    let mut v = json!({
        "active": true,
        "token_type": "pop",
        "kid": opened.kid,
        "exp": opened.expires_at,
        "iat": opened.issued_at,
        "jti": opened.token_id,
    });
    if let Some(obj) = v.as_object_mut() {
        if let Some(c) = &status.client_id {
            obj.insert("client_id".into(), Value::String(c.clone()));
        }
        if let Some(u) = &status.user_id {
            obj.insert("sub".into(), Value::String(u.clone()));
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::config::tests::config;

    #[test]
    fn classification() {
        let c = config();
        let m = turn::mint(
            &c,
            600,
            shared_token::AccountKey::from_bytes([1; 12]),
            1_800_000_000,
        )
        .unwrap();
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &m.token);
        assert!(matches!(
            classify(&c, &b64, 1_800_000_001),
            Presented::Turn(_)
        ));
        assert!(matches!(
            classify(&c, "rt1.abc", 0),
            Presented::Refresh { .. }
        ));
        assert_eq!(classify(&c, "ac1.abc", 0), Presented::Unknown);
        assert_eq!(classify(&c, "eyJ.eyJ.x", 0), Presented::Unknown);
        assert_eq!(classify(&c, "garbage", 0), Presented::Unknown);
    }
}
