//! When to fetch the key set. No I/O here: the caller fetches when [`JwksCache::need`] says
//! so and hands the body to [`JwksCache::store`], so the same cache serves a native server
//! and a wasm worker.

use crate::claims::Verified;
use crate::jwks::{Jwks, JwksError};
use crate::verify::{Rejection, Verifier};

/// What the cache needs from the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// The set in hand is good.
    Nothing,
    /// Fetch the set (none yet, stale, or a token named a kid it lacks).
    Fetch,
}

/// The cached key set and its freshness.
#[derive(Clone, Debug)]
pub struct JwksCache {
    jwks: Option<Jwks>,
    fetched_at: u64,
    max_age: u64,
    default_max_age: u64,
    min_interval: u64,
    last_attempt: Option<u64>,
    unknown_kid: bool,
}

/// Longest a set is kept, whatever `max-age` says.
pub const MAX_AGE_CAP: u64 = 24 * 3600;

impl JwksCache {
    /// An empty cache: sets are kept for their `Cache-Control: max-age` (or `default_max_age`
    /// seconds without one, at most a day), and fetched at most once per `min_interval`
    /// seconds when tokens name unknown kids (so forged kids cannot make it hammer the edge).
    pub fn new(default_max_age: u64, min_interval: u64) -> JwksCache {
        JwksCache {
            jwks: None,
            fetched_at: 0,
            max_age: 0,
            default_max_age,
            min_interval,
            last_attempt: None,
            unknown_kid: false,
        }
    }

    /// Whether to fetch now.
    pub fn need(&self, now: u64) -> Need {
        let recently_tried = self
            .last_attempt
            .is_some_and(|t| now < t.saturating_add(self.min_interval));
        let stale = self.jwks.is_none()
            || now >= self.fetched_at.saturating_add(self.max_age)
            || self.unknown_kid;
        if stale && !(recently_tried && self.jwks.is_some()) {
            Need::Fetch
        } else {
            Need::Nothing
        }
    }

    /// Records a fetch attempt (call before fetching, so failures are spaced too).
    pub fn attempt(&mut self, now: u64) {
        self.last_attempt = Some(now);
    }

    /// Stores a fetched set with the response's `Cache-Control` header.
    pub fn store(
        &mut self,
        body: &[u8],
        cache_control: Option<&str>,
        now: u64,
    ) -> Result<(), JwksError> {
        let jwks = Jwks::from_json(body)?;
        let max_age = cache_control
            .and_then(|cc| {
                cc.split(',').find_map(|d| {
                    d.trim()
                        .strip_prefix("max-age=")
                        .and_then(|v| v.trim().parse::<u64>().ok())
                })
            })
            .unwrap_or(self.default_max_age)
            .min(MAX_AGE_CAP);
        self.jwks = Some(jwks);
        self.fetched_at = now;
        self.max_age = max_age;
        self.unknown_kid = false;
        Ok(())
    }

    /// The set in hand.
    pub fn jwks(&self) -> Option<&Jwks> {
        self.jwks.as_ref()
    }

    /// Verifies with the set in hand. A token naming a kid the set lacks marks the set stale
    /// (a rotation published a key after the last fetch): [`JwksCache::need`] then asks for a
    /// fetch, after which the caller may verify again.
    pub fn verify(
        &mut self,
        verifier: &Verifier,
        token: &str,
        now: u64,
    ) -> Result<Verified, Rejection> {
        let jwks = self.jwks.as_ref().ok_or(Rejection::UnknownKey)?;
        let r = verifier.verify(token, jwks, now);
        if r == Err(Rejection::UnknownKey) {
            self.unknown_kid = true;
        }
        r
    }
}
