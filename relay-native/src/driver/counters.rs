//! What a shard counts for metrics, and what it reports when asked.
//!
//! Nothing here runs per relayed datagram. The bytes and packets an allocation relays are
//! the core's own per-allocation counters (`Server::traffic`), summed when a snapshot is
//! taken, plus what ended allocations carried; the kernel fast path's are its per-CPU map
//! slots, read at the same moment. What is counted here is counted per event (an allocation
//! made or ended, a refusal, a failed authentication, a connection), in plain integers the
//! shard's one thread owns. A scrape asks each shard for a [`ShardSnapshot`] and adds them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use relay_proto::{
    AuthFailure, CloseReason, EndReason, Event, Mechanism, Stats, Traffic, Transport,
};
use shared_token::TokenError;

/// How a client reaches the relay: the `transport` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// UDP.
    Udp,
    /// TCP (RFC 8656 section 3.1).
    Tcp,
    /// TLS over TCP (RFC 8656 section 3.1, `turns:`).
    Tls,
}

impl Link {
    /// Every label value, in exposition order.
    pub const ALL: [Link; 3] = [Link::Udp, Link::Tcp, Link::Tls];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Link::Udp => "udp",
            Link::Tcp => "tcp",
            Link::Tls => "tls",
        }
    }

    /// The link a core's transport runs on.
    pub fn of(t: Transport) -> Link {
        match t {
            Transport::Udp => Link::Udp,
            Transport::Tcp(_) => Link::Tcp,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Every credential mechanism, in exposition order (their labels are their `Display`).
pub const MECHANISMS: [Mechanism; 4] = [
    Mechanism::Static,
    Mechanism::Rest,
    Mechanism::Token,
    Mechanism::Browser,
];

fn mechanism_index(m: Mechanism) -> usize {
    match m {
        Mechanism::Static => 0,
        Mechanism::Rest => 1,
        Mechanism::Token => 2,
        Mechanism::Browser => 3,
    }
}

/// Every end reason, in exposition order.
pub const END_REASONS: [EndReason; 5] = [
    EndReason::LifetimeOver,
    EndReason::CredentialExpired,
    EndReason::Deleted,
    EndReason::ConnectionClosed,
    EndReason::Revoked,
];

/// An end reason's label value.
pub fn end_label(r: EndReason) -> &'static str {
    match r {
        EndReason::LifetimeOver => "lifetime_over",
        EndReason::CredentialExpired => "credential_expired",
        EndReason::Deleted => "deleted",
        EndReason::ConnectionClosed => "connection_closed",
        EndReason::Revoked => "revoked",
    }
}

fn end_index(r: EndReason) -> usize {
    match r {
        EndReason::LifetimeOver => 0,
        EndReason::CredentialExpired => 1,
        EndReason::Deleted => 2,
        EndReason::ConnectionClosed => 3,
        EndReason::Revoked => 4,
    }
}

/// Every authentication failure label, in exposition order.
pub const AUTH_FAILURES: [&str; 15] = [
    "unknown_user",
    "bad_integrity",
    "credential_expired",
    "tokens_disabled",
    "wrong_realm",
    "nonce_not_ours",
    "no_time_left",
    "revoked",
    "token_expired",
    "token_not_yet_valid",
    "token_unknown_kid",
    "token_key_expired",
    "token_lifetime",
    "token_invalid",
    "throttled",
];

/// A failure's label value: one of [`AUTH_FAILURES`].
pub fn auth_label(why: &AuthFailure) -> &'static str {
    match why {
        AuthFailure::UnknownUser => "unknown_user",
        AuthFailure::BadIntegrity => "bad_integrity",
        AuthFailure::Expired => "credential_expired",
        AuthFailure::TokensDisabled => "tokens_disabled",
        AuthFailure::WrongRealm => "wrong_realm",
        AuthFailure::NotOurNonce => "nonce_not_ours",
        AuthFailure::NoTimeLeft => "no_time_left",
        AuthFailure::Revoked => "revoked",
        AuthFailure::Throttled => "throttled",
        AuthFailure::Token(e) => match e {
            TokenError::Expired { .. } => "token_expired",
            TokenError::NotYetValid { .. } => "token_not_yet_valid",
            TokenError::UnknownKid => "token_unknown_kid",
            TokenError::KeyExpired { .. } => "token_key_expired",
            TokenError::UnlimitedLifetime | TokenError::LifetimeTooLong { .. } => "token_lifetime",
            _ => "token_invalid",
        },
    }
}

