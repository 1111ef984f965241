//! Token revocation (RFC 7009). Invalid and unknown tokens are answered with 200 (section
//! 2.2); a token issued to another client is refused with `unauthorized_client` (section 2.1:
//! the server verifies the token was issued to the requesting client).

use super::access_token::AccessClaims;
use super::turn::OpenedTurn;
use crate::oauth::clients::client_auth::AuthenticatedClient;
use crate::oauth::effects::{AuditEvent, Revocation, Write, Writes, event};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::store::reads::{RefreshRow, TurnStatus};

/// `revoked_reason` of a family revoked through RFC 7009.
pub const REVOKED: &str = "revoked";

fn not_yours() -> OAuthError {
    OAuthError::new(
        ErrorCode::UnauthorizedClient,
        "the token was not issued to this client",
    )
}

fn audit(
    now: u64,
    ev: &'static str,
    token_id: Option<String>,
    caller: &AuthenticatedClient,
) -> AuditEvent {
    AuditEvent {
        token_id,
        client_id: Some(caller.id().to_string()),
        ..AuditEvent::new(now, ev)
    }
}

/// Revoking an access token: its jti, until it would have expired.
pub fn access(
    caller: &AuthenticatedClient,
    claims: &AccessClaims,
    now: u64,
) -> Result<Writes, OAuthError> {
    if claims.client_id != caller.id() {
        return Err(not_yours());
    }
    let mut w = Writes::none().with(Write::RevokeToken(Revocation {
        token_id: claims.jti.clone(),
        kind: "access",
        expires_at: claims.exp,
        revoked_at: now,
    }));
    let mut a = audit(now, event::TOKEN_REVOKED, Some(claims.jti.clone()), caller);
    a.user_id = claims.user_id().map(str::to_string);
    a.family_id = claims.fid.clone();
    a.detail = Some("access_token");
    w.audit(a);
    Ok(w)
}

/// Revoking a refresh token revokes its family: every refresh token rotated from the same
/// authorization and every access token issued with them (RFC 7009 section 2.1).
pub fn refresh(
    caller: &AuthenticatedClient,
    row: Option<&RefreshRow>,
    token_id: String,
    now: u64,
) -> Result<Writes, OAuthError> {
    let mut w = Writes::none();
    let Some(row) = row else { return Ok(w) };
    if row.client_id != caller.id() {
        return Err(not_yours());
    }
    if row.family_revoked_at.is_none() {
        w.push(Write::RevokeFamily {
            id: row.family_id.clone(),
            reason: REVOKED,
            at: now,
        });
        let mut a = audit(now, event::FAMILY_REVOKED, Some(token_id), caller);
        a.user_id = row.user_id.clone();
        a.family_id = Some(row.family_id.clone());
        a.detail = Some(REVOKED);
        w.audit(a);
    }
    Ok(w)
}

/// Revoking a TURN token: its token id, for introspection and in the relays' revocation feed
/// (docs/control-plane.md).
pub fn turn(
    caller: &AuthenticatedClient,
    opened: &OpenedTurn,
    status: &TurnStatus,
    now: u64,
) -> Result<Writes, OAuthError> {
    let mut w = Writes::none();
    match status.client_id.as_deref() {
        None => return Ok(w),
        Some(owner) if owner != caller.id() => return Err(not_yours()),
        Some(_) => {}
    }
    w.push(Write::RevokeToken(Revocation {
        token_id: opened.token_id.clone(),
        kind: "turn",
        expires_at: opened.expires_at,
        revoked_at: now,
    }));
    let mut a = audit(
        now,
        event::TOKEN_REVOKED,
        Some(opened.token_id.clone()),
        caller,
    );
    a.user_id = status.user_id.clone();
    a.detail = Some("turn_token");
    w.audit(a);
    Ok(w)
}
