//! Backing off from an edge that does not answer: the feed, the heartbeats and the uploads
//! each keep one.

use std::time::Duration;

use tracing::{debug, info, warn};

use super::edge::EdgeError;

/// Exponential backoff with jitter for a failing edge, and the log lines that go with it.
#[derive(Debug)]
pub(crate) struct Backoff {
    failures: u32,
    first: Duration,
    max: Duration,
}

impl Backoff {
    /// Waits from `first`, doubling up to `max`.
    pub(crate) fn new(first: Duration, max: Duration) -> Backoff {
        Backoff {
            failures: 0,
            first,
            max,
        }
    }

    /// Records a failure; returns how long to wait. The first failure of a run is a warning,
    /// later ones are debug lines (and every tenth a warning again).
    pub(crate) fn failed(&mut self, what: &str, e: &EdgeError) -> Duration {
        self.failures = self.failures.saturating_add(1);
        if self.failures == 1 || self.failures.is_multiple_of(10) {
            warn!(target: "control", failures = self.failures, "{what}: {e}; retrying with backoff");
        } else {
            debug!(target: "control", failures = self.failures, "{what}: {e}");
        }
        let doubled = self
            .first
            .saturating_mul(1 << self.failures.min(16).saturating_sub(1))
            .min(self.max);
        // Up to a quarter more, so relays cut off together do not come back in step.
        let mut b = [0u8; 2];
        let _ = getrandom::fill(&mut b);
        let quarter = doubled.as_millis() as u64 / 4;
        let jitter = u64::from(u16::from_le_bytes(b)) % quarter.max(1);
        doubled + Duration::from_millis(jitter)
    }

    /// Records a success; logs the recovery after failures.
    pub(crate) fn ok(&mut self, what: &str) {
        if self.failures > 0 {
            info!(target: "control", after = self.failures, "{what}: the edge answers again");
        }
        self.failures = 0;
    }
}
