//! The core's deadlines, kept exact: an entry per pending deadline and nothing stale, so
//! [`Timers::next`] is always a real deadline and the set never outgrows what it times
//! (one per allocation, one per stream connection without an allocation, one per allocation
//! held off the kernel fast path by its bandwidth cap).

use std::collections::BTreeSet;
use std::time::Instant;

use crate::allocation::{AllocId, Transport};

/// What a deadline is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum TimerKey {
    /// The end of an allocation (its lifetime, capped at its credential's expiry).
    Allocation(AllocId),
    /// The close of a stream connection that has no allocation.
    Connection(Transport),
    /// The end of an allocation's hold off the kernel fast path (bandwidth caps).
    Hold(AllocId),
}

/// Deadlines in time order.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    set: BTreeSet<(Instant, TimerKey)>,
}

impl Timers {
    /// Adds a deadline.
    pub(crate) fn insert(&mut self, at: Instant, key: TimerKey) {
        self.set.insert((at, key));
    }

    /// Removes a deadline added with [`Timers::insert`].
    pub(crate) fn remove(&mut self, at: Instant, key: TimerKey) {
        self.set.remove(&(at, key));
    }

    /// Moves a deadline.
    pub(crate) fn reschedule(&mut self, key: TimerKey, from: Instant, to: Instant) {
        self.remove(from, key);
        self.insert(to, key);
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.set.first().map(|(at, _)| *at)
    }

    /// Takes the earliest deadline that is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<TimerKey> {
        match self.set.first() {
            Some((at, _)) if *at <= now => self.set.pop_first().map(|(_, key)| key),
            _ => None,
        }
    }

    /// Deadlines held.
    pub(crate) fn len(&self) -> usize {
        self.set.len()
    }
}
