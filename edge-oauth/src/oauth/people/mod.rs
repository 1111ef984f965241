//! People at the edge: their sign-in sessions and what they consented to.

pub mod account;
pub mod backchannel;
pub mod passkey;
pub mod recovery;
pub mod recovery_pages;
pub mod session;
