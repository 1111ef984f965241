//! The running relay as its operator sees it: a [`Handle`] that takes a snapshot of every
//! shard's figures, starts a drain, and says whether the relay is serving. The metrics
//! endpoint, the drain supervisor and SIGUSR1 use it; the shards answer it on a channel of
//! their own, between inputs, so nothing is shared with them per datagram.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use super::counters::{HandshakeCounts, ShardSnapshot};
use super::offload::Offload;
use crate::certs::CertStore;
pub use crate::link::{ControlFigures, ControlMetrics};
use relay_proto::Traffic;

/// How long a scrape waits for a shard's answer: a shard answers between two inputs, so
/// only a stuck one takes longer.
const SHARD_ANSWER: Duration = Duration::from_secs(2);

/// What the operator side asks of a shard.
#[derive(Debug)]
pub(crate) enum Command {
    /// Report its figures.
    Snapshot(oneshot::Sender<ShardSnapshot>),
    /// Hand its core `Input::Drain`.
    Drain,
}

/// The whole relay's figures at one moment.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Every shard's figures, summed.
    pub shards: ShardSnapshot,
    /// How many shards answered (all of them, or the snapshot is an error).
    pub shard_count: usize,
    /// What the kernel fast path relayed, if it is attached.
    pub kernel: Option<Traffic>,
    /// Channel routes in the kernel's maps now.
    pub kernel_routes: u64,
    /// Whether a drain has started.
    pub draining: bool,
    /// TLS figures (from the TLS listener).
    pub tls: TlsFigures,
    /// The configured most allocations in total (0: no limit).
    pub max_allocations: u64,
    /// The control plane's figures, when it runs.
    pub control: Option<ControlFigures>,
}

/// A shard did not answer in time (it is stuck, or stopped).
#[derive(Debug)]
pub struct NoAnswer;

impl std::fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a relay shard did not answer")
    }
}

/// A handle on the running relay; clones share it.
#[derive(Clone, Default)]
pub struct Handle(Arc<Inner>);

