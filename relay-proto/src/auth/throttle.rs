//! Online password guessing, stopped: failed authentications are counted per (source,
//! username) and per username, and after a burst of them even the right password is refused
//! until the window passes.
//!
//! Without this, a failed attempt only cost the guesser a 401 that the per-source reply
//! limit might drop; a right guess still succeeded, and streams had no limit at all. The
//! throttle lives in the core, shared by every core of a relay (one lock, taken only for
//! requests that carry credentials), so UDP, TCP and TLS count alike, and a guesser gains
//! nothing by spreading over source ports (which land on different cores).
//!
//! Each counter is a fixed window: failures count from the first; the one that reaches the
//! limit locks the key for a full window from then. A request refused by the throttle is not
//! verified, so it cannot tell a right guess from a wrong one, and does not count again (the
//! lock ends on time whatever the guesser keeps sending).
//!
//! Memory is bounded: each table holds a fixed number of keys and forgets its oldest first
//! (a flood of new keys can push a lock out early, never grow memory). Sources are counted by
//! [`source_prefix`] (IPv6 by /64); usernames by a keyed 64-bit hash, not their text.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::bounded::{BoundedMap, source_prefix};

/// How many failures lock what, for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottleLimits {
    /// Failures per (source prefix, username) within the window that lock the pair (0: no
    /// limit).
    pub per_source: u32,
    /// Failures per username, from any source, within the window that lock the username
    /// (0: no limit).
    pub per_user: u32,
    /// The window, and how long a lock lasts.
    pub window: Duration,
    /// Keys each table holds at most.
    pub max_entries: usize,
}

impl Default for ThrottleLimits {
    fn default() -> ThrottleLimits {
        ThrottleLimits {
            per_source: 20,
            per_user: 100,
            window: Duration::from_secs(300),
            max_entries: 65_536,
        }
    }
}

/// What a request presents, as the throttle counts it.
#[derive(Clone, Copy, Debug)]
pub struct Attempt<'a> {
    /// The source address.
    pub source: IpAddr,
    /// USERNAME as sent (or the static user a USERHASH names; else the hash's bytes).
    pub username: &'a [u8],
    /// Whether the username is also counted on its own. Not for RFC 7635 requests, whose
    /// USERNAME is the key id every token holder shares: locking it would let anyone lock
    /// out every token.
    pub per_user: bool,
}

#[derive(Clone, Copy, Debug)]
struct Window {
    failures: u32,
    since: Instant,
}

impl Window {
    fn locked(&self, limit: u32, window: Duration, now: Instant) -> bool {
        limit != 0 && self.failures >= limit && now < self.since + window
    }

    fn fail(&mut self, limit: u32, window: Duration, now: Instant) {
        if now >= self.since + window {
            *self = Window {
                failures: 0,
                since: now,
            };
        }
        self.failures = self.failures.saturating_add(1);
        if self.failures == limit {
            self.since = now; // the lock lasts a full window from here
        }
    }
}

struct Tables {
    pairs: BoundedMap<(IpAddr, u64), Window>,
    users: BoundedMap<u64, Window>,
}

/// The relay's failure counters (shared by its cores).
pub struct AuthThrottle {
    limits: ThrottleLimits,
    hasher: RandomState,
    tables: Mutex<Tables>,
}

impl std::fmt::Debug for AuthThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthThrottle")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Default for AuthThrottle {
    fn default() -> AuthThrottle {
        AuthThrottle::new(ThrottleLimits::default())
    }
}

impl AuthThrottle {
    /// Empty counters with these limits.
    pub fn new(limits: ThrottleLimits) -> AuthThrottle {
        AuthThrottle {
            limits,
            hasher: RandomState::new(),
            tables: Mutex::new(Tables {
                pairs: BoundedMap::new(limits.max_entries),
                users: BoundedMap::new(limits.max_entries),
            }),
        }
    }

    /// The limits.
    pub fn limits(&self) -> ThrottleLimits {
        self.limits
    }

    fn keys(&self, a: &Attempt<'_>) -> ((IpAddr, u64), u64) {
        let user = self.hasher.hash_one(a.username);
        ((source_prefix(a.source), user), user)
    }

