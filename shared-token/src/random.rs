//! Randomness from the operating system (or `crypto.getRandomValues` on wasm32).

use core::fmt;

use crate::token::NONCE_LEN;

/// The platform random source failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RandomError;

impl fmt::Display for RandomError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the system random number generator failed")
    }
}

#[cfg(feature = "std")]
impl std::error::Error for RandomError {}

/// Fills `buf` from the CSPRNG.
pub fn fill(buf: &mut [u8]) -> Result<(), RandomError> {
    getrandom::fill(buf).map_err(|_| RandomError)
}

/// A fresh 12-byte token nonce.
pub fn nonce() -> Result<[u8; NONCE_LEN], RandomError> {
    let mut n = [0u8; NONCE_LEN];
    fill(&mut n)?;
    Ok(n)
}
