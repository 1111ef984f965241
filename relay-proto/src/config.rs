//! What a core is told: credentials, peer policy, lifetimes and limits. Shared read-only by
//! every core of a relay.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use stun_types::AddressFamily;

use crate::auth::AuthConfig;
use crate::auth::throttle::AuthThrottle;
use crate::bandwidth::Caps;
use crate::policy::PeerPolicy;
use crate::ports::{PortRange, Reservations};

pub use crate::address_map::AddressMap;

/// Configuration shared by every core (every shard) of a relay.
pub struct Config {
    /// Credentials.
    pub auth: AuthConfig,
    /// Where relaying is allowed.
    pub policy: PeerPolicy,
    /// What THIRD-PARTY-AUTHORIZATION says in 401 and 438 when tokens are on: `None` for the
    /// server name (RFC 7635 section 6.1, what coturn sends), or a token endpoint's URI for
    /// clients that POST their token request there (Pion's stun package). The token's AAD
    /// stays the server name either way.
    pub third_party_authorization: Option<String>,
    /// The addresses relay sockets are bound to (and advertised), one per family the relay
    /// relays.
    pub relay_ips: RelayIps,
    /// The public address clients are told for each relay address behind a 1:1 NAT
    /// (XOR-RELAYED-ADDRESS); empty when the relay is not behind one.
    pub address_map: AddressMap,
    /// The ports relay sockets bind in (RFC 8656 EVEN-PORT and RESERVATION-TOKEN pick in it).
    pub relay_ports: PortRange,
    /// Ports reserved by EVEN-PORT's R bit, shared by every core (RFC 8656 section 7.2).
    pub reservations: Reservations,
    /// The family of an Allocate without REQUESTED-ADDRESS-FAMILY.
    pub default_family: DefaultFamily,
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
    /// Replies to unauthenticated requests over UDP (Binding responses, 400, 420, 401, 438)
    /// per second per source prefix (IPv4 /32, IPv6 /64), and burst.
    pub unauth_rate: (f64, f64),
    /// Source prefixes the reply limit tracks at most (then it forgets the oldest).
    pub unauth_sources: usize,
    /// Over UDP, never answer an unauthenticated request with a larger response (dropped
    /// instead: a spoofed source then gains no amplification). Off by default: a bare
    /// Binding request (20 bytes) or a browser's first Allocate is smaller than any answer
    /// to it. A client that pads its request (PADDING, RFC 5780 section 7.6) is answered.
    pub no_amplification: bool,
    /// SOFTWARE to send in responses (RFC 8489 section 14.14); none by default, so responses
    /// do not name the implementation and version (and stay smaller).
    pub software: Option<String>,
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
    /// Most revoked tokens a core remembers (each only until its token would have expired);
    /// beyond it a revocation is dropped and counted in [`Stats`](crate::Stats).
    pub max_revoked: usize,
    /// Bandwidth caps per allocation and per user, and the users' shared buckets (the one
    /// part of a configuration its cores change: atomics, no lock per datagram).
    pub bandwidth: Caps,
    /// Failed authentications counted per (source, username) and per username; over the
    /// limit even the right password is refused until the window passes (shared by every
    /// core, like `bandwidth`).
    pub auth_throttle: AuthThrottle,
    /// Where a draining relay sends new allocations (300 Try Alternate with ALTERNATE-SERVER,
    /// RFC 8489 section 10): the first of the client's address family; none, or none of that
    /// family: 508 Insufficient Capacity.
    pub alternate_servers: Vec<SocketAddr>,
}

impl Config {
    /// Defaults around the given credentials and peer policy, relaying on `relay_ip` (add the
    /// other family's with [`RelayIps::set`]).
    pub fn new(auth: AuthConfig, policy: PeerPolicy, relay_ip: IpAddr) -> Config {
        Config {
            auth,
            policy,
            third_party_authorization: None,
            relay_ips: RelayIps::default().set(relay_ip),
            address_map: AddressMap::default(),
            relay_ports: PortRange::default(),
            reservations: Reservations::default(),
            default_family: DefaultFamily::Client,
            default_lifetime: 600,
            max_lifetime: 3600,
            permission_lifetime: Duration::from_secs(300),
            channel_lifetime: Duration::from_secs(600),
            nonce_ttl_secs: 600,
            unauth_rate: (20.0, 40.0),
            unauth_sources: 65_536,
            no_amplification: false,
            software: None,
            max_permissions: 256,
            max_queued_transmits: 4096,
            max_connections: 8192,
            stream_idle: Duration::from_secs(30),
            channel_routes: false,
            max_revoked: 1_000_000,
            bandwidth: Caps::default(),
            auth_throttle: AuthThrottle::default(),
            alternate_servers: Vec::new(),
        }
    }
}

/// The relay's addresses, at most one per family: what relay sockets bind to and what
/// XOR-RELAYED-ADDRESS says (RFC 8656 section 7.2). A family without one is not relayed
/// (440 Address Family not Supported).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RelayIps {
    /// The IPv4 relay address.
    pub v4: Option<Ipv4Addr>,
    /// The IPv6 relay address.
    pub v6: Option<Ipv6Addr>,
}

impl RelayIps {
    /// These addresses with `ip` as its family's.
    pub fn set(mut self, ip: IpAddr) -> RelayIps {
        match ip {
            IpAddr::V4(a) => self.v4 = Some(a),
            IpAddr::V6(a) => self.v6 = Some(a),
        }
        self
    }

    /// The relay address of `family`, if the relay relays it.
    pub fn of(&self, family: AddressFamily) -> Option<IpAddr> {
        match family {
            AddressFamily::IPV4 => self.v4.map(IpAddr::V4),
            AddressFamily::IPV6 => self.v6.map(IpAddr::V6),
        }
    }

    /// Every relay address, IPv4 first.
    pub fn iter(&self) -> impl Iterator<Item = IpAddr> {
        self.v4
            .map(IpAddr::V4)
            .into_iter()
            .chain(self.v6.map(IpAddr::V6))
    }
}

/// Which family an Allocate without REQUESTED-ADDRESS-FAMILY (and without
/// ADDITIONAL-ADDRESS-FAMILY) gets, when the relay relays both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DefaultFamily {
    /// The family of the client's own transport: a client that reached the relay over IPv6
    /// gets an IPv6 relayed address. Browsers never send REQUESTED-ADDRESS-FAMILY and gather a
    /// relay candidate over each family they reach the relay by, so this gives them one
    /// relayed address per family (coturn's `--allocation-default-address-family=keep`).
    #[default]
    Client,
    /// IPv4, as RFC 8656 section 7.2 says (coturn's default).
    Ipv4,
    /// IPv6.
    Ipv6,
}
