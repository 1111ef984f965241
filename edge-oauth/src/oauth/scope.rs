//! Scopes (RFC 6749 section 3.3): space-delimited, case-sensitive, order-free.

use std::collections::BTreeSet;
use std::fmt;

use super::error::OAuthError;

/// The scope that makes a token a TURN credential.
pub const TURN: &str = "turn";
/// The scope userinfo requires, and that asks for an ID token.
pub const OPENID: &str = "openid";
/// OpenID Connect: the profile claims (`preferred_username`, `name`).
pub const PROFILE: &str = "profile";
/// OpenID Connect: the `email` claims.
pub const EMAIL: &str = "email";
/// The scope a client needs to introspect tokens issued to other clients (a resource server).
pub const INTROSPECTION: &str = "introspection";
/// Scopes no self- or dynamically registered client may have, and that the admin API gives
/// only when asked explicitly: `introspection` reads every client's tokens, `relay` (the
/// control plane's, [`RELAY`]) reads the revocation feed and reports
/// usage as a relay.
pub const RESERVED: [&str; 2] = [INTROSPECTION, RELAY];

/// The scope a relay's client has, and only a relay's: the admin API gives it only to a
/// confidential client whose one grant is `client_credentials` and whose one scope it is.
pub const RELAY: &str = "relay";

/// The reserved scopes (see [`RESERVED`]) in `scope`.
pub fn reserved_in(scope: &Scope) -> Vec<&'static str> {
    RESERVED.into_iter().filter(|r| scope.contains(r)).collect()
}

/// A set of scope tokens.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope(BTreeSet<String>);

impl Scope {
    /// Parses a scope string; `invalid_scope` for characters RFC 6749 does not allow
    /// (`%x21 / %x23-5B / %x5D-7E`) or absurd sizes.
    pub fn parse(s: &str) -> Result<Scope, OAuthError> {
        let mut set = BTreeSet::new();
        for token in s.split(' ').filter(|t| !t.is_empty()) {
            let ok = token.len() <= 64
                && token
                    .bytes()
                    .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
            if !ok {
                return Err(OAuthError::invalid_scope(
                    "a scope token has characters RFC 6749 does not allow",
                ));
            }
            set.insert(token.to_string());
        }
        if set.len() > 32 {
            return Err(OAuthError::invalid_scope("too many scope tokens"));
        }
        Ok(Scope(set))
    }

    /// Builds a scope from tokens, checking each.
    pub fn from_tokens<I: IntoIterator<Item = S>, S: AsRef<str>>(
        tokens: I,
    ) -> Result<Scope, OAuthError> {
        let joined: Vec<String> = tokens.into_iter().map(|t| t.as_ref().to_string()).collect();
        if joined.iter().any(|t| t.is_empty() || t.contains(' ')) {
            return Err(OAuthError::invalid_scope(
                "a scope token is empty or contains a space",
            ));
        }
        Scope::parse(&joined.join(" "))
    }

    /// True when the set holds `token`.
    pub fn contains(&self, token: &str) -> bool {
        self.0.contains(token)
    }

    /// True when every token of `self` is in `other`.
    pub fn is_subset(&self, other: &Scope) -> bool {
        self.0.is_subset(&other.0)
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when the scope is exactly `turn`.
    pub fn is_turn_only(&self) -> bool {
        self.0.len() == 1 && self.contains(TURN)
    }

    /// The tokens in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// What a request may have: the requested scope if given (it must be within `allowed`,
    /// else `invalid_scope`), or all of `allowed` when the request names none.
    pub fn grant(requested: Option<&str>, allowed: &Scope) -> Result<Scope, OAuthError> {
        let Some(requested) = requested else {
            return Ok(allowed.clone());
        };
        let requested = Scope::parse(requested)?;
        if requested.is_empty() {
            return Ok(allowed.clone());
        }
        if !requested.is_subset(allowed) {
            return Err(OAuthError::invalid_scope(
                "the requested scope exceeds what this client or grant allows",
            ));
        }
        Ok(requested)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for t in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(t)?;
            first = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_normalises_order_and_duplicates() {
        let s = Scope::parse("turn openid  turn").unwrap();
        assert_eq!(s.to_string(), "openid turn");
        assert!(Scope::parse("bad\"quote").is_err());
        assert!(Scope::parse("back\\slash").is_err());
        assert!(Scope::parse("tab\there").is_err());
    }

    #[test]
    fn grant_is_a_subset_or_the_default() {
        let allowed = Scope::parse("openid turn").unwrap();
        assert_eq!(Scope::grant(None, &allowed).unwrap(), allowed);
        assert_eq!(
            Scope::grant(Some("turn"), &allowed).unwrap().to_string(),
            "turn"
        );
        assert!(Scope::grant(Some("turn"), &allowed).unwrap().is_turn_only());
        let e = Scope::grant(Some("turn admin"), &allowed).unwrap_err();
        assert_eq!(e.code, crate::oauth::error::ErrorCode::InvalidScope);
    }
}
