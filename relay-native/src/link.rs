//! What the data path and the control plane hand each other, in plain types that belong to
//! neither: `serve` builds the relay's side and the control plane's side and connects them,
//! so the driver never names the control plane and the control plane never names the driver
//! (docs/architecture.md, layering).

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use relay_proto::{Event, RevokedToken, Traffic};
use tokio::sync::watch;

/// An allocation as the control plane counts it: (shard, the core's allocation id bits).
pub type AllocKey = (usize, u64);

/// The revoked tokens, as the shards see them.
#[derive(Debug, Default)]
pub struct RevocationList {
    /// Changes when entries were dropped; within a generation the list only grows.
    pub generation: u64,
    /// The revoked tokens, in the order they were learned.
    pub entries: Vec<RevokedToken>,
}

/// Where the shards' allocation events and running totals go (the control plane's usage
/// ledger).
pub trait UsageSink: Send + Sync + Debug {
    /// An allocation event of shard `shard`; `kernel`: the fast path's share of an ended one.
    fn event(&self, shard: usize, e: &Event, kernel: Option<Traffic>);
    /// Running totals of live allocations (sockets and kernel together).
    fn totals(&self, live: &mut dyn Iterator<Item = (AllocKey, Traffic)>);
}

/// What the shards share with the control plane: usage out, revocations in.
#[derive(Clone, Debug)]
pub struct ShardLink {
    /// Where usage goes.
    pub usage: Arc<dyn UsageSink>,
    /// The revocation list as it changes.
    pub revocations: watch::Receiver<Arc<RevocationList>>,
    /// How often to hand in running totals.
    pub usage_every: Duration,
}

impl ShardLink {
    /// An allocation event of shard `shard`; `kernel`: the fast path's share of an ended one.
    pub fn event(&self, shard: usize, e: &Event, kernel: Option<Traffic>) {
        self.usage.event(shard, e, kernel);
    }

    /// Running totals of live allocations (sockets and kernel together), for usage records of
    /// long allocations.
    pub fn totals(&self, mut live: impl Iterator<Item = (AllocKey, Traffic)>) {
        self.usage.totals(&mut live);
    }

    /// The revocation list as it changes.
    pub fn revocations(&self) -> watch::Receiver<Arc<RevocationList>> {
        self.revocations.clone()
    }

    /// How often to hand in running totals.
    pub fn usage_every(&self) -> Duration {
        self.usage_every
    }
}

/// What the control plane's threads report for the metrics: plain atomics they set as they
/// go, read at scrape time. Nothing is written until the control plane starts.
#[derive(Debug, Default)]
pub struct ControlMetrics {
    on: AtomicBool,
    feed_answered_at: AtomicU64,
    feed_failures: AtomicU64,
    usage_backlog: AtomicU64,
}

/// The control plane's figures at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ControlFigures {
    /// When the revocation feed last answered (or the control plane started), Unix seconds.
    pub feed_answered_at: u64,
    /// Polls of the revocation feed that failed.
    pub feed_failures: u64,
    /// Usage records waiting in the spool for the edge.
    pub usage_backlog: u64,
}

impl ControlMetrics {
    /// The control plane starts at `now` (Unix seconds): the feed's age counts from here
    /// until its first answer.
    pub fn started(&self, now: u64) {
        self.feed_answered_at.store(now, Ordering::Relaxed);
        self.on.store(true, Ordering::Relaxed);
    }

    /// The revocation feed answered at `now` (Unix seconds).
    pub fn feed_answered(&self, now: u64) {
        self.feed_answered_at.store(now, Ordering::Relaxed);
    }

    /// A poll of the revocation feed failed.
    pub fn feed_failed(&self) {
        self.feed_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Usage records in the spool now.
    pub fn set_usage_backlog(&self, records: u64) {
        self.usage_backlog.store(records, Ordering::Relaxed);
    }

    /// The figures, when the control plane runs.
    pub fn figures(&self) -> Option<ControlFigures> {
        self.on.load(Ordering::Relaxed).then(|| ControlFigures {
            feed_answered_at: self.feed_answered_at.load(Ordering::Relaxed),
            feed_failures: self.feed_failures.load(Ordering::Relaxed),
            usage_backlog: self.usage_backlog.load(Ordering::Relaxed),
        })
    }
}
