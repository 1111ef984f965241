//! Checking a person's password: the one path every page and the password grant use (load the
//! row, PBKDF2 through WebCrypto, constant-time compare; unknown names cost the same).

use worker::{D1Database, Env};

use super::http::Reply;
use super::{crypto, limits, store};
use crate::oauth::config::Config;
use crate::oauth::error::OAuthError;
use crate::oauth::html;
use crate::oauth::ratelimit::Action;
use crate::oauth::user_auth::{self, VerifiedUser};

/// `Some(user)` when `password` is right for `username`, `None` when it is wrong or the name is
/// unknown (indistinguishable, in answer and time); `Err` only when D1 or WebCrypto fails.
pub async fn check_password(
    db: &D1Database,
    cfg: &Config,
    username: &str,
    password: &str,
) -> Result<Option<VerifiedUser>, OAuthError> {
    let row = store::user_by_name(db, username).await?;
    let pending = user_auth::begin(row, password, cfg.password_iterations)?;
    let derived = crypto::pbkdf2(
        pending.password_bytes(),
        pending.hash().salt(),
        pending.hash().iterations(),
    )
    .await?;
    Ok(pending.verify(&derived).ok())
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
