//! The RFC 7635 self-contained token: wire layout, sealing and opening.
//!
//! ```text
//! u16 nonce_length | nonce | AES-GCM( u16 key_length | mac_key | u64 timestamp | u32 lifetime [| extensions] ) | tag[16]
//! ```
//! AAD is the TURN server name (the value of THIRD-PARTY-AUTHORIZATION), without a NUL.
//! The kid is not inside the token: the client sends it as USERNAME.

use alloc::vec::Vec;
use core::fmt;

use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::{AeadInPlace, Aes128Gcm, Aes256Gcm, KeyInit};

use crate::account::{self, AccountKey};
pub use crate::alg::Alg;
use crate::error::TokenError;
use crate::secret::MacKey;
use crate::timestamp::Timestamp;

/// The nonce length edgeturn writes, and the only one it reads (coturn writes 12 as well).
pub const NONCE_LEN: usize = 12;
/// AES-GCM tag length.
pub const TAG_LEN: usize = 16;
/// Bytes of a token around its mac_key: nonce length, nonce, key length, timestamp, lifetime, tag.
pub const OVERHEAD: usize = 2 + NONCE_LEN + 2 + 8 + 4 + TAG_LEN;
/// The largest token edgeturn seals or opens. It keeps a browser credential under STUN's
/// 513-byte USERNAME limit and bounds work per packet.
pub const MAX_TOKEN_LEN: usize = 256;
/// The largest mac_key that fits in [`MAX_TOKEN_LEN`].
pub const MAX_MAC_KEY_LEN: usize = MAX_TOKEN_LEN - OVERHEAD;

/// What a token says once opened: the session key, when it was issued and for how long.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenClaims {
    /// The session key the client uses for MESSAGE-INTEGRITY.
    pub mac_key: MacKey,
    /// Issue time.
    pub timestamp: Timestamp,
    /// Lifetime in seconds from `timestamp`; 0 means "no expiry" in RFC 7635.
    pub lifetime: u32,
    /// The person or app the token is charged to, when the issuer said (see [`crate::account`]).
    pub account: Option<AccountKey>,
}

impl TokenClaims {
    /// The Unix second at which the token expires, or `None` for lifetime 0.
    pub fn expires_at(&self) -> Option<u64> {
        (self.lifetime != 0).then(|| {
            self.timestamp
                .unix_secs()
                .saturating_add(u64::from(self.lifetime))
        })
    }
}

/// An AES-GCM key schedule, ready to seal and open without per-call setup.
// Unboxed on purpose: a keyring holds a handful, and opening is on the relay's Allocate path.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
pub enum Cipher {
    /// AES-256-GCM.
    A256(Aes256Gcm),
    /// AES-128-GCM.
    A128(Aes128Gcm),
}

impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Cipher::A256(_) => "Cipher(A256GCM, [redacted])",
            Cipher::A128(_) => "Cipher(A128GCM, [redacted])",
        })
    }
}

impl Cipher {
    /// Builds the key schedule. Like coturn, a key longer than the algorithm needs is cut to its
    /// first `alg.key_len()` bytes (coturn's own test keys are 33 bytes of ASCII and a newline).
    pub fn new(alg: Alg, key: &[u8]) -> Result<Cipher, crate::error::KeyError> {
        let key = key
            .get(..alg.key_len())
            .ok_or(crate::error::KeyError::KeyTooShort {
                alg,
                len: key.len(),
            })?;
        Ok(match alg {
            Alg::A256Gcm => Cipher::A256(Aes256Gcm::new(GenericArray::from_slice(key))),
            Alg::A128Gcm => Cipher::A128(Aes128Gcm::new(GenericArray::from_slice(key))),
        })
    }

    /// The algorithm of this key.
    pub fn alg(&self) -> Alg {
        match self {
            Cipher::A256(_) => Alg::A256Gcm,
            Cipher::A128(_) => Alg::A128Gcm,
        }
    }

