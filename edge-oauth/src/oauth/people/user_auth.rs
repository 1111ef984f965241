//! Checking a user's password (sign-in page and password grant). Unknown users are checked
//! against a dummy record of the same cost, so the answer and its timing do not reveal which
//! usernames exist.

use std::fmt;

use super::password::{self, PasswordHash};
use crate::oauth::error::OAuthError;
use crate::oauth::records::UserProfile;
use crate::store::reads::UserRow;

/// A user whose password verified. Only this module makes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedUser {
    id: String,
    username: String,
    name: Option<String>,
    email: Option<String>,
    email_verified: bool,
    rights: String,
}

impl VerifiedUser {
    /// User id.
    pub fn id(&self) -> &str {
        &self.id
    }
    /// Sign-in name.
    pub fn username(&self) -> &str {
        &self.username
    }
    /// Display name.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// What tokens may say about the person.
    pub fn profile(&self) -> UserProfile {
        UserProfile {
            id: self.id.clone(),
            username: self.username.clone(),
            name: self.name.clone(),
            email: self.email.clone(),
            email_verified: self.email_verified,
            rights: self.rights.clone(),
        }
    }
}

/// A password still to be derived and compared.
pub struct PendingUser {
    user: Option<UserRow>,
    hash: PasswordHash,
    password: String,
}

impl fmt::Debug for PendingUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingUser")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// Starts checking `password` for the loaded `user` (or for nobody: then against a dummy
/// record with `dummy_iterations`).
pub fn begin(
    user: Option<UserRow>,
    password: &str,
    dummy_iterations: u32,
) -> Result<PendingUser, OAuthError> {
    let hash = match &user {
        Some(u) => PasswordHash::parse(&u.password_hash)
            .map_err(|_| OAuthError::server_error("a stored password hash is malformed"))?,
        None => password::dummy(dummy_iterations),
    };
    Ok(PendingUser {
        user,
        hash,
        password: password.to_string(),
    })
}

impl PendingUser {
    /// The record to derive against.
    pub fn hash(&self) -> &PasswordHash {
        &self.hash
    }

    /// The presented password's bytes.
    pub fn password_bytes(&self) -> &[u8] {
        self.password.as_bytes()
    }

    /// Compares the derived key (constant time). Wrong password and unknown user give the
    /// same `invalid_grant`.
    pub fn verify(self, derived: &[u8]) -> Result<VerifiedUser, OAuthError> {
        match self.user {
            Some(u) if self.hash.matches(derived) => Ok(VerifiedUser {
                id: u.id,
                username: u.username,
                name: u.name,
                email: u.email,
                email_verified: u.email_verified == Some(1),
                rights: u.rights,
            }),
            _ => Err(OAuthError::invalid_grant("wrong username or password")),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn row(pw: &str) -> UserRow {
        UserRow {
            id: "u_1".into(),
            username: "alice".into(),
            password_hash: password::hash(pw.as_bytes(), &[2; 16], 1_000).encode(),
            name: Some("Alice".into()),
            email: None,
            email_verified: None,
            rights: String::new(),
        }
    }

    fn check(user: Option<UserRow>, pw: &str) -> Result<VerifiedUser, OAuthError> {
        let p = begin(user, pw, 1_000)?;
        let d = password::derive(p.password_bytes(), p.hash().salt(), p.hash().iterations());
        p.verify(&d)
    }

    #[test]
    fn right_wrong_and_unknown() {
        let v = check(Some(row("hunter22")), "hunter22").unwrap();
        assert_eq!(
            (v.id(), v.username(), v.name()),
            ("u_1", "alice", Some("Alice"))
        );
        let wrong = check(Some(row("hunter22")), "hunter23").unwrap_err();
        let unknown = check(None, "hunter22").unwrap_err();
        assert_eq!(wrong, unknown);
        assert!(
            !format!("{:?}", begin(Some(row("x")), "hunter22", 1_000).unwrap())
                .contains("hunter22")
        );
    }
}
