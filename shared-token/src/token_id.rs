//! A short, stable id for a token: the same at edge and relay, derived from the token's
//! bytes only, so logs, audit rows and revocation lists can name a token without holding it.

use core::fmt;
use core::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// First 96 bits of SHA-256 over the token bytes, shown as 16 base64url characters.
///
/// The token is ciphertext under a random nonce, so the id reveals nothing about the mac_key
/// and two tokens never share an id in practice.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenId([u8; 12]);

impl TokenId {
    /// The id of `token` (the raw ACCESS-TOKEN bytes, not their base64).
    pub fn of(token: &[u8]) -> TokenId {
        let digest = Sha256::digest(token);
        let mut id = [0u8; 12];
        id.copy_from_slice(digest.get(..12).unwrap_or(&[0; 12]));
        TokenId(id)
    }

    /// The raw 12 bytes.
    pub fn as_bytes(&self) -> &[u8; 12] {
        &self.0
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_short(&self.0, f)
    }
}

impl fmt::Debug for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenId({self})")
    }
}

/// A string that is not 16 base64url characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadTokenId;

impl fmt::Display for BadTokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a token id is 16 base64url characters")
    }
}

impl FromStr for TokenId {
    type Err = BadTokenId;
    fn from_str(s: &str) -> Result<TokenId, BadTokenId> {
        parse_short(s).map(TokenId).ok_or(BadTokenId)
    }
}

/// Writes 12 bytes as the 16 base64url characters edgeturn shows short ids in (token ids,
/// account keys).
pub(crate) fn write_short(bytes: &[u8; 12], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let mut buf = [0u8; 16];
    let n = URL_SAFE_NO_PAD
        .encode_slice(bytes, &mut buf)
        .map_err(|_| fmt::Error)?;
    f.write_str(core::str::from_utf8(buf.get(..n).ok_or(fmt::Error)?).map_err(|_| fmt::Error)?)
}

/// Reads what [`write_short`] writes: exactly 16 base64url characters.
pub(crate) fn parse_short(s: &str) -> Option<[u8; 12]> {
    if s.len() != 16 {
        return None;
    }
    let mut bytes = [0u8; 12];
    match URL_SAFE_NO_PAD.decode_slice(s, &mut bytes) {
        Ok(12) => Some(bytes),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn stable_short_and_parseable() {
        let id = TokenId::of(b"some token bytes");
        let s = id.to_string();
        assert_eq!(s.len(), 16);
        assert_eq!(s, TokenId::of(b"some token bytes").to_string());
        assert_ne!(s, TokenId::of(b"some token bytez").to_string());
        assert_eq!(s.parse::<TokenId>(), Ok(id));
        assert!("short".parse::<TokenId>().is_err());
        assert!("!!!!!!!!!!!!!!!!".parse::<TokenId>().is_err());
    }

    #[test]
    fn known_value() {
        // SHA-256("abc") = ba7816bf8f01cfea414140de...
        assert_eq!(TokenId::of(b"abc").to_string(), "ungWv48Bz-pBQUDe");
    }
}
