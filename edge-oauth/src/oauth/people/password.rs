//! Stored secrets: PBKDF2-HMAC-SHA256 with a per-record salt and iteration count.
//!
//! Stored as `pbkdf2-sha256$<iterations>$<salt, base64>$<derived key, base64>` (standard
//! base64 without padding). The worker derives with WebCrypto (`crypto.subtle.deriveBits`);
//! [`derive`] is the same function in Rust, used natively by tests and by tools. Both follow
//! RFC 8018 section 5.2 and are checked against RFC 7914 section 11's vectors.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The scheme name in the stored string.
pub const SCHEME: &str = "pbkdf2-sha256";
/// Salt bytes per record.
pub const SALT_LEN: usize = 16;
/// Derived key bytes.
pub const HASH_LEN: usize = 32;
/// workerd refuses PBKDF2 above 100 000 iterations, so no record may ask for more.
pub const MAX_ITERATIONS: u32 = 100_000;
/// Fewest iterations a record may use.
pub const MIN_ITERATIONS: u32 = 1_000;

/// A parsed stored hash.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash {
    iterations: u32,
    salt: Vec<u8>,
    derived: [u8; HASH_LEN],
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHash")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

/// A stored hash that does not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadHash;

impl fmt::Display for BadHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("stored secret hash is malformed")
    }
}

impl std::error::Error for BadHash {}

impl PasswordHash {
    /// Parses the stored form.
    pub fn parse(stored: &str) -> Result<PasswordHash, BadHash> {
        let mut parts = stored.split('$');
        let (Some(SCHEME), Some(iter), Some(salt), Some(derived), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(BadHash);
        };
        let iterations: u32 = iter.parse().map_err(|_| BadHash)?;
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            return Err(BadHash);
        }
        let salt = STANDARD_NO_PAD.decode(salt).map_err(|_| BadHash)?;
        let derived: [u8; HASH_LEN] = STANDARD_NO_PAD
            .decode(derived)
            .map_err(|_| BadHash)?
            .try_into()
            .map_err(|_| BadHash)?;
        if salt.len() < 8 {
            return Err(BadHash);
        }
        Ok(PasswordHash {
            iterations,
            salt,
            derived,
        })
    }

    /// A record from a freshly derived key.
    pub fn from_derived(iterations: u32, salt: &[u8], derived: [u8; HASH_LEN]) -> PasswordHash {
        PasswordHash {
            iterations,
            salt: salt.to_vec(),
            derived,
        }
    }

    /// The stored form.
    pub fn encode(&self) -> String {
        format!(
            "{SCHEME}${}${}${}",
            self.iterations,
            STANDARD_NO_PAD.encode(&self.salt),
            STANDARD_NO_PAD.encode(self.derived)
        )
    }

    /// Iterations to derive with.
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// The salt to derive with.
    pub fn salt(&self) -> &[u8] {
        &self.salt
    }

    /// True when `derived` (PBKDF2 of the presented secret with this salt and iteration
    /// count) equals the stored key; constant time.
    pub fn matches(&self, derived: &[u8]) -> bool {
        shared_token::ct_eq(&self.derived, derived)
    }
}

/// A record for timing equalisation: deriving against it costs what a real user's record
/// costs, so "no such user" and "wrong password" take the same time. It matches nothing.
pub fn dummy(iterations: u32) -> PasswordHash {
    PasswordHash {
        iterations: iterations.clamp(MIN_ITERATIONS, MAX_ITERATIONS),
        salt: vec![0x5a; SALT_LEN],
        derived: [0; HASH_LEN],
    }
}

/// PBKDF2-HMAC-SHA256 with a 32-byte output (one block), RFC 8018 section 5.2.
pub fn derive(secret: &[u8], salt: &[u8], iterations: u32) -> [u8; HASH_LEN] {
    let mut out = [0u8; HASH_LEN];
    let Ok(prf) = Hmac::<Sha256>::new_from_slice(secret) else {
        return out;
    };
    let mut u = {
        let mut m = prf.clone();
        m.update(salt);
        m.update(&1u32.to_be_bytes());
        m.finalize().into_bytes()
    };
    out.copy_from_slice(&u);
    for _ in 1..iterations {
        let mut m = prf.clone();
        m.update(&u);
        u = m.finalize().into_bytes();
        for (o, x) in out.iter_mut().zip(u.iter()) {
            *o ^= x;
        }
    }
    out
}

/// Hashes `secret` natively (tests and tools; the worker uses WebCrypto).
pub fn hash(secret: &[u8], salt: &[u8], iterations: u32) -> PasswordHash {
    PasswordHash::from_derived(iterations, salt, derive(secret, salt, iterations))
}

/// Verifies natively.
pub fn verify(stored: &PasswordHash, secret: &[u8]) -> bool {
    stored.matches(&derive(secret, stored.salt(), stored.iterations()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn rfc_7914_section_11_vectors() {
        // PBKDF2-HMAC-SHA256 (P="passwd", S="salt", c=1, dkLen=64): first 32 bytes.
        assert_eq!(
            hex(&derive(b"passwd", b"salt", 1)),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        );
        // (P="Password", S="NaCl", c=80000, dkLen=64): first 32 bytes.
        assert_eq!(
            hex(&derive(b"Password", b"NaCl", 80_000)),
            "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
        );
    }

    #[test]
    fn stored_form_round_trips_and_verifies() {
        let h = hash(b"correct horse", &[7; SALT_LEN], 1_000);
        let s = h.encode();
        assert!(s.starts_with("pbkdf2-sha256$1000$"));
        let p = PasswordHash::parse(&s).unwrap();
        assert_eq!(p, h);
        assert!(verify(&p, b"correct horse"));
        assert!(!verify(&p, b"correct horsf"));
        assert!(!format!("{p:?}").contains(&s[20..]));
    }

    #[test]
    fn malformed_or_out_of_policy_records_are_refused() {
        let good = hash(b"x", &[1; SALT_LEN], 1_000).encode();
        assert!(PasswordHash::parse(&good).is_ok());
        for bad in [
            "",
            "pbkdf2-sha1$1000$AAAAAAAAAAAAAAAAAAAAAA$AAAA",
            &good.replace("$1000$", "$999$"),
            &good.replace("$1000$", "$100001$"),
            &good.replace("$1000$", "$x$"),
            &format!("{good}$extra"),
            "pbkdf2-sha256$1000$!!!$AAAA",
        ] {
            assert_eq!(PasswordHash::parse(bad), Err(BadHash), "{bad}");
        }
    }

    #[test]
    fn dummy_matches_nothing() {
        let d = dummy(100_000);
        assert_eq!(d.iterations(), 100_000);
        assert!(!d.matches(&derive(b"", d.salt(), 1_000)));
    }
}
