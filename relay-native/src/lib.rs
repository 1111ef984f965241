//! # relay-native
//!
//! edgeturn's TURN relay (RFC 8656 over STUN, RFC 8489). It accepts RFC 7635 tokens issued
//! by the edge, the browser credential that carries such a token in a USERNAME, TURN REST API
//! credentials and static users, and validates all of them offline.
//!
//! The protocol itself is the `relay-proto` crate (sans-IO: bytes and time in, bytes and
//! socket requests out); this crate moves bytes and timers for it.
//!
//! - [`driver`]: the tokio driver that moves datagrams and timers for the core.
//! - [`probe`]: a native RFC 7635 client (`relay-native probe`), blocking std sockets.
//! - [`control`]: the control plane, as a client of the edge: revocations, usage, heartbeats.
//! - [`cli`]: the `relay-native` commands (`serve`, `token`, `probe`).
//! - [`link`]: what the driver and the control plane hand each other (plain types).
//! - [`metrics`]: Prometheus metrics, health and readiness, the drain endpoint.
//! - [`certs`]: the TLS certificate: loading, checking, reloading.
//! - [`drain`]: stopping without cutting calls (SIGUSR1).
//!
//! Design notes: docs/relay.md.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod certs;
pub mod cli;
pub mod config;
pub mod control;
pub mod drain;
pub mod driver;
pub mod link;
pub mod metrics;
pub mod probe;
