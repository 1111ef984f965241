//! Stateless nonces bound to the client's transport address and to time, carrying the RFC 8489
//! nonce cookie.
//!
//! `nonce = "obMatJos2" base64(features) base64url(issued_at_u64_be || HMAC-SHA1(secret,
//! issued_at || client address)[..12])`. Nothing is stored per client, so a flood of
//! unauthenticated requests costs no memory, and every shard (and a restarted relay with the
//! same secret) checks any nonce the same way.
//!
//! The cookie (RFC 8489 section 9.2) tells a client which security features the relay has: the
//! "Password algorithms" bit always (the relay offers SHA-256 and MD5 long-term keys), the
//! "Username anonymity" bit when it knows users it can find by USERHASH. A nonce whose cookie
//! is not exactly the relay's own is not its nonce: that is how a challenge stripped of its
//! features on the way to the client is caught when the client uses it (the client's request
//! covers the nonce with its integrity).

use std::fmt;
use std::net::SocketAddr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroize;

use crate::wire::hmac_sha1;

/// What every RFC 8489 nonce starts with (section 9.2).
pub const NONCE_COOKIE: &str = "obMatJos2";

/// The STUN Security Features of a nonce cookie (RFC 8489 section 18.1): 24 bits, numbered
/// from the least significant one as the verified erratum 6290 says ("Bit 0 is the rightmost
/// bit"); the RFC's own test vector (appendix B.1, `obMatJos2AAAC...`) carries bit 1 with
/// USERHASH.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SecurityFeatures(u32);

impl SecurityFeatures {
    /// Bit 0, "Password algorithms": PASSWORD-ALGORITHMS is offered.
    pub const PASSWORD_ALGORITHMS: SecurityFeatures = SecurityFeatures(1);
    /// Bit 1, "Username anonymity": USERHASH is understood.
    pub const USERNAME_ANONYMITY: SecurityFeatures = SecurityFeatures(2);

    /// These and `other`.
    pub const fn with(self, other: SecurityFeatures) -> SecurityFeatures {
        SecurityFeatures(self.0 | other.0)
    }

    /// Whether every feature of `other` is among these.
    pub const fn contains(self, other: SecurityFeatures) -> bool {
        self.0 & other.0 == other.0
    }

    /// The nonce cookie announcing these features: the prefix and four base64 characters.
    pub fn cookie(self) -> String {
        let [_, a, b, c] = self.0.to_be_bytes();
        let mut s = String::from(NONCE_COOKIE);
        base64::engine::general_purpose::STANDARD.encode_string([a, b, c], &mut s);
        s
    }

    /// The features of the cookie `nonce` starts with; `None` without a cookie.
    pub fn of_nonce(nonce: &str) -> Option<SecurityFeatures> {
        let bits = nonce.strip_prefix(NONCE_COOKIE)?.get(..4)?;
        let mut raw = [0u8; 3];
        match base64::engine::general_purpose::STANDARD.decode_slice(bits, &mut raw) {
            Ok(3) => {
                let [a, b, c] = raw;
                Some(SecurityFeatures(u32::from_be_bytes([0, a, b, c])))
            }
            _ => None,
        }
    }
}

/// The key nonces are made with: random, and the same for every core of a relay.
#[derive(Clone)]
pub struct NonceSecret([u8; 32]);

impl NonceSecret {
    /// Wraps 32 random bytes.
    pub fn new(bytes: [u8; 32]) -> NonceSecret {
        NonceSecret(bytes)
    }
}

impl fmt::Debug for NonceSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NonceSecret([redacted])")
    }
}

impl Drop for NonceSecret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// Issues and checks nonces.
pub struct Nonces {
    secret: NonceSecret,
    ttl_secs: u64,
    cookie: String,
}

/// Why a nonce was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub enum NonceError {
    /// Not one of ours, or for another client address.
    Invalid,
    /// Ours, but older than the lifetime: 438 Stale Nonce.
    Stale,
}

impl Nonces {
    /// With the relay's secret, a lifetime in seconds and the features the cookie announces.
    pub fn new(secret: NonceSecret, ttl_secs: u64, features: SecurityFeatures) -> Nonces {
        Nonces {
            secret,
            ttl_secs,
            cookie: features.cookie(),
        }
    }

    fn mac(&self, issued: u64, client: SocketAddr) -> [u8; 12] {
        let addr = match client {
            SocketAddr::V4(a) => {
                let mut b = [0u8; 18];
                b[..4].copy_from_slice(&a.ip().octets());
                b[16..].copy_from_slice(&a.port().to_be_bytes());
                b
            }
            SocketAddr::V6(a) => {
                let mut b = [0u8; 18];
                b[..16].copy_from_slice(&a.ip().octets());
                b[16..].copy_from_slice(&a.port().to_be_bytes());
                b
            }
        };
        let full = hmac_sha1(&self.secret.0, &[&issued.to_be_bytes(), &addr]);
        let mut out = [0u8; 12];
        out.copy_from_slice(&full[..12]);
        out
    }

