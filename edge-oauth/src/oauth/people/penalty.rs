//! What an isolate remembers of spent failure counters: keys refused until a time.
//!
//! The rate-limiting bindings only count (`limit(key)` spends one and says whether the window
//! is over); they cannot be asked without spending. A failure counter is spent only when an
//! attempt fails, so nothing tells the *next* attempt, made with the right secret, that the
//! counter is spent. This table does: when a failure finds its counter spent, the isolate
//! refuses that key until the window ends, before checking any secret. Other isolates learn
//! it at their own next failure, so a guesser gets at most the limit plus one guess per
//! isolate per window.

use std::collections::HashMap;

/// Most keys kept; past it, expired keys are dropped, then the oldest refusal.
pub const MAX_KEYS: usize = 4096;

/// Keys refused until a Unix time (seconds).
#[derive(Debug, Default)]
pub struct Penalties {
    until: HashMap<String, u64>,
}

impl Penalties {
    /// Refuses `key` until `until`.
    pub fn refuse(&mut self, key: &str, until: u64, now: u64) {
        if self.until.len() >= MAX_KEYS && !self.until.contains_key(key) {
            self.until.retain(|_, u| *u > now);
            if self.until.len() >= MAX_KEYS
                && let Some(oldest) = self
                    .until
                    .iter()
                    .min_by_key(|(_, u)| **u)
                    .map(|(k, _)| k.clone())
            {
                self.until.remove(&oldest);
            }
        }
        let at = self.until.entry(key.to_string()).or_insert(until);
        *at = (*at).max(until);
    }

    /// Until when `key` is refused at `now`, if it is.
    pub fn refused(&self, key: &str, now: u64) -> Option<u64> {
        self.until.get(key).copied().filter(|u| *u > now)
    }

    /// How many keys are kept.
    pub fn len(&self) -> usize {
        self.until.len()
    }

    /// True when no key is kept.
    pub fn is_empty(&self) -> bool {
        self.until.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_key_is_refused_until_its_window_ends_and_others_are_not() {
        let mut p = Penalties::default();
        p.refuse("a", 160, 100);
        assert_eq!(p.refused("a", 100), Some(160));
        assert_eq!(p.refused("a", 159), Some(160));
        assert_eq!(p.refused("a", 160), None);
        assert_eq!(p.refused("b", 100), None);
        // A later refusal extends, an earlier one does not shorten.
        p.refuse("a", 200, 150);
        p.refuse("a", 170, 150);
        assert_eq!(p.refused("a", 190), Some(200));
    }

    #[test]
    fn the_table_is_bounded() {
        let mut p = Penalties::default();
        for i in 0..MAX_KEYS as u64 {
            p.refuse(&format!("k{i}"), 1000 + i, 0);
        }
        assert_eq!(p.len(), MAX_KEYS);
        // Full of live keys: the one ending first goes.
        p.refuse("new", 5000, 10);
        assert_eq!(p.len(), MAX_KEYS);
        assert_eq!(p.refused("k0", 10), None);
        assert_eq!(p.refused("new", 10), Some(5000));
        // Expired keys are dropped first.
        p.refuse("later", 9000, 6000);
        assert_eq!(p.len(), 1);
    }
}
