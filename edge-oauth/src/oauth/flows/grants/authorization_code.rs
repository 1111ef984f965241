//! `authorization_code` (RFC 6749 section 4.1.3) with PKCE S256 (RFC 7636 section 4.6).
//!
//! Checks happen before the code is consumed, so a request with a wrong verifier or redirect
//! URI cannot burn a legitimate client's code; the worker then claims the code with one
//! conditional UPDATE, and a code that is already used (now or concurrently: the worker then
//! loads the row again and decides again) is a replay: the family issued from it is revoked
//! (RFC 6749 section 4.1.2, RFC 9700 section 4.5).

use super::{CODE_REPLAY, Family, Grant, check_turn_target, lifetimes, revoke_family, wants_turn};
use crate::oauth::clients::client::GrantType;
use crate::oauth::clients::client_auth::AuthenticatedClient;
use crate::oauth::config::Config;
use crate::oauth::effects::Writes;
use crate::oauth::error::OAuthError;
use crate::oauth::flows::pkce;
use crate::oauth::ids;
use crate::oauth::params::Params;
use crate::oauth::people::session::Authn;
use crate::oauth::scope::{OPENID, Scope};
use crate::oauth::tokens::id_token::IdTokenPlan;
use crate::oauth::tokens::resource::{self, Resources};
use crate::store::reads::CodeRow;

/// The code's lookup key, from the request (`invalid_request` when missing).
pub fn code_key(params: &Params) -> Result<String, OAuthError> {
    Ok(ids::lookup_key(params.require("code")?))
}

/// What to do with a code.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "made once per token request and matched at once: boxing would buy nothing"
)]
pub enum Outcome {
    /// Issue, after claiming the code atomically.
    Redeem(Grant),
    /// The code was already used: apply `revoke` (its family, if any, and the audit row),
    /// then answer [`replayed`].
    Replayed {
        /// The writes that revoke what the first redemption issued.
        revoke: Writes,
    },
}

/// The answer to a replayed code.
pub fn replayed() -> OAuthError {
    OAuthError::invalid_grant(
        "the authorization code was already used; tokens issued from it are revoked",
    )
}

/// Decides a code redemption.
pub fn decide(
    client: &AuthenticatedClient,
    params: &Params,
    code: Option<CodeRow>,
    config: &Config,
    now: u64,
) -> Result<Outcome, OAuthError> {
    let redirect_uri = params.require("redirect_uri")?;
    let verifier = params.require("code_verifier")?;
    let code =
        code.ok_or_else(|| OAuthError::invalid_grant("the authorization code is invalid"))?;
    if code.used_at.is_some() {
        let revoke = match &code.family_id {
            Some(fid) => revoke_family(client.id(), fid, CODE_REPLAY, now),
            None => Writes::none(),
        };
        return Ok(Outcome::Replayed { revoke });
    }
    if code.client_id != client.id() {
        return Err(OAuthError::invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    if now >= code.expires_at {
        return Err(OAuthError::invalid_grant(
            "the authorization code has expired",
        ));
    }
    if code.redirect_uri != redirect_uri {
        return Err(OAuthError::invalid_grant(
            "redirect_uri differs from the authorization request",
        ));
    }
    if !pkce::verify_s256(&code.code_challenge, verifier) {
        return Err(OAuthError::invalid_grant(
            "code_verifier does not match the code_challenge",
        ));
    }
    let user = code
        .user()
        .ok_or_else(|| OAuthError::invalid_grant("the account no longer exists"))?;
    let record = client.record();
    let scope = Scope::parse(&code.scope)?;
    let turn = wants_turn(params, &scope, config)?;
    let granted = Resources::from_stored(code.resource.as_deref())?;
    let resources = resource::narrowed(params, &granted, &record.resources, &config.issuer)?;
    check_turn_target(turn, &resources, config)?;
    let (access_ttl, refresh_ttl) = lifetimes(record, config, turn);
    let authn = Authn::from_columns(
        code.sid.as_deref(),
        code.amr.as_deref(),
        code.acr.as_deref(),
    );
    let id_token = match code.auth_time {
        Some(auth_time) if scope.contains(OPENID) && !turn => Some(IdTokenPlan {
            nonce: code.nonce.clone(),
            auth_time,
            alg: record.id_token_alg,
            authn: authn.clone(),
        }),
        _ => None,
    };
    Ok(Outcome::Redeem(Grant {
        client_id: record.id.clone(),
        user_id: Some(code.user_id),
        family_scope: scope.clone(),
        scope,
        grant_type: GrantType::AuthorizationCode,
        family: Family::New,
        refresh: record.allows(GrantType::RefreshToken),
        turn,
        access_ttl,
        refresh_ttl,
        user: Some(user),
        id_token,
        auth_time: code.auth_time,
        authn,
        resources,
        family_resources: granted,
        dpop_jkt: None,
        family_dpop_jkt: None,
    }))
}
