//! What the edge issues and checks: access, ID and TURN tokens, their signing keys, introspection,
//! revocation and bearer checks at the edge's own resources.

pub mod access_token;
pub mod account;
pub mod bearer;
pub mod id_token;
pub mod introspect;
pub mod issue;
pub mod jwt;
pub mod revoke;
pub mod signing_keys;
pub mod turn;
