//! The browser credential: an RFC 7635 token carried inside an RTCIceServer's `username`,
//! with a `credential` derived from the token's mac_key.
//!
//! Stock browsers cannot send ACCESS-TOKEN; they send USERNAME and a long-term
//! MESSAGE-INTEGRITY keyed with `MD5(username ":" realm ":" credential)`. So:
//!
//! ```text
//! username   = "et1." kid "." base64url(token)            (no padding)
//! credential = base64url(HMAC-SHA256(mac_key, "edgeturn browser credential v1"))  (no padding)
//! ```
//!
//! A relay holding the kid's AS-RS key opens the token found in USERNAME, derives the same
//! credential from the mac_key inside, and checks MESSAGE-INTEGRITY as for any long-term
//! user. It needs nothing but the token: no database, no call to the edge. The credential is
//! a one-way function of the mac_key, so the browser never holds a key another scheme uses.
//! Worked example: docs/credentials.md.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::secret::MacKey;

/// Prefix that marks a browser-credential username (version 1 of this format).
pub const PREFIX: &str = "et1.";
/// The HMAC label that derives the credential from the mac_key.
pub const LABEL: &[u8] = b"edgeturn browser credential v1";
/// STUN USERNAME must be fewer than 509 bytes (RFC 8489 section 14.3).
pub const MAX_USERNAME_LEN: usize = 508;

/// An RTCIceServer `username` + `credential` pair.
#[derive(Clone, PartialEq, Eq)]
pub struct BrowserCredential {
    /// `et1.<kid>.<base64url token>`.
    pub username: String,
    /// The password the browser feeds into its long-term MESSAGE-INTEGRITY key.
    pub credential: String,
}

impl fmt::Debug for BrowserCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BrowserCredential")
            .field("username", &self.username)
            .field("credential", &"[redacted]")
            .finish()
    }
}

/// Why a browser credential cannot be built or read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrowserCredentialError {
    /// The username would be 509 bytes or more.
    UsernameTooLong(usize),
    /// Not `et1.<kid>.<base64url>`.
    NotABrowserUsername,
    /// The token part is not base64url.
    BadTokenEncoding,
}

impl fmt::Display for BrowserCredentialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BrowserCredentialError::UsernameTooLong(n) => {
                write!(
                    f,
                    "browser username would be {n} bytes; STUN allows at most {MAX_USERNAME_LEN}"
                )
            }
            BrowserCredentialError::NotABrowserUsername => {
                f.write_str("username is not an et1 browser credential")
            }
            BrowserCredentialError::BadTokenEncoding => {
                f.write_str("browser username token is not base64url")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for BrowserCredentialError {}

impl BrowserCredential {
    /// Builds the pair for a sealed token and its mac_key.
    pub fn new(
        kid: &str,
        token: &[u8],
        mac_key: &MacKey,
    ) -> Result<BrowserCredential, BrowserCredentialError> {
        let mut username =
            String::with_capacity(PREFIX.len() + kid.len() + 1 + token.len().div_ceil(3) * 4);
        username.push_str(PREFIX);
        username.push_str(kid);
        username.push('.');
        URL_SAFE_NO_PAD.encode_string(token, &mut username);
        if username.len() > MAX_USERNAME_LEN {
            return Err(BrowserCredentialError::UsernameTooLong(username.len()));
        }
        Ok(BrowserCredential {
            username,
            credential: credential_for(mac_key),
        })
    }
}

/// The credential (password) that belongs to `mac_key`.
pub fn credential_for(mac_key: &MacKey) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(mac_key.secret()) else {
        // HMAC takes keys of any length; this arm is unreachable.
        return String::new();
    };
    mac.update(LABEL);
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// A browser username taken apart: the kid and the raw token bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrowserUsername<'a> {
    /// The kid (may itself contain dots).
    pub kid: &'a str,
    /// The sealed token.
    pub token: Vec<u8>,
}

/// True when `username` has the browser-credential shape (cheap; does not decode).
pub fn is_browser_username(username: &str) -> bool {
    username.starts_with(PREFIX)
}

/// Splits `et1.<kid>.<base64url token>`. The token part is everything after the last dot
/// (base64url has no dots), so kids may contain dots.
pub fn parse_username(username: &str) -> Result<BrowserUsername<'_>, BrowserCredentialError> {
    let rest = username
        .strip_prefix(PREFIX)
        .ok_or(BrowserCredentialError::NotABrowserUsername)?;
    let (kid, token) = rest
        .rsplit_once('.')
        .ok_or(BrowserCredentialError::NotABrowserUsername)?;
    if kid.is_empty() || token.is_empty() || username.len() > MAX_USERNAME_LEN {
        return Err(BrowserCredentialError::NotABrowserUsername);
    }
    let token = URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| BrowserCredentialError::BadTokenEncoding)?;
    Ok(BrowserUsername { kid, token })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::MAX_TOKEN_LEN;

    #[test]
    fn round_trip_with_dotted_kid() {
        let key = MacKey::new([9u8; 20]);
        let c = BrowserCredential::new("2026.11.a", &[1, 2, 3, 250], &key).unwrap();
        assert_eq!(c.username, "et1.2026.11.a.AQID-g");
        let p = parse_username(&c.username).unwrap();
        assert_eq!(p.kid, "2026.11.a");
        assert_eq!(p.token, [1, 2, 3, 250]);
        assert_eq!(c.credential, credential_for(&key));
        assert_eq!(c.credential.len(), 43);
        assert!(!alloc::format!("{c:?}").contains(&c.credential));
    }

    #[test]
    fn largest_token_and_kid_fit_stun_username() {
        let kid = "k".repeat(128);
        let c =
            BrowserCredential::new(&kid, &[0u8; MAX_TOKEN_LEN], &MacKey::new([1u8; 20])).unwrap();
        assert!(c.username.len() <= MAX_USERNAME_LEN);
        let too_long = "k".repeat(200);
        assert!(matches!(
            BrowserCredential::new(&too_long, &[0u8; MAX_TOKEN_LEN], &MacKey::new([1u8; 20])),
            Err(BrowserCredentialError::UsernameTooLong(_))
        ));
    }

    #[test]
    fn rejects_other_shapes() {
        for u in [
            "alice",
            "et1.",
            "et1.kid",
            "et1..AAAA",
            "et1.kid.",
            "1700000000:alice",
        ] {
            assert_eq!(
                parse_username(u),
                Err(BrowserCredentialError::NotABrowserUsername),
                "{u}"
            );
        }
        assert_eq!(
            parse_username("et1.kid.***"),
            Err(BrowserCredentialError::BadTokenEncoding)
        );
    }

    #[test]
    fn credential_known_answer() {
        // HMAC-SHA256(key = 20 x 0x0b, "edgeturn browser credential v1"), computed independently
        // with Python's hmac module.
        let c = credential_for(&MacKey::new([0x0b; 20]));
        assert_eq!(c, "Ncu_edyGVw5Uoy6zwZI1Yb6tkg5RqDmfGsyDr6zbG0Y");
    }
}
