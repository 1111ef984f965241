//! TURN over TLS (RFC 8656 section 3.1; ALPN per RFC 7443): a TLS listener is a TCP
//! listener whose connections first complete a rustls handshake, then go to
//! [`stream::serve`](super::stream::serve) exactly like TCP ones: the same framing, the same
//! core inputs, the same bounded outbox.
//!
//! Handshakes are bounded in number and time, so half-open connections (slowloris) cannot
//! hold the relay's memory or its TLS service: each shard runs at most
//! [`HandshakeLimits::max_per_shard`] at once, each gets [`HandshakeLimits::timeout`], and a
//! connection beyond the limit evicts the oldest unfinished handshake rather than waiting
//! for a slot. A real client finishes in one or two round trips, so it is never the oldest
//! for long; an attacker must open connections faster than that to crowd it out.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::{JoinHandle, spawn_local};
use tokio_rustls::TlsAcceptor;
use tracing::debug;

use super::certs::CertStore;
use super::shard::Ctx;
use super::{sockets, stream};

/// ALPN identifiers offered (RFC 7443): TURN, and STUN for clients that only ask for their
/// address. A client that offers ALPN without either is refused (RFC 7301
/// no_application_protocol); one that offers no ALPN is served.
pub const ALPN: [&[u8]; 2] = [b"stun.turn", b"stun.nat-discovery"];

/// The crypto provider: ring. rustls' own default is aws-lc-rs, which needs cmake (and
/// NASM elsewhere) to build; ring builds with the C compiler alone and is what the relay's
/// HTTPS client (ureq) already links, so TLS adds no build step and no second library.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// TLS listeners: where, with which certificate, and the handshake bounds.
pub struct TlsSetup {
    /// Listening addresses (each shard binds each one with SO_REUSEPORT).
    pub listen: Vec<SocketAddr>,
    /// The certificate, reloadable.
    pub certs: Arc<CertStore>,
    /// Handshake bounds.
    pub limits: HandshakeLimits,
    /// Handshake outcomes, all shards together.
    pub counts: Arc<HandshakeCounts>,
    /// How often to look for new certificate files (None: only on SIGHUP).
    pub reload_interval: Option<Duration>,
}

/// How many handshakes run at once and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandshakeLimits {
    /// Unfinished handshakes per shard; one more evicts the oldest.
    pub max_per_shard: usize,
    /// A handshake not finished in this time is closed.
    pub timeout: Duration,
}

impl Default for HandshakeLimits {
    fn default() -> Self {
        HandshakeLimits {
            max_per_shard: 256,
            timeout: Duration::from_secs(10),
        }
    }
}

/// Handshake outcomes (for logs and metrics).
#[derive(Debug, Default)]
pub struct HandshakeCounts {
    /// Completed.
    pub completed: AtomicU64,
    /// Failed: not TLS, no common version, cipher suite or ALPN protocol, or the client
    /// went away.
    pub failed: AtomicU64,
    /// Not finished within the timeout.
    pub timed_out: AtomicU64,
    /// Closed unfinished to make room for a newer one.
    pub evicted: AtomicU64,
}

impl HandshakeCounts {
    /// The four counts, in field order.
    pub fn get(&self) -> [u64; 4] {
        [
            &self.completed,
            &self.failed,
            &self.timed_out,
            &self.evicted,
        ]
        .map(|c| c.load(Ordering::Relaxed))
    }
}

/// The rustls configuration every TLS listener shares: TLS 1.3 and 1.2 only, no client
/// certificates, the reloadable certificate, ALPN.
pub fn server_config(certs: Arc<CertStore>) -> Result<Arc<ServerConfig>, rustls::Error> {
    let mut cfg = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(certs);
    cfg.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(cfg))
}

/// One shard's TLS listeners before the shard runs.
pub struct TlsShard {
    listeners: Vec<std::net::TcpListener>,
    acceptor: TlsAcceptor,
    limits: HandshakeLimits,
    counts: Arc<HandshakeCounts>,
}