    /// Seals claims into a token. `nonce` must be fresh for every token under this key:
    /// take it from a CSPRNG (see [`crate::random`]).
    pub fn seal(
        &self,
        claims: &TokenClaims,
        nonce: &[u8; NONCE_LEN],
        server_name: &[u8],
    ) -> Result<Vec<u8>, TokenError> {
        let key = claims.mac_key.secret();
        let extensions = account::extensions_len(claims.account.as_ref());
        if key.is_empty() || key.len() + extensions > MAX_MAC_KEY_LEN {
            return Err(TokenError::BadMacKeyLength(key.len()));
        }
        let mut out = Vec::with_capacity(OVERHEAD + key.len() + extensions);
        out.extend_from_slice(&(NONCE_LEN as u16).to_be_bytes());
        out.extend_from_slice(nonce);
        let body_start = out.len();
        out.extend_from_slice(&(key.len() as u16).to_be_bytes());
        out.extend_from_slice(key);
        out.extend_from_slice(&claims.timestamp.raw().to_be_bytes());
        out.extend_from_slice(&claims.lifetime.to_be_bytes());
        account::write_extensions(claims.account.as_ref(), &mut out);
        let nonce = GenericArray::from_slice(nonce);
        let body = out.get_mut(body_start..).ok_or(TokenError::Seal)?;
        let tag = match self {
            Cipher::A256(c) => c.encrypt_in_place_detached(nonce, server_name, body),
            Cipher::A128(c) => c.encrypt_in_place_detached(nonce, server_name, body),
        }
        .map_err(|_| TokenError::Seal)?;
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// Opens a token: checks the layout, authenticates it against `server_name` and returns
    /// its claims. Says nothing about time: see [`crate::Keyring::open`] for validation.
    pub fn open(&self, token: &[u8], server_name: &[u8]) -> Result<TokenClaims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::TooLong(token.len()));
        }
        let (nonce_len, rest) = split_u16(token)?;
        if usize::from(nonce_len) != NONCE_LEN {
            return Err(TokenError::UnsupportedNonceLength(nonce_len));
        }
        let (nonce, rest) = rest
            .split_at_checked(NONCE_LEN)
            .ok_or(TokenError::Truncated)?;
        let body_len = rest
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(TokenError::Truncated)?;
        let (body, tag) = rest
            .split_at_checked(body_len)
            .ok_or(TokenError::Truncated)?;
        // Smallest body: key length, a one-byte key, timestamp, lifetime.
        if body.len() < 2 + 1 + 8 + 4 {
            return Err(TokenError::Truncated);
        }

        let mut plain = [0u8; MAX_TOKEN_LEN];
        let plain = plain.get_mut(..body.len()).ok_or(TokenError::Truncated)?;
        plain.copy_from_slice(body);
        let nonce = GenericArray::from_slice(nonce);
        let tag = GenericArray::from_slice(tag);
        match self {
            Cipher::A256(c) => c.decrypt_in_place_detached(nonce, server_name, plain, tag),
            Cipher::A128(c) => c.decrypt_in_place_detached(nonce, server_name, plain, tag),
        }
        .map_err(|_| TokenError::Authentication)?;

        // Authenticated from here on; a bad layout now means the sealer was broken or hostile.
        let (key_len, rest) = split_u16(plain)?;
        let (mac_key, rest) = rest
            .split_at_checked(usize::from(key_len))
            .ok_or(TokenError::BadLayout)?;
        let (times, extensions) = rest.split_at_checked(12).ok_or(TokenError::BadLayout)?;
        let (timestamp, lifetime) = match times {
            [t0, t1, t2, t3, t4, t5, t6, t7, l0, l1, l2, l3] => (
                u64::from_be_bytes([*t0, *t1, *t2, *t3, *t4, *t5, *t6, *t7]),
                u32::from_be_bytes([*l0, *l1, *l2, *l3]),
            ),
            _ => return Err(TokenError::BadLayout),
        };
        let account = account::read_extensions(extensions).ok_or(TokenError::BadLayout)?;
        if mac_key.is_empty() {
            return Err(TokenError::BadMacKeyLength(0));
        }
        let claims = TokenClaims {
            mac_key: MacKey::new(mac_key),
            timestamp: Timestamp::from_raw(timestamp),
            lifetime,
            account,
        };
        zeroize::Zeroize::zeroize(plain);
        Ok(claims)
    }
}

