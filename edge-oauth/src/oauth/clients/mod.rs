//! Apps: what a client record holds, how it authenticates (RFC 6749 2.3, RFC 7523), how it
//! registers (RFC 7591/7592, `/create_client`), and client ID metadata documents.

pub mod client;
pub mod client_auth;
pub mod client_cache;
pub mod metadata_document;
pub mod registration;
pub mod verify_cache;
