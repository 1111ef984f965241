//! TURN REST API credentials (draft-uberti-behave-turn-rest; coturn `use-auth-secret`):
//! `username = EXPIRY ":" userid`, `password = base64(HMAC-SHA1(secret, username))`.
//!
//! Several secrets may be configured so a secret rotates without cutting anyone off; every
//! secret is tried, in constant time per comparison. The expiry is always enforced.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::secret::{RestSecret, ct_eq};

/// A minted REST credential.
#[derive(Clone, PartialEq, Eq)]
pub struct RestCredential {
    /// `EXPIRY:userid`.
    pub username: String,
    /// base64(HMAC-SHA1(secret, username)).
    pub password: String,
}

impl fmt::Debug for RestCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestCredential")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish()
    }
}

/// Why a REST credential was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RestError {
    /// Username is not `EXPIRY` or `EXPIRY:userid` with a decimal Unix time.
    NotRestUsername,
    /// The embedded expiry has passed.
    Expired {
        /// The username's expiry, Unix seconds.
        expired_at: u64,
    },
    /// No configured secret produces this password.
    BadPassword,
}

impl fmt::Display for RestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RestError::NotRestUsername => f.write_str("username is not EXPIRY:userid"),
            RestError::Expired { expired_at } => {
                write!(f, "REST credential expired at {expired_at}")
            }
            RestError::BadPassword => f.write_str("password does not match any configured secret"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for RestError {}

/// The password for `username` under `secret`.
pub fn password(secret: &RestSecret, username: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret.secret()) else {
        // HMAC takes keys of any length; this arm is unreachable.
        return String::new();
    };
    mac.update(username.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Mints a credential for `user` that expires at `expires_at` (Unix seconds).
pub fn mint(secret: &RestSecret, user: &str, expires_at: u64) -> RestCredential {
    let username = if user.is_empty() {
        alloc::format!("{expires_at}")
    } else {
        alloc::format!("{expires_at}:{user}")
    };
    let password = password(secret, &username);
    RestCredential { username, password }
}

/// Reads `EXPIRY:userid` (or a bare `EXPIRY`): the expiry and the user part.
pub fn parse_username(username: &str) -> Result<(u64, &str), RestError> {
    let (expiry, user) = username.split_once(':').unwrap_or((username, ""));
    if expiry.is_empty() || expiry.len() > 20 || !expiry.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RestError::NotRestUsername);
    }
    let expiry = expiry.parse().map_err(|_| RestError::NotRestUsername)?;
    Ok((expiry, user))
}

/// The set of secrets a relay accepts.
#[derive(Clone, Debug, Default)]
pub struct RestSecrets {
    secrets: Vec<RestSecret>,
}

impl RestSecrets {
    /// From a list of secrets; the first one is used to mint.
    pub fn new(secrets: Vec<RestSecret>) -> RestSecrets {
        RestSecrets { secrets }
    }

    /// True when no secret is configured.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// Checks the username's shape and expiry at `now`; returns the expiry.
    pub fn check_expiry(&self, username: &str, now: u64) -> Result<u64, RestError> {
        let (expiry, _) = parse_username(username)?;
        if now >= expiry {
            return Err(RestError::Expired { expired_at: expiry });
        }
        Ok(expiry)
    }

    /// Every password this username may carry, one per secret, for a server that checks
    /// MESSAGE-INTEGRITY rather than comparing passwords. Call [`Self::check_expiry`] first.
    pub fn candidate_passwords<'a>(
        &'a self,
        username: &'a str,
    ) -> impl Iterator<Item = String> + 'a {
        self.secrets.iter().map(move |s| password(s, username))
    }

    /// Verifies a username/password pair at `now`: shape, expiry, then the password against
    /// every secret (constant-time comparison). Returns the expiry.
    pub fn verify(&self, username: &str, given: &str, now: u64) -> Result<u64, RestError> {
        let expiry = self.check_expiry(username, now)?;
        let mut ok = false;
        for p in self.candidate_passwords(username) {
            ok |= ct_eq(p.as_bytes(), given.as_bytes());
        }
        if ok {
            Ok(expiry)
        } else {
            Err(RestError::BadPassword)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer() {
        // base64(HMAC-SHA1("secret", "1700000000:alice")), computed with Python's hmac module.
        let c = mint(&RestSecret::new(*b"secret"), "alice", 1_700_000_000);
        assert_eq!(c.username, "1700000000:alice");
        assert_eq!(c.password, "d8soP47RbdIKLDUOpnJPVQyq5Ts=");
    }

    #[test]
    fn rotation_and_expiry() {
        let old = RestSecret::new(*b"old");
        let new = RestSecret::new(*b"new");
        let set = RestSecrets::new(alloc::vec![new.clone(), old.clone()]);
        let c_old = mint(&old, "bob", 2000);
        let c_new = mint(&new, "bob", 2000);
        assert_eq!(set.verify(&c_old.username, &c_old.password, 1000), Ok(2000));
        assert_eq!(set.verify(&c_new.username, &c_new.password, 1999), Ok(2000));
        assert_eq!(
            set.verify(&c_new.username, &c_new.password, 2000),
            Err(RestError::Expired { expired_at: 2000 })
        );
        assert_eq!(
            set.verify(&c_new.username, "nope", 1000),
            Err(RestError::BadPassword)
        );
        let only_other = RestSecrets::new(alloc::vec![RestSecret::new(*b"x")]);
        assert_eq!(
            only_other.verify(&c_new.username, &c_new.password, 1000),
            Err(RestError::BadPassword)
        );
    }

    #[test]
    fn usernames() {
        assert_eq!(parse_username("123"), Ok((123, "")));
        assert_eq!(parse_username("123:a:b"), Ok((123, "a:b")));
        for u in [
            "",
            ":a",
            "abc:a",
            "-1:a",
            "99999999999999999999999:a",
            "12a:b",
        ] {
            assert_eq!(parse_username(u), Err(RestError::NotRestUsername), "{u}");
        }
    }
}