/// Every reason the core closes a connection, in exposition order.
pub const CLOSE_REASONS: [CloseReason; 2] = [
    CloseReason::IdleWithoutAllocation,
    CloseReason::TooManyConnections,
];

/// A close reason's label value.
pub fn close_label(r: CloseReason) -> &'static str {
    match r {
        CloseReason::IdleWithoutAllocation => "idle_without_allocation",
        CloseReason::TooManyConnections => "connection_limit",
    }
}

fn close_index(r: CloseReason) -> usize {
    match r {
        CloseReason::IdleWithoutAllocation => 0,
        CloseReason::TooManyConnections => 1,
    }
}

/// Allocations by link and mechanism.
pub type ByLinkAndMechanism = [[u64; 4]; 3];

/// A shard's event counters.
#[derive(Clone, Debug, Default)]
pub struct ShardCounts {
    /// Allocations created, by link and mechanism.
    pub created: ByLinkAndMechanism,
    /// Allocations ended, by [`END_REASONS`] index.
    pub ended: [u64; 5],
    /// What ended allocations relayed on the sockets path.
    pub ended_traffic: Traffic,
    /// Failed authentications by label.
    pub auth_failures: BTreeMap<&'static str, u64>,
    /// Error responses (other than challenges) by ERROR-CODE.
    pub errors: BTreeMap<u16, u64>,
    /// Stream connections accepted, by link.
    pub accepted: [u64; 3],
    /// Stream connections closed (by anyone), by link.
    pub closed: [u64; 3],
    /// Stream connections the core asked to close, by [`CLOSE_REASONS`] index.
    pub closed_by_relay: [u64; 2],
    /// Relay socket binds that found no free port in the relay port range (508).
    pub ports_exhausted: u64,
    /// Requests the authentication failure throttle refused, by link.
    pub throttled: [u64; 3],
}

impl ShardCounts {
    /// Counts one of the core's events.
    pub fn event(&mut self, e: &Event) {
        match e {
            Event::AllocationCreated { info, .. } => {
                bump2(
                    &mut self.created,
                    Link::of(info.client.transport).index(),
                    mechanism_index(info.mechanism),
                );
            }
            Event::AllocationRefreshed { .. } => {}
            Event::AllocationEnded {
                reason, traffic, ..
            } => {
                bump(&mut self.ended, end_index(*reason));
                self.ended_traffic += *traffic;
            }
            Event::Refused { error, .. } => {
                *self.errors.entry(error.code()).or_default() += 1;
            }
            Event::AuthFailed { why, .. } => {
                *self.auth_failures.entry(auth_label(why)).or_default() += 1;
            }
        }
    }

    /// A stream connection was accepted on `link`.
    pub fn connection_opened(&mut self, link: Link) {
        bump(&mut self.accepted, link.index());
    }

    /// A stream connection on `link` is gone.
    pub fn connection_closed(&mut self, link: Link) {
        bump(&mut self.closed, link.index());
    }

    /// The authentication failure throttle refused a request that came over `link`.
    pub fn throttled(&mut self, link: Link) {
        bump(&mut self.throttled, link.index());
    }

    /// The core asked for a connection to be closed.
    pub fn closed_by_relay(&mut self, reason: CloseReason) {
        bump(&mut self.closed_by_relay, close_index(reason));
    }

    fn merge(&mut self, o: &ShardCounts) {
        add2(&mut self.created, &o.created);
        add(&mut self.ended, &o.ended);
        self.ended_traffic += o.ended_traffic;
        for (k, v) in &o.auth_failures {
            *self.auth_failures.entry(k).or_default() += v;
        }
        for (k, v) in &o.errors {
            *self.errors.entry(*k).or_default() += v;
        }
        add(&mut self.accepted, &o.accepted);
        add(&mut self.closed, &o.closed);
        add(&mut self.closed_by_relay, &o.closed_by_relay);
        self.ports_exhausted += o.ports_exhausted;
        add(&mut self.throttled, &o.throttled);
    }
}

