//! Errors, each saying what went wrong without echoing secret material.

use alloc::string::String;
use core::fmt;

use crate::alg::Alg;

/// Why a token was not accepted. Every variant maps to a STUN 401 at the relay and to
/// `active: false` at introspection; the distinction is for logs and operators.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenError {
    /// The token ends before its layout does.
    Truncated,
    /// The token is longer than [`crate::token::MAX_TOKEN_LEN`].
    TooLong(usize),
    /// A nonce length other than 12.
    UnsupportedNonceLength(u16),
    /// AES-GCM rejected it: wrong key, wrong server name, or altered bytes.
    Authentication,
    /// It authenticated but its plaintext is not `key_length | mac_key | timestamp | lifetime`.
    BadLayout,
    /// mac_key empty or too long to seal.
    BadMacKeyLength(usize),
    /// No key with this kid in the keyring.
    UnknownKid,
    /// The kid's key is past its `not_after`.
    KeyExpired {
        /// The key's `not_after`, Unix seconds.
        not_after: u64,
    },
    /// `timestamp + lifetime` (plus the allowed skew) is in the past.
    Expired {
        /// Unix second the token expired.
        expired_at: u64,
    },
    /// The timestamp is further in the future than the allowed clock skew.
    NotYetValid {
        /// The token's issue time, Unix seconds.
        issued_at: u64,
    },
    /// Lifetime 0 ("never expires") and the validation policy refuses that.
    UnlimitedLifetime,
    /// The lifetime is longer than the validation policy allows.
    LifetimeTooLong {
        /// The token's lifetime, seconds.
        lifetime: u32,
    },
    /// The encryption failed (a buffer over AES-GCM's limits; cannot happen below MAX_TOKEN_LEN).
    Seal,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::Truncated => f.write_str("token is truncated"),
            TokenError::TooLong(n) => {
                write!(f, "token is {n} bytes, longer than any edgeturn accepts")
            }
            TokenError::UnsupportedNonceLength(n) => {
                write!(f, "token nonce is {n} bytes; only 12 is supported")
            }
            TokenError::Authentication => f.write_str(
                "token does not authenticate: wrong key, wrong server name, or altered token",
            ),
            TokenError::BadLayout => {
                f.write_str("token authenticated but its contents are malformed")
            }
            TokenError::BadMacKeyLength(n) => write!(f, "mac_key length {n} is not allowed"),
            TokenError::UnknownKid => f.write_str("no key with this kid"),
            TokenError::KeyExpired { not_after } => {
                write!(f, "the kid's key expired at {not_after}")
            }
            TokenError::Expired { expired_at } => write!(f, "token expired at {expired_at}"),
            TokenError::NotYetValid { issued_at } => {
                write!(
                    f,
                    "token issued at {issued_at}, in the future beyond the allowed clock skew"
                )
            }
            TokenError::UnlimitedLifetime => {
                f.write_str("token has lifetime 0 (no expiry), which is not accepted")
            }
            TokenError::LifetimeTooLong { lifetime } => {
                write!(f, "token lifetime {lifetime}s exceeds the maximum")
            }
            TokenError::Seal => f.write_str("token could not be sealed"),
        }
    }
}

/// Why a key (or a key file) was not accepted. Never contains key bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// Fewer key bytes than the algorithm needs.
    KeyTooShort {
        /// The algorithm.
        alg: Alg,
        /// Bytes given.
        len: usize,
    },
    /// The key file is not the JSON shape described in `docs/key-file.md`.
    Json(String),
    /// An entry's `alg` is not `A256GCM` or `A128GCM`.
    UnknownAlg {
        /// The entry's kid.
        kid: String,
        /// The value given.
        alg: String,
    },
    /// An entry's `key` is not standard base64.
    BadBase64 {
        /// The entry's kid.
        kid: String,
    },
    /// An entry's key is too short for its algorithm.
    EntryKeyTooShort {
        /// The entry's kid.
        kid: String,
        /// The algorithm.
        alg: Alg,
        /// Bytes given.
        len: usize,
    },
    /// An empty kid, or one longer than 128 bytes, or with control characters.
    BadKid(String),
    /// Two entries share a kid.
    DuplicateKid(String),
    /// The file lists no keys.
    Empty,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::KeyTooShort { alg, len } => {
                write!(
                    f,
                    "{alg} needs a {}-byte key, got {len} bytes",
                    alg.key_len()
                )
            }
            KeyError::Json(e) => write!(f, "key file is not valid: {e}"),
            KeyError::UnknownAlg { kid, alg } => {
                write!(f, "key {kid:?}: alg {alg:?} is not A256GCM or A128GCM")
            }
            KeyError::BadBase64 { kid } => {
                write!(f, "key {kid:?}: \"key\" is not valid standard base64")
            }
            KeyError::EntryKeyTooShort { kid, alg, len } => {
                write!(
                    f,
                    "key {kid:?}: {alg} needs {} key bytes, got {len}",
                    alg.key_len()
                )
            }
            KeyError::BadKid(kid) => write!(f, "kid {kid:?} must be 1 to 128 printable bytes"),
            KeyError::DuplicateKid(kid) => write!(f, "kid {kid:?} appears more than once"),
            KeyError::Empty => f.write_str("key file lists no keys"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for TokenError {}
#[cfg(feature = "std")]
impl std::error::Error for KeyError {}
