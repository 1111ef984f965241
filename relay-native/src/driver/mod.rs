//! The tokio driver: sockets and timers for the protocol core, nothing else.
//!
//! The relay runs one *shard* per core. Each shard is a thread with a single-threaded tokio
//! runtime that owns one [`Server`](relay_proto::Server), a UDP and a TCP listener per listen
//! address bound with SO_REUSEPORT (the kernel keeps each client 5-tuple on one shard), and
//! the relay sockets of the allocations it made. Shards share only read-only configuration and
//! the quota counters, so no lock is taken per packet. Why: docs/relay.md.

mod batch;
mod control;
pub mod counters;
mod ctx;
mod events;
mod handle;
pub mod offload;
mod operator;
mod outbox;
mod ports;
mod quota;
mod sendq;
mod shard;
mod sockets;
mod stream;
mod tcp;
pub mod tls;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use relay_proto::{Clock, Config, NonceSecret, Seeds};

pub use handle::{
    ControlFigures, ControlMetrics, Handle, NoAnswer, Snapshot, TlsFigures, TlsMetrics,
};
pub use quota::SharedQuota;
pub use shard::Shard;

/// What the driver needs besides the core's configuration.
pub struct DriverConfig {
    /// UDP and TCP listening addresses, at most one per family (a reply to a UDP client
    /// leaves from the listener of its family).
    pub listen: Vec<SocketAddr>,
    /// Number of shards (threads); at least 1.
    pub shards: usize,
    /// Interfaces to attach the kernel fast path for ChannelData to (none: sockets only).
    /// The core must have been built with `channel_routes` on.
    pub offload: Vec<String>,
    /// The allocation quota every shard shares.
    pub quota: SharedQuota,
    /// The control plane's side of every shard (revocations in, usage out), when it runs.
    pub control: Option<crate::link::ShardLink>,
    /// TLS listeners (none: no TURN over TLS).
    pub tls: Option<tls::TlsSetup>,
    /// The operator's handle on the running relay (metrics, drain, readiness).
    pub handle: Handle,
    /// Where to serve /metrics, /healthz, /readyz and /drain (none: not served).
    pub metrics: Option<SocketAddr>,
    /// The longest a drain waits for the last allocation to end.
    pub drain_deadline: Duration,
}

/// Runs the relay until `shutdown` turns true. Returns once every shard has stopped.
pub fn run(
    core: Arc<Config>,
    driver: DriverConfig,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let clock = Clock::new(
        Instant::now(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    );
    let nonce_secret = NonceSecret::new(random()?);
    // Bind every shard's listeners first, so a bad address fails before anything runs.
    let mut shards = Vec::new();
    for i in 0..driver.shards.max(1) {
        let seeds = Seeds {
            nonce_secret: nonce_secret.clone(),
            txid_seed: u64::from_le_bytes(random()?),
        };
        let quota = Box::new(driver.quota.clone());
        shards.push(Shard::bind(
            i,
            &driver.listen,
            core.clone(),
            quota,
            seeds,
            clock,
        )?);
    }
    let offload = if driver.offload.is_empty() {
        None
    } else {
        // Configuration only turns the fast path on with a specific listen address.
        let servers = offload_listen(&driver.listen);
        if servers.v4.is_none() && servers.v6.is_none() {
            return Err(std::io::Error::other(
                "--offload needs a specific --listen address",
            ));
        }
        let o =
            offload::Offload::attach(&driver.offload, servers).map_err(std::io::Error::other)?;
        tracing::info!(
            interfaces = driver.offload.join(","),
            "kernel fast path for ChannelData attached"
        );
        Some(Arc::new(Mutex::new(o)))
    };
    // The kernel's counters feed the bandwidth caps only when there are caps.
    let caps = &core.bandwidth;
    let meter = offload.is_some() && (caps.per_allocation.is_some() || caps.per_user.is_some());
    if let Some(o) = &offload {
        driver.handle.attach_offload(o.clone());
    }
    for s in &mut shards {
        s.set_offload(offload.clone(), meter);
        s.set_operator(driver.handle.attach_shard());
        s.set_control(driver.control.clone());
    }
    if let Some(setup) = &driver.tls {
        let config = tls::server_config(setup.certs.clone()).map_err(std::io::Error::other)?;
        for s in &mut shards {
            s.set_tls(tls::TlsShard::bind(setup, config.clone())?);
        }
    }
    let mut threads = Vec::new();
    for shard in shards {
        let stop = shutdown.clone();
        threads.push(
            std::thread::Builder::new()
                .name(format!("relay-shard-{}", shard.index()))
                .spawn(move || shard.run(stop))?,
        );
    }
    driver.handle.set_serving(true);
    let mut result = Ok(());
    for t in threads {
        match t.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => result = Err(e),
            Err(_) => result = Err(std::io::Error::other("a relay shard panicked")),
        }
    }
    driver.handle.set_serving(false);
    if let Some(o) = offload
        && let Ok(o) = o.lock()
    {
        let t = o.total();
        tracing::info!(
            target: "offload",
            to_peer_packets = t.to_peer.packets,
            to_client_packets = t.to_client.packets,
            "kernel fast path detached; it relayed {} channel data packets",
            t.to_peer.packets + t.to_client.packets
        );
    }
    if let Some(setup) = &driver.tls {
        let [completed, failed, timed_out, evicted, refused] = setup.counts.get();
        tracing::info!(
            target: "tls",
            completed,
            failed,
            timed_out,
            evicted,
            refused,
            "TLS handshakes since start"
        );
    }
    result
}

/// The addresses the kernel fast path rewrites replies from: the specific listen address of
/// each family (a family listening on an unspecified address stays on the sockets).
fn offload_listen(listen: &[SocketAddr]) -> offload::Servers {
    let mut servers = offload::Servers::default();
    for l in listen.iter().filter(|l| !l.ip().is_unspecified()) {
        match l {
            SocketAddr::V4(a) => servers.v4 = Some(*a),
            SocketAddr::V6(a) => servers.v6 = Some(*a),
        }
    }
    servers
}

/// Random bytes from the operating system.
fn random<const N: usize>() -> std::io::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(bytes)
}
