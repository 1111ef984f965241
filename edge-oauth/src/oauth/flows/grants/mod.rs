//! The grant types (RFC 6749 section 4 and 6): each decides, from the request, the
//! authenticated client and the records the worker loaded, what to issue.

pub mod authorization_code;
pub mod client_credentials;
pub mod password;
pub mod refresh_token;

use crate::oauth::clients::client::{ClientRecord, GrantType};
use crate::oauth::config::Config;
use crate::oauth::effects::{AuditEvent, Write, Writes, event};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::params::Params;
use crate::oauth::records::UserProfile;
use crate::oauth::scope::{Scope, TURN};
use crate::oauth::tokens::id_token::IdTokenPlan;
use crate::oauth::tokens::resource::Resources;
use crate::oauth::tokens::turn::MAC_ALG;

/// What a grant decided to issue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// The client.
    pub client_id: String,
    /// The user, if any.
    pub user_id: Option<String>,
    /// The scope granted (the access token's).
    pub scope: Scope,
    /// The scope the refresh tokens carry: the authorization's original scope, so a refresh
    /// that narrowed the access token's scope can widen back to it (RFC 6749 section 6).
    pub family_scope: Scope,
    /// The grant type that was used.
    pub grant_type: GrantType,
    /// The family the tokens join.
    pub family: Family,
    /// Whether to issue a refresh token.
    pub refresh: bool,
    /// Whether the access token is an RFC 7635 TURN token (else a bearer JWT).
    pub turn: bool,
    /// Access (or TURN) token lifetime, seconds.
    pub access_ttl: u32,
    /// Refresh-token lifetime, seconds.
    pub refresh_ttl: u32,
    /// The person, for grants that act for one (their profile and rights go into the tokens).
    pub user: Option<UserProfile>,
    /// An ID token to issue with the access token (scope `openid` from the code and device
    /// flows and refreshes of them).
    pub id_token: Option<IdTokenPlan>,
    /// When the person signed in, recorded with a new family so refreshes keep it.
    pub auth_time: Option<u64>,
    /// How they were authenticated, recorded with a new family likewise.
    pub authn: Option<crate::oauth::people::session::Authn>,
    /// The resources the access token is for (RFC 8707; empty: the edge's own).
    pub resources: Resources,
    /// The resources the authorization granted, recorded with a new family so refreshes may
    /// narrow them and never widen them.
    pub family_resources: Resources,
    /// The DPoP key the access token is bound to (RFC 9449 `cnf.jkt`), if a proof came.
    pub dpop_jkt: Option<String>,
    /// The DPoP key a new family's refresh tokens are bound to (public clients).
    pub family_dpop_jkt: Option<String>,
}

/// The token family of a grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Family {
    /// No family (client_credentials: no refresh token, revoked per token).
    None,
    /// A new family (a code redemption or a password grant).
    New,
    /// The family of the refresh token being rotated.
    Existing(String),
}

/// `revoked_reason` of a family revoked because its code was presented again.
pub const CODE_REPLAY: &str = "code_replay";
/// `revoked_reason` of a family revoked because a spent refresh token was presented again.
pub const REFRESH_REUSE: &str = "refresh_reuse";

/// The writes that revoke a family for `reason`, with the audit row saying why.
pub fn revoke_family(client_id: &str, family_id: &str, reason: &'static str, now: u64) -> Writes {
    Writes::none()
        .with(Write::RevokeFamily {
            id: family_id.to_string(),
            reason,
            at: now,
        })
        .with(Write::Audit(AuditEvent {
            client_id: Some(client_id.to_string()),
            family_id: Some(family_id.to_string()),
            detail: Some(reason),
            ..AuditEvent::new(now, event::FAMILY_REVOKED)
        }))
}

/// Whether the request asks for a TURN token: RFC 7635's `aud` naming the TURN server, or a
/// granted scope of exactly `turn`. A scope such as `openid turn` gets a bearer token, which
/// `/turn/credentials` accepts (that is how browsers get TURN credentials).
pub fn wants_turn(params: &Params, scope: &Scope, config: &Config) -> Result<bool, OAuthError> {
    let turn = match params.get("aud") {
        Some(aud) if aud == config.turn_server_name => {
            if !scope.contains(TURN) {
                return Err(OAuthError::invalid_scope(
                    "a TURN token needs the turn scope",
                ));
            }
            true
        }
        Some(_) => {
            return Err(OAuthError::new(
                ErrorCode::InvalidTarget,
                "aud does not name this server's TURN service",
            ));
        }
        None => scope.is_turn_only(),
    };
    if turn && params.get("alg").is_some_and(|a| a != MAC_ALG) {
        return Err(OAuthError::invalid_request(
            "only HMAC-SHA-1 mac_keys are issued",
        ));
    }
    Ok(turn)
}

