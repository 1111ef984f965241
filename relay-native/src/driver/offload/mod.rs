//! The kernel fast path for ChannelData (`serve --offload IFACE`): loads bpf/offload.c as a
//! TC ingress classifier on the named interfaces and keeps its route maps (a pair per family)
//! equal to the core's channel routes ([`RouteChange`]). Why and what it leaves to the
//! sockets: docs/relay.md.
//!
//! Only control traffic touches this (a route changes on ChannelBind, CreatePermission,
//! Refresh and allocation end), a scrape (the totals) and, with bandwidth caps, a periodic
//! read of each route's counters ([`Offload::meter`]), so the shards share one `Offload`
//! behind a mutex. Allocation ids are per shard, so everything kept per allocation is keyed
//! by (shard, allocation).

pub mod maps;
mod slots;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::time::Instant;

use tracing::{debug, warn};

use relay_proto::{AllocId, ChannelRoute, Counters, RouteChange, Traffic};
use slots::Slots;

/// Why the fast path could not start.
#[derive(Debug)]
pub struct OffloadError(pub String);

impl std::fmt::Display for OffloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OffloadError {}

// The aya side; a binary built without clang gets a stand-in that cannot be made, so
// `Offload::attach` says so and nothing else needs to know.
#[cfg_attr(not(edgeturn_offload), path = "unbuilt.rs")]
mod kernel;

/// The listen addresses rewritten replies come from, by family; a family without a specific
/// one stays on the sockets.
#[derive(Clone, Copy, Debug, Default)]
pub struct Servers {
    /// The specific IPv4 listen address.
    pub v4: Option<SocketAddrV4>,
    /// The specific IPv6 listen address.
    pub v6: Option<SocketAddrV6>,
}

/// The loaded program and its maps.
pub struct Offload {
    kernel: kernel::Kernel,
    servers: Servers,
    /// `Instant` -> CLOCK_MONOTONIC nanoseconds (what `bpf_ktime_get_ns` reads).
    base: (Instant, u64),
    /// The routes in the maps, by (client, channel), with their counter slots.
    routes: HashMap<(SocketAddr, u16), Live>,
    slots: Slots,
    /// Counters of routes already withdrawn, by allocation, until the allocation ends.
    ended: HashMap<Owner, Traffic>,
    /// What withdrawn routes carried since their last [`Offload::meter`], by allocation
    /// (kept only while metering is on).
    unmetered: HashMap<Owner, Traffic>,
    metering: bool,
    /// Counters of every route withdrawn so far.
    withdrawn: Traffic,
    local: HashMap<IpAddr, bool>,
}

/// An allocation of a shard.
type Owner = (usize, AllocId);

/// A route in the maps.
struct Live {
    owner: Owner,
    slot: u32,
    /// Its counters at the last [`Offload::meter`].
    metered: Traffic,
}

impl Offload {
    /// Loads the program and attaches it to `interfaces`' ingress. `servers` are the specific
    /// listen addresses (configuration has checked there is one): rewritten replies must come
    /// from the address the client sent to.
    pub fn attach(interfaces: &[String], servers: Servers) -> Result<Offload, OffloadError> {
        let kernel = kernel::Kernel::attach(interfaces)?;
        let mono = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        let mono_ns = u64::try_from(mono.tv_sec).unwrap_or(0) * 1_000_000_000
            + u64::try_from(mono.tv_nsec).unwrap_or(0);
        Ok(Offload {
            kernel,
            servers,
            base: (Instant::now(), mono_ns),
            routes: HashMap::new(),
            slots: Slots::new(slots::ROUTES),
            ended: HashMap::new(),
            unmetered: HashMap::new(),
            metering: false,
            withdrawn: Traffic::default(),
            local: HashMap::new(),
        })
    }

    /// Whether `ip` is an address of this host (a rewritten packet to it goes up the local
    /// stack rather than out of the interface): the kernel lets us bind only to those.
    fn is_local(&mut self, ip: IpAddr) -> bool {
        if self.local.len() >= 65_536 {
            self.local.clear(); // bounded: peers come and go over a long uptime
        }
        *self
            .local
            .entry(ip)
            .or_insert_with(|| std::net::UdpSocket::bind((ip, 0)).is_ok())
    }

    fn ktime(&self, at: Instant) -> u64 {
        let (base, ns) = self.base;
        match at.checked_duration_since(base) {
            Some(d) => ns.saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
            None => ns.saturating_sub(
                u64::try_from(base.duration_since(at).as_nanos()).unwrap_or(u64::MAX),
            ),
        }
    }

    /// Makes the maps follow one change of the routes of `shard`'s core. Routes that change
    /// the family (an IPv4 client relayed to IPv6 peers) or whose family has no specific
    /// listen address are left to the sockets.
    pub fn apply(&mut self, shard: usize, change: RouteChange) {
        match change {
            RouteChange::Set { route, until } => {
                if let Some(r) = Route::of(&route, self.servers) {
                    let until = self.ktime(until);
                    self.set(&r, (shard, route.alloc), until);
                }
            }
            RouteChange::Clear { route } => {
                if let Some(r) = Route::of(&route, self.servers) {
                    self.clear(&r);
                }
            }
        }
    }

