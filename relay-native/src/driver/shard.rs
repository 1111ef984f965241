//! One shard: a single-threaded runtime around one protocol core.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{Notify, mpsc, watch};
use tokio::task::{JoinHandle, LocalSet, spawn_local};
use tracing::{debug, warn};

use super::batch::{self, Arena};
use super::counters::{Link, ShardCounts};
use super::handle::Command;
use super::offload::Offload;
use super::outbox::Message;
use super::ports::{self, PickError};
use super::sendq::{SendQueue, UdpSock};
use super::{control, events, operator, sockets};
use crate::link::ShardLink;
use relay_proto::{
    AllocId, AuthFailure, BindFailed, Client, Clock, Config, Event, Forward, HEADROOM, Input,
    Output, PortRequest, Quota, Seeds, Server, Traffic, Transport,
};

/// A shard before it runs: bound sockets and a core.
pub struct Shard {
    index: usize,
    udp: Vec<std::net::UdpSocket>,
    tcp: Vec<std::net::TcpListener>,
    core: Server,
    /// The configuration the core runs on (the relay port range and its reservations).
    cfg: Arc<Config>,
    offload: Option<Arc<Mutex<Offload>>>,
    /// The control plane's side of this shard (revocations in, usage out), when it runs.
    control: Option<ShardLink>,
    tls: Option<super::tls::TlsShard>,
    /// Meter the kernel fast path's traffic for bandwidth caps.
    meter: bool,
    /// The operator's commands (metrics snapshots, drain).
    operator: Option<mpsc::UnboundedReceiver<Command>>,
}

/// A UDP listener; a reply leaves from the one of the client's family.
pub(super) struct UdpListener {
    sock: Rc<UdpSock>,
    v6: bool,
}

/// Relay sockets are keyed by allocation and family: a dual allocation has two.
type RelayKey = (u64, bool);

fn relay_key(alloc: AllocId, ip: IpAddr) -> RelayKey {
    (alloc.to_bits(), ip.is_ipv6())
}

/// An allocation's relay socket and the task that receives on it.
struct Relay {
    socket: Rc<UdpSock>,
    task: JoinHandle<()>,
}

/// Everything the shard's tasks share (one thread, so `Rc` and `RefCell`).
pub(super) struct Ctx {
    pub(super) core: RefCell<Server>,
    cfg: Arc<Config>,
    udp: Vec<UdpListener>,
    arena: RefCell<Arena>,
    /// Datagrams to send once the current receive batch is through.
    sends: RefCell<SendQueue>,
    relays: RefCell<HashMap<RelayKey, Relay>>,
    pub(super) tcp_conns: RefCell<HashMap<u64, super::stream::Conn>>,
    pub(super) next_conn: Cell<u64>,
    /// The read buffer every stream connection of this shard shares.
    pub(super) read_chunk: RefCell<Box<[u8]>>,
    /// What the stream connections have queued for their clients together.
    pub(super) stream_queued: Rc<super::outbox::Queued>,
    /// The deadline the timer task sleeps until, as the core last said.
    deadline: Cell<Option<Instant>>,
    /// Wakes the timer task when `deadline` moves.
    rearm: Notify,
    pub(super) index: usize,
    pub(super) offload: Option<Arc<Mutex<Offload>>>,
    pub(super) control: Option<ShardLink>,
    /// What this shard counts for metrics (per event, never per datagram).
    pub(super) counts: RefCell<ShardCounts>,
}

impl Shard {
    /// Binds this shard's listeners on every `listen` address and makes its core.
    pub fn bind(
        index: usize,
        listen: &[SocketAddr],
        cfg: Arc<Config>,
        quota: Box<dyn Quota>,
        seeds: Seeds,
        clock: Clock,
    ) -> std::io::Result<Shard> {
        Ok(Shard {
            index,
            udp: listen
                .iter()
                .map(|a| sockets::udp_listener(*a))
                .collect::<Result<_, _>>()?,
            tcp: listen
                .iter()
                .map(|a| sockets::tcp_listener(*a))
                .collect::<Result<_, _>>()?,
            core: Server::new(cfg.clone(), quota, seeds, clock),
            cfg,
            offload: None,
            meter: false,
            operator: None,
            control: None,
            tls: None,
        })
    }

