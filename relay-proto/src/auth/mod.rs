//! Who sent a request: the four credential mechanisms, any combination enabled.
//!
//! Every mechanism ends in the same place: a key that verified the request's
//! MESSAGE-INTEGRITY or MESSAGE-INTEGRITY-SHA256, and what the credential allows (whose it is,
//! until when). The relay signs its responses with that key, in the attribute the request
//! used, and caps the allocation at that expiry.
//!
//! Which key: long-term credentials (static users, REST, the browser credential) derive it
//! with the negotiated password algorithm ([`password`]); an RFC 7635 token carries it as its
//! mac_key, whose length fixes the integrity attribute: 32 bytes sign with HMAC-SHA256, any
//! other length (20 for coturn's and the edge's profile) with HMAC-SHA1.

pub mod account;
pub mod password;
pub mod throttle;

use std::fmt;

use shared_token::rest::RestSecrets;
use shared_token::{Keyring, MacKey, TokenError, TokenId, Validation, browser};

pub use account::Account;

use crate::nonce::SecurityFeatures;
use crate::wire::{IntegrityAlgorithm, IntegrityRef, Signing, verify};
use password::{PasswordAlgorithmValue, StaticUsers};

/// What the relay accepts.
#[derive(Default)]
pub struct AuthConfig {
    /// REALM sent in 401s and used in long-term keys.
    pub realm: String,
    /// The TURN server name: RFC 7635 AAD and THIRD-PARTY-AUTHORIZATION.
    pub server_name: String,
    /// AS-RS keys: enables RFC 7635 tokens and browser credentials.
    pub keyring: Option<Keyring>,
    /// Token time policy.
    pub validation: Validation,
    /// TURN REST API secrets.
    pub rest: RestSecrets,
    /// Static users (set the realm first: their keys include it).
    pub users: StaticUsers,
}

impl AuthConfig {
    /// Adds a static user.
    pub fn add_user(&mut self, name: &str, password: &str) {
        self.users.insert(name, &self.realm, password);
    }

    /// The security features the nonce cookie announces (RFC 8489 section 9.2): password
    /// algorithms always; username anonymity when there are static users, whom a USERHASH can
    /// name on a first request (REST and token usernames are unknown until they are sent).
    pub fn security_features(&self) -> SecurityFeatures {
        let features = SecurityFeatures::PASSWORD_ALGORITHMS;
        if self.users.is_empty() {
            features
        } else {
            features.with(SecurityFeatures::USERNAME_ANONYMITY)
        }
    }

    /// True when tokens (RFC 7635 or browser) are accepted.
    pub fn tokens_enabled(&self) -> bool {
        self.keyring.is_some()
    }
}

/// The MD5 long-term key: MD5(username ":" realm ":" password) (RFC 8489 section 9.2.2), what
/// browsers and coturn use.
pub fn long_term_key(username: &str, realm: &str, password: &str) -> MacKey {
    password::long_term_key(PasswordAlgorithmValue::MD5, username, realm, password)
}

/// The integrity attribute an RFC 7635 mac_key signs with: HMAC-SHA256 for a 32-byte key,
/// HMAC-SHA1 otherwise. Fixed by the key, so a client cannot be talked down to SHA-1.
pub fn token_integrity(mac_key: &[u8]) -> IntegrityAlgorithm {
    if mac_key.len() == 32 {
        IntegrityAlgorithm::Sha256
    } else {
        IntegrityAlgorithm::Sha1
    }
}

/// Which mechanism a credential came through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    /// A configured user and password.
    Static,
    /// TURN REST API (`EXPIRY:user`, shared secret).
    Rest,
    /// RFC 7635 ACCESS-TOKEN, USERNAME = kid.
    Token,
    /// The browser credential: the token inside USERNAME.
    Browser,
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mechanism::Static => "static",
            Mechanism::Rest => "rest",
            Mechanism::Token => "oauth",
            Mechanism::Browser => "browser-token",
        })
    }
}

/// An authenticated credential.
#[derive(Clone, Debug)]
pub struct Credential {
    /// How.
    pub mechanism: Mechanism,
    /// USERNAME as sent (for later requests on the same allocation).
    pub username: String,
    /// Whom it is charged to, for quotas, bandwidth caps and logs.
    pub account: Account,
    /// The HMAC key that verified; responses are signed with it.
    pub key: MacKey,
    /// The integrity attribute of the request this credential verified; its response is
    /// signed with the same one.
    pub integrity: IntegrityAlgorithm,
    /// For long-term mechanisms, the password algorithm `key` was derived with.
    pub password_algorithm: Option<PasswordAlgorithmValue>,
    /// Unix second the credential stops being valid, if it expires.
    pub expires_at: Option<u64>,
    /// The token's id, for token mechanisms.
    pub token_id: Option<TokenId>,
}