/// What one shard (or, summed, the whole relay) reports to a scrape.
#[derive(Clone, Debug, Default)]
pub struct ShardSnapshot {
    /// Event counters.
    pub counts: ShardCounts,
    /// The core's own counters.
    pub stats: Stats,
    /// Allocations now, by link and mechanism.
    pub allocations: ByLinkAndMechanism,
    /// What live allocations relayed so far on the sockets path.
    pub live_traffic: Traffic,
    /// Allocations held off the kernel fast path by their bandwidth caps.
    pub held: u64,
    /// Whether the core is draining.
    pub draining: bool,
}

impl ShardSnapshot {
    /// Adds another shard's figures.
    pub fn merge(&mut self, o: &ShardSnapshot) {
        self.counts.merge(&o.counts);
        merge_stats(&mut self.stats, &o.stats);
        add2(&mut self.allocations, &o.allocations);
        self.live_traffic += o.live_traffic;
        self.held += o.held;
        self.draining |= o.draining;
    }

    /// Counts one live allocation.
    pub fn allocation(&mut self, transport: Transport, mechanism: Mechanism, traffic: Traffic) {
        bump2(
            &mut self.allocations,
            Link::of(transport).index(),
            mechanism_index(mechanism),
        );
        self.live_traffic += traffic;
    }

    /// Allocations now, in total.
    pub fn allocations_now(&self) -> u64 {
        self.allocations.iter().flatten().sum()
    }

    /// Everything the sockets path relayed: ended allocations and live ones.
    pub fn sockets_traffic(&self) -> Traffic {
        self.counts.ended_traffic + self.live_traffic
    }

    /// Allocations now on `link` with `mechanism`.
    pub fn allocations_of(&self, link: Link, mechanism: Mechanism) -> u64 {
        get2(&self.allocations, link.index(), mechanism_index(mechanism))
    }

    /// Allocations created on `link` with `mechanism`.
    pub fn created_of(&self, link: Link, mechanism: Mechanism) -> u64 {
        get2(
            &self.counts.created,
            link.index(),
            mechanism_index(mechanism),
        )
    }

    /// Allocations ended for `reason`.
    pub fn ended_for(&self, reason: EndReason) -> u64 {
        self.counts
            .ended
            .get(end_index(reason))
            .copied()
            .unwrap_or(0)
    }

    /// Stream connections accepted on `link`, and open now.
    pub fn connections(&self, link: Link) -> (u64, u64) {
        let i = link.index();
        let accepted = self.counts.accepted.get(i).copied().unwrap_or(0);
        let closed = self.counts.closed.get(i).copied().unwrap_or(0);
        (accepted, accepted.saturating_sub(closed))
    }

    /// Connections the core closed for `reason`.
    pub fn closed_for(&self, reason: CloseReason) -> u64 {
        self.counts
            .closed_by_relay
            .get(close_index(reason))
            .copied()
            .unwrap_or(0)
    }
}

fn merge_stats(s: &mut Stats, o: &Stats) {
    s.allocations += o.allocations;
    s.auth_failures += o.auth_failures;
    s.rate_limited += o.rate_limited;
    s.auth_throttled += o.auth_throttled;
    s.oversized_replies += o.oversized_replies;
    s.malformed += o.malformed;
    s.challenges += o.challenges;
    s.stale_nonces += o.stale_nonces;
    s.refused_quota += o.refused_quota;
    s.refused_draining += o.refused_draining;
    s.relay_bind_failures += o.relay_bind_failures;
    s.refused_reservations += o.refused_reservations;
    s.dropped_allocation_cap += o.dropped_allocation_cap;
    s.dropped_user_cap += o.dropped_user_cap;
    s.kernel_holds += o.kernel_holds;
}

fn bump<const N: usize>(a: &mut [u64; N], i: usize) {
    if let Some(v) = a.get_mut(i) {
        *v += 1;
    }
}

