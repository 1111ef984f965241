//! ID tokens (OpenID Connect Core section 2) for the code flow, the device flow and refreshes
//! of such grants, and reading an `id_token_hint` back.

use serde::{Deserialize, Serialize};

use super::signing_keys::Alg;
use crate::oauth::people::session::Authn;
use crate::oauth::records::UserProfile;
use crate::oauth::scope::{EMAIL, PROFILE, Scope};

/// What an authorization adds to the ID tokens issued from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdTokenPlan {
    /// The `nonce` of the authorization request (code flow only; refreshes carry none:
    /// a nonce binds one authentication, and a refresh is not one).
    pub nonce: Option<String>,
    /// When the person signed in (unchanged across refreshes).
    pub auth_time: u64,
    /// The client's `id_token_signed_response_alg`.
    pub alg: Alg,
    /// How the person was authenticated (`sid`, `amr`, `acr`); `None` for authorizations
    /// from before sessions.
    pub authn: Option<Authn>,
}

/// The claims.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdClaims {
    /// Issuer.
    pub iss: String,
    /// The user id.
    pub sub: String,
    /// The client.
    pub aud: String,
    /// The client again (authorized party).
    pub azp: String,
    /// Expiry.
    pub exp: u64,
    /// Issued at.
    pub iat: u64,
    /// When the person signed in.
    pub auth_time: u64,
    /// The request's nonce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The sign-in session's public id (OpenID Connect Front- and Back-Channel Logout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// RFC 8176 authentication methods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// Authentication context class: `1` signed in for this request, `0` from the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// Left half of the access token's SHA-256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    /// `profile`: the sign-in name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// `profile`: the display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// `email`: true once the person followed the verification link sent to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

/// The claims `scope` releases about `user` (OpenID Connect Core section 5.4): `profile` gives
/// `preferred_username` and `name`, `email` gives `email` and `email_verified`.
pub fn profile_claims(
    user: &UserProfile,
    scope: &Scope,
) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    if scope.contains(PROFILE) {
        m.insert("preferred_username".into(), user.username.clone().into());
        if let Some(n) = &user.name {
            m.insert("name".into(), n.clone().into());
        }
    }
    if scope.contains(EMAIL)
        && let Some(e) = &user.email
    {
        m.insert("email".into(), e.clone().into());
        m.insert("email_verified".into(), user.email_verified.into());
    }
    m
}

/// Everything about an ID token but its `at_hash`, which needs the signed access token.
#[allow(clippy::too_many_arguments)]
pub fn claims(
    issuer: &str,
    client_id: &str,
    user: &UserProfile,
    scope: &Scope,
    plan: &IdTokenPlan,
    ttl: u32,
    now: u64,
) -> IdClaims {
    let p = profile_claims(user, scope);
    let text = |k: &str| p.get(k).and_then(|v| v.as_str()).map(str::to_string);
    IdClaims {
        iss: issuer.to_string(),
        sub: user.id.clone(),
        aud: client_id.to_string(),
        azp: client_id.to_string(),
        exp: now.saturating_add(u64::from(ttl)),
        iat: now,
        auth_time: plan.auth_time,
        nonce: plan.nonce.clone(),
        sid: plan.authn.as_ref().and_then(|a| a.sid.clone()),
        amr: plan.authn.as_ref().map(Authn::amr_list),
        acr: plan.authn.as_ref().map(|a| a.acr.clone()),
        at_hash: None,
        preferred_username: text("preferred_username"),
        name: text("name"),
        email: text("email"),
        email_verified: p.get("email_verified").and_then(|v| v.as_bool()),
    }
}

/// What an `id_token_hint` says, once its signature verified (its expiry is not checked: a
/// hint is often presented after the token expired; OpenID Connect RP-Initiated Logout 1.0
/// section 2).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Hint {
    /// Issuer.
    pub iss: String,
    /// The user.
    pub sub: String,
    /// The client.
    pub aud: String,
    /// Expiry (Unix seconds); a hint without one counts as expired.
    #[serde(default)]
    pub exp: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> UserProfile {
        UserProfile {
            id: "u_1".into(),
            username: "alice".into(),
            name: Some("Alice".into()),
            email: Some("alice@example.com".into()),
            email_verified: false,
            rights: "api:write".into(),
        }
    }

    #[test]
    fn claims_by_scope() {
        let plan = IdTokenPlan {
            nonce: Some("n-0S6_WzA2Mj".into()),
            auth_time: 90,
            alg: Alg::Rs256,
            authn: Some(Authn {
                sid: Some("s_1".into()),
                amr: "pwd".into(),
                acr: "1".into(),
            }),
        };
        let c = claims(
            "https://i",
            "c1",
            &user(),
            &Scope::parse("openid").unwrap(),
            &plan,
            300,
            100,
        );
        assert_eq!(
            (c.aud.as_str(), c.azp.as_str(), c.exp, c.auth_time),
            ("c1", "c1", 400, 90)
        );
        assert_eq!(c.nonce.as_deref(), Some("n-0S6_WzA2Mj"));
        assert_eq!(
            (c.sid.as_deref(), c.amr.clone(), c.acr.as_deref()),
            (Some("s_1"), Some(vec!["pwd".to_string()]), Some("1"))
        );
        assert!(c.name.is_none() && c.email.is_none() && c.preferred_username.is_none());
        let all = Scope::parse("openid profile email").unwrap();
        let c = claims("https://i", "c1", &user(), &all, &plan, 300, 100);
        assert_eq!(c.preferred_username.as_deref(), Some("alice"));
        assert_eq!(c.email_verified, Some(false));
        let json = serde_json::to_value(&c).unwrap();
        assert!(
            json.get("at_hash").is_none(),
            "absent members are left out, not null"
        );
    }
}
