//! # edge-oauth
//!
//! An OAuth 2.0 authorization server for Cloudflare Workers that issues RFC 7635 TURN tokens
//! next to ordinary access and refresh tokens, with its state in D1.
//!
//! The crate has two halves:
//!
//! - [`oauth`]: the OAuth logic as plain Rust. Functions take a parsed request, the records the
//!   worker loaded and the time, and *decide*: an error (an RFC 6749 code with its status), or
//!   what to answer and which rows to write. Nothing here does I/O or reads a clock, so every
//!   rule is tested natively with `cargo test -p edge-oauth`.
//! - `worker` (wasm32 only): the workers-rs adapter. It reads requests (with size limits),
//!   loads rows from D1, runs PBKDF2 through WebCrypto, *applies* the decisions (single-statement
//!   conditional updates and D1 batches, so redeeming a code or rotating a refresh token is
//!   atomic) and writes responses.
//!
//! Design notes, the endpoint list, the token formats and the configuration:
//! `docs/edge-oauth.md`.
//!
//! ```
//! use edge_oauth::oauth::flows::pkce;
//!
//! // RFC 7636 appendix B.
//! let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
//! assert!(pkce::verify_s256("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", verifier));
//! ```
#![deny(missing_docs)]

pub mod oauth;
pub mod store;

#[cfg(target_arch = "wasm32")]
mod worker;
