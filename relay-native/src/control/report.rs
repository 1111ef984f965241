//! The relay's reports to the edge: heartbeats (`POST /relay/heartbeat`) and usage
//! (`POST /relay/usage`), from one thread that also moves the ledger's records to the spool
//! every second.
//!
//! A usage batch is the oldest unsent records of the spool, in sequence order, with the
//! spool's epoch; the edge answers with the highest sequence number it has applied for that
//! epoch, and the spool forgets everything up to it. A batch that fails is sent again, as it
//! is: the edge applies each sequence number once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::watch;
use tracing::{info, warn};

use super::backoff::Backoff;
use super::edge::EdgeError;
use super::ledger::Ledger;
use super::spool::Spool;
use super::{ControlConfig, Stop};
use crate::link::ControlMetrics;

/// Starts the relay's drain; true when the call started it (false: it had already started).
pub type Drain = Arc<dyn Fn() -> bool + Send + Sync>;

/// Whether the edge's heartbeat reply asks this relay to drain (`"drain": true`, set when an
/// operator drained it from the console). Anything else, a missing field included (an older
/// edge), asks nothing. A relay cannot leave a drain, so `false` never stops one.
pub fn edge_asks_drain(reply: &Value) -> bool {
    reply.get("drain").and_then(Value::as_bool) == Some(true)
}

/// Records per usage request.
pub const BATCH: usize = 500;

/// What the report thread reads besides its spool.
pub(crate) struct Shared {
    pub(crate) ledger: Arc<Mutex<Ledger>>,
    pub(crate) allocations: Arc<AtomicU64>,
    pub(crate) metrics: Arc<ControlMetrics>,
    /// The running relay: whether it is draining.
    pub(crate) draining: watch::Receiver<bool>,
    /// Starts the relay's drain (as SIGUSR1 does); true when this call started it.
    pub(crate) drain: Drain,
    /// The feed's cursor, reported in heartbeats (is this relay caught up?).
    pub(crate) cursor: Arc<AtomicU64>,
    pub(crate) tally: Arc<Tally>,
}

/// Requests to the edge and the D1 rows they cost, as the edge reports them, for the
/// figures in docs/control-plane.md.
#[derive(Debug, Default)]
pub struct Tally {
    requests: AtomicU64,
    rows_read: AtomicU64,
    rows_written: AtomicU64,
}

impl Tally {
    /// Adds one answered request and its `d1` figures.
    pub(crate) fn add(&self, answer: &Value) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let d1 = |k: &str| {
            answer
                .get("d1")
                .and_then(|d| d.get(k))
                .and_then(Value::as_u64)
        };
        self.rows_read
            .fetch_add(d1("rows_read").unwrap_or(0), Ordering::Relaxed);
        self.rows_written
            .fetch_add(d1("rows_written").unwrap_or(0), Ordering::Relaxed);
    }

    fn take(&self) -> (u64, u64, u64) {
        (
            self.requests.swap(0, Ordering::Relaxed),
            self.rows_read.swap(0, Ordering::Relaxed),
            self.rows_written.swap(0, Ordering::Relaxed),
        )
    }
}

struct Reporter<'a> {
    cfg: &'a ControlConfig,
    shared: &'a Shared,
    spool: Spool,
    beats: Backoff,
    uploads: Backoff,
    next_beat: Instant,
    next_upload: Instant,
    window: Instant,
    /// Whether the relay was draining at the last look.
    draining: bool,
}

/// Runs until stopped, then spools what is left and tries one last upload.
pub(crate) fn run(cfg: &ControlConfig, spool: Spool, shared: &Shared, stop: &Stop) {
    let now = Instant::now();
    let mut r = Reporter {
        cfg,
        shared,
        spool,
        beats: Backoff::new(Duration::from_secs(1), Duration::from_secs(30)),
        uploads: Backoff::new(Duration::from_secs(1), Duration::from_secs(30)),
        next_beat: now,
        next_upload: now,
        window: now,
        draining: false,
    };
    let tick = cfg
        .report_every
        .min(cfg.heartbeat)
        .min(Duration::from_secs(1));
    loop {
        let stopping = stop.sleep(tick);
        r.spool_ledger();
        if stopping {
            // The relay is going away: the edge stops handing it out now rather than when
            // its heartbeats go stale (a restart's first heartbeat says otherwise).
            r.heartbeat(true, Duration::from_secs(2));
            r.last_upload();
            return;
        }
        let now = Instant::now();
        // A drain that started is told at once, not at the next heartbeat.
        let draining = *r.shared.draining.borrow();
        if draining != r.draining {
            r.draining = draining;
            r.next_beat = now;
        }
        if now >= r.next_beat {
            r.heartbeat(draining, Duration::from_secs(10));
        }
        if r.spool.backlog() > 0 && now >= r.next_upload {
            r.upload(Duration::from_secs(15));
        }
        r.shared.metrics.set_usage_backlog(r.spool.backlog() as u64);
        r.summary();
    }
}

