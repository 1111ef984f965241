//! Passkeys (WebAuthn Level 2): registering a discoverable credential from the account page and
//! signing in with it, user verification required. Parsing and every check live here, sans IO;
//! the worker verifies the signature with WebCrypto (as for JWTs) and stores the rows.

pub mod cbor;
pub mod ceremony;
pub mod webauthn;
