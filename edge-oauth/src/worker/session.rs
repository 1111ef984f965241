//! The browser's sign-in session: read from its cookie and loaded from D1
//! ([`crate::oauth::people::session`] decides everything about it).

use worker::{D1Database, Request};

use super::http::{cookie_value, header};
use super::store;
use crate::oauth::error::OAuthError;
use crate::oauth::people::session::{self, SessionSecret};
use crate::store::reads;
use crate::store::reads::SessionRow;

/// The session cookie the request carries, if any.
pub fn secret_of(req: &Request, issuer: &str) -> Option<SessionSecret> {
    cookie_value(req, &session::cookie_name(issuer))
        .filter(|v| !v.is_empty())
        .map(SessionSecret::new)
}

/// The request's `User-Agent` (kept, truncated, for the account page).
pub fn user_agent(req: &Request) -> Option<String> {
    header(req, "user-agent")
}

/// The browser's live session with its person (`None`: no cookie, no row, ended, idle, or the
/// person was deleted).
pub async fn live(
    db: &D1Database,
    secret: Option<&SessionSecret>,
    now: u64,
) -> Result<Option<SessionRow>, OAuthError> {
    let Some(secret) = secret else {
        return Ok(None);
    };
    let row = store::first(db, &reads::session(&secret.key())).await?;
    Ok(row.filter(|r| r.username.is_some() && session::is_live(r, now)))
}

/// The browser's live session (as [`live`]) and what its person consented to for
/// `client_id`, in one round trip to D1.
pub async fn live_with_consent(
    db: &D1Database,
    secret: Option<&SessionSecret>,
    client_id: &str,
    now: u64,
) -> Result<(Option<SessionRow>, Option<String>), OAuthError> {
    let Some(secret) = secret else {
        return Ok((None, None));
    };
    let key = secret.key();
    let (row, consent) = store::first_of_both(
        db,
        &reads::session(&key),
        &reads::consent_of_session(&key, client_id),
    )
    .await?;
    match row.filter(|r| r.username.is_some() && session::is_live(r, now)) {
        Some(r) => Ok((Some(r), consent.map(|c| c.scope))),
        None => Ok((None, None)),
    }
}

/// What the person consented to for `client_id` (space-separated scope).
pub async fn consent(
    db: &D1Database,
    user_id: &str,
    client_id: &str,
) -> Result<Option<String>, OAuthError> {
    Ok(store::first(db, &reads::consent(user_id, client_id))
        .await?
        .map(|c| c.scope))
}
