//! A native resource server's JWKS fetcher: [`Remote`] keeps a [`JwksCache`] filled from the
//! edge's `jwks_uri` over HTTP(S) (ureq), refetching when the cache asks.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::cache::{JwksCache, Need};
use crate::claims::Verified;
use crate::verify::{Rejection, Verifier};

/// A verifier with its key set fetched from `jwks_uri`.
pub struct Remote {
    jwks_uri: String,
    verifier: Verifier,
    cache: JwksCache,
    agent: ureq::Agent,
}

/// Unix seconds now.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Remote {
    /// Tokens checked by `verifier` against the keys at `jwks_uri` (kept for their
    /// `max-age`, 5 minutes without one; unknown kids refetch at most every 30 s).
    pub fn new(jwks_uri: &str, verifier: Verifier) -> Remote {
        Remote {
            jwks_uri: jwks_uri.to_string(),
            verifier,
            cache: JwksCache::new(300, 30),
            agent: ureq::AgentBuilder::new()
                .timeout(std::time::Duration::from_secs(10))
                .build(),
        }
    }

    fn refresh(&mut self, now: u64) {
        if self.cache.need(now) == Need::Nothing {
            return;
        }
        self.cache.attempt(now);
        if let Ok(resp) = self.agent.get(&self.jwks_uri).call() {
            let cc = resp.header("cache-control").map(str::to_string);
            let mut body = Vec::new();
            if std::io::Read::read_to_end(
                &mut std::io::Read::take(resp.into_reader(), 1 << 20),
                &mut body,
            )
            .is_ok()
            {
                // A bad document keeps the set in hand.
                let _ = self.cache.store(&body, cc.as_deref(), now);
            }
        }
    }

    /// Verifies `token` now, fetching the key set first when the cache says so, and once more
    /// when the token names a kid the set lacks.
    pub fn verify(&mut self, token: &str) -> Result<Verified, Rejection> {
        let now = now();
        self.refresh(now);
        match self.cache.verify(&self.verifier, token, now) {
            Err(Rejection::UnknownKey) => {
                self.refresh(now);
                self.cache.verify(&self.verifier, token, now)
            }
            other => other,
        }
    }
}
