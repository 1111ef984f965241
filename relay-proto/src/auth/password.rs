//! Long-term credentials as RFC 8489 has them (sections 9.2.1 to 9.2.4 and 14.4): the key of
//! each password algorithm, the negotiation that picks one, static users' keys, USERHASH.
//!
//! The relay offers SHA-256 and MD5 in PASSWORD-ALGORITHMS (SHA-256 preferred), and marks every
//! nonce with the "Password algorithms" feature ([`crate::nonce`]). A client that sends neither
//! PASSWORD-ALGORITHMS nor PASSWORD-ALGORITHM uses MD5, as every browser and coturn does; one
//! that sends them must echo the list exactly as offered, and pick one of it. The list and the
//! nonce are both covered by the request's integrity, so an attacker who strips SHA-256 from
//! a challenge is caught here (the bid-down protection of section 9.2.1).
//!
//! Usernames, realms and passwords are used as the bytes they are. RFC 8489 runs them through
//! OpaqueString (RFC 8265) first, which leaves printable ASCII alone: every credential this
//! relay makes (REST passwords, browser credentials: base64) and every one browsers hash
//! (Chromium hashes the raw strings) is that.

use std::collections::HashMap;
use std::fmt;

use md5::{Digest, Md5};
use sha2::Sha256;
use shared_token::MacKey;
use stun_types::attribute::{PasswordAlgorithm, PasswordAlgorithms, Userhash};
use stun_types::message::Message;

pub use stun_types::attribute::PasswordAlgorithmValue;

/// PASSWORD-ALGORITHMS as the relay offers it, in order of preference.
pub const OFFERED: [PasswordAlgorithmValue; 2] =
    [PasswordAlgorithmValue::SHA256, PasswordAlgorithmValue::MD5];

/// The long-term key (RFC 8489 section 9.2.2): `H(username ":" realm ":" password)` with MD5
/// (16 bytes) or SHA-256 (32 bytes).
pub fn long_term_key(
    algorithm: PasswordAlgorithmValue,
    username: &str,
    realm: &str,
    password: &str,
) -> MacKey {
    let parts = [username, ":", realm, ":", password];
    match algorithm {
        PasswordAlgorithmValue::MD5 => {
            let mut h = Md5::new();
            parts.iter().for_each(|p| h.update(p.as_bytes()));
            MacKey::new(h.finalize().to_vec())
        }
        PasswordAlgorithmValue::SHA256 => {
            let mut h = Sha256::new();
            parts.iter().for_each(|p| h.update(p.as_bytes()));
            MacKey::new(h.finalize().to_vec())
        }
    }
}

/// USERHASH (RFC 8489 section 14.4): `SHA-256(username ":" realm)`.
pub fn userhash(username: &str, realm: &str) -> [u8; 32] {
    Userhash::compute(username, realm)
}

/// The request names a password algorithm the way section 9.2.4 forbids: one attribute
/// without the other, a PASSWORD-ALGORITHMS list other than the one offered, or a
/// PASSWORD-ALGORITHM not in it. Answered with 400.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotNegotiated;

/// The password algorithm of a request whose nonce carries the "Password algorithms" feature:
/// MD5 when it has neither attribute, else the one it picked from the offered list.
pub fn negotiated(msg: &Message<'_>) -> Result<PasswordAlgorithmValue, NotNegotiated> {
    let has = |t| msg.has_attribute(t);
    use stun_types::attribute::AttributeStaticType;
    match (has(PasswordAlgorithms::TYPE), has(PasswordAlgorithm::TYPE)) {
        (false, false) => Ok(PasswordAlgorithmValue::MD5),
        (true, true) => {
            let list = msg
                .attribute::<PasswordAlgorithms>()
                .map_err(|_| NotNegotiated)?;
            let picked = msg
                .attribute::<PasswordAlgorithm>()
                .map_err(|_| NotNegotiated)?
                .algorithm();
            if list.algorithms() == OFFERED && OFFERED.contains(&picked) {
                Ok(picked)
            } else {
                Err(NotNegotiated)
            }
        }
        _ => Err(NotNegotiated),
    }
}

/// A static user's long-term keys, one per password algorithm.
pub struct UserKeys {
    md5: MacKey,
    sha256: MacKey,
}