/// A TURN token (RFC 7635) is for the TURN service, which `aud` names: a request for one
/// may name no other resource (`invalid_target`, RFC 8707 section 2).
pub fn check_turn_target(
    turn: bool,
    resources: &Resources,
    config: &Config,
) -> Result<(), OAuthError> {
    if turn && resources.iter().any(|r| r != config.issuer) {
        return Err(OAuthError::new(
            ErrorCode::InvalidTarget,
            "a TURN token is for the TURN service; ask a bearer token for other resources",
        ));
    }
    Ok(())
}

/// Lifetimes for a client: the server's, shortened by the client's own if set.
pub fn lifetimes(client: &ClientRecord, config: &Config, turn: bool) -> (u32, u32) {
    let server_access = if turn {
        config.turn_token_ttl
    } else {
        config.access_token_ttl
    };
    let access = client
        .access_token_ttl
        .map_or(server_access, |t| t.min(server_access))
        .max(1);
    let refresh = client
        .refresh_token_ttl
        .map_or(config.refresh_token_ttl, |t| {
            t.min(config.refresh_token_ttl)
        })
        .max(1);
    (access, refresh)
}

/// The `grant_type` of a token request: missing is `invalid_request`, unknown is
/// `unsupported_grant_type`.
pub fn grant_type(params: &Params) -> Result<GrantType, OAuthError> {
    let g = params.require("grant_type")?;
    GrantType::parse(g).ok_or_else(|| {
        OAuthError::new(
            ErrorCode::UnsupportedGrantType,
            "this grant type is not supported",
        )
    })
}

/// The client must be registered for the grant type (`unauthorized_client`).
pub fn check_allowed(client: &ClientRecord, grant: GrantType) -> Result<(), OAuthError> {
    if client.allows(grant) {
        Ok(())
    } else {
        Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client may not use this grant type",
        ))
    }
}

#[cfg(test)]
mod decisions;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::oauth::config::tests::config;

    pub(crate) fn client(grants: &[GrantType], scope: &str, public: bool) -> ClientRecord {
        ClientRecord {
            id: "c1".into(),
            name: "Client One".into(),
            secret_hash: (!public)
                .then(|| crate::oauth::people::password::hash(b"s", &[1; 16], 1_000).encode()),
            redirect_uris: vec!["https://app.example/cb".into()],
            grant_types: grants.to_vec(),
            scope: Scope::parse(scope).unwrap(),
            access_token_ttl: None,
            refresh_token_ttl: None,
            post_logout_redirect_uris: vec![],
            id_token_alg: crate::oauth::tokens::signing_keys::Alg::Rs256,
            owner_id: None,
            registration_key: None,
            backchannel: None,
            created_at: 0,
            resources: Resources::none(),
        }
    }

    fn p(s: &str) -> Params {
        Params::from_form(s.as_bytes()).unwrap()
    }

    #[test]
    fn turn_selection() {
        let c = config();
        let turn = Scope::parse("turn").unwrap();
        let both = Scope::parse("openid turn").unwrap();
        let api = Scope::parse("api").unwrap();
        assert!(wants_turn(&p(""), &turn, &c).unwrap());
        assert!(!wants_turn(&p(""), &both, &c).unwrap());
        assert!(wants_turn(&p("aud=turn.example"), &both, &c).unwrap());
        assert_eq!(
            wants_turn(&p("aud=turn.example"), &api, &c)
                .unwrap_err()
                .code,
            ErrorCode::InvalidScope
        );
        assert_eq!(
            wants_turn(&p("aud=other.example"), &turn, &c)
                .unwrap_err()
                .code,
            ErrorCode::InvalidTarget
        );
        assert_eq!(
            wants_turn(&p("alg=HMAC-SHA-256-128"), &turn, &c)
                .unwrap_err()
                .code,
            ErrorCode::InvalidRequest
        );
        assert!(wants_turn(&p("alg=HMAC-SHA-1"), &turn, &c).unwrap());
    }

    #[test]
    fn grant_type_errors() {
        assert_eq!(
            grant_type(&p("")).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            grant_type(&p("grant_type=implicit")).unwrap_err().code,
            ErrorCode::UnsupportedGrantType
        );
        assert_eq!(
            grant_type(&p("grant_type=password")).unwrap(),
            GrantType::Password
        );
        let cl = client(&[GrantType::AuthorizationCode], "openid", true);
        assert_eq!(
            check_allowed(&cl, GrantType::Password).unwrap_err().code,
            ErrorCode::UnauthorizedClient
        );
    }

    #[test]
    fn client_lifetimes_only_shorten() {
        let c = config();
        let mut cl = client(&[], "api", false);
        assert_eq!(lifetimes(&cl, &c, false), (900, 30 * 24 * 3600));
        assert_eq!(lifetimes(&cl, &c, true).0, 3600);
        cl.access_token_ttl = Some(5);
        cl.refresh_token_ttl = Some(10_000_000_000u64.min(u32::MAX as u64) as u32);
        assert_eq!(lifetimes(&cl, &c, true), (5, 30 * 24 * 3600));
    }
}
