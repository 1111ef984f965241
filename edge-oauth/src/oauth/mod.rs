//! The OAuth 2.0 logic as plain Rust: parsing, rules and decisions, no I/O, no clock.
//!
//! Grouped by what they are about: [`tokens`], [`clients`], [`people`], [`flows`] and the relays'
//! [`control`] plane; the modules at this level are shared by all of them (configuration,
//! [`effects`], errors, pages, parameters, rate limits, rows, routes, scopes).
//!
//! The worker calls these in the same order for every token request:
//! [`params`] → [`flows::grants::grant_type`] → [`clients::client_auth`] → a grant's `decide`
//! (with the rows it loaded) → [`tokens::issue`] → apply the [`effects`] in D1 → answer.

pub mod admin;
pub mod clients;
pub mod config;
pub mod console;
pub mod control;
pub mod discovery;
pub mod effects;
pub mod error;
pub mod flows;
pub mod html;
pub mod https;
pub mod ids;
pub mod keys;
pub mod pages;
pub mod params;
pub mod people;
pub mod ratelimit;
pub mod records;
pub mod routes;
pub mod scope;
pub mod tokens;

pub use error::{ErrorCode, OAuthError};
