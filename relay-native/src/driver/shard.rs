//! One shard: a single-threaded runtime around one protocol core.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, LocalSet, spawn_local};
use tracing::{debug, info, warn};

use quinn_udp::UdpSocketState;

use super::batch::{self, Arena};
use super::offload::Offload;
use super::sockets;
use relay_proto::{
    AllocId, Client, ClientOutcome, Clock, Config, Event, HEADROOM, Server, TAILROOM, ToClient,
    Transport,
};

/// A shard before it runs: bound sockets and a core.
pub struct Shard {
    index: usize,
    udp: std::net::UdpSocket,
    tcp: std::net::TcpListener,
    core: Server,
    relay_ip: std::net::IpAddr,
    offload: Option<Arc<Mutex<Offload>>>,
}

/// Everything the shard's tasks share (one thread, so `Rc` and `RefCell`).
pub(super) struct Ctx {
    pub(super) core: RefCell<Server>,
    pub(super) udp: UdpSocket,
    udp_state: UdpSocketState,
    arena: RefCell<Arena>,
    relays: RefCell<HashMap<u64, (Rc<UdpSocket>, JoinHandle<()>)>>,
    pub(super) tcp_conns: RefCell<HashMap<u64, mpsc::UnboundedSender<Vec<u8>>>>,
    pub(super) next_conn: Cell<u64>,
    relay_ip: std::net::IpAddr,
    index: usize,
    offload: Option<Arc<Mutex<Offload>>>,
}

impl Shard {
    /// Binds this shard's listeners on `listen` and makes its core.
    pub fn bind(
        index: usize,
        listen: SocketAddr,
        cfg: Arc<Config>,
        secret: [u8; 32],
        clock: Clock,
    ) -> std::io::Result<Shard> {
        let relay_ip = cfg.relay_ip;
        Ok(Shard {
            index,
            udp: sockets::udp_listener(listen)?,
            tcp: sockets::tcp_listener(listen)?,
            core: Server::new(cfg, secret, clock),
            relay_ip,
            offload: None,
        })
    }

    /// Shares the kernel fast path's maps with this shard.
    pub fn set_offload(&mut self, offload: Option<Arc<Mutex<Offload>>>) {
        self.offload = offload;
    }

    /// Which shard.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Runs until `stop` turns true.
    pub fn run(self, mut stop: watch::Receiver<bool>) -> std::io::Result<()> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let local = LocalSet::new();
        local.block_on(&rt, async move {
            let udp_state = UdpSocketState::new((&self.udp).into())?;
            let ctx = Rc::new(Ctx {
                core: RefCell::new(self.core),
                udp: UdpSocket::from_std(self.udp)?,
                udp_state,
                arena: RefCell::new(Arena::new()),
                relays: RefCell::new(HashMap::new()),
                tcp_conns: RefCell::new(HashMap::new()),
                next_conn: Cell::new((self.index as u64) << 48),
                relay_ip: self.relay_ip,
                index: self.index,
                offload: self.offload,
            });
            let tcp = tokio::net::TcpListener::from_std(self.tcp)?;
            let tasks = [
                spawn_local(udp_loop(ctx.clone())),
                spawn_local(super::tcp::accept_loop(ctx.clone(), tcp)),
                spawn_local(timer_loop(ctx.clone())),
            ];
            while !*stop.borrow() {
                if stop.changed().await.is_err() {
                    break;
                }
            }
            for t in tasks {
                t.abort();
            }
            for (_, (_, task)) in ctx.relays.borrow_mut().drain() {
                task.abort();
            }
            debug!(shard = ctx.index, "shard stopped");
            Ok(())
        })
    }
}

impl Ctx {
    /// Sends what the core queued and performs the socket work it asked for.
    pub(super) fn flush(self: &Rc<Self>, now: Instant) {
        loop {
            // Socket work first: a channel route must be in the kernel before the ChannelBind
            // success that lets the client use it leaves (a client may answer in microseconds).
            let event = self.core.borrow_mut().poll_event();
            match event {
                Some(Event::BindRelay { alloc, ip, even }) => {
                    let bound = self.bind_relay(alloc, ip, even);
                    self.core.borrow_mut().relay_bound(now, alloc, bound);
                    continue;
                }
                Some(Event::ReleaseRelay { alloc }) => {
                    if let Some((socket, task)) = self.relays.borrow_mut().remove(&alloc.to_bits())
                    {
                        task.abort();
                        self.log_offloaded(alloc, &socket);
                    }
                    continue;
                }
                Some(Event::Route(change)) => {
                    if let Some(o) = &self.offload
                        && let Ok(mut o) = o.lock()
                    {
                        o.apply(change);
                    }
                    continue;
                }
                None => {}
            }
            let transmit = self.core.borrow_mut().poll_transmit();
            match transmit {
                Some(t) => self.send_to_client(t.to, &t.data),
                None => return,
            }
        }
    }

    /// One line for an ended allocation whose channels the kernel relayed.
    fn log_offloaded(&self, alloc: AllocId, socket: &UdpSocket) {
        let Some(o) = &self.offload else { return };
        let Some(r) = o.lock().ok().and_then(|mut o| o.take_relayed(alloc)) else {
            return;
        };
        info!(
            target: "offload",
            relay = socket.local_addr().map(|a| a.to_string()).unwrap_or_default(),
            to_peer_packets = r.to_peer.packets,
            to_client_packets = r.to_client.packets,
            to_peer_bytes = r.to_peer.bytes,
            to_client_bytes = r.to_client.bytes,
            "channel data relayed in the kernel"
        );
    }

