//! The control plane: this relay as a client of the edge, beside the data path and never in
//! it. Three things go back and forth, each by polling from the relay (the edge never calls a
//! relay):
//!
//! - **revocations** ([`feed`]): the edge's feed of revoked token ids, read incrementally from a
//!   cursor (a long poll), kept on disk and handed to every shard's core, which ends the
//!   allocations holding them and refuses them from then on;
//! - **usage** ([`ledger`], [`spool`], [`report`]): what each token's allocations relayed,
//!   spooled to disk and sent in batches the edge applies once each;
//! - **heartbeats** ([`report`]): where this relay is, its public URLs, its load and whether it
//!   is draining, so the edge hands callers the nearest healthy relays.
//!
//! When the edge cannot be reached the relay logs it, backs off and keeps relaying with the
//! last list it has; tokens still expire on their own, and usage waits in the spool. Why it is
//! built this way: docs/control-plane.md.

mod backoff;
pub mod edge;
pub mod feed;
pub mod ledger;
pub mod report;
pub mod revocations;
pub mod spool;
pub mod statefile;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use relay_proto::{Event, RelayIps, Traffic};
use tokio::sync::watch;

pub use crate::config::control::Settings;
use crate::link::{ControlMetrics, ShardLink, UsageSink};
use edge::{ClientSecret, Edge};
use ledger::{Holder, Key, Ledger};
use revocations::Revocations;
use spool::Spool;

/// A `[control]` that cannot run. Messages name the setting, never a secret.
#[derive(Debug, PartialEq, Eq)]
pub struct ControlError(pub String);

impl std::fmt::Display for ControlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "control plane: {}", self.0)
    }
}

impl std::error::Error for ControlError {}

/// The checked control-plane configuration.
#[derive(Debug)]
pub struct ControlConfig {
    /// The edge and this relay's client.
    pub edge: Edge,
    /// This relay's name at the edge.
    pub relay_id: String,
    /// Region name.
    pub region: Option<String>,
    /// Latitude and longitude.
    pub location: Option<(f64, f64)>,
    /// Public URLs.
    pub urls: Vec<String>,
    /// Allocations the relay is sized for.
    pub capacity: u64,
    /// State directory.
    pub state_dir: PathBuf,
    /// Between heartbeats.
    pub heartbeat: Duration,
    /// Between usage records of a long allocation.
    pub usage_every: Duration,
    /// Between usage uploads.
    pub report_every: Duration,
    /// Longest wait of one feed poll.
    pub feed_wait: Duration,
    /// Most spooled records.
    pub spool_max: usize,
}

fn err<T>(m: impl Into<String>) -> Result<T, ControlError> {
    Err(ControlError(m.into()))
}

/// True for names the edge accepts as ids: 1 to 64 of `[A-Za-z0-9._@-]`.
fn id_ok(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'))
}

