//! The claims of an edge-oauth access token (RFC 9068 section 2.2, plus `rights`).

use serde::Deserialize;

/// An access token's claims.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// The user id, or the client id for client_credentials.
    pub sub: String,
    /// Audience.
    pub aud: Audience,
    /// The client it was issued to.
    pub client_id: String,
    /// Space-separated scope.
    #[serde(default)]
    pub scope: String,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// Expires at, Unix seconds.
    pub exp: u64,
    /// Unique id.
    pub jti: String,
    /// The user's rights that the granted scope covers (edge-oauth's `rights` claim).
    #[serde(default)]
    pub rights: Vec<String>,
    /// The key a DPoP-bound token is bound to (RFC 9449 section 6.1).
    #[serde(default)]
    pub cnf: Option<Confirmation>,
}

/// `cnf` (RFC 7800 section 3.1).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Confirmation {
    /// The RFC 7638 thumbprint of the DPoP key.
    pub jkt: String,
}

/// `aud`: one string or several (RFC 7519 section 4.1.3).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// One.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl Audience {
    /// True when `aud` names `who`.
    pub fn contains(&self, who: &str) -> bool {
        match self {
            Audience::One(a) => a == who,
            Audience::Many(list) => list.iter().any(|a| a == who),
        }
    }
}

/// A token whose signature, issuer, audience and times checked out. Only
/// [`crate::Verifier::verify`] makes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    claims: AccessClaims,
}

impl Verified {
    pub(crate) fn new(claims: AccessClaims) -> Verified {
        Verified { claims }
    }

    /// The claims.
    pub fn claims(&self) -> &AccessClaims {
        &self.claims
    }

    /// True when the token's scope holds `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.claims.scope.split(' ').any(|s| s == scope)
    }

    /// `Err(InsufficientScope)` unless the token's scope holds `scope`.
    pub fn require_scope(&self, scope: &str) -> Result<&Verified, crate::Rejection> {
        if self.has_scope(scope) {
            Ok(self)
        } else {
            Err(crate::Rejection::InsufficientScope)
        }
    }

    /// `Err(MissingRight)` unless the token carries the user right `right`.
    pub fn require_right(&self, right: &str) -> Result<&Verified, crate::Rejection> {
        if self.claims.rights.iter().any(|r| r == right) {
            Ok(self)
        } else {
            Err(crate::Rejection::MissingRight)
        }
    }
}
