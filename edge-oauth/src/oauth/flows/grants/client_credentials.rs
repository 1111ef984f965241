//! `client_credentials` (RFC 6749 section 4.4): a confidential client acting for itself.
//! No refresh token (section 4.4.3).

use super::{Family, Grant, check_turn_target, lifetimes, wants_turn};
use crate::oauth::clients::client::GrantType;
use crate::oauth::clients::client_auth::AuthenticatedClient;
use crate::oauth::config::Config;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::params::Params;
use crate::oauth::scope::Scope;
use crate::oauth::tokens::resource;

/// Decides a client_credentials request.
pub fn decide(
    client: &AuthenticatedClient,
    params: &Params,
    config: &Config,
) -> Result<Grant, OAuthError> {
    if !client.is_confidential() {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "client_credentials needs a confidential client",
        ));
    }
    let record = client.record();
    let scope = Scope::grant(params.get("scope"), &record.scope)?;
    let turn = wants_turn(params, &scope, config)?;
    // No authorization to narrow: the client's registered resources (RFC 8707 section 2).
    let resources = resource::requested(params, &record.resources, &config.issuer)?;
    check_turn_target(turn, &resources, config)?;
    let (access_ttl, refresh_ttl) = lifetimes(record, config, turn);
    Ok(Grant {
        client_id: record.id.clone(),
        user_id: None,
        family_scope: scope.clone(),
        scope,
        grant_type: GrantType::ClientCredentials,
        family: Family::None,
        refresh: false,
        turn,
        access_ttl,
        refresh_ttl,
        user: None,
        id_token: None,
        auth_time: None,
        authn: None,
        family_resources: resources.clone(),
        dpop_jkt: None,
        family_dpop_jkt: None,
        resources,
    })
}
