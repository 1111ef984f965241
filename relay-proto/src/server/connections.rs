//! Stream connections (RFC 8656 section 3.1): how many one core holds, and closing those
//! that stay idle without an allocation, so a flood of idle or junk connections cannot hold
//! memory. The driver reports each connection it accepts and closes; the core says which to
//! close.

use std::collections::HashMap;
use std::time::Instant;

use super::Server;
use crate::allocation::{Client, Transport};
use crate::output::{CloseReason, Output};
use crate::timers::TimerKey;

/// The connections a core knows: for each, the instant it is closed unless it gets an
/// allocation or sends something first (`None` while it has an allocation).
#[derive(Debug, Default)]
pub(super) struct Connections {
    idle_until: HashMap<Transport, Option<Instant>>,
}

impl Connections {
    pub(super) fn len(&self) -> usize {
        self.idle_until.len()
    }
}

impl Server {
    /// A stream connection was accepted.
    pub(super) fn connection_opened(&mut self, now: Instant, client: Client) {
        // A connection reported twice keeps its first entry (and its one deadline).
        if client.transport == Transport::Udp
            || self.connections.idle_until.contains_key(&client.transport)
        {
            return;
        }
        if self.connections.len() >= self.cfg.max_connections {
            self.out.push_back(Output::CloseConnection {
                transport: client.transport,
                reason: CloseReason::TooManyConnections,
            });
            return;
        }
        self.connections.idle_until.insert(client.transport, None);
        self.connection_idle(now, client);
    }

    /// After a frame from `client`, or after its allocation ended: its connection waits for
    /// an allocation (closed `stream_idle` from now) or has one (no deadline).
    pub(super) fn connection_idle(&mut self, now: Instant, client: Client) {
        let has_allocation = self.table.find(&client).is_some();
        let key = TimerKey::Connection(client.transport);
        let Some(idle_until) = self.connections.idle_until.get_mut(&client.transport) else {
            return;
        };
        if let Some(at) = idle_until.take() {
            self.timers.remove(at, key);
        }
        if !has_allocation {
            let at = now + self.cfg.stream_idle;
            *idle_until = Some(at);
            self.timers.insert(at, key);
        }
    }

    /// The connection's idle deadline passed: ask the driver to close it.
    pub(super) fn connection_timed_out(&mut self, transport: Transport) {
        if self.connections.idle_until.remove(&transport).is_some() {
            self.out.push_back(Output::CloseConnection {
                transport,
                reason: CloseReason::IdleWithoutAllocation,
            });
        }
    }

    /// The connection is gone: forget it (its allocations end separately).
    pub(super) fn connection_forgotten(&mut self, transport: Transport) {
        if let Some(Some(at)) = self.connections.idle_until.remove(&transport) {
            self.timers.remove(at, TimerKey::Connection(transport));
        }
    }
}
