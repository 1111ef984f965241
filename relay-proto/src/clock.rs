//! The core's two times: `Instant` for timers, Unix seconds for credentials. Both come from
//! the caller; the mapping between them is fixed when the core is made, so a test that moves
//! a virtual `Instant` moves Unix time with it.

use std::time::{Duration, Instant};

/// Maps `Instant`s to Unix seconds and back.
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

    /// The Instant of Unix second `unix`.
    pub fn instant(&self, unix: u64) -> Instant {
        let d = Duration::from_secs(unix.saturating_sub(self.epoch_unix));
        self.epoch
            .checked_add(d)
            .unwrap_or(self.epoch + Duration::from_secs(100 * 365 * 86_400))
    }
}
