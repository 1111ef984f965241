//! What the edge issues and checks: access, ID and TURN tokens, their signing keys, what a token
//! is for (RFC 8707 resources) and whom it is bound to (DPoP), introspection, revocation and
//! bearer checks at the edge's own resources.

pub mod access_token;
pub mod account;
pub mod bearer;
pub mod dpop;
pub mod id_token;
pub mod introspect;
pub mod issue;
pub mod jwt;
pub mod resource;
pub mod revoke;
pub mod signing_keys;
pub mod turn;