    /// Whether `a` is refused at `now` without being verified.
    pub fn locked(&self, a: &Attempt<'_>, now: Instant) -> bool {
        let l = self.limits;
        if l.per_source == 0 && l.per_user == 0 {
            return false;
        }
        let (pair, user) = self.keys(a);
        let t = self.tables.lock().unwrap_or_else(PoisonError::into_inner);
        t.pairs
            .get(&pair)
            .is_some_and(|w| w.locked(l.per_source, l.window, now))
            || (a.per_user
                && t.users
                    .get(&user)
                    .is_some_and(|w| w.locked(l.per_user, l.window, now)))
    }

    /// Counts a failed authentication of `a` at `now`.
    pub fn failed(&self, a: &Attempt<'_>, now: Instant) {
        let l = self.limits;
        let (pair, user) = self.keys(a);
        let fresh = || Window {
            failures: 0,
            since: now,
        };
        let mut t = self.tables.lock().unwrap_or_else(PoisonError::into_inner);
        if l.per_source != 0 {
            t.pairs
                .get_or_insert_with(pair, fresh)
                .fail(l.per_source, l.window, now);
        }
        if l.per_user != 0 && a.per_user {
            t.users
                .get_or_insert_with(user, fresh)
                .fail(l.per_user, l.window, now);
        }
    }

    /// Keys tracked: (source, username) pairs and usernames.
    pub fn entries(&self) -> (usize, usize) {
        let t = self.tables.lock().unwrap_or_else(PoisonError::into_inner);
        (t.pairs.len(), t.users.len())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn attempt<'a>(source: &str, user: &'a str) -> Attempt<'a> {
        Attempt {
            source: source.parse().unwrap(),
            username: user.as_bytes(),
            per_user: true,
        }
    }

    #[test]
    fn a_burst_locks_the_pair_for_a_window_from_the_last_failure_that_counted() {
        let t = AuthThrottle::new(ThrottleLimits {
            per_source: 3,
            per_user: 0,
            window: Duration::from_secs(10),
            max_entries: 16,
        });
        let t0 = Instant::now();
        let a = attempt("192.0.2.1", "alice");
        for s in 0..2 {
            t.failed(&a, t0 + Duration::from_secs(s));
            assert!(!t.locked(&a, t0 + Duration::from_secs(s)));
        }
        t.failed(&a, t0 + Duration::from_secs(5));
        assert!(t.locked(&a, t0 + Duration::from_secs(5)));
        assert!(t.locked(&a, t0 + Duration::from_secs(14)));
        assert!(!t.locked(&attempt("192.0.2.2", "alice"), t0 + Duration::from_secs(6)));
        assert!(!t.locked(&attempt("192.0.2.1", "bob"), t0 + Duration::from_secs(6)));
        assert!(!t.locked(&a, t0 + Duration::from_secs(15)));
    }

    #[test]
    fn the_username_locks_from_any_source_except_for_token_key_ids() {
        let t = AuthThrottle::new(ThrottleLimits {
            per_source: 0,
            per_user: 4,
            window: Duration::from_secs(10),
            max_entries: 16,
        });
        let t0 = Instant::now();
        for i in 1..=4 {
            t.failed(&attempt(&format!("192.0.2.{i}"), "alice"), t0);
        }
        assert!(t.locked(&attempt("198.51.100.9", "alice"), t0));
        let kid = |s: &str| Attempt {
            per_user: false,
            ..attempt(s, "k1")
        };
        for i in 1..=10 {
            t.failed(&kid(&format!("192.0.2.{i}")), t0);
        }
        assert!(!t.locked(&kid("198.51.100.9"), t0));
    }

    #[test]
    fn tables_stay_bounded() {
        let t = AuthThrottle::new(ThrottleLimits {
            max_entries: 100,
            ..ThrottleLimits::default()
        });
        let t0 = Instant::now();
        for i in 0..10_000u32 {
            let name = format!("u{i}");
            t.failed(
                &Attempt {
                    source: IpAddr::from(i.to_be_bytes()),
                    username: name.as_bytes(),
                    per_user: true,
                },
                t0,
            );
        }
        assert_eq!(t.entries(), (100, 100));
    }
}
