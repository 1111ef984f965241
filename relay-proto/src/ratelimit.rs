//! A rate limit on unauthenticated requests (and failed authentications) per source IP:
//! a token bucket per address in a table of bounded size, so a flood from many addresses
//! cannot grow memory without bound.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

/// Per-source token buckets.
pub struct RateLimit {
    per_sec: f64,
    burst: f64,
    max_sources: usize,
    buckets: HashMap<IpAddr, (f64, Instant)>,
}

impl RateLimit {
    /// `per_sec` sustained, `burst` at once, at most `max_sources` tracked (then the table
    /// is cleared: a flood resets itself rather than exhausting memory).
    pub fn new(per_sec: f64, burst: f64, max_sources: usize) -> RateLimit {
        RateLimit {
            per_sec,
            burst,
            max_sources,
            buckets: HashMap::new(),
        }
    }

    /// Takes a token for `ip` at `now`; false means drop the request.
    pub fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        if self.per_sec <= 0.0 {
            return true;
        }
        if self.buckets.len() >= self.max_sources && !self.buckets.contains_key(&ip) {
            self.buckets.clear();
        }
        let (tokens, at) = self.buckets.entry(ip).or_insert((self.burst, now));
        *tokens = (*tokens + now.saturating_duration_since(*at).as_secs_f64() * self.per_sec)
            .min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Sources tracked.
    pub fn sources(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
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
}
