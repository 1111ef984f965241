//! Decisions about what a token is for and whom it is bound to.

pub mod dpop;
pub mod resource;
