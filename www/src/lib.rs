//! # edgeturn browser helper
//!
//! An ES module (wasm-bindgen, `--target web`, no bundler needed) that signs a user in to an
//! edgeturn edge with the authorization code flow and PKCE (S256), keeps the tokens in
//! memory, and hands `RTCPeerConnection` working `iceServers` from the edge's
//! `/turn/credentials`, refreshing them before they expire.
//!
//! ```js
//! import init, { EdgeTurn } from "./pkg/edgeturn.js";
//! await init();
//! const et = new EdgeTurn({ edge: "https://auth.example.com", clientId: "my-app",
//!                           redirectUri: location.origin + "/callback.html" });
//! button.onclick = async () => {
//!   await et.signIn();
//!   const pc = new RTCPeerConnection({ iceServers: await et.iceServers() });
//!   et.autoRefresh(iceServers => pc.setConfiguration({ ...pc.getConfiguration(), iceServers }),
//!                  err => console.warn(err.code, err.message));
//! };
//! ```
//!
//! The OAuth messages, PKCE and the refresh schedule are plain Rust ([`oauth`], [`pkce`],
//! [`schedule`]) tested natively; [`browser`] only adapts them to fetch, timers and windows.
#![deny(missing_docs)]

pub mod error;
pub mod oauth;
pub mod pkce;
pub mod schedule;

#[cfg(target_arch = "wasm32")]
pub mod browser;
