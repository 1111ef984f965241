//! Spending the rate-limit counters [`crate::oauth::ratelimit`] names, with Cloudflare's
//! Workers rate-limiting bindings (shared by every isolate of a location; emulated in local
//! workerd by miniflare with the same fixed windows).

use futures_util::future::join_all;
use worker::Env;

use super::http::Reply;
use crate::oauth::error::OAuthError;
use crate::oauth::html;
use crate::oauth::ratelimit::{self, Action};

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
