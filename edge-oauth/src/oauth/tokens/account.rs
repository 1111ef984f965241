//! The account every TURN token is charged to (shared-token's [`AccountKey`], docs/credentials.md
//! "The account a token is charged to"): the person the token acts for, or the app for tokens
//! with no person, keyed under a secret only the edge holds
//! ([`crate::oauth::keys::SigningKey::account_secret`]).
//!
//! Relays keep their per-user quotas on this key, so minting more credentials does not buy
//! more allocations or bandwidth; the edge keys its own per-person TURN rate limit on it too.

use shared_token::AccountKey;

use crate::oauth::keys::SigningKey;

/// The kind of a person's account.
pub const USER: &str = "user";
/// The kind of an app's account (a token with no person: `client_credentials`).
pub const CLIENT: &str = "client";

/// The account of a token for `user_id` (if it acts for a person) issued to `client_id`.
pub fn of(key: &SigningKey, user_id: Option<&str>, client_id: &str) -> AccountKey {
    match user_id {
        Some(u) => AccountKey::derive(key.account_secret(), USER, u),
        None => AccountKey::derive(key.account_secret(), CLIENT, client_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_person_one_account_across_apps_and_apps_apart_from_people() {
        let k = SigningKey::new(&[7; 32]).unwrap();
        let other = SigningKey::new(&[8; 32]).unwrap();
        assert_eq!(of(&k, Some("u1"), "app-a"), of(&k, Some("u1"), "app-b"));
        assert_ne!(of(&k, Some("u1"), "a"), of(&k, Some("u2"), "a"));
        // An app's own tokens: keyed on the app, never equal to a person of the same id.
        assert_eq!(of(&k, None, "a"), of(&k, None, "a"));
        assert_ne!(of(&k, None, "u1"), of(&k, Some("u1"), "x"));
        // Another edge secret, other keys.
        assert_ne!(of(&k, Some("u1"), "a"), of(&other, Some("u1"), "a"));
        assert_eq!(
            of(&k, Some("u1"), "a"),
            AccountKey::derive(k.account_secret(), USER, "u1")
        );
    }
}
