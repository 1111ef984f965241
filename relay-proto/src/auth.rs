//! Who sent a request: the four credential mechanisms, any combination enabled.
//!
//! Every mechanism ends in the same place: a key for HMAC-SHA1 MESSAGE-INTEGRITY that
//! verified the request, and what the credential allows (whose it is, until when). The relay
//! signs its responses with that key and caps the allocation at that expiry.

use std::collections::HashMap;
use std::fmt;

use md5::{Digest, Md5};
use shared_token::rest::RestSecrets;
use shared_token::{Keyring, MacKey, TokenError, TokenId, Validation, browser};

use crate::wire::{IntegrityRef, verify};

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
    /// Static users: name -> MD5(name:realm:password).
    pub users: HashMap<String, MacKey>,
}

impl AuthConfig {
    /// Adds a static user.
    pub fn add_user(&mut self, name: &str, password: &str) {
        let key = long_term_key(name, &self.realm, password);
        self.users.insert(name.to_string(), key);
    }

    /// True when tokens (RFC 7635 or browser) are accepted.
    pub fn tokens_enabled(&self) -> bool {
        self.keyring.is_some()
    }
}

/// The long-term key: MD5(username ":" realm ":" password) (RFC 8489 section 9.2.2).
pub fn long_term_key(username: &str, realm: &str, password: &str) -> MacKey {
    let mut h = Md5::new();
    h.update(username.as_bytes());
    h.update(b":");
    h.update(realm.as_bytes());
    h.update(b":");
    h.update(password.as_bytes());
    MacKey::new(h.finalize().to_vec())
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
    /// Who, for quotas and logs: the static or REST user, or the token id for tokens.
    pub user: String,
    /// The HMAC-SHA1 key that verified; responses are signed with it.
    pub key: MacKey,
    /// Unix second the credential stops being valid, if it expires.
    pub expires_at: Option<u64>,
    /// The token's id, for token mechanisms.
    pub token_id: Option<TokenId>,
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
        }
    }
}

/// What a request presents.
pub struct Presented<'a> {
    /// USERNAME.
    pub username: &'a str,
    /// ACCESS-TOKEN, if any.
    pub access_token: Option<&'a [u8]>,
    /// The request bytes and where its MESSAGE-INTEGRITY is.
    pub raw: &'a [u8],
    /// MESSAGE-INTEGRITY.
    pub integrity: &'a IntegrityRef,
}

impl AuthConfig {
    /// Authenticates a request at `now` (Unix seconds). `current` is the credential of the
    /// allocation this request belongs to, if any: a request without ACCESS-TOKEN whose
    /// USERNAME matches it is checked against its key (RFC 7635 clients send the token only
    /// on Allocate and Refresh).
    pub fn authenticate(
        &self,
        p: &Presented<'_>,
        current: Option<&Credential>,
        now: u64,
    ) -> Result<Credential, AuthFailure> {
        let ok = |key: &[u8]| verify(p.raw, p.integrity, key);
        if let Some(token) = p.access_token {
            let ring = self.keyring.as_ref().ok_or(AuthFailure::TokensDisabled)?;
            let v = ring
                .open(
                    p.username,
                    token,
                    self.server_name.as_bytes(),
                    now,
                    &self.validation,
                )
                .map_err(AuthFailure::Token)?;
            let key = v
                .claims
                .mac_key
                .hmac_sha1_readings()
                .find(|k| ok(k))
                .ok_or(AuthFailure::BadIntegrity)?;
            return Ok(Credential {
                mechanism: Mechanism::Token,
                username: p.username.to_string(),
                user: v.id.to_string(),
                key: MacKey::new(key),
                expires_at: v.valid_until(&self.validation),
                token_id: Some(v.id),
            });
        }
        if let Some(c) = current.filter(|c| c.username == p.username) {
            if c.expires_at.is_some_and(|e| now >= e) {
                return Err(AuthFailure::Expired);
            }
            return if ok(c.key.secret()) {
                Ok(c.clone())
            } else {
                Err(AuthFailure::BadIntegrity)
            };
        }
        if let (Some(ring), true) = (&self.keyring, browser::is_browser_username(p.username)) {
            let parsed =
                browser::parse_username(p.username).map_err(|_| AuthFailure::UnknownUser)?;
            let v = ring
                .open(
                    parsed.kid,
                    &parsed.token,
                    self.server_name.as_bytes(),
                    now,
                    &self.validation,
                )
                .map_err(AuthFailure::Token)?;
            let password = browser::credential_for(&v.claims.mac_key);
            let key = long_term_key(p.username, &self.realm, &password);
            if !ok(key.secret()) {
                return Err(AuthFailure::BadIntegrity);
            }
            return Ok(Credential {
                mechanism: Mechanism::Browser,
                username: p.username.to_string(),
                user: v.id.to_string(),
                key,
                expires_at: v.valid_until(&self.validation),
                token_id: Some(v.id),
            });
        }
        if let Some(key) = self.users.get(p.username) {
            return if ok(key.secret()) {
                Ok(Credential {
                    mechanism: Mechanism::Static,
                    username: p.username.to_string(),
                    user: p.username.to_string(),
                    key: key.clone(),
                    expires_at: None,
                    token_id: None,
                })
            } else {
                Err(AuthFailure::BadIntegrity)
            };
        }
        if !self.rest.is_empty() && shared_token::rest::parse_username(p.username).is_ok() {
            let expiry = self
                .rest
                .check_expiry(p.username, now)
                .map_err(|_| AuthFailure::Expired)?;
            for password in self.rest.candidate_passwords(p.username) {
                let key = long_term_key(p.username, &self.realm, &password);
                if ok(key.secret()) {
                    let user = shared_token::rest::parse_username(p.username)
                        .map(|(_, u)| u)
                        .unwrap_or_default();
                    return Ok(Credential {
                        mechanism: Mechanism::Rest,
                        username: p.username.to_string(),
                        user: if user.is_empty() {
                            p.username.to_string()
                        } else {
                            user.to_string()
                        },
                        key,
                        expires_at: Some(expiry),
                        token_id: None,
                    });
                }
            }
            return Err(AuthFailure::BadIntegrity);
        }
        Err(AuthFailure::UnknownUser)
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