fn split_u16(bytes: &[u8]) -> Result<(u16, &[u8]), TokenError> {
    match bytes {
        [a, b, rest @ ..] => Ok((u16::from_be_bytes([*a, *b]), rest)),
        _ => Err(TokenError::Truncated),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> TokenClaims {
        TokenClaims {
            mac_key: MacKey::new(*b"0123456789abcdefghij"),
            timestamp: Timestamp::from_unix_secs(1_700_000_000),
            lifetime: 600,
            account: None,
        }
    }

    #[test]
    fn seal_open_round_trip_both_algs() {
        for (alg, key) in [
            (Alg::A256Gcm, [7u8; 32].as_slice()),
            (Alg::A128Gcm, [9u8; 16].as_slice()),
        ] {
            let c = Cipher::new(alg, key).unwrap();
            let t = c.seal(&claims(), &[1; 12], b"turn.example").unwrap();
            assert_eq!(t.len(), 64);
            assert_eq!(c.open(&t, b"turn.example").unwrap(), claims());
        }
    }

    #[test]
    fn an_account_is_sealed_after_the_rfc_fields_and_read_back() {
        let c = Cipher::new(Alg::A256Gcm, &[7u8; 32]).unwrap();
        let mut cl = claims();
        cl.account = Some(AccountKey::derive(b"issuer secret", "user", "alice"));
        let t = c.seal(&cl, &[1; 12], b"turn.example").unwrap();
        assert_eq!(t.len(), 64 + 2 + crate::account::ACCOUNT_LEN);
        assert_eq!(c.open(&t, b"turn.example").unwrap(), cl);
        // The same token without the account is the plain RFC 7635 one.
        let plain = c.seal(&claims(), &[1; 12], b"turn.example").unwrap();
        assert_eq!(c.open(&plain, b"turn.example").unwrap().account, None);
        // An account leaves less room for the mac_key.
        cl.mac_key = MacKey::new(alloc::vec![1; MAX_MAC_KEY_LEN]);
        assert!(c.seal(&cl, &[0; 12], b"s").is_err());
    }

    #[test]
    fn short_key_is_refused() {
        assert!(Cipher::new(Alg::A256Gcm, &[0; 31]).is_err());
        assert!(Cipher::new(Alg::A128Gcm, &[0; 33]).is_ok());
    }

    #[test]
    fn empty_and_oversized_mac_keys_are_refused() {
        let c = Cipher::new(Alg::A128Gcm, &[9; 16]).unwrap();
        let mut cl = claims();
        cl.mac_key = MacKey::new(alloc::vec![]);
        assert_eq!(
            c.seal(&cl, &[0; 12], b"s"),
            Err(TokenError::BadMacKeyLength(0))
        );
        cl.mac_key = MacKey::new(alloc::vec![1; MAX_MAC_KEY_LEN + 1]);
        assert!(c.seal(&cl, &[0; 12], b"s").is_err());
        cl.mac_key = MacKey::new(alloc::vec![1; MAX_MAC_KEY_LEN]);
        let t = c.seal(&cl, &[0; 12], b"s").unwrap();
        assert_eq!(t.len(), MAX_TOKEN_LEN);
        assert_eq!(c.open(&t, b"s").unwrap(), cl);
    }

    #[test]
    fn expiry_is_timestamp_plus_lifetime() {
        assert_eq!(claims().expires_at(), Some(1_700_000_600));
        let mut c = claims();
        c.lifetime = 0;
        assert_eq!(c.expires_at(), None);
    }
}
