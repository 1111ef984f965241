//! # resource-verifier
//!
//! Offline checks of edge-oauth's access tokens for a resource server: the token is an RFC 9068
//! JWT signed with one of the keys the edge publishes at `/certs` (its `jwks_uri`); checking it
//! needs the key set, not a call to the edge per request.
//!
//! - [`Jwks`]: the published keys (RS256 as RSA, ES256 as P-256), parsed once.
//! - [`Verifier`]: what a token must say: the issuer, this resource's identifier in `aud`
//!   (RFC 8707: clients ask the edge for a token for this resource), not expired;
//!   it checks the signature against the set and returns a [`Verified`] token, whose
//!   [`Verified::require_scope`] and [`Verified::require_right`] gate each endpoint.
//! - [`JwksCache`]: when to fetch the set (none yet, `max-age` passed, or a token names a kid
//!   the set lacks: a rotation), with the fetching left to the caller, so the same code runs in
//!   a native server and in a wasm worker. The `blocking` feature adds a native fetcher.
//! - [`guard`]: the RFC 6750 answer for an HTTP request (`401 invalid_token`, `403
//!   insufficient_scope`, with `WWW-Authenticate` naming the resource metadata, RFC 9728
//!   section 5.1), the "decorator" of an endpoint.
//! - [`dpop`]: DPoP-bound tokens (RFC 9449): the proof of each request, with a bounded
//!   [`ReplayCache`] of `jti`s; [`guard::guard_request`] takes both schemes.
//! - [`ResourceMetadata`]: the RFC 9728 document to serve at
//!   `/.well-known/oauth-protected-resource`, and its URL.
//!
//! What it cannot see: revocation. A revoked token keeps verifying offline until it expires
//! (edge-oauth's access tokens live minutes); a resource server that must see revocation at
//! once asks the edge's introspection endpoint instead.
//!
//! ```
//! use resource_verifier::{Jwks, Rejection, Verifier};
//!
//! let jwks = Jwks::from_json(br#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","alg":"ES256",
//!   "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#)
//!     .unwrap();
//! let v = Verifier::new("https://auth.example.com", "https://api.example.com/");
//! assert_eq!(v.verify("not a token", &jwks, 1_800_000_000).unwrap_err(), Rejection::Malformed);
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod cache;
mod claims;
pub mod dpop;
pub mod guard;
mod jwks;
mod metadata;
mod verify;

#[cfg(feature = "blocking")]
pub mod blocking;

pub use cache::{JwksCache, Need};
pub use claims::{AccessClaims, Confirmation, Verified};
pub use dpop::ReplayCache;
pub use jwks::{Jwks, JwksError};
pub use metadata::{ResourceMetadata, WELL_KNOWN};
pub use verify::{Rejection, Verifier};