impl Credential {
    /// How to sign a response to the request this credential verified.
    pub fn signing(&self) -> Signing<'_> {
        Signing {
            key: &self.key,
            algorithm: self.integrity,
        }
    }
}

/// Why authentication failed; for logs and counters, never sent in detail to the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthFailure {
    /// No mechanism knows this username.
    UnknownUser,
    /// A mechanism knows it but MESSAGE-INTEGRITY does not verify.
    BadIntegrity,
    /// The token did not open or validate.
    Token(TokenError),
    /// The REST credential (or an earlier credential) expired.
    Expired,
    /// ACCESS-TOKEN sent to a relay with tokens off.
    TokensDisabled,
    /// REALM is not this relay's.
    WrongRealm,
    /// NONCE was not issued by this relay, or for another client address.
    NotOurNonce,
    /// The credential verified but expires before an allocation could begin.
    NoTimeLeft,
    /// The token verified but has been revoked (see [`crate::revocation`]).
    Revoked,
    /// Not verified: too many failures from this source for this username, or for this
    /// username (see [`throttle`]). Answered like a wrong password.
    Throttled,
}

impl AuthFailure {
    /// Whether this failure is a guess the throttle counts: a wrong password or key, an
    /// unknown user, a token that does not open.
    pub fn is_guess(&self) -> bool {
        matches!(
            self,
            AuthFailure::UnknownUser | AuthFailure::BadIntegrity | AuthFailure::Token(_)
        )
    }
}

impl fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthFailure::UnknownUser => f.write_str("unknown user"),
            AuthFailure::BadIntegrity => f.write_str("MESSAGE-INTEGRITY does not verify"),
            AuthFailure::Token(e) => write!(f, "token refused: {e}"),
            AuthFailure::Expired => f.write_str("credential expired"),
            AuthFailure::TokensDisabled => f.write_str("tokens are not enabled"),
            AuthFailure::WrongRealm => f.write_str("wrong realm"),
            AuthFailure::NotOurNonce => f.write_str("nonce not ours"),
            AuthFailure::NoTimeLeft => f.write_str("credential has no time left"),
            AuthFailure::Revoked => f.write_str("token revoked"),
            AuthFailure::Throttled => f.write_str("too many failures: throttled"),
        }
    }
}

/// Who a request says it is from.
#[derive(Clone, Copy, Debug)]
pub enum Who<'a> {
    /// USERNAME.
    Name(&'a str),
    /// USERHASH (RFC 8489 section 14.4): SHA-256(username ":" realm).
    Hash([u8; 32]),
}

/// What a request presents.
pub struct Presented<'a> {
    /// USERNAME or USERHASH.
    pub user: Who<'a>,
    /// ACCESS-TOKEN, if any.
    pub access_token: Option<&'a [u8]>,
    /// The request bytes and where its integrity attribute is.
    pub raw: &'a [u8],
    /// MESSAGE-INTEGRITY or MESSAGE-INTEGRITY-SHA256.
    pub integrity: &'a IntegrityRef,
    /// The password algorithm negotiated for long-term keys.
    pub password_algorithm: PasswordAlgorithmValue,
}

