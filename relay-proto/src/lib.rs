//! # relay-proto
//!
//! The protocol core of edgeturn's TURN relay (RFC 8656 over STUN, RFC 8489; RFC 7635 tokens):
//! a state machine with no sockets, no clock and no runtime. A driver (relay-native's tokio
//! shards, or a test harness on a virtual clock) hands it datagrams and `Instant`s and carries
//! out what it answers. See [`Server`].
//!
//! Design notes: docs/relay.md.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod allocation;
pub mod auth;
pub mod clock;
pub mod framing;
pub mod nonce;
pub mod policy;
pub mod quota;
pub mod ratelimit;
pub mod routes;
pub mod server;
pub mod wire;

pub use allocation::{AllocId, Client, Transport};
pub use auth::{AuthConfig, Credential, Mechanism};
pub use clock::Clock;
pub use policy::PeerPolicy;
pub use quota::Quotas;
pub use routes::{ChannelRoute, RouteChange};
pub use server::{ClientOutcome, Config, Event, HEADROOM, Server, TAILROOM, ToClient, Transmit};
