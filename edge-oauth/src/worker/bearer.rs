//! The bearer access token of a request, verified offline and checked against D1: what every
//! resource endpoint (userinfo, `/turn/credentials`, the relays' control endpoints) starts with.

use worker::{D1Database, Request};

use super::http::header;
use super::{crypto, store};
use crate::oauth::config::Config;
use crate::oauth::error::OAuthError;
use crate::oauth::tokens::bearer::{self, ActiveBearer};

/// A bearer token that verified and stands in D1.
pub(super) async fn active_bearer(
    req: &Request,
    cfg: &Config,
    db: &D1Database,
    now: u64,
) -> Result<ActiveBearer, OAuthError> {
    let auth = header(req, "authorization");
    active_token(bearer::from_header(auth.as_deref())?, cfg, db, now).await
}

/// An access token (from a header, or the console's own code redemption) that verified and
/// stands in D1.
pub(super) async fn active_token(
    token: &str,
    cfg: &Config,
    db: &D1Database,
    now: u64,
) -> Result<ActiveBearer, OAuthError> {
    let parsed = bearer::parse(token)?;
    let proof = crypto::verify(&cfg.signing_keys, &parsed).await?;
    let claims = bearer::verify(cfg, &parsed, proof, now)?;
    let status = store::bearer_status(db, &claims).await?;
    bearer::check(claims, status)
}
