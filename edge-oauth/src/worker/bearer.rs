//! The bearer access token of a request, verified offline and checked against D1: what every
//! resource endpoint (userinfo, `/turn/credentials`, the relays' control endpoints) starts with.

use worker::{D1Database, Request};

use super::http::header;
use super::{crypto, store};
use crate::oauth::config::Config;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::tokens::bearer::{self, ActiveBearer, Scheme};
use crate::oauth::tokens::dpop;

/// A bearer token that verified and stands in D1; a DPoP-bound one (RFC 9449) presented as
/// `Authorization: DPoP` with a valid proof from its key for this request.
pub(super) async fn active_bearer(
    req: &Request,
    cfg: &Config,
    db: &D1Database,
    now: u64,
) -> Result<ActiveBearer, OAuthError> {
    let auth = header(req, "authorization");
    let (scheme, token) = bearer::from_header_any(auth.as_deref())?;
    let parsed = bearer::parse(token)?;
    let proof = crypto::verify(&cfg.signing_keys, &parsed).await?;
    let claims = bearer::verify_presented(cfg, &parsed, proof, scheme, now)?;
    if let Some(cnf) = &claims.cnf {
        let refuse =
            |d: &'static str| OAuthError::new(ErrorCode::InvalidDpopProof, d).with_dpop_challenge();
        let header_value =
            header(req, dpop::HEADER).ok_or_else(|| refuse("a DPoP proof is required"))?;
        let unverified = dpop::parse(&header_value).map_err(|e| e.with_dpop_challenge())?;
        let valid = crypto::verify_dpop(&unverified)
            .await?
            .ok_or_else(|| refuse("the DPoP proof's signature does not verify"))?;
        let url = format!("{}{}", cfg.issuer, req.path());
        let method = req.method().to_string();
        SEEN.with(|seen| {
            dpop::check_at_resource(
                unverified,
                valid,
                &method,
                &url,
                token,
                &cnf.jkt,
                now,
                &mut seen.borrow_mut(),
            )
        })?;
    }
    let status = store::bearer_status(db, &claims).await?;
    bearer::check(claims, status)
}

/// An access token the worker holds itself (the console's own code redemption) that verified
/// and stands in D1: a bearer token, never DPoP-bound.
pub(super) async fn active_token(
    token: &str,
    cfg: &Config,
    db: &D1Database,
    now: u64,
) -> Result<ActiveBearer, OAuthError> {
    let parsed = bearer::parse(token)?;
    let proof = crypto::verify(&cfg.signing_keys, &parsed).await?;
    let claims = bearer::verify_presented(cfg, &parsed, proof, Scheme::Bearer, now)?;
    let status = store::bearer_status(db, &claims).await?;
    bearer::check(claims, status)
}

thread_local! {
    /// The DPoP proofs this isolate accepted at the edge's resources (replay detection per
    /// isolate: docs/edge-oauth.md).
    static SEEN: std::cell::RefCell<dpop::SeenProofs> = std::cell::RefCell::new(dpop::SeenProofs::default());
}