#[derive(Default)]
struct Inner {
    shards: Mutex<Vec<mpsc::UnboundedSender<Command>>>,
    offload: Mutex<Option<Arc<Mutex<Offload>>>>,
    serving: AtomicBool,
    draining: watch::Sender<bool>,
    tls: TlsMetrics,
    max_allocations: AtomicU64,
    control: Arc<ControlMetrics>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Handle {
    /// A handle with no relay behind it yet (the driver attaches its shards).
    pub fn new() -> Handle {
        Handle::default()
    }

    /// A shard's command channel. If a drain already started, the shard gets it at once.
    pub(crate) fn attach_shard(&self) -> mpsc::UnboundedReceiver<Command> {
        let (tx, rx) = mpsc::unbounded_channel();
        if self.is_draining() {
            let _ = tx.send(Command::Drain);
        }
        lock(&self.0.shards).push(tx);
        rx
    }

    /// The kernel fast path, for its counters.
    pub(crate) fn attach_offload(&self, o: Arc<Mutex<Offload>>) {
        *lock(&self.0.offload) = Some(o);
    }

    /// Whether the listeners are bound and the shards run.
    pub(crate) fn set_serving(&self, serving: bool) {
        self.0.serving.store(serving, Ordering::Relaxed);
    }

    /// The listeners are bound and the shards run (readiness, with not draining).
    pub fn is_serving(&self) -> bool {
        self.0.serving.load(Ordering::Relaxed)
    }

    /// Starts draining: every shard's core refuses new allocations from now on. True when
    /// this call started it (false: it had already started).
    pub fn drain(&self) -> bool {
        let started = self
            .0
            .draining
            .send_if_modified(|d| !std::mem::replace(d, true));
        if started {
            for tx in lock(&self.0.shards).iter() {
                let _ = tx.send(Command::Drain);
            }
        }
        started
    }

    /// Whether a drain has started.
    pub fn is_draining(&self) -> bool {
        *self.0.draining.borrow()
    }

    /// Waits until a drain starts.
    pub async fn drain_started(&self) {
        let mut rx = self.0.draining.subscribe();
        let _ = rx.wait_for(|d| *d).await;
    }

    /// The TLS listener's figures (handshake failures, certificate expiry).
    pub fn tls(&self) -> &TlsMetrics {
        &self.0.tls
    }

    /// Records the configured most allocations in total (0: no limit), for the metrics.
    pub fn set_max_allocations(&self, max: u64) {
        self.0.max_allocations.store(max, Ordering::Relaxed);
    }

    /// What the control plane's threads report (revocation feed, usage backlog).
    pub fn control(&self) -> &Arc<ControlMetrics> {
        &self.0.control
    }

    /// Whether a drain has started, as it changes (for the control plane's heartbeats).
    pub fn draining(&self) -> watch::Receiver<bool> {
        self.0.draining.subscribe()
    }

    /// Every shard's figures and the kernel fast path's, at one moment.
    pub async fn snapshot(&self) -> Result<Snapshot, NoAnswer> {
        let asked: Vec<_> = lock(&self.0.shards)
            .iter()
            .filter_map(|tx| {
                let (reply, answer) = oneshot::channel();
                tx.send(Command::Snapshot(reply)).ok().map(|()| answer)
            })
            .collect();
        let mut snapshot = Snapshot {
            shard_count: asked.len(),
            draining: self.is_draining(),
            tls: self.0.tls.figures(),
            max_allocations: self.0.max_allocations.load(Ordering::Relaxed),
            control: self.0.control.figures(),
            ..Snapshot::default()
        };
        let answers = async {
            for answer in asked {
                let shard = answer.await.map_err(|_| NoAnswer)?;
                snapshot.shards.merge(&shard);
            }
            Ok::<_, NoAnswer>(())
        };
        tokio::time::timeout(SHARD_ANSWER, answers)
            .await
            .map_err(|_| NoAnswer)??;
        if let Some(o) = lock(&self.0.offload).as_ref() {
            let o = lock(o);
            snapshot.kernel = Some(o.total());
            snapshot.kernel_routes = o.routes() as u64;
        }
        Ok(snapshot)
    }
}

/// Where the TLS figures come from: the listeners' handshake counts and the certificate
/// store, both read at scrape time (a reloaded certificate shows at the next scrape).
#[derive(Debug, Default)]
pub struct TlsMetrics {
    source: Mutex<Option<(Arc<HandshakeCounts>, Arc<CertStore>)>>,
}

/// The TLS listeners' figures at one moment.
#[derive(Clone, Debug, Default)]
pub struct TlsFigures {
    /// Completed handshakes.
    pub handshakes: u64,
    /// Failed handshakes by reason: `timeout` (not finished in time), `limit` (evicted for
    /// a newer one, or refused because the source had too many unfinished), `error` (not TLS,
    /// nothing in common, or the client went away).
    pub handshake_failures: BTreeMap<&'static str, u64>,
    /// The certificate in use: its `notAfter`, Unix seconds, by its first name (or its
    /// subject).
    pub certificate_expiry: BTreeMap<String, u64>,
}

impl TlsMetrics {
    /// The TLS listeners count into `counts` and serve the certificate of `certs`.
    pub fn attach(&self, counts: Arc<HandshakeCounts>, certs: Arc<CertStore>) {
        *lock(&self.source) = Some((counts, certs));
    }

    fn figures(&self) -> TlsFigures {
        let Some((counts, certs)) = lock(&self.source).clone() else {
            return TlsFigures::default();
        };
        let [completed, failed, timed_out, evicted, refused] = counts.get();
        let info = &certs.current().info;
        TlsFigures {
            handshakes: completed,
            handshake_failures: BTreeMap::from([
                ("timeout", timed_out),
                ("limit", evicted + refused),
                ("error", failed),
            ]),
            certificate_expiry: BTreeMap::from([(
                info.names.first().unwrap_or(&info.subject).clone(),
                u64::try_from(info.not_after).unwrap_or(0),
            )]),
        }
    }
}