    fn bind_relay(
        self: &Rc<Self>,
        alloc: AllocId,
        ip: std::net::IpAddr,
        even: bool,
    ) -> Result<SocketAddr, ()> {
        let ip = if ip.is_unspecified() {
            self.relay_ip
        } else {
            ip
        };
        let socket = sockets::relay_socket(ip, even)
            .and_then(UdpSocket::from_std)
            .map_err(|e| {
                warn!(
                    shard = self.index,
                    "cannot bind a relay socket on {ip}: {e}"
                );
            })?;
        let addr = socket.local_addr().map_err(|_| ())?;
        let state = UdpSocketState::new((&socket).into()).map_err(|_| ())?;
        let socket = Rc::new(socket);
        let task = spawn_local(peer_loop(self.clone(), alloc, socket.clone(), state));
        self.relays
            .borrow_mut()
            .insert(alloc.to_bits(), (socket, task));
        Ok(addr)
    }

    /// Sends control bytes or a relayed frame to a client.
    pub(super) fn send_to_client(&self, to: Client, data: &[u8]) {
        match to.transport {
            Transport::Udp => {
                if let Err(e) = send_now(&self.udp, data, to.addr) {
                    debug!(shard = self.index, "send to client {}: {e}", to.addr);
                }
            }
            Transport::Tcp(id) => {
                if let Some(tx) = self.tcp_conns.borrow().get(&id) {
                    let _ = tx.send(data.to_vec());
                }
            }
        }
    }

    /// Forwards what a client sent to a peer through the allocation's relay socket. A full
    /// socket buffer drops the datagram, as the network would.
    pub(super) fn forward(&self, outcome: ClientOutcome<'_>) {
        if let ClientOutcome::ToPeer { alloc, peer, data } = outcome {
            if let Some((s, _)) = self.relays.borrow().get(&alloc.to_bits()) {
                if let Err(e) = send_now(s, data, peer) {
                    debug!("send to peer {peer}: {e}");
                }
            }
        }
    }
}

/// One `sendto` on the non-blocking socket, now. Not tokio's `try_send_to`: that consults
/// tokio's cached write readiness, which a socket gets only after the reactor's first turn,
/// so the first datagram on a fresh relay socket would be dropped as WouldBlock.
fn send_now(socket: &UdpSocket, data: &[u8], to: SocketAddr) -> std::io::Result<usize> {
    socket2::SockRef::from(socket).send_to(data, &to.into())
}

impl Ctx {
    fn relay_to_client(
        &self,
        now: Instant,
        alloc: AllocId,
        from: SocketAddr,
        buf: &mut [u8],
        start: usize,
        len: usize,
    ) {
        let out = self
            .core
            .borrow_mut()
            .handle_peer(now, alloc, from, buf, start, len);
        if let Some(ToClient { to, range }) = out {
            if let Some(frame) = buf.get(range) {
                self.send_to_client(to, frame);
            }
        }
    }
}

/// Client datagrams on the listener, received in batches.
async fn udp_loop(ctx: Rc<Ctx>) {
    loop {
        if ctx.udp.readable().await.is_err() {
            continue;
        }
        loop {
            let mut arena = ctx.arena.borrow_mut();
            let n = match arena.try_recv(&ctx.udp, &ctx.udp_state) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    // ICMP errors surface here on some systems; keep serving.
                    debug!(shard = ctx.index, "udp listener: {e}");
                    break;
                }
            };
            let now = Instant::now();
            let Arena { bufs, meta } = &mut *arena;
            for (buf, meta) in bufs.iter().zip(meta.iter()).take(n) {
                let client = Client {
                    transport: Transport::Udp,
                    addr: meta.addr,
                };
                for (start, len) in batch::datagrams(meta) {
                    let Some(data) = buf.get(start..start + len) else {
                        continue;
                    };
                    let outcome = ctx.core.borrow_mut().handle_client(now, client, data);
                    ctx.forward(outcome);
                }
            }
            drop(arena);
            ctx.flush(now);
        }
    }
}

/// Peer datagrams on one allocation's relay socket, received in batches.
async fn peer_loop(ctx: Rc<Ctx>, alloc: AllocId, socket: Rc<UdpSocket>, state: UdpSocketState) {
    loop {
        if socket.readable().await.is_err() {
            continue;
        }
        loop {
            let mut arena = ctx.arena.borrow_mut();
            let n = match arena.try_recv(&socket, &state) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let now = Instant::now();
            let Arena { bufs, meta } = &mut *arena;
            for (buf, meta) in bufs.iter_mut().zip(meta.iter()).take(n) {
                if meta.stride >= meta.len {
                    ctx.relay_to_client(now, alloc, meta.addr, buf, batch::HEAD, meta.len);
                    continue;
                }
                // Coalesced (GRO): frame each datagram in a copy, since framing writes
                // around the payload.
                let mut scratch = vec![0u8; HEADROOM + meta.stride + TAILROOM];
                for (start, len) in batch::datagrams(meta) {
                    let (Some(src), Some(dst)) = (
                        buf.get(start..start + len),
                        scratch.get_mut(HEADROOM..HEADROOM + len),
                    ) else {
                        continue;
                    };
                    dst.copy_from_slice(src);
                    ctx.relay_to_client(now, alloc, meta.addr, &mut scratch, HEADROOM, len);
                }
            }
        }
    }
}

async fn timer_loop(ctx: Rc<Ctx>) {
    loop {
        let now = Instant::now();
        let next = ctx
            .core
            .borrow()
            .poll_timeout()
            .unwrap_or(now + Duration::from_secs(1));
        let wake = next
            .min(now + Duration::from_secs(1))
            .max(now + Duration::from_millis(10));
        tokio::time::sleep_until(wake.into()).await;
        let now = Instant::now();
        ctx.core.borrow_mut().handle_timeout(now);
        ctx.flush(now);
    }
}
