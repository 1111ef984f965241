//! People: passwords and their hashing, signing in, sign-in sessions and what they consented
//! to, rights, and the failure penalties that slow guessing.

pub mod account;
pub mod password;
pub mod penalty;
pub mod rehash;
pub mod rights;
pub mod session;
pub mod user_auth;
