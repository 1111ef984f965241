//! The account a token is charged to: a stable, non-reversible key for a person (or an app)
//! that the issuer seals inside the token, so a relay can keep per-person limits however many
//! tokens that person mints.
//!
//! Per-token limits alone are escaped by minting: N tokens give N times the allowance. A relay
//! cannot ask the issuer who a token belongs to (it validates offline), so the issuer says it
//! inside the sealed payload, where only holders of the AS-RS key can read it and nobody can
//! change it:
//!
//! ```text
//! account = HMAC-SHA256(issuer secret, "edgeturn account v1" 0x00 kind 0x00 id)[..12]
//! ```
//!
//! The key is derived with a secret only the issuer holds, so a log line or metric that shows
//! it reveals neither the person's id nor lets anyone compute the key of a known id.
//!
//! ## On the wire
//!
//! The RFC 7635 payload ends with `lifetime`; an account adds one extension after it:
//!
//! ```text
//! ... u32 lifetime | u8 type = 1 | u8 length = 12 | account[12]
//! ```
//!
//! coturn's decoder reads the fixed fields and ignores what follows, so a token with an account
//! still opens on a coturn relay holding the same key; a token without one is byte-for-byte
//! RFC 7635.

use core::fmt;
use core::str::FromStr;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Length of an account key in bytes.
pub const ACCOUNT_LEN: usize = 12;
/// The extension type of an account in the sealed payload.
pub const EXT_ACCOUNT: u8 = 1;
/// The HMAC label of [`AccountKey::derive`].
pub const LABEL: &[u8] = b"edgeturn account v1";

/// 96 bits naming the person or app a token is charged to, shown as 16 base64url characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountKey([u8; ACCOUNT_LEN]);

impl AccountKey {
    /// The key of `id` of `kind` (e.g. `"user"`, `"client"`) under the issuer's `secret`.
    ///
    /// The same inputs always give the same key; another secret, kind or id gives another.
    pub fn derive(secret: &[u8], kind: &str, id: &str) -> AccountKey {
        // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
        let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
            Ok(mac) => mac,
            Err(_) => return AccountKey([0; ACCOUNT_LEN]),
        };
        mac.update(LABEL);
        mac.update(&[0]);
        mac.update(kind.as_bytes());
        mac.update(&[0]);
        mac.update(id.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut key = [0u8; ACCOUNT_LEN];
        key.copy_from_slice(digest.get(..ACCOUNT_LEN).unwrap_or(&[0; ACCOUNT_LEN]));
        AccountKey(key)
    }

    /// An account key from its raw bytes (as read from a token).
    pub fn from_bytes(bytes: [u8; ACCOUNT_LEN]) -> AccountKey {
        AccountKey(bytes)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; ACCOUNT_LEN] {
        &self.0
    }
}

impl fmt::Display for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::token_id::write_short(&self.0, f)
    }
}

impl fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountKey({self})")
    }
}

/// A string that is not 16 base64url characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadAccountKey;

impl fmt::Display for BadAccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an account key is 16 base64url characters")
    }
}

#[cfg(feature = "std")]
impl std::error::Error for BadAccountKey {}

impl FromStr for AccountKey {
    type Err = BadAccountKey;
    fn from_str(s: &str) -> Result<AccountKey, BadAccountKey> {
        crate::token_id::parse_short(s)
            .map(AccountKey)
            .ok_or(BadAccountKey)
    }
}

/// Appends the extensions for `account` to a payload being sealed.
pub(crate) fn write_extensions(account: Option<&AccountKey>, out: &mut alloc::vec::Vec<u8>) {
    if let Some(account) = account {
        out.push(EXT_ACCOUNT);
        out.push(ACCOUNT_LEN as u8);
        out.extend_from_slice(&account.0);
    }
}

/// Bytes the extensions for `account` add to a token.
pub(crate) fn extensions_len(account: Option<&AccountKey>) -> usize {
    account.map_or(0, |_| 2 + ACCOUNT_LEN)
}

/// Reads the extensions after `lifetime` in an authenticated payload: `u8 type | u8 length |
/// value`, repeated. Unknown types are skipped (a later issuer may add some); a truncated one,
/// an account of the wrong length or two accounts mean the sealer was broken: `None`.
pub(crate) fn read_extensions(mut rest: &[u8]) -> Option<Option<AccountKey>> {
    let mut account = None;
    while let [kind, len, tail @ ..] = rest {
        let (value, after) = tail.split_at_checked(usize::from(*len))?;
        if *kind == EXT_ACCOUNT {
            let bytes: [u8; ACCOUNT_LEN] = value.try_into().ok()?;
            if account.replace(AccountKey(bytes)).is_some() {
                return None;
            }
        }
        rest = after;
    }
    rest.is_empty().then_some(account)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec::Vec;

    #[test]
    fn derived_keys_are_stable_and_separate_kinds_ids_and_secrets() {
        let a = AccountKey::derive(b"secret", "user", "alice");
        assert_eq!(a, AccountKey::derive(b"secret", "user", "alice"));
        assert_ne!(a, AccountKey::derive(b"secret", "user", "bob"));
        assert_ne!(a, AccountKey::derive(b"secret", "client", "alice"));
        assert_ne!(a, AccountKey::derive(b"other", "user", "alice"));
        // The separator keeps ("us", "eralice") apart from ("user", "alice").
        assert_ne!(a, AccountKey::derive(b"secret", "us", "eralice"));
    }

    #[test]
    fn shown_as_16_characters_and_parsed_back() {
        let a = AccountKey::derive(b"secret", "user", "alice");
        let s = a.to_string();
        assert_eq!(s.len(), 16);
        assert_eq!(s.parse::<AccountKey>(), Ok(a));
        assert!("short".parse::<AccountKey>().is_err());
        assert!("!!!!!!!!!!!!!!!!".parse::<AccountKey>().is_err());
    }

    #[test]
    fn extensions_round_trip_and_refuse_broken_layouts() {
        let a = AccountKey::from_bytes([7; ACCOUNT_LEN]);
        let mut out = Vec::new();
        write_extensions(Some(&a), &mut out);
        assert_eq!(out.len(), extensions_len(Some(&a)));
        assert_eq!(read_extensions(&out), Some(Some(a)));
        assert_eq!(read_extensions(&[]), Some(None));
        // Unknown extensions are skipped.
        let mut with_unknown = alloc::vec![9, 2, 0xAA, 0xBB];
        with_unknown.extend_from_slice(&out);
        assert_eq!(read_extensions(&with_unknown), Some(Some(a)));
        // Truncated, wrong length, twice, a dangling byte.
        assert_eq!(read_extensions(out.get(..5).unwrap_or(&[])), None);
        assert_eq!(read_extensions(&[EXT_ACCOUNT, 3, 1, 2, 3]), None);
        let twice: Vec<u8> = out.iter().chain(out.iter()).copied().collect();
        assert_eq!(read_extensions(&twice), None);
        assert_eq!(read_extensions(&[9]), None);
    }
}
