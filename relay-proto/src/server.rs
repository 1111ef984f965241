//! The relay's protocol core: a state machine with no sockets and no clock.
//!
//! # Driving it
//!
//! Everything that happens outside goes in through [`Server::handle_input`], with the time:
//! a client's datagram or stream frame, a peer's datagram on a relay socket, the result of
//! binding a relay socket, a stream connection opened or closed, a reached deadline, a drain,
//! what a kernel fast path relayed (for bandwidth caps).
//! Relayed data comes straight back from that call as a [`Forward`] borrowing the caller's
//! buffer (no allocation per packet). Everything else is queued, in the order it must
//! happen, for [`Server::poll_output`]:
//!
//! 1. after every input, take outputs until `None` and carry each out before taking the next
//!    (a [`Output::BindRelay`] is answered with [`Input::RelayBound`] right there);
//! 2. then arm one timer at [`Server::poll_timeout`] and, when it fires, hand in
//!    [`Input::Timeout`] (and drain again).
//!
//! The driver keeps no rule of its own: the order of the queue is the order of the protocol.

mod allocate;
mod caps;
mod client;
mod connections;
mod drain;
pub mod family;
mod peer;
mod permissions;
mod requests;
mod reserve;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use shared_token::TokenId;
use stun_types::message::Method;

use crate::allocation::{AllocId, Allocation, Client, Table, Transport};
use crate::auth::Account;
use crate::clock::Clock;
use crate::config::Config;
use crate::error::TurnError;
use crate::input::Input;
use crate::nonce::{NonceSecret, Nonces};
use crate::output::{AllocationInfo, EndReason, Event, Forward, Output, Transmit};
use crate::quota::Quota;
use crate::ratelimit::RateLimit;
use crate::revocation::{Revoked, RevokedToken};
use crate::routes::{self, RouteChange};
use crate::timers::{TimerKey, Timers};
use crate::traffic::Traffic;

pub use peer::{HEADROOM, TAILROOM};

/// Counters, for logs and metrics.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    /// Allocations made.
    pub allocations: u64,
    /// Requests refused for authentication.
    pub auth_failures: u64,
    /// Requests dropped by the rate limit.
    pub rate_limited: u64,
    /// Requests refused unverified by the authentication failure throttle.
    pub auth_throttled: u64,
    /// Unauthenticated replies over UDP not sent because they were larger than their request
    /// ([`Config::no_amplification`](crate::Config::no_amplification)).
    pub oversized_replies: u64,
    /// Datagrams dropped as malformed.
    pub malformed: u64,
    /// Allocations ended because their token was revoked.
    pub revoked_allocations: u64,
    /// Revocations dropped because the core already held
    /// [`Config::max_revoked`](crate::Config::max_revoked) of them.
    pub revocations_dropped: u64,
    /// 401 challenges sent: to requests without credentials, and after failed
    /// authentications.
    pub challenges: u64,
    /// 438 Stale Nonce challenges sent.
    pub stale_nonces: u64,
    /// Allocate requests refused by the allocation quota (486).
    pub refused_quota: u64,
    /// Allocate requests refused because the relay is draining (300 or 508).
    pub refused_draining: u64,
    /// Allocate requests refused because no relay socket could be bound (508).
    pub relay_bind_failures: u64,
    /// Allocates whose RESERVATION-TOKEN was unknown, expired, used or of another family
    /// (508, RFC 8656 section 7.2).
    pub refused_reservations: u64,
    /// Datagrams and payload bytes an allocation's own bandwidth cap dropped.
    pub dropped_allocation_cap: Traffic,
    /// Datagrams and payload bytes a user's bandwidth cap dropped.
    pub dropped_user_cap: Traffic,
    /// Times an allocation over its cap was held off the kernel fast path.
    pub kernel_holds: u64,
}

/// What the core holds now: the sizes its limits bound, so a test or a fuzzer can check
/// that no input makes memory grow past them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Footprint {
    /// Allocations in the table.
    pub allocations: usize,
    /// Pending deadlines (one per allocation, one per stream connection without one).
    pub timers: usize,
    /// Stream connections the core knows.
    pub connections: usize,
    /// Outputs waiting for [`Server::poll_output`].
    pub queued: usize,
    /// Of those, STUN messages for clients.
    pub queued_transmits: usize,
    /// Source addresses the unauthenticated rate limit tracks.
    pub rate_limited_sources: usize,
    /// The most permissions one allocation holds.
    pub most_permissions: usize,
    /// The most channels one allocation holds.
    pub most_channels: usize,
    /// Revoked tokens remembered.
    pub revoked: usize,
    /// Allocations held off the kernel fast path by their bandwidth caps (each has a
    /// deadline of its own).
    pub held: usize,
}

/// Randomness a core needs and does not make itself.
#[derive(Debug)]
pub struct Seeds {
    /// Keys the nonces; the same for every core of a relay, so any core checks any nonce.
    pub nonce_secret: NonceSecret,
    /// Seeds the transaction ids of Data indications; drawn separately, per core.
    pub txid_seed: u64,
}

