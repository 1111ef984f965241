//! The keyring: AS-RS keys by kid, loaded from the key file shared by edge and relay,
//! with ready ciphers so opening a token does no key schedule.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use crate::error::{KeyError, TokenError};
use crate::token::{Alg, Cipher, NONCE_LEN, TokenClaims};
use crate::token_id::TokenId;
use crate::validation::Validation;

/// One AS-RS key, named by its kid.
#[derive(Clone, Debug)]
pub struct KeyEntry {
    kid: String,
    cipher: Cipher,
    realm: Option<String>,
    not_after: Option<u64>,
}

impl KeyEntry {
    /// Builds an entry from raw key bytes (cut to the algorithm's length as coturn does).
    pub fn new(
        kid: impl Into<String>,
        alg: Alg,
        key: &[u8],
        realm: Option<String>,
        not_after: Option<u64>,
    ) -> Result<KeyEntry, KeyError> {
        let kid = kid.into();
        check_kid(&kid)?;
        let cipher = Cipher::new(alg, key).map_err(|_| KeyError::EntryKeyTooShort {
            kid: kid.clone(),
            alg,
            len: key.len(),
        })?;
        Ok(KeyEntry {
            kid,
            cipher,
            realm: realm.filter(|r| !r.is_empty()),
            not_after,
        })
    }

    /// The key's name, sent by clients as USERNAME.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The AEAD.
    pub fn alg(&self) -> Alg {
        self.cipher.alg()
    }

    /// The realm this key belongs to, if any (coturn: a key realm replaces the session realm).
    pub fn realm(&self) -> Option<&str> {
        self.realm.as_deref()
    }

    /// Unix second after which the key neither seals nor opens.
    pub fn not_after(&self) -> Option<u64> {
        self.not_after
    }

    /// The ready cipher.
    pub fn cipher(&self) -> &Cipher {
        &self.cipher
    }

    /// True while `now` is within the key's validity.
    pub fn is_active(&self, now: u64) -> bool {
        self.not_after.is_none_or(|na| now <= na)
    }
}

fn check_kid(kid: &str) -> Result<(), KeyError> {
    if kid.is_empty() || kid.len() > 128 || kid.chars().any(char::is_control) {
        return Err(KeyError::BadKid(kid.to_string()));
    }
    Ok(())
}

/// A token that opened under a known, active key and passed validation. Only
/// [`Keyring::open`] makes one, so code that holds it may act on it.
#[derive(Clone, Debug)]
pub struct ValidToken<'k> {
    /// The key that opened it.
    pub key: &'k KeyEntry,
    /// The claims.
    pub claims: TokenClaims,
    /// The token's stable id, for logs, audit and revocation.
    pub id: TokenId,
}

impl ValidToken<'_> {
    /// Unix second after which the token is no longer accepted (including the clock-skew
    /// grace), or `None` for a token without expiry. An allocation must not outlive this.
    pub fn valid_until(&self, validation: &Validation) -> Option<u64> {
        self.claims
            .expires_at()
            .map(|e| e.saturating_add(u64::from(validation.clock_skew_secs)))
    }
}

/// A set of AS-RS keys, several active at once so keys rotate without cutting off tokens.
#[derive(Clone, Debug, Default)]
pub struct Keyring {
    keys: Vec<KeyEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFileEntry {
    kid: String,
    #[serde(default = "default_alg")]
    alg: String,
    key: String,
    #[serde(default)]
    realm: Option<String>,
    #[serde(default)]
    not_after: Option<u64>,
}

fn default_alg() -> String {
    "A256GCM".to_string()
}

impl Keyring {
    /// An empty keyring.
    pub fn new() -> Keyring {
        Keyring::default()
    }

    /// Parses the key file: a JSON array of
    /// `{"kid": "...", "alg": "A256GCM", "key": "<base64>", "realm": "...", "not_after": <unix>}`.
    /// `alg` defaults to A256GCM; `realm` and `not_after` are optional.
    pub fn from_json(json: &str) -> Result<Keyring, KeyError> {
        let entries: Vec<KeyFileEntry> =
            serde_json::from_str(json).map_err(|e| KeyError::Json(e.to_string()))?;
        if entries.is_empty() {
            return Err(KeyError::Empty);
        }
        let mut ring = Keyring::new();
        for e in entries {
            let alg = Alg::from_name(&e.alg).ok_or_else(|| KeyError::UnknownAlg {
                kid: e.kid.clone(),
                alg: e.alg.clone(),
            })?;
            let key = zeroize::Zeroizing::new(
                STANDARD
                    .decode(e.key.trim())
                    .map_err(|_| KeyError::BadBase64 { kid: e.kid.clone() })?,
            );
            ring.insert(KeyEntry::new(e.kid, alg, &key, e.realm, e.not_after)?)?;
        }
        Ok(ring)
    }

    /// Adds a key; kids are unique.
    pub fn insert(&mut self, entry: KeyEntry) -> Result<(), KeyError> {
        if self.get(entry.kid()).is_some() {
            return Err(KeyError::DuplicateKid(entry.kid.clone()));
        }
        self.keys.push(entry);
        Ok(())
    }

