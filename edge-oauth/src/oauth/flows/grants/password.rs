//! `password` (RFC 6749 section 4.3): legacy, dropped by OAuth 2.1, kept because our seeds
//! use it. A client must opt in (its `grant_types` lists `password`). The user's password is
//! checked by [`crate::oauth::people::user_auth`] before [`decide`] runs.

use super::{Family, Grant, check_turn_target, lifetimes, wants_turn};
use crate::oauth::clients::client::GrantType;
use crate::oauth::clients::client_auth::AuthenticatedClient;
use crate::oauth::config::Config;
use crate::oauth::error::OAuthError;
use crate::oauth::params::Params;
use crate::oauth::people::user_auth::VerifiedUser;
use crate::oauth::scope::Scope;
use crate::oauth::tokens::resource;

/// Decides a password grant for a user whose password verified.
pub fn decide(
    client: &AuthenticatedClient,
    user: &VerifiedUser,
    params: &Params,
    config: &Config,
) -> Result<Grant, OAuthError> {
    let record = client.record();
    let scope = Scope::grant(params.get("scope"), &record.scope)?;
    let turn = wants_turn(params, &scope, config)?;
    // No authorization to narrow: the client's registered resources (RFC 8707 section 2).
    let resources = resource::requested(params, &record.resources, &config.issuer)?;
    check_turn_target(turn, &resources, config)?;
    let (access_ttl, refresh_ttl) = lifetimes(record, config, turn);
    let refresh = record.allows(GrantType::RefreshToken);
    Ok(Grant {
        client_id: record.id.clone(),
        user_id: Some(user.id().to_string()),
        family_scope: scope.clone(),
        scope,
        grant_type: GrantType::Password,
        family: if refresh { Family::New } else { Family::None },
        refresh,
        turn,
        access_ttl,
        refresh_ttl,
        user: Some(user.profile()),
        id_token: None,
        auth_time: None,
        authn: None,
        family_resources: resources.clone(),
        dpop_jkt: None,
        family_dpop_jkt: None,
        resources,
    })
}
