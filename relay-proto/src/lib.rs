//! # relay-proto
//!
//! The protocol core of edgeturn's TURN relay (RFC 8656 over STUN, RFC 8489; RFC 7635 tokens):
//! a state machine with no sockets, no clock and no runtime. A driver (relay-native's tokio
//! shards, a test harness on a virtual clock, a fuzzer) hands it inputs with the time and
//! carries out its outputs, in the shape of quinn-proto and str0m:
//!
//! - [`Server::handle_input`] takes an [`Input`] (a client's datagram or stream frame, a peer's
//!   datagram on a relay socket, a bound relay socket, a closed connection, a reached
//!   deadline, a drain, a kernel fast path's traffic) and returns the relayed datagram, if any, as a [`Forward`] borrowing the
//!   caller's buffer;
//! - [`Server::poll_output`] then yields every [`Output`] in the order it must be carried out
//!   (responses, relay sockets to bind and release, kernel routes, events to log);
//! - [`Server::poll_timeout`] says when to hand in [`Input::Timeout`].
//!
//! ```
//! use std::net::SocketAddr;
//! use std::sync::Arc;
//! use std::time::Instant;
//!
//! use relay_proto::{AuthConfig, Client, Clock, Config, Input, NonceSecret, Output, PeerPolicy,
//!     QuotaCounts, Seeds, Server, Transport};
//! use stun_types::message::{BINDING, Message, MessageWriteVec, MessageWrite};
//!
//! let mut auth = AuthConfig { realm: "example.org".into(), ..AuthConfig::default() };
//! auth.add_user("alice", "secret");
//! let relay_ip = "203.0.113.1".parse().unwrap();
//! let cfg = Config::new(auth, PeerPolicy::new(vec![], vec![], vec![relay_ip]), relay_ip);
//! let now = Instant::now();
//! let seeds = Seeds { nonce_secret: NonceSecret::new([7; 32]), txid_seed: 11 };
//! let mut core = Server::new(Arc::new(cfg), Box::new(QuotaCounts::new(0, 0)), seeds,
//!     Clock::new(now, 1_800_000_000));
//!
//! // A Binding request from a client...
//! let request = Message::builder_request(BINDING, MessageWriteVec::new()).finish();
//! let client = Client { transport: Transport::Udp, addr: "198.51.100.7:5000".parse().unwrap() };
//! let forward = core.handle_input(now, Input::FromClient { client, data: &request });
//! assert!(forward.is_none(), "nothing to relay");
//! // ...is answered through the queue, which the driver drains after every input.
//! let Some(Output::Transmit(reply)) = core.poll_output() else { panic!("a response") };
//! assert_eq!(reply.to, client);
//! assert!(core.poll_output().is_none());
//! assert_eq!(core.poll_timeout(), None, "no allocation, no deadline");
//! ```
//!
//! Why it is built this way, and why it needs `std` (its time type is `std::time::Instant`,
//! which drivers and tests share; `no_std` would need a time type of its own): docs/relay.md.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod address_map;
mod alloc_id;
pub mod allocation;
pub mod auth;
pub mod bandwidth;
pub mod bounded;
pub mod clock;
pub mod config;
pub mod error;
pub mod family;
pub mod framing;
pub mod input;
pub mod nonce;
pub mod output;
pub mod policy;
pub mod ports;
pub mod quota;
mod ratelimit;
pub mod revocation;
pub mod routes;
pub mod server;
mod timers;
pub mod traffic;
pub mod wire;

pub use allocation::{AllocId, Client, RelaySlot, Relays, Transport};
pub use auth::{Account, AuthConfig, AuthFailure, Credential, Mechanism};
pub use bandwidth::{Cap, Caps, Direction, Rate};
pub use clock::Clock;
pub use config::{Config, DefaultFamily, RelayIps};
pub use error::TurnError;
pub use input::{BindFailed, Input};
pub use nonce::NonceSecret;
pub use output::{AllocationInfo, CloseReason, EndReason, Event, Forward, Output, Transmit};
pub use policy::PeerPolicy;
pub use ports::{PortRange, PortRequest, ReservationToken, Reservations};
pub use quota::{Quota, QuotaCounts, QuotaExceeded};
pub use revocation::RevokedToken;
pub use routes::{ChannelRoute, RouteChange};
pub use server::{Footprint, HEADROOM, Seeds, Server, Stats, TAILROOM};
pub use traffic::{Counters, Traffic};
