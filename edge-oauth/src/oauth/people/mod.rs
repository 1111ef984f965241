//! People: passwords and their hashing, signing in, rights, and the failure penalties that
//! slow guessing.

pub mod password;
pub mod penalty;
pub mod rehash;
pub mod rights;
pub mod user_auth;