impl Reporter<'_> {
    /// Moves the ledger's new records to disk.
    fn spool_ledger(&mut self) {
        let records = match self.shared.ledger.lock() {
            Ok(mut l) => l.take(),
            Err(_) => return,
        };
        let n = records.len();
        if let Err(e) = self.spool.append(records) {
            warn!(target: "control", records = n, "usage spool: cannot write: {e}");
        }
    }

    fn heartbeat(&mut self, draining: bool, timeout: Duration) {
        let cfg = self.cfg;
        let allocations = self.shared.allocations.load(Ordering::Relaxed);
        let (lat, lon) = match cfg.location {
            Some((a, o)) => (Some(a), Some(o)),
            None => (None, None),
        };
        let ledger_dropped = self.shared.ledger.lock().map_or(0, |l| l.dropped());
        let body = json!({
            "relay_id": cfg.relay_id,
            "urls": cfg.urls,
            "region": cfg.region,
            "latitude": lat,
            "longitude": lon,
            "allocations": allocations,
            "capacity": cfg.capacity,
            "load": allocations as f64 / cfg.capacity as f64,
            "draining": draining,
            "version": env!("CARGO_PKG_VERSION"),
            "revocation_cursor": self.shared.cursor.load(Ordering::Relaxed),
            "usage_backlog": self.spool.backlog(),
            "usage_dropped": self.spool.dropped() + ledger_dropped,
        });
        match cfg.edge.post("/relay/heartbeat", &body, timeout) {
            Ok(v) => {
                self.shared.tally.add(&v);
                self.beats.ok("heartbeat");
                self.next_beat = Instant::now() + cfg.heartbeat;
                if edge_asks_drain(&v) && (self.shared.drain)() {
                    info!(target: "drain", "the edge asks this relay to drain (from the console): draining");
                }
            }
            Err(e) => {
                let wait = self.beats.failed("heartbeat", &e);
                self.next_beat = Instant::now() + wait.min(cfg.heartbeat);
            }
        }
    }

    /// Sends the oldest unsent records; true when the edge applied them.
    fn upload(&mut self, timeout: Duration) -> bool {
        let batch = self.spool.batch(BATCH);
        let (Some(first), Some(last)) = (batch.first().map(|r| r.seq), batch.last().map(|r| r.seq))
        else {
            return true;
        };
        let body = json!({
            "relay_id": self.cfg.relay_id,
            "epoch": self.spool.epoch(),
            "records": batch,
        });
        let result = self
            .cfg
            .edge
            .post("/relay/usage", &body, timeout)
            .and_then(|v| {
                self.shared.tally.add(&v);
                v.get("applied_through")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| EdgeError::Malformed("usage: no applied_through".into()))
            });
        match result {
            Ok(through) => {
                self.uploads.ok("usage report");
                if through < last {
                    warn!(target: "control", first, last, through, "usage report: the edge applied less than was sent");
                }
                if let Err(e) = self.spool.ack(through) {
                    warn!(target: "control", "usage spool: cannot record what the edge applied: {e}");
                }
                // More waiting: send the next batch at the next tick.
                self.next_upload = if self.spool.backlog() > 0 {
                    Instant::now()
                } else {
                    Instant::now() + self.cfg.report_every
                };
                true
            }
            Err(e) => {
                let wait = self.uploads.failed("usage report", &e);
                self.next_upload = Instant::now() + wait;
                false
            }
        }
    }

    /// At shutdown: one quick attempt to empty the spool; what is left is sent after the
    /// restart.
    fn last_upload(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(3);
        while self.spool.backlog() > 0 && Instant::now() < deadline {
            if !self.upload(Duration::from_secs(2)) {
                break;
            }
        }
        info!(
            target: "control",
            usage_backlog = self.spool.backlog(),
            "control plane: stopped (what is left is sent after a restart)"
        );
    }

    /// Once a minute: what the control plane cost at the edge.
    fn summary(&mut self) {
        if self.window.elapsed() < Duration::from_secs(60) {
            return;
        }
        let secs = self.window.elapsed().as_secs_f64();
        self.window = Instant::now();
        let (requests, read, written) = self.shared.tally.take();
        info!(
            target: "control",
            secs = format!("{secs:.1}"),
            requests,
            d1_rows_read = read,
            d1_rows_written = written,
            usage_backlog = self.spool.backlog(),
            "control plane: requests to the edge and the D1 rows they cost"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_explicit_drain_true_asks_to_drain() {
        assert!(edge_asks_drain(
            &json!({ "stale_after": 30, "drain": true })
        ));
        for v in [
            json!({ "stale_after": 30, "drain": false }),
            json!({ "stale_after": 30 }),
            json!({ "drain": "true" }),
            json!({ "drain": 1 }),
            json!([true]),
        ] {
            assert!(!edge_asks_drain(&v), "{v}");
        }
    }
}
