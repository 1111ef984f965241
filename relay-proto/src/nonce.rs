//! Stateless nonces bound to the client's transport address and to time.
//!
//! `nonce = base64url(issued_at_u64_be || HMAC-SHA1(secret, issued_at || client address)[..12])`.
//! Nothing is stored per client, so a flood of unauthenticated requests costs no memory, and
//! every shard (and a restarted relay with the same secret) checks any nonce the same way.

use std::fmt;
use std::net::SocketAddr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroize;

use crate::wire::hmac_sha1;

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
    /// With the relay's secret and a lifetime in seconds.
    pub fn new(secret: NonceSecret, ttl_secs: u64) -> Nonces {
        Nonces { secret, ttl_secs }
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

    /// A nonce for `client` issued at `now` (Unix seconds).
    pub fn issue(&self, client: SocketAddr, now: u64) -> String {
        let mut raw = [0u8; 20];
        raw[..8].copy_from_slice(&now.to_be_bytes());
        raw[8..].copy_from_slice(&self.mac(now, client));
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Checks a nonce from `client` at `now`.
    pub fn check(&self, nonce: &str, client: SocketAddr, now: u64) -> Result<(), NonceError> {
        let mut raw = [0u8; 20];
        match URL_SAFE_NO_PAD.decode_slice(nonce.as_bytes(), &mut raw) {
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

    #[test]
    fn bound_to_address_and_time() {
        let n = Nonces::new(NonceSecret::new([7; 32]), 600);
        let a: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        let b: SocketAddr = "192.0.2.1:5001".parse().unwrap();
        let nonce = n.issue(a, 1000);
        assert!(nonce.len() < 128);
        assert_eq!(n.check(&nonce, a, 1599), Ok(()));
        assert_eq!(n.check(&nonce, a, 1600), Err(NonceError::Stale));
        assert_eq!(n.check(&nonce, b, 1000), Err(NonceError::Invalid));
        assert_eq!(n.check("garbage", a, 1000), Err(NonceError::Invalid));
        assert_eq!(
            Nonces::new(NonceSecret::new([8; 32]), 600).check(&nonce, a, 1000),
            Err(NonceError::Invalid)
        );
    }
}