/// One relay core.
pub struct Server {
    cfg: Arc<Config>,
    quota: Box<dyn Quota>,
    clock: Clock,
    nonces: Nonces,
    table: Table,
    timers: Timers,
    connections: connections::Connections,
    out: VecDeque<Output>,
    queued_transmits: usize,
    limit: RateLimit,
    txids: peer::TxIds,
    revoked: Revoked,
    stats: Stats,
    draining: bool,
    reservations: reserve::Pending,
}

impl Server {
    /// A core. `quota` counts its allocations (shared with other cores or not, as the driver
    /// decides); `clock` maps `Instant`s to Unix time.
    pub fn new(cfg: Arc<Config>, quota: Box<dyn Quota>, seeds: Seeds, clock: Clock) -> Server {
        let (per_sec, burst) = cfg.unauth_rate;
        let revoked = Revoked::new(cfg.max_revoked);
        Server {
            nonces: Nonces::new(
                seeds.nonce_secret,
                cfg.nonce_ttl_secs,
                cfg.auth.security_features(),
            ),
            limit: RateLimit::new(per_sec, burst, cfg.unauth_sources),
            cfg,
            quota,
            clock,
            table: Table::default(),
            timers: Timers::default(),
            connections: connections::Connections::default(),
            out: VecDeque::new(),
            queued_transmits: 0,
            txids: peer::TxIds::new(seeds.txid_seed),
            revoked,
            stats: Stats::default(),
            draining: false,
            reservations: reserve::Pending::new(seeds.txid_seed),
        }
    }

