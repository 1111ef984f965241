//! When to refresh: early enough that an RTCPeerConnection never holds dead credentials.

/// Milliseconds to wait before fetching new ICE servers for credentials that live from
/// `now_ms` to `expires_at_ms`: at three quarters of the remaining life, and never later than
/// one minute before expiry; at least one second, so a broken clock cannot spin.
pub fn refresh_delay_ms(now_ms: f64, expires_at_ms: f64) -> f64 {
    let remaining = (expires_at_ms - now_ms).max(0.0);
    let at_three_quarters = remaining * 0.75;
    let minute_before = remaining - 60_000.0;
    at_three_quarters.min(minute_before.max(0.0)).max(1_000.0)
}

/// True when an access token expiring at `expires_at_ms` should be refreshed before use.
pub fn access_token_stale(now_ms: f64, expires_at_ms: f64) -> bool {
    expires_at_ms - now_ms < 30_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lived_refresh_a_minute_early_short_lived_at_three_quarters() {
        // 1 hour: three quarters is 45 min, a minute before is 59 min -> 45 min.
        assert_eq!(refresh_delay_ms(0.0, 3_600_000.0), 2_700_000.0);
        // 2 min: three quarters is 90 s, a minute before is 60 s -> 60 s.
        assert_eq!(refresh_delay_ms(0.0, 120_000.0), 60_000.0);
        // Already expired or nearly: a second, never zero.
        assert_eq!(refresh_delay_ms(10_000.0, 5_000.0), 1_000.0);
        assert_eq!(refresh_delay_ms(0.0, 30_000.0), 1_000.0);
    }

    #[test]
    fn staleness() {
        assert!(access_token_stale(0.0, 29_999.0));
        assert!(!access_token_stale(0.0, 31_000.0));
    }
}