    /// Adds a route with fresh counters, or moves the deadline of one in place (its
    /// counters untouched).
    fn set(&mut self, r: &Route, owner: Owner, until: u64) {
        let key = r.key();
        let known = self.routes.get(&key).map(|l| l.slot);
        let Some(slot) = known.or_else(|| self.slots.take()) else {
            debug!(target: "offload", client = %key.0, channel = key.1, "route table full; the channel stays on the sockets");
            return;
        };
        let (peer, client) = r.ends();
        let local = (self.is_local(peer), self.is_local(client));
        let fresh = known.is_none();
        let done = if fresh {
            self.kernel.zero(slot)
        } else {
            Ok(())
        }
        .and_then(|()| self.kernel.set(r, local, until, slot));
        match done {
            Ok(()) if fresh => {
                let metered = Traffic::default();
                self.routes.insert(
                    key,
                    Live {
                        owner,
                        slot,
                        metered,
                    },
                );
                debug!(target: "offload", client = %r.client, peer = %r.peer, channel = r.channel, "route set");
            }
            Ok(()) => {
                debug!(target: "offload", client = %r.client, peer = %r.peer, channel = r.channel, "route deadline moved");
            }
            Err(e) => {
                warn!(
                    "offload: cannot add the route of channel {:#06x} for {}: {e}",
                    key.1, key.0
                );
                if fresh {
                    self.slots.give_back(slot);
                }
            }
        }
    }

    /// Withdraws a route and files what it carried under its allocation.
    fn clear(&mut self, r: &Route) {
        let Some(live) = self.routes.remove(&r.key()) else {
            return;
        };
        self.kernel.clear(r);
        let got = self.kernel.counters(live.slot);
        self.slots.give_back(live.slot);
        *self.ended.entry(live.owner).or_default() += got;
        if self.metering {
            *self.unmetered.entry(live.owner).or_default() += since(got, live.metered);
        }
        self.withdrawn += got;
    }

    /// What the kernel relayed for `shard`'s `alloc`, once its routes are all withdrawn (the
    /// core withdraws them before it releases the relay socket).
    pub fn take_relayed(&mut self, shard: usize, alloc: AllocId) -> Option<Traffic> {
        self.unmetered.remove(&(shard, alloc));
        self.ended.remove(&(shard, alloc))
    }

    /// What the kernel relayed for each of `shard`'s allocations since the last call (for
    /// bandwidth caps; the first call turns the bookkeeping of withdrawn routes on).
    /// Allocations that relayed nothing are left out.
    pub fn meter(&mut self, shard: usize) -> Vec<(AllocId, Traffic)> {
        self.metering = true;
        let mut by_alloc: HashMap<AllocId, Traffic> = HashMap::new();
        for live in self.routes.values_mut().filter(|l| l.owner.0 == shard) {
            let now = self.kernel.counters(live.slot);
            let delta = since(now, live.metered);
            live.metered = now;
            if delta != Traffic::default() {
                *by_alloc.entry(live.owner.1).or_default() += delta;
            }
        }
        self.unmetered.retain(|(s, alloc), t| {
            if *s == shard {
                *by_alloc.entry(*alloc).or_default() += *t;
            }
            *s != shard
        });
        by_alloc.into_iter().collect()
    }

    /// Routes in the maps.
    pub fn routes(&self) -> usize {
        self.routes.len()
    }

    /// What the kernel relayed so far for each of `shard`'s live allocations that has or had a
    /// route: its
    /// routes' counters and those of its routes already withdrawn (for usage records of
    /// long allocations; an ended one's share comes from [`Offload::take_relayed`]).
    pub fn relayed_by_alloc(&self, shard: usize) -> HashMap<AllocId, Traffic> {
        let mut by: HashMap<AllocId, Traffic> = self
            .ended
            .iter()
            .filter(|((s, _), _)| *s == shard)
            .map(|((_, alloc), t)| (*alloc, *t))
            .collect();
        for live in self.routes.values().filter(|l| l.owner.0 == shard) {
            *by.entry(live.owner.1).or_default() += self.kernel.counters(live.slot);
        }
        by
    }

    /// Everything relayed so far: on withdrawn routes and on those still in place.
    pub fn total(&self) -> Traffic {
        let mut t = self.withdrawn;
        for live in self.routes.values() {
            t += self.kernel.counters(live.slot);
        }
        t
    }
}

/// What `now` counted beyond `before` (counters only grow while a route holds its slot).
fn since(now: Traffic, before: Traffic) -> Traffic {
    let d = |a: Counters, b: Counters| Counters {
        packets: a.packets.saturating_sub(b.packets),
        bytes: a.bytes.saturating_sub(b.bytes),
    };
    Traffic {
        to_peer: d(now.to_peer, before.to_peer),
        to_client: d(now.to_client, before.to_client),
    }
}

/// A route the program rewrites: client, relay address, peer and listen address all of one
/// family (it does not translate between families; [`Route::of`] makes only such routes).
#[cfg_attr(not(edgeturn_offload), allow(dead_code))]
pub(crate) struct Route {
    pub server: SocketAddr,
    pub client: SocketAddr,
    pub relay: SocketAddr,
    pub peer: SocketAddr,
    pub channel: u16,
}

impl Route {
    fn of(r: &ChannelRoute, servers: Servers) -> Option<Route> {
        let server = match r.client {
            SocketAddr::V4(_) => SocketAddr::V4(servers.v4?),
            SocketAddr::V6(_) => SocketAddr::V6(servers.v6?),
        };
        let one_family = [r.relay, r.peer]
            .iter()
            .all(|a| a.is_ipv4() == server.is_ipv4());
        one_family.then_some(Route {
            server,
            client: r.client,
            relay: r.relay,
            peer: r.peer,
            channel: r.channel,
        })
    }

    /// (client, channel): what the route is known by.
    fn key(&self) -> (SocketAddr, u16) {
        (self.client, self.channel)
    }

    /// (peer, client): where its two directions go.
    fn ends(&self) -> (IpAddr, IpAddr) {
        (self.peer.ip(), self.client.ip())
    }
}
