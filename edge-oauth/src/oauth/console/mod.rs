//! The operator console at `/console`, as plain Rust: who may use it and for how long
//! ([`session`]), the page chrome ([`layout`]), and each view's forms and decisions (people,
//! apps, relays, usage, audit). The worker (`worker/console/`) loads rows, calls these, applies
//! their [`crate::oauth::effects::Writes`] (every audit row carrying the person who acted) and
//! answers.
//!
//! People sign in through the edge's own authorization code flow with PKCE, as the public
//! first-party client [`CLIENT_ID`] the migrations create; only a person with the right
//! [`ADMIN_RIGHT`] gets a console session. The admin API (`ADMIN_SECRET`) stays for
//! automation. Design: docs/edge-oauth.md, "Console".

pub mod apps;
pub mod audit;
pub mod flash;
pub mod layout;
pub mod people;
pub mod relays;
pub mod session;
pub mod svg;
pub mod usage;

/// The console's first-party client (migrations/0013_console.sql).
pub const CLIENT_ID: &str = "edge-console";
/// Where the authorization server sends the console's codes (a path on ISSUER).
pub const CALLBACK: &str = "/console/callback";
/// The right a person needs to use the console (`SCOPE:NAME`, like every right).
pub const ADMIN_RIGHT: &str = "console:admin";
/// Seconds a console session lasts (it is not extended).
pub const SESSION_TTL: u64 = 1800;
/// Seconds a started sign-in may take.
pub const SIGNIN_TTL: u64 = 600;

/// Audit event names of changes only the console makes.
pub mod event {
    /// A person was disabled (and everything of theirs revoked).
    pub const USER_DISABLED: &str = "user.disabled";
    /// A disabled person may sign in again.
    pub const USER_ENABLED: &str = "user.enabled";
    /// A client's secret was replaced.
    pub const SECRET_ROTATED: &str = "client.secret_rotated";
    /// A client's redirect URIs were replaced.
    pub const REDIRECT_URIS_SET: &str = "client.redirect_uris_set";
    /// A client's RFC 8707 resources were replaced.
    pub const RESOURCES_SET: &str = "client.resources_set";
    /// A relay was drained (no new callers) from the console, or put back.
    pub const RELAY_DRAIN: &str = "relay.drain";
    /// A person signed in to the console.
    pub const SIGNED_IN: &str = "console.signed_in";
}
