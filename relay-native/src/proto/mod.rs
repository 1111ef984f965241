//! The sans-IO protocol core: no sockets, no clock. See [`server::Server`].

pub mod allocation;
pub mod auth;
pub mod clock;
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