    /// Connects this shard to the control plane.
    pub fn set_control(&mut self, control: Option<ShardLink>) {
        self.control = control;
    }

    /// Connects this shard to the operator's handle.
    pub(crate) fn set_operator(&mut self, commands: mpsc::UnboundedReceiver<Command>) {
        self.operator = Some(commands);
    }

    /// Adds this shard's TLS listeners.
    pub fn set_tls(&mut self, tls: super::tls::TlsShard) {
        self.tls = Some(tls);
    }

    /// Shares the kernel fast path's maps with this shard; `meter`: read its counters
    /// periodically for the core's bandwidth caps.
    pub fn set_offload(&mut self, offload: Option<Arc<Mutex<Offload>>>, meter: bool) {
        self.offload = offload;
        self.meter = meter;
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
            let mut udp = Vec::new();
            for socket in self.udp {
                let v6 = socket.local_addr()?.is_ipv6();
                udp.push(UdpListener {
                    sock: UdpSock::new(socket)?,
                    v6,
                });
            }
            let ctx = Rc::new(Ctx {
                core: RefCell::new(self.core),
                cfg: self.cfg,
                udp,
                arena: RefCell::new(Arena::new()),
                sends: RefCell::new(SendQueue::new()),
                relays: RefCell::new(HashMap::new()),
                tcp_conns: RefCell::new(HashMap::new()),
                next_conn: Cell::new((self.index as u64) << 48),
                read_chunk: RefCell::new(vec![0; super::stream::READ_CHUNK].into_boxed_slice()),
                stream_queued: Rc::default(),
                deadline: Cell::new(None),
                rearm: Notify::new(),
                index: self.index,
                offload: self.offload,
                counts: RefCell::new(ShardCounts::default()),
                control: self.control,
            });
            let mut tasks = vec![spawn_local(timer_loop(ctx.clone()))];
            for n in 0..ctx.udp.len() {
                tasks.push(spawn_local(udp_loop(ctx.clone(), n)));
            }
            for tcp in self.tcp {
                let tcp = tokio::net::TcpListener::from_std(tcp)?;
                tasks.push(spawn_local(super::tcp::accept_loop(ctx.clone(), tcp)));
            }
            if let Some(commands) = self.operator {
                tasks.push(spawn_local(operator::operator_loop(ctx.clone(), commands)));
            }
            if self.meter {
                tasks.push(spawn_local(operator::kernel_meter(ctx.clone())));
            }
            if let Some(tls) = self.tls {
                tasks.extend(tls.spawn(&ctx)?);
            }
            if let Some(link) = ctx.control.clone() {
                tasks.push(spawn_local(control::run(ctx.clone(), link)));
            }
            while !*stop.borrow() {
                if stop.changed().await.is_err() {
                    break;
                }
            }
            for t in tasks {
                t.abort();
            }
            for (_, relay) in ctx.relays.borrow_mut().drain() {
                relay.task.abort();
            }
            super::control::last_totals(&ctx);
            debug!(shard = ctx.index, "shard stopped");
            Ok(())
        })
    }
}

impl Ctx {
    /// Which shard.
    pub(super) fn index(&self) -> usize {
        self.index
    }

    /// A new stream connection's id (unique in the process: the shard is in the top bits).
    pub(super) fn conn_id(&self) -> u64 {
        let id = self.next_conn.get();
        self.next_conn.set(id + 1);
        id
    }

    /// Hands the core one input, sends what it relays, then carries out what it queued.
    pub(super) fn input(self: &Rc<Self>, now: Instant, input: Input<'_>) {
        self.input_batched(now, input);
        self.send_queued();
    }

    /// [`Ctx::input`] within a receive batch: its datagrams wait in the send queue for
    /// [`Ctx::send_queued`] at the end of the batch, so that a burst leaves in one send.
    fn input_batched(self: &Rc<Self>, now: Instant, input: Input<'_>) {
        let forward = self.core.borrow_mut().handle_input(now, input);
        match forward {
            Some(Forward::ToPeer { alloc, peer, data }) => self.send_to_peer(alloc, peer, data),
            Some(Forward::ToClient { client, data }) => {
                self.send_to_client(client, data, Message::Data)
            }
            None => {}
        }
        self.flush(now);
    }

