//! Whom a credential is charged to: the key the per-account limits (allocation quota,
//! bandwidth cap) count on, whatever credential the account presents.
//!
//! Keying those limits on the token id let anyone escape them by minting more tokens: N tokens
//! gave N times the allowance. A token that carries an [`AccountKey`] (sealed by its issuer,
//! see `shared_token::account`) is charged to that account however many tokens it was given.

use std::fmt;

use shared_token::{AccountKey, TokenId};

/// The account a request is charged to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Account {
    /// The person or app a token names (its sealed account key).
    Key(AccountKey),
    /// A token without an account key (issued before accounts): the token alone.
    Token(TokenId),
    /// A TURN REST credential: the userid part of `EXPIRY:userid` (the whole username when
    /// it has no userid part).
    Rest(String),
    /// A static user: the username.
    Static(String),
}

impl Account {
    /// The account of a token: its sealed key, else the token itself.
    pub fn of_token(key: Option<AccountKey>, id: TokenId) -> Account {
        key.map_or(Account::Token(id), Account::Key)
    }

    /// The kind, for logs: `account`, `token`, `rest` or `static`.
    pub fn kind(&self) -> &'static str {
        match self {
            Account::Key(_) => "account",
            Account::Token(_) => "token",
            Account::Rest(_) => "rest",
            Account::Static(_) => "static",
        }
    }
}

/// An account key or token id as its 16 base64url characters; a REST or static user as
/// its name. (Two kinds can show the same text; they are still different accounts.)
impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Account::Key(k) => k.fmt(f),
            Account::Token(id) => id.fmt(f),
            Account::Rest(u) | Account::Static(u) => f.write_str(u),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_distinct_accounts_even_with_the_same_text() {
        let s = Account::Static("alice".into());
        let r = Account::Rest("alice".into());
        assert_ne!(s, r);
        assert_eq!(s.to_string(), r.to_string());
        let key = AccountKey::derive(b"secret", "user", "42");
        let a = Account::of_token(Some(key), TokenId::of(b"a token"));
        assert_eq!(a, Account::Key(key));
        assert_eq!(a.to_string().len(), 16);
        assert!(!a.to_string().contains("42"));
    }
}