fn bump2<const N: usize, const M: usize>(a: &mut [[u64; M]; N], i: usize, j: usize) {
    if let Some(v) = a.get_mut(i).and_then(|row| row.get_mut(j)) {
        *v += 1;
    }
}

fn get2<const N: usize, const M: usize>(a: &[[u64; M]; N], i: usize, j: usize) -> u64 {
    a.get(i).and_then(|row| row.get(j)).copied().unwrap_or(0)
}

fn add<const N: usize>(a: &mut [u64; N], b: &[u64; N]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
}

fn add2<const N: usize, const M: usize>(a: &mut [[u64; M]; N], b: &[[u64; M]; N]) {
    for (x, y) in a.iter_mut().zip(b) {
        add(x, y);
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
    /// Closed at once: their source had too many unfinished handshakes.
    pub refused: AtomicU64,
}

impl HandshakeCounts {
    /// The five counts, in field order.
    pub fn get(&self) -> [u64; 5] {
        [
            &self.completed,
            &self.failed,
            &self.timed_out,
            &self.evicted,
            &self.refused,
        ]
        .map(|c| c.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use relay_proto::{Client, Counters, TurnError};
    use stun_types::message::BINDING;

    #[test]
    fn labels_cover_every_value() {
        assert_eq!(
            Link::ALL.map(Link::label),
            ["udp", "tcp", "tls"],
            "transport labels"
        );
        assert_eq!(Link::of(Transport::Tcp(7)), Link::Tcp);
        for (i, r) in END_REASONS.iter().enumerate() {
            assert_eq!(end_index(*r), i);
        }
        for (i, m) in MECHANISMS.iter().enumerate() {
            assert_eq!(mechanism_index(*m), i);
        }
        for (i, r) in CLOSE_REASONS.iter().enumerate() {
            assert_eq!(close_index(*r), i);
        }
        let token = AuthFailure::Token(TokenError::Expired { expired_at: 1 });
        for why in [
            AuthFailure::UnknownUser,
            AuthFailure::BadIntegrity,
            token,
            AuthFailure::Token(TokenError::Authentication),
            AuthFailure::Token(TokenError::UnknownKid),
        ] {
            assert!(AUTH_FAILURES.contains(&auth_label(&why)), "{why:?}");
        }
        assert_eq!(
            auth_label(&AuthFailure::Token(TokenError::Authentication)),
            "token_invalid"
        );
    }

    #[test]
    fn events_and_snapshots_add_up() {
        let mut a = ShardCounts::default();
        let client = Client {
            transport: Transport::Udp,
            addr: "192.0.2.1:5000".parse().unwrap_or_else(|_| unreachable!()),
        };
        a.event(&Event::Refused {
            client,
            method: BINDING,
            error: TurnError::Forbidden,
            account: None,
        });
        a.event(&Event::AuthFailed {
            client,
            method: BINDING,
            why: AuthFailure::BadIntegrity,
        });
        a.connection_opened(Link::Tcp);
        a.connection_opened(Link::Tcp);
        a.connection_closed(Link::Tcp);
        a.closed_by_relay(CloseReason::TooManyConnections);
        let mut s = ShardSnapshot {
            counts: a,
            ..ShardSnapshot::default()
        };
        let t = Traffic {
            to_peer: Counters {
                packets: 2,
                bytes: 20,
            },
            to_client: Counters::default(),
        };
        s.allocation(Transport::Udp, Mechanism::Token, t);
        let mut total = ShardSnapshot::default();
        total.merge(&s);
        total.merge(&s);
        assert_eq!(total.counts.errors.get(&403), Some(&2));
        assert_eq!(total.counts.auth_failures.get("bad_integrity"), Some(&2));
        assert_eq!(total.connections(Link::Tcp), (4, 2));
        assert_eq!(total.closed_for(CloseReason::TooManyConnections), 2);
        assert_eq!(total.allocations_of(Link::Udp, Mechanism::Token), 2);
        assert_eq!(total.allocations_now(), 2);
        assert_eq!(total.sockets_traffic().to_peer.bytes, 40);
    }
}
