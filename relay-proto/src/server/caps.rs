//! Bandwidth caps in the core (the buckets themselves: [`crate::bandwidth`]): datagrams over
//! a cap are dropped and counted on the sockets path, and an allocation whose kernel fast
//! path traffic took it over its cap is held on the sockets path (its channel routes
//! withdrawn) until it has dropped nothing for [`Caps::hold`](crate::Caps::hold).

use std::time::Instant;

use super::{Server, Stats};
use crate::allocation::AllocId;
use crate::bandwidth::{Cap, Direction};
use crate::timers::TimerKey;
use crate::traffic::Traffic;

impl Stats {
    /// Counts a datagram of `len` payload bytes that `cap` dropped.
    pub(super) fn capped(&mut self, cap: Cap, dir: Direction, len: usize) {
        let t = match cap {
            Cap::Allocation => &mut self.dropped_allocation_cap,
            Cap::User => &mut self.dropped_user_cap,
        };
        match dir {
            Direction::ToPeer => t.to_peer.count(len),
            Direction::ToClient => t.to_client.count(len),
        }
    }
}

impl Server {
    /// Charges what the kernel relayed; holds each allocation that went over its cap.
    pub(super) fn kernel_traffic(&mut self, now: Instant, relayed: &[(AllocId, Traffic)]) {
        for (id, traffic) in relayed {
            let Some(a) = self.table.get_mut(*id) else {
                continue;
            };
            let over = a.meters.charge(&self.cfg.bandwidth, *traffic, now);
            if over && a.meters.held_until.is_none() {
                let until = now + self.cfg.bandwidth.hold;
                a.meters.held_until = Some(until);
                self.timers.insert(until, TimerKey::Hold(*id));
                self.stats.kernel_holds += 1;
                self.sync_routes(*id, now);
            }
        }
    }

    /// A hold's deadline: the routes come back if the allocation dropped nothing during the
    /// hold, otherwise the hold runs on from its last drop.
    pub(super) fn hold_over(&mut self, id: AllocId, now: Instant) {
        let hold = self.cfg.bandwidth.hold;
        let Some(a) = self.table.get_mut(id) else {
            return;
        };
        if a.meters.held_until.is_none() {
            return;
        }
        match a.meters.last_drop.map(|d| d + hold).filter(|at| *at > now) {
            Some(until) => {
                a.meters.held_until = Some(until);
                self.timers.insert(until, TimerKey::Hold(id));
            }
            None => {
                a.meters.held_until = None;
                self.sync_routes(id, now);
            }
        }
    }
}
