//! Revoked tokens: the ids a driver hands in with [`Input::Revoke`](crate::Input::Revoke), kept
//! until the token would have expired anyway.
//!
//! Tokens are validated offline, so revocation is the one thing a relay must be told. The core
//! ends every allocation whose token is revoked (with [`EndReason::Revoked`](crate::EndReason))
//! and refuses the token at Allocate, Refresh, CreatePermission and ChannelBind afterwards with
//! 401 Unauthorized, the answer RFC 7635 gives any token that fails the server's checks (an
//! expired one, one that does not open): a client holding a single revoked token may get a
//! fresh one from its authorization server, which is what a 401 with THIRD-PARTY-AUTHORIZATION
//! tells it to do. 403 Forbidden would say that no credential can help, and is what RFC 8656
//! uses for the relay's peer policy.
//!
//! An entry is dropped once its token is past its expiry plus the tolerated clock skew: from
//! then on the token fails validation by itself. So the set holds at most the revoked tokens
//! that are still valid, and its cap is a safeguard, not a working limit.

use std::collections::HashMap;

use shared_token::TokenId;

/// One revoked token as the driver learned it: its id and the Unix second it expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RevokedToken {
    /// The token's id (shared-token's `TokenId`).
    pub id: TokenId,
    /// Unix seconds after which the token is no longer valid anyway.
    pub expires_at: u64,
}

/// The revoked tokens one core knows, each until its token has expired.
#[derive(Debug)]
pub(crate) struct Revoked {
    /// Token id -> the Unix second after which the entry can go.
    until: HashMap<TokenId, u64>,
    /// No entry ends before this second: nothing to prune until then.
    earliest: u64,
    cap: usize,
    /// Entries refused because the set was full.
    overflowed: u64,
}

impl Revoked {
    pub(crate) fn new(cap: usize) -> Revoked {
        Revoked {
            until: HashMap::new(),
            earliest: u64::MAX,
            cap,
            overflowed: 0,
        }
    }

    /// Adds `id` until Unix second `until` (an entry already there keeps the later end).
    /// False when the set is full (after pruning at `now`) and the entry was not added.
    pub(crate) fn insert(&mut self, id: TokenId, until: u64, now: u64) -> bool {
        if let Some(t) = self.until.get_mut(&id) {
            *t = (*t).max(until);
            return true;
        }
        if until <= now {
            return true; // expired already: validation refuses it by itself
        }
        if self.until.len() >= self.cap {
            self.prune(now);
            if self.until.len() >= self.cap {
                self.overflowed += 1;
                return false;
            }
        }
        self.until.insert(id, until);
        self.earliest = self.earliest.min(until);
        true
    }

    /// True when `id` is revoked and its entry has not run out at `now`.
    pub(crate) fn contains(&self, id: &TokenId, now: u64) -> bool {
        self.until.get(id).is_some_and(|until| now < *until)
    }

    /// Drops entries that ran out, when one may have.
    pub(crate) fn prune(&mut self, now: u64) {
        if now < self.earliest {
            return;
        }
        self.until.retain(|_, until| now < *until);
        self.earliest = self.until.values().copied().min().unwrap_or(u64::MAX);
    }

    /// Entries held.
    pub(crate) fn len(&self) -> usize {
        self.until.len()
    }

    /// Entries refused because the set was full.
    pub(crate) fn overflowed(&self) -> u64 {
        self.overflowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> TokenId {
        TokenId::of(&[n])
    }

    #[test]
    fn entries_run_out_and_are_pruned() {
        let mut r = Revoked::new(10);
        assert!(r.insert(id(1), 100, 50));
        assert!(r.insert(id(2), 200, 50));
        assert!(r.insert(id(3), 40, 50), "expired already: nothing to keep");
        assert_eq!(r.len(), 2);
        assert!(r.contains(&id(1), 99) && !r.contains(&id(1), 100));
        r.prune(99);
        assert_eq!(r.len(), 2);
        r.prune(150);
        assert_eq!(r.len(), 1);
        assert!(r.contains(&id(2), 150));
        // A repeated entry keeps the later end.
        assert!(r.insert(id(2), 150, 150));
        assert!(r.contains(&id(2), 199));
    }

    #[test]
    fn the_cap_holds_and_counts_what_it_refuses() {
        let mut r = Revoked::new(2);
        assert!(r.insert(id(1), 100, 0));
        assert!(r.insert(id(2), 300, 0));
        assert!(!r.insert(id(3), 300, 50));
        assert_eq!((r.len(), r.overflowed()), (2, 1));
        // Once an entry ran out there is room again.
        assert!(r.insert(id(3), 300, 100));
        assert_eq!(r.len(), 2);
    }
}
