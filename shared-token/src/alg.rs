//! The AEADs that seal tokens, by their JOSE names.

use core::fmt;

/// The AEAD that seals tokens (RFC 7635 section 6.2; JOSE names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Alg {
    /// AES-256-GCM, the default, 32-byte key.
    A256Gcm,
    /// AES-128-GCM, 16-byte key.
    A128Gcm,
}

impl Alg {
    /// The AES key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            Alg::A256Gcm => 32,
            Alg::A128Gcm => 16,
        }
    }

    /// The JOSE name: `A256GCM` or `A128GCM`.
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::A256Gcm => "A256GCM",
            Alg::A128Gcm => "A128GCM",
        }
    }

    /// Parses a JOSE name.
    pub fn from_name(name: &str) -> Option<Alg> {
        match name {
            "A256GCM" => Some(Alg::A256Gcm),
            "A128GCM" => Some(Alg::A128Gcm),
            _ => None,
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