    /// Hands the core one input at `now`. Relayed data comes back at once, borrowing the
    /// input's buffer; anything else is queued: take it with [`Server::poll_output`] until
    /// `None`, then re-arm the timer at [`Server::poll_timeout`].
    pub fn handle_input<'a>(&mut self, now: Instant, input: Input<'a>) -> Option<Forward<'a>> {
        match input {
            Input::FromClient { client, data } => {
                let forward = self.client_datagram(now, client, data);
                if client.transport != Transport::Udp {
                    self.connection_idle(now, client);
                }
                forward
            }
            Input::FromPeer {
                alloc,
                peer,
                buf,
                start,
                len,
            } => self.peer_datagram(now, alloc, peer, buf, start, len),
            Input::RelayBound { alloc, result } => {
                self.relay_bound(now, alloc, result);
                None
            }
            Input::ConnectionOpened { client } => {
                self.connection_opened(now, client);
                None
            }
            Input::ConnectionClosed { transport } => {
                self.connection_closed(now, transport);
                None
            }
            Input::Timeout => {
                self.timeout(now);
                None
            }
            Input::Revoke { tokens } => {
                self.revoke(now, tokens);
                None
            }
            Input::Drain => {
                self.draining = true;
                None
            }
            Input::KernelTraffic { relayed } => {
                self.kernel_traffic(now, relayed);
                None
            }
        }
    }

    /// The next thing to do, in order. Call after every input until it returns `None`, and
    /// carry out each output before taking the next.
    pub fn poll_output(&mut self) -> Option<Output> {
        let out = self.out.pop_front()?;
        if matches!(out, Output::Transmit(_)) {
            self.queued_transmits = self.queued_transmits.saturating_sub(1);
        }
        Some(out)
    }

    /// When to hand in [`Input::Timeout`] next (`None`: no deadline; wait for input). Ask
    /// again after draining [`Server::poll_output`]: any input may move it.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        Stats {
            revocations_dropped: self.revoked.overflowed(),
            ..self.stats
        }
    }

    /// Allocations in this core.
    pub fn allocations(&self) -> usize {
        self.table.len()
    }

    /// Whether [`Input::Drain`] came: new allocations are refused.
    pub fn is_draining(&self) -> bool {
        self.draining
    }

    /// Every live allocation with what the core forwarded for it so far: for usage reports
    /// of long allocations (an ended one's total comes with
    /// [`Event::AllocationEnded`](crate::Event::AllocationEnded)).
    pub fn traffic(&self) -> impl Iterator<Item = (AllocationInfo, Traffic)> + '_ {
        self.table
            .iter_ids()
            .map(|(id, a)| (AllocationInfo::of(id, a), a.traffic))
    }

    /// An allocation, for inspection.
    pub fn allocation(&self, id: AllocId) -> Option<&Allocation> {
        self.table.get(id)
    }

    /// The allocation of a client.
    pub fn allocation_of(&self, client: &Client) -> Option<AllocId> {
        self.table.find(client)
    }

    /// What the core holds now (walks the allocations: for tests, not per packet).
    pub fn footprint(&self) -> Footprint {
        let (most_permissions, most_channels) = self
            .table
            .iter()
            .map(|a| (a.permissions.len(), a.channels.len()))
            .fold((0, 0), |(p, c), (ap, ac)| (p.max(ap), c.max(ac)));
        let held = self
            .table
            .iter()
            .filter(|a| a.meters.held_until.is_some())
            .count();
        Footprint {
            allocations: self.table.len(),
            timers: self.timers.len(),
            connections: self.connections.len(),
            queued: self.out.len(),
            queued_transmits: self.queued_transmits,
            rate_limited_sources: self.limit.sources(),
            most_permissions,
            most_channels,
            revoked: self.revoked.len(),
            held,
        }
    }

    /// Whether `token` is revoked at `now`.
    fn is_revoked(&self, now: Instant, token: Option<TokenId>) -> bool {
        token.is_some_and(|t| self.revoked.contains(&t, self.clock.unix(now)))
    }

    /// Remembers revoked tokens and ends every allocation that holds one.
    fn revoke(&mut self, now: Instant, tokens: &[RevokedToken]) {
        let unix = self.clock.unix(now);
        let skew = u64::from(self.cfg.auth.validation.clock_skew_secs);
        for t in tokens {
            self.revoked
                .insert(t.id, t.expires_at.saturating_add(skew), unix);
        }
        let holding: Vec<AllocId> = self
            .table
            .iter_ids()
            .filter(|(_, a)| self.is_revoked(now, a.credential.token_id))
            .map(|(id, _)| id)
            .collect();
        for id in holding {
            self.stats.revoked_allocations += 1;
            self.end(now, id, EndReason::Revoked);
        }
        self.revoked.prune(unix);
    }

    /// Ends the allocations whose time (or whose credential's time) is up, and closes the
    /// stream connections that stayed idle without one.
    fn timeout(&mut self, now: Instant) {
        self.revoked.prune(self.clock.unix(now));
        while let Some(key) = self.timers.pop_due(now) {
            let id = match key {
                TimerKey::Allocation(id) => id,
                TimerKey::Connection(transport) => {
                    self.connection_timed_out(transport);
                    continue;
                }
                TimerKey::Hold(id) => {
                    self.hold_over(id, now);
                    continue;
                }
            };
            let Some(a) = self.table.get(id) else {
                continue;
            };
            if a.expires > now {
                self.timers.insert(a.expires, key); // not due: cannot happen, but stay exact
                continue;
            }
            let reason = match a.credential.expires_at {
                Some(e) if self.clock.unix(now) >= e => EndReason::CredentialExpired,
                _ => EndReason::LifetimeOver,
            };
            self.end(now, id, reason);
        }
    }

    /// A stream connection closed: its allocations end (RFC 8656 section 3.1).
    fn connection_closed(&mut self, now: Instant, transport: Transport) {
        self.connection_forgotten(transport);
        for id in self.table.of_transport(transport) {
            self.end(now, id, EndReason::ConnectionClosed);
        }
    }

    /// Ends allocation `id`: route clears first, then the relay socket, then the event.
    fn end(&mut self, now: Instant, id: AllocId, reason: EndReason) {
        let Some(mut a) = self.table.remove(id) else {
            return;
        };
        self.timers.remove(a.expires, TimerKey::Allocation(id));
        if let Some(at) = a.meters.held_until {
            self.timers.remove(at, TimerKey::Hold(id));
        }
        self.quota.release(&a.owner);
        a.meters.release(&self.cfg.bandwidth);
        for (route, _) in &a.routes {
            self.out
                .push_back(Output::Route(RouteChange::Clear { route: *route }));
        }
        if a.relays.bound().next().is_some() {
            self.out.push_back(Output::ReleaseRelay { alloc: id });
        }
        let info = AllocationInfo::of(id, &a);
        let traffic = a.traffic;
        self.event(Event::AllocationEnded {
            info,
            reason,
            traffic,
        });
        self.connection_idle(now, a.client);
    }

    /// Moves allocation `id`'s end (and its deadline) to `expires`.
    fn set_expiry(&mut self, id: AllocId, expires: Instant) {
        if let Some(a) = self.table.get_mut(id) {
            self.timers
                .reschedule(TimerKey::Allocation(id), a.expires, expires);
            a.expires = expires;
        }
    }

    /// Queues how allocation `id`'s channel routes changed (after a request changed its
    /// channels, permissions or lifetime): before the response that lets the client use them.
    fn sync_routes(&mut self, id: AllocId, now: Instant) {
        if !self.cfg.channel_routes {
            return;
        }
        let Some(a) = self.table.get_mut(id) else {
            return;
        };
        let want = a.desired_routes(id, now);
        let changes = routes::diff(&a.routes, &want);
        a.routes = want;
        self.out.extend(changes.into_iter().map(Output::Route));
    }

    /// Queues a message for a client, unless the queue is full (then it is dropped, as a
    /// full socket buffer would drop it; the client retransmits).
    fn queue(&mut self, to: Client, data: Vec<u8>) {
        if self.queued_transmits < self.cfg.max_queued_transmits {
            self.queued_transmits += 1;
            self.out.push_back(Output::Transmit(Transmit { to, data }));
        }
    }

    fn event(&mut self, event: Event) {
        self.out.push_back(Output::Event(event));
    }

    fn refused(
        &mut self,
        client: Client,
        method: Method,
        error: TurnError,
        account: Option<Account>,
    ) {
        self.event(Event::Refused {
            client,
            method,
            error,
            account,
        });
    }
}
