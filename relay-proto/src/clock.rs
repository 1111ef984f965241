//! The core's two times: `Instant` for timers, Unix seconds for credentials. Both come from
//! the caller; the mapping between them is fixed when the core is made, so a test that moves
//! a virtual `Instant` moves Unix time with it.

use std::time::Instant;

/// Maps `Instant`s to Unix seconds.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    epoch: Instant,
    epoch_unix: u64,
}

impl Clock {
    /// `epoch` is the Instant at Unix second `epoch_unix`.
    pub fn new(epoch: Instant, epoch_unix: u64) -> Clock {
        Clock { epoch, epoch_unix }
    }

    /// Unix seconds at `now`.
    pub fn unix(&self, now: Instant) -> u64 {
        self.epoch_unix
            .saturating_add(now.saturating_duration_since(self.epoch).as_secs())
    }
}