impl AuthConfig {
    /// Authenticates a request at `now` (Unix seconds). `current` is the credential of the
    /// allocation this request belongs to, if any: a request without ACCESS-TOKEN whose
    /// USERNAME (or USERHASH) matches it is checked against its key (RFC 7635 clients send
    /// the token only on Allocate and Refresh).
    pub fn authenticate(
        &self,
        p: &Presented<'_>,
        current: Option<&Credential>,
        now: u64,
    ) -> Result<Credential, AuthFailure> {
        let username = self.username(p.user, current)?;
        if let Some(token) = p.access_token {
            return self.token(p, username, token, now);
        }
        let algorithm = p.integrity.algorithm();
        let ok = |key: &[u8]| verify(p.raw, p.integrity, key);
        let same_key = |c: &&Credential| match c.password_algorithm {
            Some(a) => a == p.password_algorithm,
            None => token_integrity(c.key.secret()) == algorithm,
        };
        if let Some(c) = current.filter(|c| c.username == username).filter(same_key) {
            if c.expires_at.is_some_and(|e| now >= e) {
                return Err(AuthFailure::Expired);
            }
            return if ok(c.key.secret()) {
                Ok(Credential {
                    integrity: algorithm,
                    ..c.clone()
                })
            } else {
                Err(AuthFailure::BadIntegrity)
            };
        }
        let long_term = |mechanism, account: Account, key: MacKey, expires_at, token_id| {
            if !ok(key.secret()) {
                return Err(AuthFailure::BadIntegrity);
            }
            Ok(Credential {
                mechanism,
                username: username.to_string(),
                account,
                key,
                integrity: algorithm,
                password_algorithm: Some(p.password_algorithm),
                expires_at,
                token_id,
            })
        };
        let key_of = |password: &str| {
            password::long_term_key(p.password_algorithm, username, &self.realm, password)
        };
        if let (Some(ring), true) = (&self.keyring, browser::is_browser_username(username)) {
            let parsed = browser::parse_username(username).map_err(|_| AuthFailure::UnknownUser)?;
            let v = ring
                .open(
                    parsed.kid,
                    &parsed.token,
                    self.server_name.as_bytes(),
                    now,
                    &self.validation,
                )
                .map_err(AuthFailure::Token)?;
            let key = key_of(&browser::credential_for(&v.claims.mac_key));
            let expires_at = v.valid_until(&self.validation);
            return long_term(
                Mechanism::Browser,
                Account::of_token(v.claims.account, v.id),
                key,
                expires_at,
                Some(v.id),
            );
        }
        if let Some(keys) = self.users.get(username) {
            let key = keys.key(p.password_algorithm).clone();
            return long_term(
                Mechanism::Static,
                Account::Static(username.to_string()),
                key,
                None,
                None,
            );
        }
        if !self.rest.is_empty() && shared_token::rest::parse_username(username).is_ok() {
            let expiry = self
                .rest
                .check_expiry(username, now)
                .map_err(|_| AuthFailure::Expired)?;
            let account = Account::Rest(match shared_token::rest::parse_username(username) {
                Ok((_, u)) if !u.is_empty() => u.to_string(),
                _ => username.to_string(),
            });
            return self
                .rest
                .candidate_passwords(username)
                .map(|password| key_of(&password))
                .find(|key| ok(key.secret()))
                .map_or(Err(AuthFailure::BadIntegrity), |key| {
                    long_term(Mechanism::Rest, account.clone(), key, Some(expiry), None)
                });
        }
        Err(AuthFailure::UnknownUser)
    }

    /// The username a request names: USERNAME as sent, or the user whose USERHASH it sent.
    /// A USERHASH is known for static users, and for the user of the request's allocation
    /// (whatever its mechanism: the relay learnt the name when it was made).
    fn username<'a>(
        &'a self,
        who: Who<'a>,
        current: Option<&'a Credential>,
    ) -> Result<&'a str, AuthFailure> {
        match who {
            Who::Name(name) => Ok(name),
            Who::Hash(hash) => current
                .map(|c| c.username.as_str())
                .filter(|name| password::userhash(name, &self.realm) == hash)
                .or_else(|| self.users.by_hash(&hash))
                .ok_or(AuthFailure::UnknownUser),
        }
    }

    /// An RFC 7635 request: USERNAME is the kid, the integrity key the token's mac_key.
    fn token(
        &self,
        p: &Presented<'_>,
        kid: &str,
        token: &[u8],
        now: u64,
    ) -> Result<Credential, AuthFailure> {
        let ring = self.keyring.as_ref().ok_or(AuthFailure::TokensDisabled)?;
        let v = ring
            .open(
                kid,
                token,
                self.server_name.as_bytes(),
                now,
                &self.validation,
            )
            .map_err(AuthFailure::Token)?;
        let mac_key = &v.claims.mac_key;
        let algorithm = p.integrity.algorithm();
        if token_integrity(mac_key.secret()) != algorithm {
            return Err(AuthFailure::BadIntegrity);
        }
        let key = match algorithm {
            IntegrityAlgorithm::Sha256 => Some(mac_key.secret())
                .filter(|k| verify(p.raw, p.integrity, k))
                .map(<[u8]>::to_vec),
            IntegrityAlgorithm::Sha1 => mac_key
                .hmac_sha1_readings()
                .find(|k| verify(p.raw, p.integrity, k))
                .map(<[u8]>::to_vec),
        }
        .ok_or(AuthFailure::BadIntegrity)?;
        Ok(Credential {
            mechanism: Mechanism::Token,
            username: kid.to_string(),
            account: Account::of_token(v.claims.account, v.id),
            key: MacKey::new(key),
            integrity: algorithm,
            password_algorithm: None,
            expires_at: v.valid_until(&self.validation),
            token_id: Some(v.id),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_term_key_is_rfc_md5() {
        // MD5("user:realm:pass"), computed with Python's hashlib.
        let k = long_term_key("user", "realm", "pass");
        assert_eq!(k.len(), 16);
        let hex: String = k.secret().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "8493fbc53ba582fb4c044c456bdc40eb");
    }
}
