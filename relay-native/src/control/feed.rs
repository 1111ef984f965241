//! Polling the edge's revocation feed: `GET /relay/revocations?cursor=N&wait=S`, a long poll
//! the edge answers as soon as anything past the cursor is there (or after `S` seconds with
//! nothing). New entries go to the shards at once and to disk; the cursor moves past them.
//!
//! When the edge cannot be reached the relay says so once, backs off (0.5 s doubling to 2 s,
//! with jitter: the feed is what bounds revocation latency, so it comes back quickly), keeps
//! its last list, and catches up from its cursor when the edge is back. Each answer and each
//! failure is told to the operator's [`ControlMetrics`] (a feed that stopped answering is
//! what an operator alerts on).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Deserialize;
use tracing::{info, warn};

use super::backoff::Backoff;
use super::edge::EdgeError;
use super::report::Tally;
use super::revocations::{Entry, Revocations};
use super::{ControlConfig, Stop, unix_now};
use crate::link::ControlMetrics;

/// One page of the feed.
#[derive(Debug, Deserialize)]
struct Page {
    cursor: u64,
    #[serde(default)]
    revocations: Vec<Entry>,
    #[serde(default)]
    more: bool,
}

/// Runs until stopped.
pub(crate) fn run(
    cfg: &ControlConfig,
    mut list: Revocations,
    stop: &Stop,
    cursor: &AtomicU64,
    tally: &Tally,
    metrics: &ControlMetrics,
) {
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(2));
    let wait = cfg.feed_wait.as_secs();
    while !stop.is_stopped() {
        let path = format!("/relay/revocations?cursor={}&wait={wait}", list.cursor());
        let asked = std::time::Instant::now();
        let page = cfg
            .edge
            .get(&path, cfg.feed_wait + Duration::from_secs(15))
            .and_then(|v| {
                tally.add(&v);
                serde_json::from_value::<Page>(v)
                    .map_err(|e| EdgeError::Malformed(format!("revocation feed: {e}")))
            });
        let page = match page {
            Ok(p) => p,
            Err(e) => {
                metrics.feed_failed();
                let d = backoff.failed("revocation feed", &e);
                if stop.sleep(d) {
                    return;
                }
                continue;
            }
        };
        backoff.ok("revocation feed");
        metrics.feed_answered(unix_now());
        let from = list.cursor();
        match list.apply(&page.revocations, page.cursor, unix_now()) {
            Ok((added, bad)) => {
                if added > 0 || bad > 0 {
                    info!(
                        target: "control",
                        added,
                        bad,
                        from,
                        cursor = page.cursor,
                        known = list.len(),
                        "revocations received"
                    );
                }
            }
            Err(e) => warn!(target: "control", "cannot save the revocation list: {e}"),
        }
        cursor.store(list.cursor(), Ordering::Relaxed);
        // An edge that answers an empty page at once (no long poll) is asked again after a
        // second, not in a tight loop.
        if !page.more
            && page.revocations.is_empty()
            && asked.elapsed() < Duration::from_secs(1)
            && stop.sleep(Duration::from_secs(1))
        {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap_with_jitter_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(500), Duration::from_secs(2));
        let e = EdgeError::Unreachable("test".into());
        let waits: Vec<Duration> = (0..6).map(|_| b.failed("test", &e)).collect();
        let bounds = [
            (500, 625),
            (1000, 1250),
            (2000, 2500),
            (2000, 2500),
            (2000, 2500),
        ];
        for (w, (lo, hi)) in waits.iter().zip(bounds) {
            assert!(
                (Duration::from_millis(lo)..Duration::from_millis(hi)).contains(w),
                "{w:?} not in {lo}..{hi} ms"
            );
        }
        b.ok("test");
        assert!(b.failed("test", &e) < Duration::from_millis(625));
    }
}
