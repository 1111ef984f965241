//! One shard: a single-threaded runtime around one protocol core; it binds the listeners,
//! builds the shard's [`Ctx`] and spawns the tasks that share it.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, mpsc, watch};
use tokio::task::{LocalSet, spawn_local};
use tracing::debug;

use super::batch::Arena;
use super::counters::ShardCounts;
use super::ctx::{Ctx, UdpListener, timer_loop, udp_loop};
use super::handle::Command;
use super::offload::Offload;
use super::sendq::{SendQueue, UdpSock};
use super::{control, operator, sockets};
use crate::link::ShardLink;
use relay_proto::{Clock, Config, Quota, Seeds, Server};

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
