//! Spending the rate-limit counters [`crate::oauth::ratelimit`] names, with Cloudflare's
//! Workers rate-limiting bindings (shared by every isolate of a location; emulated in local
//! workerd by miniflare with the same fixed windows).

use std::cell::RefCell;

use futures_util::future::join_all;
use worker::{Env, Request};

use super::http::{Reply, client_address, header, now};
use crate::oauth::admin;
use crate::oauth::config::Config;
use crate::oauth::error::OAuthError;
use crate::oauth::html;
use crate::oauth::people::penalty::Penalties;
use crate::oauth::ratelimit::{self, Action};

thread_local! {
    /// The failure counters this isolate found spent ([`crate::oauth::people::penalty`]).
    static PENALTIES: RefCell<Penalties> = RefCell::new(Penalties::default());
}

/// Spends every counter `action` from `address` needs, concurrently; the first spent one is
/// a 429 (`Retry-After`, RFC 6749-style JSON). A missing binding is a configuration error.
pub async fn spend(env: &Env, action: Action<'_>, address: &str) -> Result<(), OAuthError> {
    let checks = ratelimit::checks(action, address);
    let mut pending = Vec::with_capacity(checks.len());
    for c in &checks {
        let binding = env.rate_limiter(c.limit.binding()).map_err(|_| {
            OAuthError::server_error(format!(
                "configuration: the rate-limit binding {} is missing",
                c.limit.binding()
            ))
        })?;
        pending.push(async move { binding.limit(c.key.clone()).await });
    }
    let outcomes = join_all(pending).await;
    for (c, outcome) in checks.iter().zip(outcomes) {
        match outcome {
            Ok(o) if o.success => {}
            Ok(_) => return Err(ratelimit::refused(c.limit)),
            // A failing counter lets the request through: the limits protect against abuse,
            // they must not take the server down with them.
            Err(_) => {}
        }
    }
    Ok(())
}

fn penalty_key(c: &ratelimit::Check) -> String {
    format!("{} {}", c.limit.binding(), c.key)
}

/// Refuses (429) a caller whose failure counter for `action` this isolate found spent, until
/// that counter's window ends: checked before any secret, so the right secret waits too.
pub fn still_refused(action: Action<'_>, address: &str, now: u64) -> Result<(), OAuthError> {
    for c in ratelimit::checks(action, address) {
        if PENALTIES.with(|p| p.borrow().refused(&penalty_key(&c), now).is_some()) {
            return Err(ratelimit::refused(c.limit));
        }
    }
    Ok(())
}

/// Counts a failure (`action` is a failure counter): when its counter is spent, the caller is
/// refused until the window ends ([`still_refused`]) and this failure answers 429 instead of
/// `failure`.
pub async fn failed(
    env: &Env,
    action: Action<'_>,
    address: &str,
    now: u64,
    failure: OAuthError,
) -> OAuthError {
    match spend(env, action, address).await {
        Ok(()) => failure,
        Err(refused) if refused.status == 429 => {
            for c in ratelimit::checks(action, address) {
                let until = now.saturating_add(u64::from(c.limit.period()));
                PENALTIES.with(|p| p.borrow_mut().refuse(&penalty_key(&c), until, now));
            }
            refused
        }
        Err(other) => other,
    }
}

/// Checks the admin secret, counting wrong ones per source address: past `RL_ADMIN_FAIL`'s
/// limit that address is refused (429), the right secret included, until the window ends.
pub async fn admin(env: &Env, cfg: &Config, req: &Request) -> Result<(), OAuthError> {
    let address = client_address(req);
    let now = now();
    still_refused(Action::AdminFailure, &address, now)?;
    match admin::authorize(cfg, header(req, "authorization").as_deref()) {
        Ok(()) => Ok(()),
        Err(e) => Err(failed(env, Action::AdminFailure, &address, now, e).await),
    }
}

/// The page for a refused page request: 429 with `Retry-After`.
pub fn refused_page(e: &OAuthError) -> Reply {
    Reply::Html {
        status: e.status,
        body: html::error("Too many attempts", "Wait a minute, then try again."),
        csp: html::csp(None),
        cookie: None,
        retry_after: e.retry_after,
    }
}
