//! `refresh_token` (RFC 6749 section 6) with rotation and reuse detection (RFC 9700 section
//! 4.14.2): every refresh returns a new refresh token and marks the old one used; presenting
//! a used one revokes the whole family. The worker claims the old token with one conditional
//! UPDATE, so of two concurrent refreshes only one can succeed; the worker then loads the row
//! again and decides again, and the loser is a reuse.

use super::{
    Family, Grant, REFRESH_REUSE, check_turn_target, lifetimes, revoke_family, wants_turn,
};
use crate::oauth::clients::client::GrantType;
use crate::oauth::clients::client_auth::AuthenticatedClient;
use crate::oauth::config::Config;
use crate::oauth::effects::Writes;
use crate::oauth::error::OAuthError;
use crate::oauth::ids;
use crate::oauth::params::Params;
use crate::oauth::people::session::Authn;
use crate::oauth::scope::{OPENID, Scope};
use crate::oauth::tokens::id_token::IdTokenPlan;
use crate::oauth::tokens::resource::{self, Resources};
use crate::store::reads::RefreshRow;

/// The presented token's lookup key (`invalid_request` when missing).
pub fn token_key(params: &Params) -> Result<String, OAuthError> {
    Ok(ids::lookup_key(params.require("refresh_token")?))
}

/// What to do with a refresh token.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "made once per token request and matched at once: boxing would buy nothing"
)]
pub enum Outcome {
    /// Rotate: claim the old token atomically, issue a new one in the same family.
    Rotate(Grant),
    /// It was already rotated: apply `revoke` (the family and the audit row), then answer
    /// [`reused`].
    Reused {
        /// The writes that revoke the family.
        revoke: Writes,
    },
}

/// The answer to a reused refresh token.
pub fn reused() -> OAuthError {
    OAuthError::invalid_grant("the refresh token was already used; its token family is revoked")
}

/// Decides a refresh.
pub fn decide(
    client: &AuthenticatedClient,
    params: &Params,
    row: Option<RefreshRow>,
    config: &Config,
    now: u64,
) -> Result<Outcome, OAuthError> {
    let row = row.ok_or_else(|| OAuthError::invalid_grant("the refresh token is invalid"))?;
    if row.client_id != client.id() {
        return Err(OAuthError::invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    if row.family_revoked_at.is_some() {
        return Err(OAuthError::invalid_grant(
            "the refresh token has been revoked",
        ));
    }
    if row.used_at.is_some() {
        return Ok(Outcome::Reused {
            revoke: revoke_family(client.id(), &row.family_id, REFRESH_REUSE, now),
        });
    }
    if now >= row.expires_at {
        return Err(OAuthError::invalid_grant("the refresh token has expired"));
    }
    let user = match &row.user_id {
        Some(_) => Some(
            row.user()
                .ok_or_else(|| OAuthError::invalid_grant("the account no longer exists"))?,
        ),
        None => None,
    };
    let record = client.record();
    let original = Scope::parse(&row.scope)?;
    // A refresh may narrow the scope but never widen it, and never beyond what the client
    // may have today (an admin may have reduced it since).
    let scope = Scope::grant(params.get("scope"), &original)?;
    if !scope.is_subset(&record.scope) {
        return Err(OAuthError::invalid_scope(
            "the client may no longer have this scope",
        ));
    }
    let turn = wants_turn(params, &scope, config)?;
    // RFC 8707 section 2.2: the same rule for resources, against the family's grant.
    let granted = Resources::from_stored(row.resource.as_deref())?;
    let resources = resource::narrowed(params, &granted, &record.resources, &config.issuer)?;
    check_turn_target(turn, &resources, config)?;
    let (access_ttl, refresh_ttl) = lifetimes(record, config, turn);
    // OpenID Connect Core section 12.2: an ID token again, with the original auth_time and
    // no nonce, when the authorization had a sign-in and the refresh keeps `openid`.
    let authn = Authn::from_columns(row.sid.as_deref(), row.amr.as_deref(), row.acr.as_deref());
    let id_token = match row.auth_time {
        Some(auth_time) if scope.contains(OPENID) && !turn && user.is_some() => Some(IdTokenPlan {
            nonce: None,
            auth_time,
            alg: record.id_token_alg,
            authn: authn.clone(),
        }),
        _ => None,
    };
    Ok(Outcome::Rotate(Grant {
        client_id: record.id.clone(),
        user_id: row.user_id,
        scope,
        family_scope: original,
        grant_type: GrantType::RefreshToken,
        family: Family::Existing(row.family_id),
        refresh: true,
        turn,
        access_ttl,
        refresh_ttl,
        user,
        id_token,
        auth_time: row.auth_time,
        authn,
        resources,
        family_resources: granted,
        dpop_jkt: None,
        family_dpop_jkt: None,
    }))
}
