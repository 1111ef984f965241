//! The `relay-native` command line.

pub mod check_config;
pub mod probe;
pub mod serve;
pub mod tls_args;
pub mod token;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use ipnet::IpNet;

/// edgeturn's TURN relay.
#[derive(Parser, Debug)]
#[command(name = "relay-native", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the relay.
    Serve(ServeArgs),
    /// Check a configuration (the same flags and file as serve) without serving: read the
    /// key file, the certificate and its key; print the effective settings, secrets
    /// redacted; exit non-zero with the reason if it cannot run.
    CheckConfig(ServeArgs),
    /// Mint and open RFC 7635 tokens (the operator's turnutils_oauth).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Act as a native RFC 7635 client: get a token from a token endpoint, allocate with it,
    /// relay data to a peer and back, refresh; exit codes tell what failed.
    Probe(probe::ProbeArgs),
}

/// `serve` flags; each overrides the same setting in `--config`.
#[derive(Args, Debug, Default)]
pub struct ServeArgs {
    /// TOML configuration file (docs/relay.md lists its keys).
    #[arg(long, short = 'c')]
    pub config: Option<PathBuf>,
    /// UDP and TCP listening address, at most one per family: give it twice for dual stack,
    /// e.g. `--listen 0.0.0.0:3478 --listen [::]:3478` [default: 0.0.0.0:3478].
    #[arg(long)]
    pub listen: Vec<SocketAddr>,
    /// Address relay sockets bind to and clients are told, at most one per family (repeatable:
    /// one IPv4 and one IPv6 address relay both families) [default: each specific --listen
    /// address].
    #[arg(long)]
    pub relay_ip: Vec<IpAddr>,
    /// Public address behind a 1:1 NAT (EC2, GCE, Azure), told to clients in place of the
    /// bound one: PUBLIC (maps the --relay-ip of its family) or PUBLIC/PRIVATE (maps PRIVATE);
    /// repeatable, per family.
    #[arg(long, value_name = "PUBLIC[/PRIVATE]")]
    pub external_ip: Vec<String>,
    /// Ports relay sockets bind in; open them in the firewall [default: 49152-65535].
    #[arg(long, value_name = "MIN-MAX")]
    pub relay_ports: Option<String>,
    /// THIRD-PARTY-AUTHORIZATION's value when tokens are on: server-name (RFC 7635) or a token
    /// endpoint URI for clients that POST their token request there [default: server-name].
    #[arg(long, value_name = "server-name|URI")]
    pub third_party_authorization: Option<String>,
    /// Relayed family of an Allocate that names none (no REQUESTED-ADDRESS-FAMILY, as browsers
    /// send): the client's own family, or IPv4 as RFC 8656 says [default: client].
    #[arg(long, value_enum)]
    pub default_relay_family: Option<crate::config::FamilyChoice>,
    /// REALM.
    #[arg(long)]
    pub realm: Option<String>,
    /// TURN server name for RFC 7635 (AAD, THIRD-PARTY-AUTHORIZATION) [default: the realm].
    #[arg(long)]
    pub server_name: Option<String>,
    /// shared-token key file; or the key file's JSON in EDGETURN_KEYS.
    #[arg(long)]
    pub keys: Option<PathBuf>,
    /// A static user NAME:PASSWORD (repeatable; also EDGETURN_USERS, comma-separated).
    #[arg(
        long = "user",
        env = "EDGETURN_USERS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub users: Vec<String>,
    /// A TURN REST API shared secret (repeatable; also EDGETURN_AUTH_SECRETS, comma-separated).
    #[arg(
        long = "auth-secret",
        env = "EDGETURN_AUTH_SECRETS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub auth_secrets: Vec<String>,
    /// Allow relaying to loopback peers (refused by default).
    #[arg(long)]
    pub allow_loopback_peers: bool,
    /// Allow peers in this CIDR even if refused by default (repeatable).
    #[arg(long = "allow-peer")]
    pub allow_peers: Vec<IpNet>,
    /// Refuse peers in this CIDR (repeatable).
    #[arg(long = "deny-peer")]
    pub deny_peers: Vec<IpNet>,
    /// Most allocations in total (0: no limit).
    #[arg(long)]
    pub max_allocations: Option<usize>,
    /// Most allocations per account (0: no limit): the account a token is charged to (else
    /// the token), the REST userid, or the static user.
    #[arg(long)]
    pub max_allocations_per_user: Option<usize>,
    /// Longest allocation lifetime, seconds [default: 3600].
    #[arg(long)]
    pub max_lifetime: Option<u32>,
    /// Threads [default: one per CPU].
    #[arg(long)]
    pub shards: Option<usize>,
    /// Relay ChannelData in the kernel on this interface's traffic (repeatable; e.g. eth0,
    /// or lo for local peers). Needs root or CAP_BPF and CAP_NET_ADMIN and a specific --listen
    /// address (IPv4, IPv6 or both); everything else still goes through the sockets.
    #[arg(long = "offload", value_name = "IFACE")]
    pub offload: Vec<String>,
    /// Serve Prometheus metrics at http://ADDR:PORT/metrics, with /healthz, /readyz and (for
    /// loopback clients only) POST /drain.
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics: Option<SocketAddr>,
    /// The longest a drain (SIGUSR1 or POST /drain) waits for the last allocation to end,
    /// seconds [default: 3600].
    #[arg(long, value_name = "SECS")]
    pub drain_deadline: Option<u64>,
    /// Where a draining relay sends new allocations: 300 Try Alternate with this
    /// ALTERNATE-SERVER (repeatable, one per address family); without one, 508.
    #[arg(long = "alternate-server", value_name = "ADDR:PORT")]
    pub alternate_servers: Vec<SocketAddr>,
    /// Cap each allocation at this many payload bytes per second in each direction
    /// (token bucket; 0: no cap).
    #[arg(long, value_name = "BYTES_PER_SEC")]
    pub max_bps_per_allocation: Option<u64>,
    /// Cap each account (a token's account, else the token; the REST userid; the static
    /// user) at this many payload bytes per second in each direction over all its
    /// allocations (token bucket; 0: no cap).
    #[arg(long, value_name = "BYTES_PER_SEC")]
    pub max_bps_per_user: Option<u64>,
    /// Failed authentications per source (IPv6: per /64) and username within the window
    /// after which even the right password is refused until the window passes [default: 20;
    /// 0: no limit].
    #[arg(long, value_name = "FAILURES")]
    pub auth_failure_limit: Option<u32>,
    /// Failed authentications per username from any source within the window after which
    /// the username is refused until the window passes [default: 100; 0: no limit].
    #[arg(long, value_name = "FAILURES")]
    pub auth_failure_limit_per_user: Option<u32>,
    /// The authentication failure window and lockout, seconds [default: 300].
    #[arg(long, value_name = "SECS")]
    pub auth_failure_window: Option<u64>,
    /// Send SOFTWARE with this text in responses [default: none].
    #[arg(long, value_name = "TEXT")]
    pub software: Option<String>,
    /// Replies to unauthenticated UDP requests (Binding, 400, 420, 401, 438) per second per
    /// source prefix (IPv4 /32, IPv6 /64) [default: 20; 0: no limit].
    #[arg(long, value_name = "PER_SEC")]
    pub unauth_reply_rate: Option<f64>,
    /// The burst of those replies per source prefix [default: 40].
    #[arg(long, value_name = "REPLIES")]
    pub unauth_reply_burst: Option<f64>,
    /// Never answer an unauthenticated UDP request with a larger response (clients must pad
    /// their requests with PADDING, RFC 5780, to be answered).
    #[arg(long)]
    pub no_amplification: bool,
    /// TURN over TLS.
    #[command(flatten)]
    pub tls: tls_args::TlsArgs,
    /// The control plane: this relay as a client of the edge.
    #[command(flatten)]
    pub control: crate::control::ControlArgs,
}

/// `token` subcommands.
#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Seal a new token; prints JSON with the token, its mac_key and the browser credential.
    Mint(token::MintArgs),
    /// Open and validate a token; prints JSON with its claims.
    Open(token::OpenArgs),
}

/// Where the key file comes from.
#[derive(Args, Debug)]
pub struct KeySource {
    /// shared-token key file; or the key file's JSON in EDGETURN_KEYS.
    #[arg(long)]
    pub keys: Option<PathBuf>,
}

impl KeySource {
    /// Loads the keyring.
    pub fn load(&self) -> Result<shared_token::Keyring, String> {
        let (text, from) = match &self.keys {
            Some(p) => (
                std::fs::read_to_string(p).map_err(|e| format!("--keys {}: {e}", p.display()))?,
                p.display().to_string(),
            ),
            None => (
                std::env::var("EDGETURN_KEYS")
                    .map_err(|_| "no keys: give --keys FILE or set EDGETURN_KEYS".to_string())?,
                "EDGETURN_KEYS".to_string(),
            ),
        };
        shared_token::Keyring::from_json(&text).map_err(|e| format!("{from}: {e}"))
    }
}
