//! Draining a relay: on SIGUSR1 (or `POST /drain`) every core refuses new allocations
//! (relay-proto's `Input::Drain`: 300 Try Alternate or 508), readiness turns 503, and the
//! process exits when the last allocation ends or when the drain deadline passes, whichever
//! comes first. Existing allocations keep relaying and refreshing meanwhile. Why:
//! docs/relay.md.

use std::time::{Duration, Instant};

use tokio::signal::unix::Signal;
use tracing::{info, warn};

use crate::driver::Handle;

/// How often a drain looks at how many allocations are left.
const CHECK_EVERY: Duration = Duration::from_millis(250);

/// How a drain ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Drained {
    /// The last allocation ended.
    Empty,
    /// The deadline passed with this many allocations left.
    Deadline(u64),
}

impl std::fmt::Display for Drained {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Drained::Empty => f.write_str("drained: the last allocation ended; stopping"),
            Drained::Deadline(n) => write!(
                f,
                "drain deadline reached with {n} allocations left; stopping"
            ),
        }
    }
}

/// Starts a drain on every SIGUSR1 (`usr1`: installed before the relay starts, so an early
/// signal is not the default action, which ends the process).
pub async fn on_signal(handle: Handle, mut usr1: Signal) {
    while usr1.recv().await.is_some() {
        if handle.drain() {
            info!(target: "drain", "SIGUSR1: draining");
        } else {
            info!(target: "drain", "SIGUSR1: already draining");
        }
    }
}

/// Waits for a drain to start, then for the last allocation to end or for `deadline`.
pub async fn supervise(handle: Handle, deadline: Duration) -> Drained {
    handle.drain_started().await;
    let until = Instant::now() + deadline;
    let mut said = false;
    loop {
        match handle.snapshot().await {
            Ok(s) => {
                let left = s.shards.allocations_now();
                if !said {
                    info!(
                        target: "drain",
                        allocations = left,
                        deadline_secs = deadline.as_secs(),
                        "draining: new allocations are refused; stopping when the last allocation ends or at the deadline"
                    );
                    said = true;
                }
                if left == 0 {
                    return Drained::Empty;
                }
                if Instant::now() >= until {
                    return Drained::Deadline(left);
                }
            }
            Err(e) => {
                warn!(target: "drain", "{e}");
                if Instant::now() >= until {
                    return Drained::Deadline(0);
                }
            }
        }
        tokio::time::sleep(CHECK_EVERY).await;
    }
}
