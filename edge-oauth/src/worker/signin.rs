//! Checking a person's password: the one path every page and the password grant use (load the
//! row, PBKDF2 through WebCrypto, constant-time compare; unknown names cost the same).

use worker::{D1Database, Env};

use super::http::{Reply, now};
use super::{crypto, limits, store};
use crate::oauth::config::Config;
use crate::oauth::error::OAuthError;
use crate::oauth::people::password::{PasswordHash, SALT_LEN};
use crate::oauth::people::user_auth::{self, VerifiedUser};
use crate::oauth::ratelimit::Action;
use crate::oauth::{html, ids, people::rehash};

/// `Some(user)` when `password` is right for `username`, `None` when it is wrong or the name is
/// unknown (indistinguishable, in answer and time); `Err` only when D1 or WebCrypto fails.
pub async fn check_password(
    db: &D1Database,
    cfg: &Config,
    username: &str,
    password: &str,
) -> Result<Option<VerifiedUser>, OAuthError> {
    let row = store::user_by_name(db, username).await?;
    let stored = row.as_ref().map(|r| r.password_hash.clone());
    let pending = user_auth::begin(row, password, cfg.password_iterations)?;
    let due = rehash::due(pending.hash(), cfg.password_iterations);
    let derived = crypto::pbkdf2(
        pending.password_bytes(),
        pending.hash().salt(),
        pending.hash().iterations(),
    )
    .await?;
    let Ok(user) = pending.verify(&derived) else {
        return Ok(None);
    };
    if due && let Some(old) = stored {
        rehash(db, cfg, &user, &old, password).await?;
    }
    Ok(Some(user))
}

/// Stores `password` again at the configured iteration count ([`rehash`]).
async fn rehash(
    db: &D1Database,
    cfg: &Config,
    user: &VerifiedUser,
    old: &str,
    password: &str,
) -> Result<(), OAuthError> {
    let salt = ids::random::<SALT_LEN>()?;
    let derived = crypto::pbkdf2(password.as_bytes(), &salt, cfg.password_iterations).await?;
    let new = PasswordHash::from_derived(cfg.password_iterations, &salt, derived);
    store::apply(db, &rehash::writes(user.id(), old, &new, now())).await?;
    Ok(())
}

/// A password posted to a page: the sign-in rate limits first (a 429 page), then
/// [`check_password`] (a server failure is an error page).
pub async fn page_attempt(
    env: &Env,
    db: &D1Database,
    cfg: &Config,
    address: &str,
    username: &str,
    password: &str,
) -> Result<Option<VerifiedUser>, Reply> {
    let action = Action::SignIn {
        username: Some(username),
    };
    limits::spend(env, action, address)
        .await
        .map_err(|e| limits::refused_page(&e))?;
    check_password(db, cfg, username, password)
        .await
        .map_err(|e| {
            Reply::page(
                e.status,
                html::error("Something went wrong", &e.description),
                html::csp(None),
            )
        })
}
