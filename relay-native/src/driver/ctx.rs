//! A shard's shared state and its data path: the core, the UDP listeners, the relay sockets
//! and the stream connections, and the loops that feed them (one thread, so `Rc` and
//! `RefCell`).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;
use tokio::task::{JoinHandle, spawn_local};
use tracing::{debug, warn};

use super::batch::{self, Arena};
use super::counters::{Link, ShardCounts};
use super::events;
use super::offload::Offload;
use super::outbox::{Conn, Message};
use super::ports::{self, PickError};
use super::sendq::{SendQueue, UdpSock};
use crate::link::ShardLink;
use relay_proto::{
    AllocId, AuthFailure, BindFailed, Client, Config, Event, Forward, HEADROOM, Input, Output,
    PortRequest, Server, Traffic, Transport,
};

/// A UDP listener; a reply leaves from the one of the client's family.
pub(super) struct UdpListener {
    pub(super) sock: Rc<UdpSock>,
    pub(super) v6: bool,
}

/// Relay sockets are keyed by allocation and family: a dual allocation has two.
type RelayKey = (u64, bool);

fn relay_key(alloc: AllocId, ip: IpAddr) -> RelayKey {
    (alloc.to_bits(), ip.is_ipv6())
}

/// An allocation's relay socket and the task that receives on it.
pub(super) struct Relay {
    pub(super) socket: Rc<UdpSock>,
    pub(super) task: JoinHandle<()>,
}

/// Everything the shard's tasks share (one thread, so `Rc` and `RefCell`).
pub(super) struct Ctx {
    pub(super) core: RefCell<Server>,
    pub(super) cfg: Arc<Config>,
    pub(super) udp: Vec<UdpListener>,
    pub(super) arena: RefCell<Arena>,
    /// Datagrams to send once the current receive batch is through.
    pub(super) sends: RefCell<SendQueue>,
    pub(super) relays: RefCell<HashMap<RelayKey, Relay>>,
    pub(super) tcp_conns: RefCell<HashMap<u64, Conn>>,
    pub(super) next_conn: Cell<u64>,
    /// The read buffer every stream connection of this shard shares.
    pub(super) read_chunk: RefCell<Box<[u8]>>,
    /// What the stream connections have queued for their clients together.
    pub(super) stream_queued: Rc<super::outbox::Queued>,
    /// The deadline the timer task sleeps until, as the core last said.
    pub(super) deadline: Cell<Option<Instant>>,
    /// Wakes the timer task when `deadline` moves.
    pub(super) rearm: Notify,
    pub(super) index: usize,
    pub(super) offload: Option<Arc<Mutex<Offload>>>,
    pub(super) control: Option<ShardLink>,
    /// What this shard counts for metrics (per event, never per datagram).
    pub(super) counts: RefCell<ShardCounts>,
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
pub(super) async fn udp_loop(ctx: Rc<Ctx>, n: usize) {
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
pub(super) async fn timer_loop(ctx: Rc<Ctx>) {
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
