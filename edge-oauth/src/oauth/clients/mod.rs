//! Apps: what a client record holds, how it authenticates (RFC 6749 2.3, RFC 7523), and how it
//! registers (RFC 7591/7592, `/create_client`).

pub mod client;
pub mod client_auth;
pub mod client_cache;
pub mod registration;
pub mod verify_cache;