impl TlsShard {
    /// Binds every TLS address for one shard.
    pub fn bind(setup: &TlsSetup, config: Arc<ServerConfig>) -> std::io::Result<TlsShard> {
        Ok(TlsShard {
            listeners: setup
                .listen
                .iter()
                .map(|a| sockets::tcp_listener(*a))
                .collect::<Result<_, _>>()?,
            acceptor: TlsAcceptor::from(config),
            limits: setup.limits,
            counts: setup.counts.clone(),
        })
    }

    /// Starts one accept loop per listener on the shard's runtime.
    pub(super) fn spawn(self, ctx: &Rc<Ctx>) -> std::io::Result<Vec<JoinHandle<()>>> {
        let hs = Rc::new(Handshakes {
            acceptor: self.acceptor,
            limits: self.limits,
            counts: self.counts,
            pending: Default::default(),
        });
        self.listeners
            .into_iter()
            .map(|l| {
                let l = TcpListener::from_std(l)?;
                Ok(spawn_local(accept_loop(ctx.clone(), l, hs.clone())))
            })
            .collect()
    }
}

/// A shard's handshakes in progress.
struct Handshakes {
    acceptor: TlsAcceptor,
    limits: HandshakeLimits,
    counts: Arc<HandshakeCounts>,
    /// Unfinished handshakes by connection id (ids grow, so the first is the oldest), each
    /// with the signal that evicts it.
    pending: std::cell::RefCell<BTreeMap<u64, Rc<Notify>>>,
}

async fn accept_loop(ctx: Rc<Ctx>, listener: TcpListener, hs: Rc<Handshakes>) {
    loop {
        let (tcp, addr) = stream::accept(&listener, "tls").await;
        let id = ctx.conn_id();
        let evict = Rc::new(Notify::new());
        {
            let mut pending = hs.pending.borrow_mut();
            if pending.len() >= hs.limits.max_per_shard
                && let Some((_, oldest)) = pending.pop_first()
            {
                oldest.notify_one();
            }
            pending.insert(id, evict.clone());
        }
        spawn_local(connection(ctx.clone(), hs.clone(), tcp, addr, id, evict));
    }
}

/// Completes the handshake within the bounds, then serves the session as a stream.
async fn connection(
    ctx: Rc<Ctx>,
    hs: Rc<Handshakes>,
    tcp: TcpStream,
    addr: SocketAddr,
    id: u64,
    evict: Rc<Notify>,
) {
    let outcome = tokio::select! {
        r = tokio::time::timeout(hs.limits.timeout, hs.acceptor.accept(tcp)) => r.map_err(|_| &hs.counts.timed_out),
        () = evict.notified() => Err(&hs.counts.evicted),
    };
    hs.pending.borrow_mut().remove(&id);
    let session = match outcome {
        Ok(Ok(session)) => session,
        Ok(Err(e)) => {
            hs.counts.failed.fetch_add(1, Ordering::Relaxed);
            debug!(shard = ctx.index(), %addr, "tls: handshake failed: {e}");
            return;
        }
        Err(count) => {
            count.fetch_add(1, Ordering::Relaxed);
            debug!(shard = ctx.index(), %addr, "tls: handshake not finished in time or evicted");
            return;
        }
    };
    hs.counts.completed.fetch_add(1, Ordering::Relaxed);
    drop(hs);
    let (_, conn) = session.get_ref();
    debug!(
        shard = ctx.index(),
        %addr,
        version = ?conn.protocol_version(),
        alpn = conn.alpn_protocol().map(String::from_utf8_lossy).as_deref().unwrap_or("none"),
        "tls: handshake done"
    );
    let (rd, wr) = tokio::io::split(session);
    stream::serve(ctx, rd, wr, addr, id, stream::Kind::Tls).await;
}