    /// The key named `kid`, active or not.
    pub fn get(&self, kid: &str) -> Option<&KeyEntry> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// All keys in file order.
    pub fn keys(&self) -> &[KeyEntry] {
        &self.keys
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when there are no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key new tokens are sealed with: the LAST key in file order that is active at `now`.
    /// To rotate, append the new key and give the old one a `not_after` at least one token
    /// lifetime ahead; tokens already issued keep opening until then.
    pub fn sealing_key(&self, now: u64) -> Option<&KeyEntry> {
        self.keys.iter().rev().find(|k| k.is_active(now))
    }

    /// Seals `claims` with the key `kid`, which must be active at `now`.
    pub fn seal(
        &self,
        kid: &str,
        claims: &TokenClaims,
        nonce: &[u8; NONCE_LEN],
        server_name: &[u8],
        now: u64,
    ) -> Result<Vec<u8>, TokenError> {
        let key = self.active(kid, now)?;
        key.cipher.seal(claims, nonce, server_name)
    }

    /// Opens and validates a token: kid known and active, AES-GCM authenticates with
    /// `server_name` as AAD, and the times pass `validation` at `now` (Unix seconds).
    pub fn open(
        &self,
        kid: &str,
        token: &[u8],
        server_name: &[u8],
        now: u64,
        validation: &Validation,
    ) -> Result<ValidToken<'_>, TokenError> {
        let key = self.active(kid, now)?;
        let claims = key.cipher.open(token, server_name)?;
        validation.check(&claims, now)?;
        Ok(ValidToken {
            key,
            claims,
            id: TokenId::of(token),
        })
    }

    fn active(&self, kid: &str, now: u64) -> Result<&KeyEntry, TokenError> {
        let key = self.get(kid).ok_or(TokenError::UnknownKid)?;
        match key.not_after {
            Some(not_after) if now > not_after => Err(TokenError::KeyExpired { not_after }),
            _ => Ok(key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::MacKey;
    use crate::timestamp::Timestamp;

    const FILE: &str = r#"[
        {"kid": "old", "alg": "A128GCM", "key": "MTIzNDU2Nzg5MDEyMzQ1Ngo=", "not_after": 2000},
        {"kid": "new", "alg": "A256GCM", "key": "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEK", "realm": "example.org"}
    ]"#;

    fn claims(ts: u64, lifetime: u32) -> TokenClaims {
        TokenClaims {
            mac_key: MacKey::new([5u8; 20]),
            timestamp: Timestamp::from_unix_secs(ts),
            lifetime,
            account: None,
        }
    }

    #[test]
    fn parses_the_key_file() {
        let ring = Keyring::from_json(FILE).unwrap();
        assert_eq!(ring.len(), 2);
        assert_eq!(ring.get("old").unwrap().alg(), Alg::A128Gcm);
        assert_eq!(ring.get("new").unwrap().realm(), Some("example.org"));
        assert_eq!(ring.get("old").unwrap().not_after(), Some(2000));
    }

    #[test]
    fn rotation_old_tokens_open_until_key_not_after() {
        let ring = Keyring::from_json(FILE).unwrap();
        let v = Validation::default();
        assert_eq!(ring.sealing_key(1000).unwrap().kid(), "new");
        let old = ring
            .seal("old", &claims(1000, 600), &[3; 12], b"s", 1000)
            .unwrap();
        let new = ring
            .seal("new", &claims(1000, 600), &[3; 12], b"s", 1000)
            .unwrap();
        assert!(ring.open("old", &old, b"s", 1200, &v).is_ok());
        assert!(ring.open("new", &new, b"s", 1200, &v).is_ok());
        // Past the old key's not_after, its tokens stop opening and it stops sealing.
        let mut ring2 = Keyring::new();
        ring2.insert(ring.get("old").unwrap().clone()).unwrap();
        assert_eq!(
            ring2.open("old", &old, b"s", 2001, &v).unwrap_err(),
            TokenError::KeyExpired { not_after: 2000 }
        );
        assert!(ring2.sealing_key(2001).is_none());
        assert!(
            ring2
                .seal("old", &claims(2001, 600), &[3; 12], b"s", 2001)
                .is_err()
        );
    }

    #[test]
    fn wrong_kid_is_unknown_and_cross_kid_fails_authentication() {
        let ring = Keyring::from_json(FILE).unwrap();
        let v = Validation::default();
        let t = ring
            .seal("new", &claims(1000, 600), &[3; 12], b"s", 1000)
            .unwrap();
        assert_eq!(
            ring.open("nope", &t, b"s", 1000, &v).unwrap_err(),
            TokenError::UnknownKid
        );
        assert_eq!(
            ring.open("old", &t, b"s", 1000, &v).unwrap_err(),
            TokenError::Authentication
        );
    }

    #[test]
    fn key_file_errors_are_specific_and_never_echo_keys() {
        let cases = [
            ("[]", "no keys"),
            ("{", "not valid"),
            (r#"[{"kid":"a","alg":"A512GCM","key":"AAAA"}]"#, "A512GCM"),
            (r#"[{"kid":"a","key":"!!!"}]"#, "base64"),
            (r#"[{"kid":"a","key":"AAAA"}]"#, "needs 32 key bytes, got 3"),
            (r#"[{"kid":"","key":"AAAA"}]"#, "1 to 128"),
            (r#"[{"kid":"a","key":"AAAA","extra":1}]"#, "unknown field"),
        ];
        for (json, want) in cases {
            let e = Keyring::from_json(json).unwrap_err().to_string();
            assert!(e.contains(want), "{json}: {e}");
        }
        let k = "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEK";
        let dup = alloc::format!(r#"[{{"kid":"a","key":"{k}"}},{{"kid":"a","key":"{k}"}}]"#);
        let e = Keyring::from_json(&dup).unwrap_err().to_string();
        assert!(e.contains("more than once") && !e.contains(k), "{e}");
    }
}
