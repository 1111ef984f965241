//! The control plane between the edge and its relays, as plain Rust: what a relay may send
//! (heartbeats, usage batches, feed polls), the rows each writes, the feed of revoked TURN
//! tokens, the nearest healthy relays for a caller, and the usage reports. Heartbeats and usage
//! batches decide in the server's own [`crate::oauth::effects::Writes`] (a claim and rows);
//! the worker (`worker/control.rs`) loads rows, calls these, applies the writes in one D1
//! batch and answers.
//!
//! Relays are OAuth clients with the `relay` scope ([`RELAY_SCOPE`]); nothing else is shared
//! with them for the control plane. Design and figures: docs/control-plane.md.

pub mod config;
pub mod day;
pub mod feed;
pub mod heartbeat;
pub mod revoke;
pub mod rows;
pub mod select;
pub mod tokens;
pub mod usage;
pub mod writes;

pub use rows::Write;

/// The scope a relay's client has ([`super::scope::RELAY`]).
pub use super::scope::RELAY as RELAY_SCOPE;

/// True for names the edge accepts as relay ids (the client-id rule): 1 to 64 of
/// `[A-Za-z0-9._@-]`.
pub fn relay_id_ok(id: &str) -> bool {
    super::ids::id_is_acceptable(id)
}
