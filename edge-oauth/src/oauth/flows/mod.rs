//! The interactive flows: authorization (code + PKCE), the device flow, the token grants,
//! sign-out, and the signed form state their pages carry.

pub mod authorize;
pub mod device;
pub mod grants;
pub mod leaving;
pub mod logout;
pub mod logout_confirm;
pub mod pkce;
pub mod sealed;
