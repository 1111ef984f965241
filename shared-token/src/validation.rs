//! Time policy for tokens: expiry, not-before with clock skew, lifetime bounds.

use crate::error::TokenError;
use crate::token::TokenClaims;

/// How strictly token times are checked. `now` always comes from the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Validation {
    /// Seconds of clock difference tolerated between issuer and validator, on both ends:
    /// a token is accepted until `timestamp + lifetime + skew`, and refused when its
    /// timestamp is more than `skew` ahead of `now`. coturn uses 5 s after expiry and has no
    /// not-before check.
    pub clock_skew_secs: u32,
    /// Accept lifetime 0, which RFC 7635 reads as "no expiry". Off by default: a token that
    /// never expires is a long-term secret.
    pub allow_unlimited_lifetime: bool,
    /// The longest lifetime accepted, in seconds.
    pub max_lifetime_secs: u32,
}

impl Default for Validation {
    fn default() -> Self {
        Validation {
            clock_skew_secs: 5,
            allow_unlimited_lifetime: false,
            max_lifetime_secs: 7 * 24 * 3600,
        }
    }
}

impl Validation {
    /// Checks the claims' times at `now` (Unix seconds).
    pub fn check(&self, claims: &TokenClaims, now: u64) -> Result<(), TokenError> {
        let skew = u64::from(self.clock_skew_secs);
        let issued_at = claims.timestamp.unix_secs();
        if issued_at > now.saturating_add(skew) {
            return Err(TokenError::NotYetValid { issued_at });
        }
        if claims.lifetime == 0 {
            return if self.allow_unlimited_lifetime {
                Ok(())
            } else {
                Err(TokenError::UnlimitedLifetime)
            };
        }
        if claims.lifetime > self.max_lifetime_secs {
            return Err(TokenError::LifetimeTooLong {
                lifetime: claims.lifetime,
            });
        }
        let expired_at = issued_at.saturating_add(u64::from(claims.lifetime));
        if now >= expired_at.saturating_add(skew) {
            return Err(TokenError::Expired { expired_at });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::MacKey;
    use crate::timestamp::Timestamp;

    fn c(ts: u64, lifetime: u32) -> TokenClaims {
        TokenClaims {
            mac_key: MacKey::new([1u8; 20]),
            timestamp: Timestamp::from_unix_secs(ts),
            lifetime,
            account: None,
        }
    }

    #[test]
    fn expiry_boundary_includes_skew() {
        let v = Validation::default();
        assert!(v.check(&c(1000, 100), 1104).is_ok());
        assert_eq!(
            v.check(&c(1000, 100), 1105),
            Err(TokenError::Expired { expired_at: 1100 })
        );
    }

    #[test]
    fn future_tokens_beyond_skew_are_refused() {
        let v = Validation {
            clock_skew_secs: 30,
            ..Validation::default()
        };
        assert!(v.check(&c(1030, 100), 1000).is_ok());
        assert_eq!(
            v.check(&c(1031, 100), 1000),
            Err(TokenError::NotYetValid { issued_at: 1031 })
        );
    }

    #[test]
    fn lifetime_policy() {
        let v = Validation::default();
        assert_eq!(
            v.check(&c(1000, 0), 1000),
            Err(TokenError::UnlimitedLifetime)
        );
        let open = Validation {
            allow_unlimited_lifetime: true,
            ..v
        };
        assert!(open.check(&c(1000, 0), u64::MAX).is_ok());
        assert!(matches!(
            v.check(&c(1000, u32::MAX), 1000),
            Err(TokenError::LifetimeTooLong { .. })
        ));
    }
}
