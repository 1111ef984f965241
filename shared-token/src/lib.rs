//! # shared-token
//!
//! The TURN credential formats edgeturn's authorization server issues and its relays accept,
//! in one implementation compiled natively and to wasm32:
//!
//! - RFC 7635 self-contained access tokens ([`token`]): an AES-GCM sealed `mac_key`,
//!   timestamp and lifetime, byte-compatible with coturn, keyed by kid through a
//!   [`Keyring`] loaded from the key file both sides share;
//! - the [`browser`] credential, which carries such a token inside an RTCIceServer username
//!   so a stock browser can use it;
//! - TURN REST API credentials ([`rest`]);
//! - a stable [`TokenId`] for logs, audit and revocation.
//!
//! Nothing here reads a clock: every validation takes `now` (Unix seconds) from the caller.
//! Secrets are newtypes with redacted `Debug` and constant-time equality. `no_std` + `alloc`;
//! the default `std` feature adds `std::error::Error` and system randomness (`getrandom`).
//!
//! ```
//! use shared_token::{Keyring, MacKeyProfile, MintRequest, Validation};
//!
//! let ring = Keyring::from_json(
//!     r#"[{"kid": "2026-11", "alg": "A256GCM", "key": "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEK"}]"#,
//! )?;
//! let now = 1_800_000_000;
//! let req = MintRequest { kid: None, server_name: "turn.example.com", lifetime: 3600,
//!                         profile: MacKeyProfile::Sha1Coturn, now, account: None };
//! let minted = ring.mint_with(&req, &[7; 32], &[1; 12])?;
//!
//! // At the relay: USERNAME carries the kid, ACCESS-TOKEN the token.
//! let valid = ring.open(&minted.kid, &minted.token, b"turn.example.com", now + 10, &Validation::default())?;
//! assert_eq!(valid.claims.mac_key, minted.mac_key);
//! assert_eq!(valid.id, minted.id);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]

extern crate alloc;

pub mod account;
mod alg;
pub mod browser;
mod error;
mod issue;
mod keyring;
mod mac_key;
#[cfg(feature = "getrandom")]
pub mod random;
pub mod rest;
mod secret;
mod timestamp;
pub mod token;
mod token_id;
mod validation;

pub use account::{AccountKey, BadAccountKey};
pub use browser::BrowserCredential;
pub use error::{KeyError, TokenError};
pub use issue::{MintError, MintRequest, Minted};
pub use keyring::{KeyEntry, Keyring, ValidToken};
pub use mac_key::MacKeyProfile;
pub use secret::{AsRsKey, MacKey, RestSecret, ct_eq};
pub use timestamp::Timestamp;
pub use token::{Alg, Cipher, TokenClaims};
pub use token_id::{BadTokenId, TokenId};
pub use validation::Validation;