    /// A RESERVATION-TOKEN value (RFC 8656 section 14.9) for the `counter`th reservation, of
    /// `addr`: keyed with the relay's secret, so nobody else can predict it.
    pub(crate) fn reservation_token(&self, counter: u64, addr: SocketAddr) -> u64 {
        let full = hmac_sha1(
            &self.secret.0,
            &[
                b"RESERVATION-TOKEN",
                &counter.to_be_bytes(),
                addr.to_string().as_bytes(),
            ],
        );
        let mut out = [0u8; 8];
        out.copy_from_slice(&full[..8]);
        u64::from_be_bytes(out)
    }

    /// A nonce for `client` issued at `now` (Unix seconds).
    pub fn issue(&self, client: SocketAddr, now: u64) -> String {
        let mut raw = [0u8; 20];
        raw[..8].copy_from_slice(&now.to_be_bytes());
        raw[8..].copy_from_slice(&self.mac(now, client));
        let mut nonce = self.cookie.clone();
        URL_SAFE_NO_PAD.encode_string(raw, &mut nonce);
        nonce
    }

    /// Checks a nonce from `client` at `now`.
    pub fn check(&self, nonce: &str, client: SocketAddr, now: u64) -> Result<(), NonceError> {
        let Some(ours) = nonce.strip_prefix(self.cookie.as_str()) else {
            return Err(NonceError::Invalid);
        };
        let mut raw = [0u8; 20];
        match URL_SAFE_NO_PAD.decode_slice(ours.as_bytes(), &mut raw) {
            Ok(20) => {}
            _ => return Err(NonceError::Invalid),
        }
        let (issued, mac) = raw.split_at(8);
        let mut ib = [0u8; 8];
        ib.copy_from_slice(issued);
        let issued = u64::from_be_bytes(ib);
        if !shared_token::ct_eq(&self.mac(issued, client), mac) {
            return Err(NonceError::Invalid);
        }
        if now >= issued.saturating_add(self.ttl_secs) || issued > now.saturating_add(5) {
            return Err(NonceError::Stale);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FEATURES: SecurityFeatures = SecurityFeatures::PASSWORD_ALGORITHMS;

    #[test]
    fn bound_to_address_and_time() {
        let n = Nonces::new(NonceSecret::new([7; 32]), 600, FEATURES);
        let a: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        let b: SocketAddr = "192.0.2.1:5001".parse().unwrap();
        let nonce = n.issue(a, 1000);
        assert!(nonce.len() < 128);
        assert_eq!(n.check(&nonce, a, 1599), Ok(()));
        assert_eq!(n.check(&nonce, a, 1600), Err(NonceError::Stale));
        assert_eq!(n.check(&nonce, b, 1000), Err(NonceError::Invalid));
        assert_eq!(n.check("garbage", a, 1000), Err(NonceError::Invalid));
        assert_eq!(
            Nonces::new(NonceSecret::new([8; 32]), 600, FEATURES).check(&nonce, a, 1000),
            Err(NonceError::Invalid)
        );
    }

    #[test]
    fn the_cookie_says_which_features_and_a_changed_cookie_is_not_ours() {
        let all = FEATURES.with(SecurityFeatures::USERNAME_ANONYMITY);
        let n = Nonces::new(NonceSecret::new([7; 32]), 600, all);
        let a: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        let nonce = n.issue(a, 1000);
        assert!(nonce.starts_with("obMatJos2AAAD"), "{nonce}");
        assert_eq!(SecurityFeatures::of_nonce(&nonce), Some(all));
        assert!(all.contains(SecurityFeatures::PASSWORD_ALGORITHMS));
        // The same nonce with the features stripped (a bid-down on the path): not ours.
        let stripped = nonce.replacen("obMatJos2AAAD", "obMatJos2AAAA", 1);
        assert_eq!(n.check(&stripped, a, 1000), Err(NonceError::Invalid));
        assert_eq!(n.check(&nonce, a, 1000), Ok(()));
        // RFC 8489 appendix B.1's nonce: username anonymity only (erratum 6290's bit order).
        assert_eq!(
            SecurityFeatures::of_nonce("obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA"),
            Some(SecurityFeatures::USERNAME_ANONYMITY)
        );
        assert_eq!(SecurityFeatures::of_nonce("no cookie"), None);
    }
}