    /// Sends the queued datagrams, in the order they were queued.
    fn send_queued(&self) {
        self.sends.borrow_mut().send();
    }

    /// Carries out the core's outputs in the order it queued them, then re-arms the timer at
    /// its next deadline.
    fn flush(self: &Rc<Self>, now: Instant) {
        loop {
            let output = self.core.borrow_mut().poll_output();
            match output {
                Some(Output::Transmit(t)) => self.send_to_client(t.to, &t.data, Message::Control),
                Some(Output::BindRelay { alloc, ip, port }) => {
                    let result = self.bind_relay(alloc, ip, port, now);
                    let input = Input::RelayBound { alloc, result };
                    let _ = self.core.borrow_mut().handle_input(now, input);
                }
                Some(Output::ReleaseRelay { alloc }) => {
                    for v6 in [false, true] {
                        let relay = self.relays.borrow_mut().remove(&(alloc.to_bits(), v6));
                        if let Some(relay) = relay {
                            relay.task.abort();
                        }
                    }
                }
                Some(Output::Route(change)) => {
                    if let Some(o) = &self.offload
                        && let Ok(mut o) = o.lock()
                    {
                        o.apply(self.index, change);
                    }
                }
                Some(Output::Event(e)) => {
                    if let Event::AuthFailed {
                        why: AuthFailure::Throttled,
                        client,
                        ..
                    } = &e
                    {
                        let link = match client.transport {
                            Transport::Udp => Link::Udp,
                            Transport::Tcp(id) => self
                                .tcp_conns
                                .borrow()
                                .get(&id)
                                .map_or(Link::Tcp, |c| c.link()),
                        };
                        self.counts.borrow_mut().throttled(link);
                    }
                    self.counts.borrow_mut().event(&e);
                    let kernel = self.kernel_share(&e);
                    events::log(&e, kernel);
                    if let Some(c) = &self.control {
                        c.event(self.index, &e, kernel);
                    }
                }
                Some(Output::CloseConnection { transport, reason }) => {
                    self.counts.borrow_mut().closed_by_relay(reason);
                    if let Transport::Tcp(id) = transport
                        && let Some(conn) = self.tcp_conns.borrow().get(&id)
                    {
                        debug!(
                            shard = self.index,
                            "stream: closing a connection: {}",
                            reason.as_str()
                        );
                        conn.close();
                    }
                }
                None => break,
            }
        }
        let deadline = self.core.borrow().poll_timeout();
        if self.deadline.replace(deadline) != deadline {
            self.rearm.notify_one();
        }
    }

    /// What the kernel fast path relayed for an allocation that just ended (its routes were
    /// withdrawn before the event), if it carried any of its channels.
    fn kernel_share(&self, e: &Event) -> Option<Traffic> {
        let Event::AllocationEnded { info, .. } = e else {
            return None;
        };
        let o = self.offload.as_ref()?;
        o.lock().ok()?.take_relayed(self.index, info.alloc)
    }

    fn bind_relay(
        self: &Rc<Self>,
        alloc: AllocId,
        ip: IpAddr,
        port: PortRequest,
        now: Instant,
    ) -> Result<SocketAddr, BindFailed> {
        let bound = ports::bind(&self.cfg, ip, port, now).and_then(|socket| {
            let addr = socket.local_addr().map_err(PickError::Io)?;
            Ok((UdpSock::new(socket).map_err(PickError::Io)?, addr))
        });
        let (socket, addr) = bound.map_err(|e| {
            if let PickError::Exhausted = e {
                self.counts.borrow_mut().ports_exhausted += 1;
            }
            warn!(
                shard = self.index,
                "cannot bind a relay socket on {ip} in {}: {e}", self.cfg.relay_ports
            );
            BindFailed { ip }
        })?;
        let task = spawn_local(peer_loop(self.clone(), alloc, socket.clone()));
        self.relays
            .borrow_mut()
            .insert(relay_key(alloc, ip), Relay { socket, task });
        Ok(addr)
    }

