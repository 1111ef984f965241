//! The OAuth 2.0 logic as plain Rust: parsing, rules and decisions, no I/O, no clock.
//!
//! The worker calls these in the same order for every token request:
//! [`params`] → [`grants::grant_type`] → [`client_auth`] → a grant's `decide` (with the rows it
//! loaded) → [`issue`] → apply the [`effects`] in D1 → answer.

pub mod access_token;
pub mod account;
pub mod admin;
pub mod authorize;
pub mod bearer;
pub mod client;
pub mod client_auth;
pub mod client_cache;
pub mod clients;
pub mod config;
pub mod control;
pub mod device;
pub mod discovery;
pub mod effects;
pub mod error;
pub mod grants;
pub mod html;
pub mod https;
pub mod id_token;
pub mod ids;
pub mod introspect;
pub mod issue;
pub mod jwt;
pub mod keys;
pub mod leaving;
pub mod logout;
pub mod logout_confirm;
pub mod pages;
pub mod params;
pub mod password;
pub mod penalty;
pub mod pkce;
pub mod ratelimit;
pub mod records;
pub mod registration;
pub mod rehash;
pub mod revoke;
pub mod rights;
pub mod routes;
pub mod scope;
pub mod sealed;
pub mod signing_keys;
pub mod tokens;
pub mod turn;
pub mod user_auth;
pub mod verify_cache;

pub use error::{ErrorCode, OAuthError};
