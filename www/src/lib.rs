//! # edgeturn browser helper
//!
//! A WebAssembly module (wasm-bindgen) that signs a user in to an edgeturn edge with the
//! authorization code flow and PKCE (S256), binds the tokens to a non-extractable key with
//! DPoP (RFC 9449; [`dpop`]), keeps them in memory, and hands
//! `RTCPeerConnection` working `iceServers` from the edge's `/turn/credentials`, refreshing
//! them before they expire. wasm-pack builds it into the npm packages `edgeturn` (`--target
//! web`, which the edge also serves at `/pkg/edgeturn.js` to any origin) and
//! `edgeturn-bundler` (docs/www.md).
//!
//! ```js
//! import init, { EdgeTurn } from "edgeturn"; // or "https://auth.example.com/pkg/edgeturn.js"
//! await init();
//! const et = new EdgeTurn({ edge: "https://auth.example.com", clientId: "my-app",
//!                           redirectUri: location.origin + "/callback.html" });
//! let pc;
//! button.onclick = async () => {
//!   await et.signIn();
//!   et.autoRefresh((iceServers) => {
//!     if (!pc) return startCall(pc = new RTCPeerConnection({ iceServers }));
//!     pc.setConfiguration({ ...pc.getConfiguration(), iceServers });
//!     pc.restartIce();
//!   }, (err) => console.warn(err.code, err.message));
//! };
//! ```
//!
//! The OAuth messages, PKCE, DPoP proofs and the refresh schedule are plain Rust
//! ([`oauth`], [`pkce`], [`dpop`], [`schedule`]) tested natively; [`browser`] only adapts them to fetch, timers and windows.
#![deny(missing_docs)]

pub mod dpop;
pub mod error;
pub mod oauth;
pub mod pkce;
pub mod schedule;

#[cfg(target_arch = "wasm32")]
pub mod browser;
