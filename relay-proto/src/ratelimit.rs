//! A rate limit on the replies the relay sends without authentication (Binding responses,
//! 400 and 420 errors, 401 and 438 challenges) over UDP: a token bucket per source prefix,
//! so a spoofed source cannot turn the relay into a reflector.
//!
//! Sources are counted by [`source_prefix`] (IPv4 /32, IPv6 /64: one party holds a /64, and
//! counting /128s would give it 2^64 buckets). The table is bounded and forgets its oldest
//! bucket first; it is never cleared as a whole, which would hand every tracked source a
//! fresh burst.

use std::net::IpAddr;
use std::time::Instant;

use crate::bounded::{BoundedMap, source_prefix};

/// Per-source-prefix token buckets.
pub struct RateLimit {
    per_sec: f64,
    burst: f64,
    buckets: BoundedMap<IpAddr, (f64, Instant)>,
}

impl RateLimit {
    /// `per_sec` sustained, `burst` at once, at most `max_sources` prefixes tracked (then the
    /// oldest is forgotten).
    pub fn new(per_sec: f64, burst: f64, max_sources: usize) -> RateLimit {
        RateLimit {
            per_sec,
            burst,
            buckets: BoundedMap::new(max_sources),
        }
    }

    /// Takes a token for `ip`'s prefix at `now`; false means send nothing.
    pub fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        if self.per_sec <= 0.0 {
            return true;
        }
        let (per_sec, burst) = (self.per_sec, self.burst);
        let (tokens, at) = self
            .buckets
            .get_or_insert_with(source_prefix(ip), || (burst, now));
        *tokens = (*tokens + now.saturating_duration_since(*at).as_secs_f64() * per_sec).min(burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Prefixes tracked.
    pub fn sources(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_rate_and_bounded() {
        let t0 = Instant::now();
        let mut r = RateLimit::new(2.0, 3.0, 100);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert!((0..3).all(|_| r.allow(ip, t0)));
        assert!(!r.allow(ip, t0));
        assert!(r.allow(ip, t0 + Duration::from_millis(500)));
        assert!(!r.allow(ip, t0 + Duration::from_millis(500)));
        for i in 0..1000u32 {
            r.allow(IpAddr::from(i.to_be_bytes()), t0);
        }
        assert!(r.sources() <= 100);
    }

    #[test]
    fn an_ipv6_64_shares_one_bucket() {
        let t0 = Instant::now();
        let mut r = RateLimit::new(1.0, 2.0, 100);
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let b: IpAddr = "2001:db8::ffff:2".parse().unwrap();
        assert!(r.allow(a, t0) && r.allow(b, t0));
        assert!(!r.allow("2001:db8::3".parse().unwrap(), t0));
        assert!(r.allow("2001:db8:0:1::1".parse().unwrap(), t0));
    }

    #[test]
    fn a_flood_of_new_sources_does_not_refill_a_tracked_one() {
        let t0 = Instant::now();
        let mut r = RateLimit::new(1.0, 2.0, 1000);
        let victim: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(r.allow(victim, t0) && r.allow(victim, t0));
        // Fewer new sources than the table holds: the victim's empty bucket stays.
        for i in 0..500u32 {
            r.allow(IpAddr::from((0x0a00_0000 + i).to_be_bytes()), t0);
        }
        assert!(!r.allow(victim, t0), "the table was not cleared");
    }
}