impl UserKeys {
    /// The key for `algorithm`.
    pub fn key(&self, algorithm: PasswordAlgorithmValue) -> &MacKey {
        match algorithm {
            PasswordAlgorithmValue::MD5 => &self.md5,
            PasswordAlgorithmValue::SHA256 => &self.sha256,
        }
    }
}

impl fmt::Debug for UserKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UserKeys([redacted])")
    }
}

/// Static users by name, and by USERHASH for clients that hide their name.
#[derive(Debug, Default)]
pub struct StaticUsers {
    by_name: HashMap<String, UserKeys>,
    by_hash: HashMap<[u8; 32], String>,
}

impl StaticUsers {
    /// Adds (or replaces) a user of `realm`.
    pub fn insert(&mut self, name: &str, realm: &str, password: &str) {
        let keys = UserKeys {
            md5: long_term_key(PasswordAlgorithmValue::MD5, name, realm, password),
            sha256: long_term_key(PasswordAlgorithmValue::SHA256, name, realm, password),
        };
        self.by_name.insert(name.to_string(), keys);
        self.by_hash.insert(userhash(name, realm), name.to_string());
    }

    /// The keys of `name`.
    pub fn get(&self, name: &str) -> Option<&UserKeys> {
        self.by_name.get(name)
    }

    /// The name whose USERHASH is `hash`.
    pub fn by_hash(&self, hash: &[u8; 32]) -> Option<&str> {
        self.by_hash.get(hash).map(String::as_str)
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// None at all.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stun_types::message::{BINDING, MessageWrite, MessageWriteExt, MessageWriteVec};

    fn hex(b: &[u8]) -> String {
        b.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn keys_are_md5_and_sha256_of_user_realm_password() {
        // Computed with Python's hashlib.
        let md5 = long_term_key(PasswordAlgorithmValue::MD5, "user", "realm", "pass");
        assert_eq!(hex(md5.secret()), "8493fbc53ba582fb4c044c456bdc40eb");
        let sha = long_term_key(PasswordAlgorithmValue::SHA256, "user", "realm", "pass");
        assert_eq!(
            hex(sha.secret()),
            "07e934117abd40836e7c6329b54731b2b2d2a5f9a71f544922d75e0730d8251b"
        );
    }

    fn request(attrs: impl FnOnce(&mut MessageWriteVec)) -> Vec<u8> {
        let mut w = Message::builder_request(BINDING, MessageWriteVec::new());
        attrs(&mut w);
        w.finish()
    }

    fn negotiate(bytes: &[u8]) -> Result<PasswordAlgorithmValue, NotNegotiated> {
        negotiated(&Message::from_bytes(bytes).unwrap())
    }

    #[test]
    fn negotiation_follows_section_9_2_4() {
        use PasswordAlgorithmValue::{MD5, SHA256};
        let both = |list: &[PasswordAlgorithmValue], pick| {
            request(|w| {
                w.add_attribute(&PasswordAlgorithms::new(list)).unwrap();
                w.add_attribute(&PasswordAlgorithm::new(pick)).unwrap();
            })
        };
        assert_eq!(negotiate(&request(|_| {})), Ok(MD5), "neither: MD5");
        assert_eq!(negotiate(&both(&OFFERED, SHA256)), Ok(SHA256));
        assert_eq!(negotiate(&both(&OFFERED, MD5)), Ok(MD5));
        // A list other than the one offered: a bid-down attempt.
        assert_eq!(negotiate(&both(&[MD5], MD5)), Err(NotNegotiated));
        assert_eq!(negotiate(&both(&[MD5, SHA256], MD5)), Err(NotNegotiated));
        // One without the other.
        let only_pick = request(|w| w.add_attribute(&PasswordAlgorithm::new(SHA256)).unwrap());
        assert_eq!(negotiate(&only_pick), Err(NotNegotiated));
        let only_list = request(|w| w.add_attribute(&PasswordAlgorithms::new(&OFFERED)).unwrap());
        assert_eq!(negotiate(&only_list), Err(NotNegotiated));
    }

    #[test]
    fn static_users_are_found_by_name_and_by_userhash() {
        let mut u = StaticUsers::default();
        u.insert("alice", "example.org", "secret");
        assert!(u.get("alice").is_some());
        assert_eq!(u.by_hash(&userhash("alice", "example.org")), Some("alice"));
        assert_eq!(u.by_hash(&userhash("alice", "other.org")), None);
        assert_eq!(
            format!("{:?}", u.get("alice").unwrap()),
            "UserKeys([redacted])"
        );
    }
}