/// An edge URL the relay may send its secret to: https, or http to a loopback host.
fn edge_url_ok(url: &str) -> bool {
    if url.starts_with("https://") {
        return true;
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = host.rsplit_once(':').map_or(host, |(h, p)| {
        if p.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

fn secs(name: &str, v: Option<f64>, default: f64) -> Result<Duration, ControlError> {
    let s = v.unwrap_or(default);
    if !(0.05..=86_400.0).contains(&s) {
        return err(format!("{name} must be between 0.05 and 86400 seconds"));
    }
    Ok(Duration::from_secs_f64(s))
}

impl Settings {
    /// Checks the settings; `None` when no edge is configured (no control plane).
    /// `listen` and `relay_ips` give the default URLs, `max_allocations` the default capacity.
    pub fn check(
        self,
        listen: &[SocketAddr],
        relay_ips: &RelayIps,
        max_allocations: usize,
    ) -> Result<Option<ControlConfig>, ControlError> {
        let Some(edge) = self.edge else {
            return Ok(None);
        };
        if !edge_url_ok(&edge) {
            return err(
                "edge must be an https:// URL (http:// only to a loopback address): the relay sends its client secret there",
            );
        }
        let Some(client_id) = self.client_id.filter(|c| id_ok(c)) else {
            return err("client_id is required: 1 to 64 of A-Z a-z 0-9 . _ - @");
        };
        let secret = match (&self.client_secret_file, &self.client_secret) {
            (Some(p), _) => std::fs::read_to_string(p)
                .map_err(|e| ControlError(format!("client_secret_file {}: {e}", p.display())))?,
            (None, Some(s)) => s.clone(),
            (None, None) => {
                return err(
                    "a client secret is required: client_secret_file, or EDGETURN_RELAY_CLIENT_SECRET",
                );
            }
        };
        if secret.trim().is_empty() {
            return err("the client secret is empty");
        }
        let relay_id = self.relay_id.unwrap_or_else(|| client_id.clone());
        if !id_ok(&relay_id) {
            return err("relay_id must be 1 to 64 of A-Z a-z 0-9 . _ - @");
        }
        let location = match (self.latitude, self.longitude) {
            (Some(lat), Some(lon))
                if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) =>
            {
                Some((lat, lon))
            }
            (None, None) => None,
            _ => return err("latitude (-90 to 90) and longitude (-180 to 180) go together"),
        };
        let urls = if self.urls.is_empty() {
            default_urls(listen, relay_ips)
        } else {
            self.urls
        };
        if urls.is_empty() {
            return err(
                "urls: no default without a relay address or a specific listening address; list them",
            );
        }
        if urls.len() > 16
            || !urls.iter().all(|u| {
                (u.starts_with("turn:") || u.starts_with("turns:"))
                    && u.len() <= 256
                    && !u.contains(char::is_whitespace)
            })
        {
            return err("urls must be at most 16 turn: or turns: URLs");
        }
        let Some(state_dir) = self.state_dir else {
            return err(
                "state_dir is required: the usage spool and the revocation list live there",
            );
        };
        let capacity = self
            .capacity
            .unwrap_or(if max_allocations > 0 {
                max_allocations as u64
            } else {
                10_000
            })
            .max(1);
        Ok(Some(ControlConfig {
            edge: Edge::new(&edge, &client_id, ClientSecret::new(&secret)),
            relay_id,
            region: self.region.filter(|r| !r.is_empty() && r.len() <= 64),
            location,
            urls,
            capacity,
            state_dir,
            heartbeat: secs("heartbeat_secs", self.heartbeat_secs, 10.0)?,
            usage_every: secs("usage_secs", self.usage_secs, 300.0)?,
            report_every: secs("report_secs", self.report_secs, 5.0)?,
            feed_wait: Duration::from_secs(self.feed_wait_secs.unwrap_or(20).clamp(1, 55)),
            spool_max: self.spool_max.unwrap_or(200_000).max(1),
        }))
    }
}

/// `turn:` URLs over UDP and TCP for each listening address, by the relay address of its
/// family (what clients reach when the relay listens on an unspecified address), else by the
/// listening address itself.
fn default_urls(listen: &[SocketAddr], relay_ips: &RelayIps) -> Vec<String> {
    let mut urls = Vec::new();
    for l in listen {
        let ip = relay_ips
            .iter()
            .find(|ip| ip.is_ipv4() == l.is_ipv4())
            .or_else(|| (!l.ip().is_unspecified()).then(|| l.ip()));
        let Some(ip) = ip else { continue };
        let host = match ip {
            IpAddr::V4(a) => a.to_string(),
            IpAddr::V6(a) => format!("[{a}]"),
        };
        let port = l.port();
        urls.push(format!("turn:{host}:{port}?transport=udp"));
        urls.push(format!("turn:{host}:{port}?transport=tcp"));
    }
    urls
}

/// Unix seconds now.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A stop signal the control threads sleep on.
#[derive(Debug, Default)]
pub(crate) struct Stop {
    stopped: Mutex<bool>,
    cv: Condvar,
}

impl Stop {
    fn stop(&self) {
        if let Ok(mut s) = self.stopped.lock() {
            *s = true;
        }
        self.cv.notify_all();
    }

    /// Sleeps `d` or until stopped; true when stopped.
    pub(crate) fn sleep(&self, d: Duration) -> bool {
        let Ok(guard) = self.stopped.lock() else {
            return true;
        };
        match self.cv.wait_timeout_while(guard, d, |s| !*s) {
            Ok((s, _)) => *s,
            Err(_) => true,
        }
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.lock().map_or(true, |s| *s)
    }
}

/// The control plane's side of the shards' usage: the ledger and the live allocation count.
#[derive(Debug)]
struct Usage {
    ledger: Arc<Mutex<Ledger>>,
    allocations: Arc<AtomicU64>,
}

impl UsageSink for Usage {
    fn event(&self, shard: usize, e: &Event, kernel: Option<Traffic>) {
        let at = unix_now();
        match e {
            Event::AllocationCreated { info, .. } => {
                self.allocations.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut l) = self.ledger.lock() {
                    l.created((shard, info.alloc.to_bits()), Holder::from(info), at);
                }
            }
            Event::AllocationEnded { info, traffic, .. } => {
                // Ended before it was created (its relay socket never bound) is not counted.
                if info.relay.is_some() {
                    self.allocations.fetch_sub(1, Ordering::Relaxed);
                }
                let total = *traffic + kernel.unwrap_or_default();
                if let Ok(mut l) = self.ledger.lock() {
                    l.ended((shard, info.alloc.to_bits()), total, at);
                }
            }
            _ => {}
        }
    }

    fn totals(&self, live: &mut dyn Iterator<Item = (Key, Traffic)>) {
        let at = unix_now();
        if let Ok(mut l) = self.ledger.lock() {
            for (key, total) in live {
                l.snapshot(key, total, at);
            }
        }
    }
}

/// The running control plane.
pub struct Plane {
    stop: Arc<Stop>,
    report: Option<JoinHandle<()>>,
}

impl Plane {
    /// Loads the state, starts the feed and report threads, and returns what the shards
    /// need. `metrics` is where the threads report for the operator; `draining` says whether
    /// the relay is draining (heartbeats say so, and the edge stops handing it out); `drain`
    /// starts a drain when a heartbeat's reply asks for one (drained from the console).
    pub fn start(
        cfg: ControlConfig,
        metrics: Arc<ControlMetrics>,
        draining: watch::Receiver<bool>,
        drain: report::Drain,
    ) -> std::io::Result<(Plane, ShardLink)> {
        let cfg = Arc::new(cfg);
        let revocations = Revocations::load(&cfg.state_dir, unix_now())?;
        let spool = Spool::open(&cfg.state_dir.join("usage"), cfg.spool_max)?;
        if spool.skipped > 0 {
            tracing::warn!(target: "control", skipped = spool.skipped, "usage spool: unreadable lines skipped");
        }
        tracing::info!(
            target: "control",
            edge = cfg.edge.base(),
            relay_id = %cfg.relay_id,
            revoked = revocations.len(),
            cursor = revocations.cursor(),
            usage_backlog = spool.backlog(),
            "control plane: starting"
        );
        let ledger = Arc::new(Mutex::new(Ledger::new(1_000_000)));
        let allocations = Arc::new(AtomicU64::new(0));
        let link = ShardLink {
            usage: Arc::new(Usage {
                ledger: ledger.clone(),
                allocations: allocations.clone(),
            }),
            revocations: revocations.subscribe(),
            usage_every: cfg.usage_every,
        };
        let stop = Arc::new(Stop::default());
        let cursor = Arc::new(AtomicU64::new(revocations.cursor()));
        let tally = Arc::new(report::Tally::default());
        metrics.started(unix_now());
        metrics.set_usage_backlog(spool.backlog() as u64);
        {
            let (cfg, stop, cursor, tally, metrics) = (
                cfg.clone(),
                stop.clone(),
                cursor.clone(),
                tally.clone(),
                metrics.clone(),
            );
            // Not joined at shutdown: it may be inside a long poll.
            std::thread::Builder::new()
                .name("control-feed".into())
                .spawn(move || feed::run(&cfg, revocations, &stop, &cursor, &tally, &metrics))?;
        }
        let state = report::Shared {
            ledger,
            allocations,
            metrics,
            draining,
            drain,
            cursor,
            tally,
        };
        let report = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("control-report".into())
                .spawn(move || report::run(&cfg, spool, &state, &stop))?
        };
        Ok((
            Plane {
                stop,
                report: Some(report),
            },
            link,
        ))
    }

    /// Stops: the report thread spools what the shards reported last and tries one upload.
    pub fn shutdown(mut self) {
        self.stop.stop();
        if let Some(t) = self.report.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn base() -> Settings {
        Settings {
            edge: Some("https://edge.example".into()),
            client_id: Some("relay-1".into()),
            client_secret: Some("s3cret-s3cret".into()),
            state_dir: Some("/tmp/x".into()),
            ..Settings::default()
        }
    }

    fn check(s: Settings) -> Result<Option<ControlConfig>, ControlError> {
        s.check(
            &["0.0.0.0:3478".parse().unwrap()],
            &RelayIps::default().set("203.0.113.9".parse().unwrap()),
            0,
        )
    }

    #[test]
    fn defaults() {
        let c = check(base()).unwrap().unwrap();
        assert_eq!(c.relay_id, "relay-1");
        assert_eq!(
            c.urls,
            [
                "turn:203.0.113.9:3478?transport=udp",
                "turn:203.0.113.9:3478?transport=tcp"
            ]
        );
        assert_eq!((c.capacity, c.heartbeat), (10_000, Duration::from_secs(10)));
        assert!(
            check(Settings::default()).unwrap().is_none(),
            "off without an edge"
        );
        // Dual stack: each listening address by its family's relay address, or by itself.
        let listen = [
            "0.0.0.0:3478".parse().unwrap(),
            "[::1]:3479".parse().unwrap(),
        ];
        let ips = RelayIps::default().set("203.0.113.9".parse().unwrap());
        let c = base().check(&listen, &ips, 0).unwrap().unwrap();
        assert_eq!(
            c.urls,
            [
                "turn:203.0.113.9:3478?transport=udp",
                "turn:203.0.113.9:3478?transport=tcp",
                "turn:[::1]:3479?transport=udp",
                "turn:[::1]:3479?transport=tcp"
            ]
        );
        let unnamed = base().check(&["[::]:3478".parse().unwrap()], &RelayIps::default(), 0);
        assert!(unnamed.unwrap_err().to_string().contains("urls"));
    }

    #[test]
    fn refusals_name_the_setting_not_the_secret() {
        let cases: Vec<(Settings, &str)> = vec![
            (
                Settings {
                    edge: Some("http://edge.example".into()),
                    ..base()
                },
                "https",
            ),
            (
                Settings {
                    edge: Some("http://127.0.0.1.evil:80".into()),
                    ..base()
                },
                "https",
            ),
            (
                Settings {
                    client_id: None,
                    ..base()
                },
                "client_id",
            ),
            (
                Settings {
                    client_secret: None,
                    ..base()
                },
                "secret",
            ),
            (
                Settings {
                    client_secret: Some("  ".into()),
                    ..base()
                },
                "empty",
            ),
            (
                Settings {
                    relay_id: Some("has space".into()),
                    ..base()
                },
                "relay_id",
            ),
            (
                Settings {
                    latitude: Some(91.0),
                    longitude: Some(0.0),
                    ..base()
                },
                "latitude",
            ),
            (
                Settings {
                    latitude: Some(10.0),
                    ..base()
                },
                "latitude",
            ),
            (
                Settings {
                    urls: vec!["http://x".into()],
                    ..base()
                },
                "urls",
            ),
            (
                Settings {
                    state_dir: None,
                    ..base()
                },
                "state_dir",
            ),
            (
                Settings {
                    heartbeat_secs: Some(0.0),
                    ..base()
                },
                "heartbeat_secs",
            ),
        ];
        for (s, want) in cases {
            let e = check(s).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
            assert!(!e.contains("s3cret"), "{e}");
        }
        assert!(
            check(Settings {
                edge: Some("http://127.0.0.1:8787".into()),
                ..base()
            })
            .is_ok()
        );
        assert!(
            check(Settings {
                edge: Some("http://[::1]:8787/".into()),
                ..base()
            })
            .is_ok()
        );
    }
}
