//! The revoked tokens this relay knows: kept on disk with the feed's cursor (so a restart
//! while the edge is unreachable still refuses them), and shared with the shards.
//!
//! The list only grows between compactions: each shard remembers how much of it it handed to
//! its core, and hands in the rest when the list changes. Dropping entries whose tokens have
//! expired starts a new generation, and the shards hand in the whole (shorter) list again
//! (a core takes a token it already knows without harm).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use relay_proto::RevokedToken;
use serde::{Deserialize, Serialize};
use shared_token::TokenId;
use tokio::sync::watch;

use crate::link::RevocationList;

/// One entry as the edge sends it and the state file keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// shared-token's token id.
    pub token_id: String,
    /// Unix second the token expires.
    pub expires_at: u64,
}

#[derive(Serialize, Deserialize, Default)]
struct State {
    cursor: u64,
    revoked: Vec<Entry>,
}

/// The feed's state: its cursor and the list, published to the shards.
#[derive(Debug)]
pub struct Revocations {
    path: PathBuf,
    cursor: u64,
    known: HashSet<TokenId>,
    list: Vec<RevokedToken>,
    generation: u64,
    tx: watch::Sender<Arc<RevocationList>>,
}

impl Revocations {
    /// Loads `dir/revocations.json` (nothing yet: an empty list at cursor 0), dropping entries
    /// that have expired by `now`, and publishes the list.
    pub fn load(dir: &Path, now: u64) -> std::io::Result<Revocations> {
        super::statefile::create_dir(dir)?;
        let path = dir.join("revocations.json");
        let state: State = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(e) => return Err(e),
        };
        let (tx, _) = watch::channel(Arc::new(RevocationList::default()));
        let mut r = Revocations {
            path,
            cursor: state.cursor,
            known: HashSet::new(),
            list: Vec::new(),
            generation: 0,
            tx,
        };
        r.add(&state.revoked, now);
        r.publish();
        Ok(r)
    }

    /// A receiver for a shard.
    pub fn subscribe(&self) -> watch::Receiver<Arc<RevocationList>> {
        self.tx.subscribe()
    }

    /// The cursor to ask the edge from.
    pub fn cursor(&self) -> u64 {
        self.cursor
    }

    /// Tokens known.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// True when no token is revoked.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Takes a page of the feed: its entries (bad token ids are skipped and counted) and the
    /// cursor after it. Publishes and saves when anything changed. Returns the entries added.
    pub fn apply(
        &mut self,
        entries: &[Entry],
        cursor: u64,
        now: u64,
    ) -> std::io::Result<(usize, usize)> {
        let before = self.list.len();
        let bad = self.add(entries, now);
        let added = self.list.len() - before;
        let moved = cursor != self.cursor;
        self.cursor = cursor;
        let pruned = self.prune(now);
        if added > 0 || pruned {
            self.publish();
        }
        if added > 0 || pruned || moved {
            self.save()?;
        }
        Ok((added, bad))
    }

    fn add(&mut self, entries: &[Entry], now: u64) -> usize {
        let mut bad = 0;
        for e in entries {
            let Ok(id) = e.token_id.parse::<TokenId>() else {
                bad += 1;
                continue;
            };
            if e.expires_at <= now || !self.known.insert(id) {
                continue;
            }
            self.list.push(RevokedToken {
                id,
                expires_at: e.expires_at,
            });
        }
        bad
    }

    /// Drops expired entries; true (and a new generation) when any went.
    fn prune(&mut self, now: u64) -> bool {
        if !self.list.iter().any(|t| t.expires_at <= now) {
            return false;
        }
        self.list.retain(|t| t.expires_at > now);
        self.known = self.list.iter().map(|t| t.id).collect();
        self.generation += 1;
        true
    }

    fn publish(&self) {
        let list = RevocationList {
            generation: self.generation,
            entries: self.list.clone(),
        };
        self.tx.send_replace(Arc::new(list));
    }

    fn save(&self) -> std::io::Result<()> {
        let state = State {
            cursor: self.cursor,
            revoked: self
                .list
                .iter()
                .map(|t| Entry {
                    token_id: t.id.to_string(),
                    expires_at: t.expires_at,
                })
                .collect(),
        };
        let text = serde_json::to_vec(&state).map_err(std::io::Error::other)?;
        let dir = self.path.parent().unwrap_or(Path::new("."));
        super::spool::replace(dir, "revocations.json", &text)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn entry(n: u8, expires_at: u64) -> Entry {
        Entry {
            token_id: TokenId::of(&[n]).to_string(),
            expires_at,
        }
    }

    #[test]
    fn grows_publishes_persists_and_prunes() {
        let d = std::env::temp_dir().join(format!("revocations-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let mut r = Revocations::load(&d, 100).unwrap();
        let rx = r.subscribe();
        assert_eq!((r.cursor(), r.len()), (0, 0));
        let bad = Entry {
            token_id: "not an id".into(),
            expires_at: 500,
        };
        let (added, skipped) = r
            .apply(&[entry(1, 200), entry(2, 300), entry(1, 200), bad], 7, 100)
            .unwrap();
        assert_eq!((added, skipped), (2, 1));
        assert_eq!(rx.borrow().entries.len(), 2);
        let generation = rx.borrow().generation;
        // A restart keeps the list and the cursor.
        drop(r);
        let mut r = Revocations::load(&d, 150).unwrap();
        assert_eq!((r.cursor(), r.len()), (7, 2));
        // Past the first token's expiry it goes, in a new generation.
        let rx = r.subscribe();
        r.apply(&[], 9, 250).unwrap();
        assert_eq!(r.len(), 1);
        assert_ne!(rx.borrow().generation, generation);
        assert_eq!(rx.borrow().entries[0].id, TokenId::of(&[2]));
        let _ = std::fs::remove_dir_all(&d);
    }
}
