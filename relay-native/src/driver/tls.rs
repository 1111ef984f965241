//! TURN over TLS (RFC 8656 section 3.1; ALPN per RFC 7443): a TLS listener is a TCP
//! listener whose connections first complete a rustls handshake, then go to
//! [`stream::serve`](super::stream::serve) exactly like TCP ones: the same framing, the same
//! core inputs, the same bounded outbox.
//!
//! Handshakes are bounded in number and time, so half-open connections (slowloris) cannot
//! hold the relay's memory or its TLS service:
//! - each source (an IPv4 address, an IPv6 /64) has at most
//!   [`HandshakeLimits::per_source`] unfinished handshakes; a connection beyond that is
//!   closed at once, so one host cannot take the slots everyone shares;
//! - each shard runs at most [`HandshakeLimits::max_per_shard`] at once, and a connection
//!   beyond that evicts the oldest unfinished handshake rather than waiting for a slot: a
//!   real client finishes in one or two round trips, so many sources must open connections
//!   faster than that to crowd it out;
//! - each handshake gets [`HandshakeLimits::timeout`].

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::{JoinHandle, spawn_local};
use tokio_rustls::TlsAcceptor;
use tracing::debug;

use super::counters::HandshakeCounts;
use super::ctx::Ctx;
use super::{sockets, stream};
use crate::certs::{CertStore, provider};

/// ALPN identifiers offered (RFC 7443): TURN, and STUN for clients that only ask for their
/// address. A client that offers ALPN without either is refused (RFC 7301
/// no_application_protocol); one that offers no ALPN is served.
pub const ALPN: [&[u8]; 2] = [b"stun.turn", b"stun.nat-discovery"];

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
    /// Unfinished handshakes per source address (IPv6: per /64) and shard; one more is
    /// closed at once.
    pub per_source: usize,
    /// A handshake not finished in this time is closed.
    pub timeout: Duration,
}

/// The rustls configuration every TLS listener shares: TLS 1.3 and 1.2 only, no client
/// certificates, the reloadable certificate, ALPN, and stateless session tickets (rustls'
/// ticketer, keys rotated every 6 hours): a client that reconnects (an ICE restart, a
/// network change, every client after a relay restart) resumes without the certificate
/// signature, and the relay keeps no per-session state for it.
pub fn server_config(certs: Arc<CertStore>) -> Result<Arc<ServerConfig>, rustls::Error> {
    let mut cfg = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(certs);
    cfg.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    cfg.ticketer = rustls::crypto::ring::Ticketer::new()?;
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
            sources: Default::default(),
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
    pending: RefCell<BTreeMap<u64, Rc<Notify>>>,
    /// Unfinished handshakes by source.
    sources: RefCell<HashMap<IpAddr, usize>>,
}

impl Handshakes {
    /// Takes a slot for a handshake from `source`, evicting the oldest if the shard is
    /// full; None if the source has too many already.
    fn begin(&self, id: u64, source: IpAddr) -> Option<Rc<Notify>> {
        let mut sources = self.sources.borrow_mut();
        let n = sources.entry(source).or_insert(0);
        if *n >= self.limits.per_source {
            return None;
        }
        *n += 1;
        let mut pending = self.pending.borrow_mut();
        if pending.len() >= self.limits.max_per_shard
            && let Some((_, oldest)) = pending.pop_first()
        {
            oldest.notify_one();
        }
        let evict = Rc::new(Notify::new());
        pending.insert(id, evict.clone());
        Some(evict)
    }

    /// Gives the slot back.
    fn end(&self, id: u64, source: IpAddr) {
        self.pending.borrow_mut().remove(&id);
        let mut sources = self.sources.borrow_mut();
        if let Some(n) = sources.get_mut(&source) {
            *n -= 1;
            if *n == 0 {
                sources.remove(&source);
            }
        }
    }
}

/// The source a handshake is counted under: the IPv4 address, or the IPv6 /64 (one
/// subscriber's usual allocation).
fn source(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        v4 => v4,
    }
}

async fn accept_loop(ctx: Rc<Ctx>, listener: TcpListener, hs: Rc<Handshakes>) {
    loop {
        let (tcp, addr) = stream::accept(&listener, stream::Kind::Tls).await;
        let id = ctx.conn_id();
        let Some(evict) = hs.begin(id, source(addr.ip())) else {
            hs.counts.refused.fetch_add(1, Ordering::Relaxed);
            continue;
        };
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
    hs.end(id, source(addr.ip()));
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
    // A task of its own: this one's memory is sized for the handshake, which is over.
    spawn_local(stream::serve(ctx, rd, wr, addr, id, stream::Kind::Tls));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handshakes(max_per_shard: usize, per_source: usize) -> Handshakes {
        let certs = CertStore::for_tests();
        Handshakes {
            acceptor: TlsAcceptor::from(server_config(certs).unwrap_or_else(|_| unreachable!())),
            limits: HandshakeLimits {
                max_per_shard,
                per_source,
                timeout: Duration::from_secs(1),
            },
            counts: Arc::default(),
            pending: Default::default(),
            sources: Default::default(),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn one_source_cannot_take_more_than_its_share() {
        let hs = handshakes(8, 2);
        let a = source(ip("192.0.2.1"));
        assert!(hs.begin(1, a).is_some());
        assert!(hs.begin(2, a).is_some());
        assert!(hs.begin(3, a).is_none(), "a third from the same address");
        assert!(
            hs.begin(4, source(ip("192.0.2.2"))).is_some(),
            "another address"
        );
        hs.end(1, a);
        assert!(hs.begin(5, a).is_some(), "a slot came back");
        hs.end(2, a);
        hs.end(5, a);
        assert!(
            hs.sources.borrow().get(&a).is_none(),
            "no entry left behind"
        );
    }

    #[test]
    fn ipv6_sources_are_counted_per_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(
            source(ip("2001:db8:1:2:aaaa::1")),
            source(ip("2001:db8:1:2:bbbb::9"))
        );
        assert_ne!(source(ip("2001:db8:1:2::1")), source(ip("2001:db8:1:3::1")));
        assert_eq!(source(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
    }

    #[test]
    fn a_full_shard_evicts_its_oldest_handshake() {
        let hs = handshakes(2, 16);
        let first = hs
            .begin(1, source(ip("192.0.2.1")))
            .unwrap_or_else(|| unreachable!());
        let _second = hs.begin(2, source(ip("192.0.2.2")));
        let _third = hs.begin(3, source(ip("192.0.2.3")));
        assert_eq!(
            hs.pending.borrow().keys().copied().collect::<Vec<_>>(),
            [2, 3]
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|_| unreachable!());
        let woken = rt.block_on(async {
            tokio::time::timeout(Duration::from_millis(100), first.notified())
                .await
                .is_ok()
        });
        assert!(woken, "the oldest handshake was told to go");
    }
}
