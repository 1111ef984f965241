//! An isolate-local memory of client secrets that already passed PBKDF2, so a busy machine
//! client pays for the slow hash once per isolate instead of once per request.
//!
//! Why this is safe (docs/edge-oauth.md, "Client secrets and the CPU budget"):
//! - an entry is added only after a full PBKDF2 verification succeeded, so a wrong guess is
//!   never found here and always pays the full cost;
//! - the key binds the client id, the *stored* hash record and the presented secret, so a
//!   secret rotated or a client re-created under the same id misses, and the client record is
//!   still loaded from D1 on every request (a deleted client fails before the cache is asked);
//! - the key is SHA-256 over those inputs with a domain label; what sits in memory is a
//!   digest, not the secret, and D1 still holds only PBKDF2 records, so offline attacks
//!   on the database are exactly as hard as without the cache;
//! - entries expire, and the map is bounded.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

/// Most entries before the map is cleared.
pub const MAX_ENTRIES: usize = 1024;
/// Seconds an entry lives.
pub const TTL_SECS: u64 = 600;

/// The cache key of one (client, stored record, presented secret) triple.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey([u8; 32]);

impl CacheKey {
    /// Derives the key.
    pub fn new(client_id: &str, stored_hash: &str, presented_secret: &str) -> CacheKey {
        let mut h = Sha256::new();
        h.update(b"edge-oauth verified client secret v1\0");
        for part in [client_id, stored_hash, presented_secret] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        CacheKey(h.finalize().into())
    }
}

/// Successful verifications, each with its expiry (Unix seconds).
#[derive(Default)]
pub struct VerifyCache {
    entries: HashMap<CacheKey, u64>,
}

impl VerifyCache {
    /// True when this triple verified within the last [`TTL_SECS`].
    pub fn hit(&self, key: &CacheKey, now: u64) -> bool {
        self.entries.get(key).is_some_and(|&exp| now < exp)
    }

    /// Records a successful PBKDF2 verification.
    pub fn remember(&mut self, key: CacheKey, now: u64) {
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.retain(|_, &mut exp| now < exp);
            if self.entries.len() >= MAX_ENTRIES {
                self.entries.clear();
            }
        }
        self.entries.insert(key, now.saturating_add(TTL_SECS));
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_only_the_same_triple_until_expiry() {
        let mut c = VerifyCache::default();
        let k = CacheKey::new("c1", "pbkdf2-sha256$1000$a$b", "s3cret");
        assert!(!c.hit(&k, 100));
        c.remember(k, 100);
        assert!(c.hit(&k, 100 + TTL_SECS - 1));
        assert!(!c.hit(&k, 100 + TTL_SECS));
        // Another secret, another record (rotation) or another client: miss.
        assert!(!c.hit(
            &CacheKey::new("c1", "pbkdf2-sha256$1000$a$b", "s3cres"),
            100
        ));
        assert!(!c.hit(
            &CacheKey::new("c1", "pbkdf2-sha256$1000$a$c", "s3cret"),
            100
        ));
        assert!(!c.hit(
            &CacheKey::new("c2", "pbkdf2-sha256$1000$a$b", "s3cret"),
            100
        ));
        // Length-prefixing keeps boundaries: ("ab","c") differs from ("a","bc").
        assert!(CacheKey::new("ab", "c", "x") != CacheKey::new("a", "bc", "x"));
    }

    #[test]
    fn bounded() {
        let mut c = VerifyCache::default();
        for i in 0..(MAX_ENTRIES + 10) {
            c.remember(CacheKey::new(&i.to_string(), "h", "s"), 1);
        }
        assert!(c.len() <= MAX_ENTRIES);
    }
}
