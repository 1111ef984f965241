//! An isolate-local copy of recently loaded client records, so the token endpoint's hot path
//! (client_credentials) needs no D1 read.
//!
//! Only clients that exist are cached (an unknown id always goes to D1, so a new client is
//! usable at once and random ids cannot fill the map). An entry lives `ttl` seconds
//! (`CLIENT_CACHE_TTL`, default 10; 0 disables): a deleted client, or a new secret, takes
//! effect in other isolates within that time; the isolate that served the admin call drops its
//! entry at once. Tokens are still checked against D1 when they are used (userinfo,
//! `/turn/credentials`, introspection), where a deleted client's tokens stop working at once.

use std::collections::HashMap;

use super::client::ClientRecord;

/// Most clients kept.
pub const MAX_ENTRIES: usize = 512;

/// Client records with their expiry (Unix seconds).
#[derive(Default)]
pub struct ClientCache {
    entries: HashMap<String, (ClientRecord, u64)>,
}

impl ClientCache {
    /// The cached record, if fresh.
    pub fn get(&self, id: &str, now: u64) -> Option<ClientRecord> {
        self.entries
            .get(id)
            .filter(|(_, exp)| now < *exp)
            .map(|(r, _)| r.clone())
    }

    /// Keeps a record just loaded from D1 for `ttl` seconds (nothing when `ttl` is 0).
    pub fn put(&mut self, record: &ClientRecord, now: u64, ttl: u32) {
        if ttl == 0 {
            return;
        }
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.retain(|_, (_, exp)| now < *exp);
            if self.entries.len() >= MAX_ENTRIES {
                self.entries.clear();
            }
        }
        self.entries.insert(
            record.id.clone(),
            (record.clone(), now.saturating_add(u64::from(ttl))),
        );
    }

    /// Forgets a client (after the admin API changed or deleted it).
    pub fn forget(&mut self, id: &str) {
        self.entries.remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::clients::client::GrantType;
    use crate::oauth::flows::grants::tests::client;

    #[test]
    fn fresh_until_ttl_and_forgettable() {
        let mut c = ClientCache::default();
        let r = client(&[GrantType::ClientCredentials], "api", false);
        assert!(c.get("c1", 0).is_none());
        c.put(&r, 100, 10);
        assert_eq!(c.get("c1", 109), Some(r.clone()));
        assert!(c.get("c1", 110).is_none());
        c.put(&r, 100, 10);
        c.forget("c1");
        assert!(c.get("c1", 101).is_none());
        c.put(&r, 100, 0);
        assert!(c.get("c1", 100).is_none(), "ttl 0 disables");
    }
}
