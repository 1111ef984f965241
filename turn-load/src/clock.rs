//! One monotonic clock for the client and the echo peer (threads of one process), as
//! nanoseconds since the first reading: small enough for a u64 in every payload.

use std::sync::OnceLock;
use std::time::Instant;

static BASE: OnceLock<Instant> = OnceLock::new();

/// Nanoseconds since this process first read the clock (never 0 after the first call, so 0
/// can mean "not stamped").
pub fn now_ns() -> u64 {
    let base = BASE.get_or_init(Instant::now);
    u64::try_from(base.elapsed().as_nanos())
        .unwrap_or(u64::MAX)
        .max(1)
}
