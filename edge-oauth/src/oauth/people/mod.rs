//! People: passwords and their hashing, signing in (passwords and passkeys), sign-in sessions
//! and what they consented to, back-channel logout, account recovery by email, rights, and the
//! failure penalties that slow guessing.

pub mod account;
pub mod backchannel;
pub mod passkey;
pub mod password;
pub mod penalty;
pub mod recovery;
pub mod recovery_pages;
pub mod rehash;
pub mod rights;
pub mod session;
pub mod user_auth;