    /// Sends control bytes or a relayed frame to a client.
    fn send_to_client(&self, to: Client, data: &[u8], what: Message) {
        match to.transport {
            Transport::Udp => {
                if let Some(l) = self.udp.iter().find(|l| l.v6 == to.addr.is_ipv6()) {
                    self.sends.borrow_mut().push(&l.sock, to.addr, data);
                }
            }
            Transport::Tcp(id) => {
                if let Some(conn) = self.tcp_conns.borrow().get(&id) {
                    conn.send(data, what);
                }
            }
        }
    }

    /// Sends what a client relayed to a peer through the allocation's relay socket. A full
    /// socket buffer drops the datagram, as the network would.
    fn send_to_peer(&self, alloc: AllocId, peer: SocketAddr, data: &[u8]) {
        if let Some(relay) = self.relays.borrow().get(&relay_key(alloc, peer.ip())) {
            self.sends.borrow_mut().push(&relay.socket, peer, data);
        }
    }
}

/// Client datagrams on UDP listener `n`, received in batches; what a batch relays is sent
/// at its end.
async fn udp_loop(ctx: Rc<Ctx>, n: usize) {
    let Some(listener) = ctx.udp.get(n) else {
        return;
    };
    loop {
        if listener.sock.io.readable().await.is_err() {
            continue;
        }
        loop {
            let mut arena = ctx.arena.borrow_mut();
            let n = match arena.try_recv(&listener.sock) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    // ICMP errors surface here on some systems; keep serving.
                    debug!(shard = ctx.index, "udp listener: {e}");
                    break;
                }
            };
            let now = Instant::now();
            let Arena { bufs, meta, .. } = &mut *arena;
            for (buf, meta) in bufs.iter().zip(meta.iter()).take(n) {
                let client = Client {
                    transport: Transport::Udp,
                    addr: meta.addr,
                };
                for (start, len) in batch::datagrams(meta) {
                    if let Some(data) = buf.get(start..start + len) {
                        ctx.input_batched(now, Input::FromClient { client, data });
                    }
                }
            }
            ctx.send_queued();
        }
    }
}

/// Peer datagrams on one allocation's relay socket, received in batches; what a batch relays
/// is sent at its end (a peer's burst to its client in one send).
async fn peer_loop(ctx: Rc<Ctx>, alloc: AllocId, socket: Rc<UdpSock>) {
    loop {
        if socket.io.readable().await.is_err() {
            continue;
        }
        loop {
            let mut arena = ctx.arena.borrow_mut();
            let n = match arena.try_recv(&socket) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let now = Instant::now();
            let Arena {
                bufs,
                meta,
                scratch,
            } = &mut *arena;
            for (buf, meta) in bufs.iter_mut().zip(meta.iter()).take(n) {
                let peer = meta.addr;
                let relay = |buf: &mut [u8], start, len| {
                    let input = Input::FromPeer {
                        alloc,
                        peer,
                        buf,
                        start,
                        len,
                    };
                    ctx.input_batched(now, input);
                };
                if meta.stride >= meta.len {
                    relay(buf, batch::HEAD, meta.len);
                    continue;
                }
                // Coalesced (GRO): frame each datagram in a copy, since framing writes
                // around the payload.
                for (start, len) in batch::datagrams(meta) {
                    let (Some(src), Some(dst)) = (
                        buf.get(start..start + len),
                        scratch.get_mut(HEADROOM..HEADROOM + len),
                    ) else {
                        continue;
                    };
                    dst.copy_from_slice(src);
                    relay(scratch, HEADROOM, len);
                }
            }
            ctx.send_queued();
        }
    }
}

/// Sleeps until the core's deadline (none: until it has one) and hands it the timeout.
async fn timer_loop(ctx: Rc<Ctx>) {
    loop {
        let sleep = async {
            match ctx.deadline.get() {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = sleep => ctx.input(Instant::now(), Input::Timeout),
            () = ctx.rearm.notified() => {}
        }
    }
}
