//! What a core is told: credentials, peer policy, lifetimes and limits. Shared read-only by
//! every core of a relay.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::auth::AuthConfig;
use crate::bandwidth::Caps;
use crate::policy::PeerPolicy;

/// Configuration shared by every core (every shard) of a relay.
pub struct Config {
    /// Credentials.
    pub auth: AuthConfig,
    /// Where relaying is allowed.
    pub policy: PeerPolicy,
    /// The address relay sockets are bound to (and advertised).
    pub relay_ip: IpAddr,
    /// Default allocation lifetime in seconds (RFC 8656: 600).
    pub default_lifetime: u32,
    /// Longest allocation lifetime granted in seconds (RFC 8656 suggests 3600).
    pub max_lifetime: u32,
    /// Permission lifetime (RFC 8656: 300 s).
    pub permission_lifetime: Duration,
    /// Channel lifetime (RFC 8656: 600 s).
    pub channel_lifetime: Duration,
    /// Nonce lifetime in seconds before 438.
    pub nonce_ttl_secs: u64,
    /// Unauthenticated requests per second per source IP, and burst.
    pub unauth_rate: (f64, f64),
    /// Source IPs the rate limit tracks at most (then its table starts over).
    pub unauth_sources: usize,
    /// Most permissions (and channels) one allocation may hold (508 beyond).
    pub max_permissions: usize,
    /// Most STUN messages queued for clients between two drains of
    /// [`Server::poll_output`](crate::Server::poll_output); more are dropped, as a full
    /// socket buffer would.
    pub max_queued_transmits: usize,
    /// Most stream connections one core holds; more are closed at once.
    pub max_connections: usize,
    /// How long a stream connection may stay without an allocation and without sending
    /// anything before it is closed (RFC 8656 section 3.1 suggests 30 s).
    pub stream_idle: Duration,
    /// Report channel routes ([`Output::Route`](crate::Output::Route)) for a kernel fast path.
    pub channel_routes: bool,
    /// Bandwidth caps per allocation and per user, and the users' shared buckets (the one
    /// part of a configuration its cores change: atomics, no lock per datagram).
    pub bandwidth: Caps,
    /// Where a draining relay sends new allocations (300 Try Alternate with ALTERNATE-SERVER,
    /// RFC 8489 section 10): the first of the client's address family; none, or none of that
    /// family: 508 Insufficient Capacity.
    pub alternate_servers: Vec<SocketAddr>,
}

impl Config {
    /// Defaults around the given credentials and peer policy.
    pub fn new(auth: AuthConfig, policy: PeerPolicy, relay_ip: IpAddr) -> Config {
        Config {
            auth,
            policy,
            relay_ip,
            default_lifetime: 600,
            max_lifetime: 3600,
            permission_lifetime: Duration::from_secs(300),
            channel_lifetime: Duration::from_secs(600),
            nonce_ttl_secs: 600,
            unauth_rate: (20.0, 40.0),
            unauth_sources: 65_536,
            max_permissions: 256,
            max_queued_transmits: 4096,
            max_connections: 8192,
            stream_idle: Duration::from_secs(30),
            channel_routes: false,
            bandwidth: Caps::default(),
            alternate_servers: Vec::new(),
        }
    }
}
