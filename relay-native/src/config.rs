//! `relay-native serve` configuration: a TOML file, flags and environment variables, checked
//! into the core's [`Config`] with a clear error for anything wrong.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use shared_token::rest::RestSecrets;
use shared_token::{KeyError, Keyring, RestSecret, Validation};

use relay_proto::auth::throttle::{AuthThrottle, ThrottleLimits};
use relay_proto::family::family_of;
use relay_proto::{AuthConfig, Config, DefaultFamily, PeerPolicy, Rate, RelayIps};

declare::settings! {
    /// Everything `serve` can be told, from the file or from flags (flags win; users,
    /// secrets and peer rules add up). One field per setting: its doc comment is the flag's
    /// help, `serde` says how the file gives it, `arg` how the flags do.
    #[derive(Clone, Debug, Default, Deserialize, Serialize, clap::Args)]
    #[serde(deny_unknown_fields)]
    pub struct Settings {
        /// UDP and TCP listening address, at most one per family: give it twice for dual stack,
        /// e.g. `--listen 0.0.0.0:3478 --listen [::]:3478` [default: 0.0.0.0:3478].
        #[arg(long)]
        #[serde(default, deserialize_with = "one_or_many")]
        pub listen: Vec<SocketAddr> => replace,
        /// Address relay sockets bind to and clients are told, at most one per family (repeatable:
        /// one IPv4 and one IPv6 address relay both families) [default: each specific --listen
        /// address].
        #[arg(long)]
        #[serde(default, deserialize_with = "one_or_many")]
        pub relay_ip: Vec<IpAddr> => replace,
        /// Public address behind a 1:1 NAT (EC2, GCE, Azure), told to clients in place of the
        /// bound one: PUBLIC (maps the --relay-ip of its family) or PUBLIC/PRIVATE (maps PRIVATE);
        /// repeatable, per family.
        #[arg(long, value_name = "PUBLIC[/PRIVATE]")]
        #[serde(default, deserialize_with = "one_or_many")]
        pub external_ip: Vec<String> => replace,
        /// Ports relay sockets bind in; open them in the firewall [default: 49152-65535].
        #[arg(long, value_name = "MIN-MAX")]
        pub relay_ports: Option<String> => replace,
        /// THIRD-PARTY-AUTHORIZATION's value when tokens are on: server-name (RFC 7635) or a token
        /// endpoint URI for clients that POST their token request there [default: server-name].
        #[arg(long, value_name = "server-name|URI")]
        pub third_party_authorization: Option<String> => replace,
        /// Relayed family of an Allocate that names none (no REQUESTED-ADDRESS-FAMILY, as browsers
        /// send): the client's own family, or IPv4 as RFC 8656 says [default: client].
        #[arg(long, value_enum)]
        pub default_relay_family: Option<FamilyChoice> => replace,
        /// REALM.
        #[arg(long)]
        pub realm: Option<String> => replace,
        /// TURN server name for RFC 7635 (AAD, THIRD-PARTY-AUTHORIZATION) [default: the realm].
        #[arg(long)]
        pub server_name: Option<String> => replace,
        /// shared-token key file; or the key file's JSON in EDGETURN_KEYS.
        #[arg(long)]
        pub keys: Option<PathBuf> => replace,
        /// The key file's JSON itself (from EDGETURN_KEYS, read by `serve` when no key file is
        /// given).
        #[arg(skip)]
        #[serde(skip)]
        pub keys_json: Option<String> => replace,
        /// A static user NAME:PASSWORD (repeatable; also EDGETURN_USERS, comma-separated).
        #[arg(
            long = "user",
            env = "EDGETURN_USERS",
            value_delimiter = ',',
            hide_env_values = true
        )]
        #[serde(default, skip_serializing)]
        pub users: Vec<String> => extend,
        /// A TURN REST API shared secret (repeatable; also EDGETURN_AUTH_SECRETS, comma-separated).
        #[arg(
            long = "auth-secret",
            env = "EDGETURN_AUTH_SECRETS",
            value_delimiter = ',',
            hide_env_values = true
        )]
        #[serde(default, skip_serializing)]
        pub auth_secrets: Vec<String> => extend,
        /// Allow relaying to loopback peers (refused by default).
        #[arg(long)]
        #[serde(default)]
        pub allow_loopback_peers: bool => either,
        /// Allow peers in this CIDR even if refused by default (repeatable).
        #[arg(long = "allow-peer")]
        #[serde(default)]
        pub allow_peers: Vec<IpNet> => extend,
        /// Refuse peers in this CIDR (repeatable).
        #[arg(long = "deny-peer")]
        #[serde(default)]
        pub deny_peers: Vec<IpNet> => extend,
        /// Most allocations in total (0: no limit).
        #[arg(long)]
        pub max_allocations: Option<usize> => replace,
        /// Most allocations per account (0: no limit): the account a token is charged to (else
        /// the token), the REST userid, or the static user.
        #[arg(long)]
        pub max_allocations_per_user: Option<usize> => replace,
        /// Longest allocation lifetime, seconds [default: 3600].
        #[arg(long)]
        pub max_lifetime: Option<u32> => replace,
        /// Clock skew tolerated on token times, seconds [default: 5] (file only).
        #[arg(skip)]
        pub token_clock_skew: Option<u32> => replace,
        /// Threads [default: one per CPU].
        #[arg(long)]
        pub shards: Option<usize> => replace,
        /// Relay ChannelData in the kernel on this interface's traffic (repeatable; e.g. eth0,
        /// or lo for local peers). Needs root or CAP_BPF and CAP_NET_ADMIN and a specific --listen
        /// address (IPv4, IPv6 or both); everything else still goes through the sockets.
        #[arg(long = "offload", value_name = "IFACE")]
        #[serde(default)]
        pub offload: Vec<String> => replace,
        /// Serve Prometheus metrics at http://ADDR:PORT/metrics, with /healthz, /readyz and (for
        /// loopback clients only) POST /drain.
        #[arg(long, value_name = "ADDR:PORT")]
        pub metrics: Option<SocketAddr> => replace,
        /// The longest a drain (SIGUSR1 or POST /drain) waits for the last allocation to end,
        /// seconds [default: 3600].
        #[arg(long, value_name = "SECS")]
        pub drain_deadline: Option<u64> => replace,
        /// Where a draining relay sends new allocations: 300 Try Alternate with this
        /// ALTERNATE-SERVER (repeatable, one per address family); without one, 508.
        #[arg(long = "alternate-server", value_name = "ADDR:PORT")]
        #[serde(default)]
        pub alternate_servers: Vec<SocketAddr> => replace,
        /// Cap each allocation at this many payload bytes per second in each direction
        /// (token bucket; 0: no cap).
        #[arg(long, value_name = "BYTES_PER_SEC")]
        pub max_bps_per_allocation: Option<u64> => replace,
        /// Cap each account (a token's account, else the token; the REST userid; the static
        /// user) at this many payload bytes per second in each direction over all its
        /// allocations (token bucket; 0: no cap).
        #[arg(long, value_name = "BYTES_PER_SEC")]
        pub max_bps_per_user: Option<u64> => replace,
        /// Failed authentications per source (IPv6: per /64) and username within the window
        /// after which even the right password is refused until the window passes [default: 20;
        /// 0: no limit].
        #[arg(long, value_name = "FAILURES")]
        pub auth_failure_limit: Option<u32> => replace,
        /// Failed authentications per username from any source within the window after which
        /// the username is refused until the window passes [default: 100; 0: no limit].
        #[arg(long, value_name = "FAILURES")]
        pub auth_failure_limit_per_user: Option<u32> => replace,
        /// The authentication failure window and lockout, seconds [default: 300].
        #[arg(long, value_name = "SECS")]
        pub auth_failure_window: Option<u64> => replace,
        /// Send SOFTWARE with this text in responses [default: none].
        #[arg(long, value_name = "TEXT")]
        pub software: Option<String> => replace,
        /// Replies to unauthenticated UDP requests (Binding, 400, 420, 401, 438) per second per
        /// source prefix (IPv4 /32, IPv6 /64) [default: 20; 0: no limit].
        #[arg(long, value_name = "PER_SEC")]
        pub unauth_reply_rate: Option<f64> => replace,
        /// The burst of those replies per source prefix [default: 40].
        #[arg(long, value_name = "REPLIES")]
        pub unauth_reply_burst: Option<f64> => replace,
        /// Never answer an unauthenticated UDP request with a larger response (clients must pad
        /// their requests with PADDING, RFC 5780, to be answered).
        #[arg(long)]
        #[serde(default)]
        pub no_amplification: bool => either,
        /// Serve TURN over TLS on this address (repeatable; e.g. 0.0.0.0:443 and 0.0.0.0:5349).
        #[arg(long = "tls-listen", value_name = "ADDR")]
        #[serde(default)]
        pub tls_listen: Vec<SocketAddr> => replace,
        /// PEM certificate chain, leaf first (reloaded on SIGHUP and when the file changes).
        #[arg(long, value_name = "FILE")]
        pub tls_cert: Option<PathBuf> => replace,
        /// PEM private key of the certificate (PKCS#8, PKCS#1 or SEC1).
        #[arg(long, value_name = "FILE")]
        pub tls_key: Option<PathBuf> => replace,
        /// Unfinished TLS handshakes per shard; one more evicts the oldest [default: 256].
        #[arg(long, value_name = "N")]
        pub tls_handshake_limit: Option<usize> => replace,
        /// Unfinished TLS handshakes per source address (IPv6: per /64) and shard; more are
        /// closed at once [default: 16].
        #[arg(long, value_name = "N")]
        pub tls_handshake_limit_per_ip: Option<usize> => replace,
        /// Seconds a TLS handshake may take [default: 10].
        #[arg(long, value_name = "SECS")]
        pub tls_handshake_timeout: Option<u64> => replace,
        /// Seconds between checks of the certificate files for a change; 0: only on SIGHUP
        /// [default: 10].
        #[arg(long, value_name = "SECS")]
        pub tls_reload_interval: Option<u64> => replace,
        /// The control plane (`[control]` in the file): this relay as a client of the edge.
        #[command(flatten)]
        #[serde(default)]
        pub control: control::Settings => nested,
    }
}

pub mod control;
pub mod declare;
mod nat;
mod tls;

pub use nat::advertised;
pub use tls::TlsChecked;

/// The checked settings of the driver and the operator side (the core's are in [`Config`]):
/// plain values that `serve` hands on.
pub struct Checked {
    /// UDP and TCP listening addresses, at most one per family.
    pub listen: Vec<SocketAddr>,
    /// Number of shards (threads); at least 1.
    pub shards: usize,
    /// Interfaces for the kernel fast path of ChannelData (none: sockets only).
    pub offload: Vec<String>,
    /// Most allocations in total (0: no limit).
    pub max_allocations: usize,
    /// Most allocations per account (0: no limit).
    pub max_allocations_per_user: usize,
    /// TLS listeners (none: no TURN over TLS).
    pub tls: Option<TlsChecked>,
    /// Where to serve /metrics, /healthz, /readyz and /drain (none: not served).
    pub metrics: Option<SocketAddr>,
    /// The longest a drain waits for the last allocation to end.
    pub drain_deadline: Duration,
}

/// A configuration that cannot run.
#[derive(Debug)]
pub enum ConfigError {
    /// The configuration file cannot be read.
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The configuration file is not TOML with these keys.
    ParseFile {
        /// The file.
        path: PathBuf,
        /// Why.
        error: Box<toml::de::Error>,
    },
    /// Listening on an unspecified address of this family, and no `--relay-ip` of it to tell
    /// clients.
    RelayIpRequired(&'static str),
    /// `auth_failure_window` is 0.
    AuthFailureWindow,
    /// `software` is too long for SOFTWARE (fewer than 128 characters).
    Software,
    /// `unauth_reply_rate` or `unauth_reply_burst` out of range.
    ReplyRate,
    /// `--relay-ip` is an unspecified address.
    RelayIpUnspecified,
    /// Two `--listen` addresses of one family.
    ListenTwice(&'static str),
    /// Two `--relay-ip` addresses of one family.
    RelayIpTwice(&'static str),
    /// The realm is empty or longer than STUN allows.
    Realm,
    /// The key file cannot be read.
    ReadKeys {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The key file (`--keys PATH` or `EDGETURN_KEYS`) is not a valid key set.
    Keys {
        /// Where it came from.
        from: String,
        /// Why.
        error: KeyError,
    },
    /// A static user is not `NAME:PASSWORD`.
    User,
    /// No credential mechanism at all: the relay never runs open.
    NoCredentials,
    /// `--max-lifetime` below 60 seconds.
    MaxLifetime,
    /// `--offload` without a specific listen address.
    OffloadListen,
    /// The TLS settings are incomplete or out of range.
    Tls(&'static str),
    /// The TLS certificate or key cannot be used.
    Cert(crate::certs::CertError),
    /// `--alternate-server` names this relay itself, or is unspecified.
    AlternateServer,
    /// An `--external-ip` that is not an address, or whose private part the relay lacks.
    ExternalIp(String),
    /// `--relay-ports` is not a range of 1-65535, or holds a listening port.
    RelayPorts(String),
    /// `--third-party-authorization` is neither `server-name` nor an http(s) URI.
    ThirdParty,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::ReadFile { path, error } => write!(f, "{}: {error}", path.display()),
            ConfigError::ParseFile { path, error } => write!(f, "{}: {error}", path.display()),
            ConfigError::RelayIpRequired(family) => write!(
                f,
                "an {family} --relay-ip is required when listening on an unspecified {family} address"
            ),
            ConfigError::RelayIpUnspecified => f.write_str(
                "--relay-ip must be an address clients can reach, not unspecified",
            ),
            ConfigError::ListenTwice(family) => write!(
                f,
                "--listen takes one {family} address (replies leave from the address a client sent to; one per family says which)"
            ),
            ConfigError::RelayIpTwice(family) => {
                write!(f, "--relay-ip takes one {family} address")
            }
            ConfigError::Realm => f.write_str("--realm must be 1 to 127 bytes"),
            ConfigError::ReadKeys { path, error } => {
                write!(f, "--keys {}: {error}", path.display())
            }
            ConfigError::Keys { from, error } => write!(f, "{from}: {error}"),
            ConfigError::User => f.write_str("--user must be NAME:PASSWORD"),
            ConfigError::NoCredentials => f.write_str(
                "no credentials configured: give --keys, --auth-secret or --user (this relay never runs open)",
            ),
            ConfigError::MaxLifetime => {
                f.write_str("--max-lifetime must be at least 60 seconds")
            }
            ConfigError::OffloadListen => f.write_str(
                "--offload needs --listen with a specific address clients reach (not 0.0.0.0 or [::]; a family listening on one stays on the sockets)",
            ),
            ConfigError::AlternateServer => f.write_str(
                "--alternate-server must be another relay's address, not this one's and not unspecified",
            ),
            ConfigError::ExternalIp(why) | ConfigError::RelayPorts(why) => f.write_str(why),
            ConfigError::ThirdParty => f.write_str(
                "--third-party-authorization must be server-name or an https:// (or http://) URI of at most 255 bytes",
            ),
            ConfigError::Tls(what) => f.write_str(what),
            ConfigError::Software => f.write_str("software must be fewer than 128 characters"),
            ConfigError::ReplyRate => f.write_str(
                "unauth_reply_rate must be 0 or more and unauth_reply_burst at least 1",
            ),
            ConfigError::AuthFailureWindow => {
                f.write_str("auth_failure_window must be at least 1 second")
            }
            ConfigError::Cert(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Settings {
    /// Reads a TOML file.
    pub fn from_file(path: &Path) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::ReadFile {
            path: path.to_path_buf(),
            error,
        })?;
        toml::from_str(&text).map_err(|error| ConfigError::ParseFile {
            path: path.to_path_buf(),
            error: Box::new(error),
        })
    }

    /// Checks and builds the core's configuration and the rest of the checked settings.
    pub fn build(self) -> Result<(Arc<Config>, Checked), ConfigError> {
        let listen = if self.listen.is_empty() {
            vec![SocketAddr::from(([0, 0, 0, 0], 3478))]
        } else {
            self.listen.clone()
        };
        let tls = self.tls(&listen)?;
        let relay_ips = relay_ips(&listen, &self.relay_ip)?;
        let realm = self
            .realm
            .or_else(|| self.server_name.clone())
            .unwrap_or_else(|| "edgeturn".into());
        let server_name = self.server_name.unwrap_or_else(|| realm.clone());
        if realm.is_empty() || realm.len() > 127 {
            return Err(ConfigError::Realm);
        }
        let keyring = match (self.keys, self.keys_json) {
            (Some(path), _) => {
                let text =
                    std::fs::read_to_string(&path).map_err(|error| ConfigError::ReadKeys {
                        path: path.clone(),
                        error,
                    })?;
                Some(
                    Keyring::from_json(&text).map_err(|error| ConfigError::Keys {
                        from: format!("--keys {}", path.display()),
                        error,
                    })?,
                )
            }
            (None, Some(json)) => {
                Some(
                    Keyring::from_json(&json).map_err(|error| ConfigError::Keys {
                        from: "EDGETURN_KEYS".into(),
                        error,
                    })?,
                )
            }
            (None, None) => None,
        };
        let mut auth = AuthConfig {
            realm,
            server_name,
            keyring,
            validation: Validation {
                clock_skew_secs: self.token_clock_skew.unwrap_or(5),
                ..Validation::default()
            },
            rest: RestSecrets::new(
                self.auth_secrets
                    .iter()
                    .filter(|s| !s.is_empty())
                    .map(|s| RestSecret::new(s.as_bytes()))
                    .collect(),
            ),
            users: Default::default(),
        };
        for u in &self.users {
            let Some((name, pass)) = u
                .split_once(':')
                .filter(|(n, p)| !n.is_empty() && !p.is_empty())
            else {
                return Err(ConfigError::User);
            };
            auth.add_user(name, pass);
        }
        if auth.keyring.is_none() && auth.rest.is_empty() && auth.users.is_empty() {
            return Err(ConfigError::NoCredentials);
        }
        let address_map = nat::address_map(&self.external_ip, &relay_ips, &listen)?;
        let mut listeners: Vec<(&str, SocketAddr)> =
            listen.iter().map(|l| ("listen", *l)).collect();
        listeners.extend(self.tls_listen.iter().map(|l| ("TLS", *l)));
        listeners.extend(self.metrics.iter().map(|m| ("metrics", *m)));
        let relay_ports = nat::relay_ports(self.relay_ports.as_deref(), &listeners)?;
        let third_party = match self.third_party_authorization.as_deref() {
            None | Some("server-name") => None,
            Some(uri)
                if (uri.starts_with("https://") || uri.starts_with("http://"))
                    && uri.len() <= 255 =>
            {
                Some(uri.to_string())
            }
            Some(_) => return Err(ConfigError::ThirdParty),
        };
        // Own addresses, private and public, are refused as peers except at a relay port:
        // there another allocation of this relay listens (docs/relay.md, peer policy).
        let own = relay_ips
            .iter()
            .chain(listen.iter().map(|l| l.ip()))
            .chain(address_map.pairs().flat_map(|(p, q)| [p, q]))
            .collect();
        let mut policy = PeerPolicy::new(self.allow_peers, self.deny_peers, own);
        if self.allow_loopback_peers {
            policy.allow_loopback();
        }
        policy.allow_own_relay_ports(relay_ports);
        let mut cfg = Config::new(
            auth,
            policy,
            relay_ips
                .iter()
                .next()
                .ok_or(ConfigError::RelayIpRequired("IPv4"))?,
        );
        cfg.relay_ips = relay_ips;
        cfg.address_map = address_map;
        cfg.relay_ports = relay_ports;
        cfg.third_party_authorization = third_party;
        cfg.default_family = self.default_relay_family.unwrap_or_default().into();
        if let Some(m) = self.max_lifetime {
            if m < 60 {
                return Err(ConfigError::MaxLifetime);
            }
            cfg.max_lifetime = m;
            cfg.default_lifetime = cfg.default_lifetime.min(m);
        }
        if !self.offload.is_empty() {
            // The fast path rewrites replies from a specific listen address; a family
            // listening on an unspecified address stays on the sockets.
            if listen.iter().all(|l| l.ip().is_unspecified()) {
                return Err(ConfigError::OffloadListen);
            }
            cfg.channel_routes = true;
        }
        cfg.bandwidth.per_allocation = self.max_bps_per_allocation.and_then(Rate::new);
        cfg.bandwidth.per_user = self.max_bps_per_user.and_then(Rate::new);
        cfg.software = self.software.filter(|s| !s.is_empty());
        if cfg
            .software
            .as_deref()
            .is_some_and(|s| stun_types::attribute::Software::new(s).is_err())
        {
            return Err(ConfigError::Software);
        }
        let (rate, burst) = cfg.unauth_rate;
        let rate = self.unauth_reply_rate.unwrap_or(rate);
        let burst = self.unauth_reply_burst.unwrap_or(burst);
        if !(rate.is_finite() && rate >= 0.0 && burst.is_finite() && burst >= 1.0) {
            return Err(ConfigError::ReplyRate);
        }
        cfg.unauth_rate = (rate, burst);
        cfg.no_amplification = self.no_amplification;
        let throttle = ThrottleLimits::default();
        let window = self
            .auth_failure_window
            .map_or(throttle.window, Duration::from_secs);
        if window.is_zero() {
            return Err(ConfigError::AuthFailureWindow);
        }
        cfg.auth_throttle = AuthThrottle::new(ThrottleLimits {
            per_source: self.auth_failure_limit.unwrap_or(throttle.per_source),
            per_user: self
                .auth_failure_limit_per_user
                .unwrap_or(throttle.per_user),
            window,
            ..throttle
        });
        let is_own = |a: &SocketAddr| {
            listen.iter().any(|l| {
                a == l
                    || cfg
                        .relay_ips
                        .iter()
                        .any(|ip| *a == SocketAddr::new(ip, l.port()))
            })
        };
        if self
            .alternate_servers
            .iter()
            .any(|a| a.ip().is_unspecified() || is_own(a))
        {
            return Err(ConfigError::AlternateServer);
        }
        cfg.alternate_servers = self.alternate_servers;
        let shards = match self.shards {
            Some(n) if n > 0 => n,
            _ => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
        };
        Ok((
            Arc::new(cfg),
            Checked {
                listen,
                shards: shards.max(1),
                offload: self.offload,
                max_allocations: self.max_allocations.unwrap_or(0),
                max_allocations_per_user: self.max_allocations_per_user.unwrap_or(0),
                tls,
                metrics: self.metrics,
                drain_deadline: Duration::from_secs(self.drain_deadline.unwrap_or(3600)),
            },
        ))
    }
}

/// The relay address of each family: the `--relay-ip` of that family, or the specific
/// `--listen` address of it. At most one listen address and one relay address per family.
fn relay_ips(listen: &[SocketAddr], given: &[IpAddr]) -> Result<RelayIps, ConfigError> {
    let name = |ip: &IpAddr| if ip.is_ipv4() { "IPv4" } else { "IPv6" };
    let mut ips = RelayIps::default();
    for ip in given {
        if ip.is_unspecified() {
            return Err(ConfigError::RelayIpUnspecified);
        }
        if ips.of(family_of(*ip)).is_some() {
            return Err(ConfigError::RelayIpTwice(name(ip)));
        }
        ips = ips.set(*ip);
    }
    for (n, l) in listen.iter().enumerate() {
        let ip = l.ip();
        if listen.iter().take(n).any(|o| o.is_ipv4() == l.is_ipv4()) {
            return Err(ConfigError::ListenTwice(name(&ip)));
        }
        if ips.of(family_of(ip)).is_none() {
            if ip.is_unspecified() {
                return Err(ConfigError::RelayIpRequired(name(&ip)));
            }
            ips = ips.set(ip);
        }
    }
    Ok(ips)
}

/// `default_relay_family` as written in the file or on the command line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum FamilyChoice {
    /// The family the client reached the relay by.
    #[default]
    Client,
    /// IPv4 (RFC 8656 section 7.2).
    Ipv4,
    /// IPv6.
    Ipv6,
}

impl From<FamilyChoice> for DefaultFamily {
    fn from(c: FamilyChoice) -> DefaultFamily {
        match c {
            FamilyChoice::Client => DefaultFamily::Client,
            FamilyChoice::Ipv4 => DefaultFamily::Ipv4,
            FamilyChoice::Ipv6 => DefaultFamily::Ipv6,
        }
    }
}

/// A TOML value that is one `T` or a list of them.
fn one_or_many<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany<T> {
        One(T),
        Many(Vec<T>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(t) => vec![t],
        OneOrMany::Many(v) => v,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(toml: &str) -> Result<(Arc<Config>, Checked), ConfigError> {
        let s: Settings = toml::from_str(&format!("users = [\"a:b\"]\n{toml}")).unwrap();
        s.build()
    }

    fn error(toml: &str) -> String {
        match build(toml) {
            Ok(_) => panic!("{toml} should be refused"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn one_listener_per_family_and_a_relay_address_for_each() {
        let (core, driver) =
            build("listen = [\"192.0.2.1:3478\", \"[2001:db8::1]:3478\"]").unwrap();
        assert_eq!(driver.listen.len(), 2);
        assert_eq!(
            core.relay_ips.iter().collect::<Vec<_>>(),
            [
                "192.0.2.1".parse::<IpAddr>().unwrap(),
                "2001:db8::1".parse().unwrap()
            ]
        );
        // A listen address is a string or a list; relay_ip too.
        let (core, _) =
            build("listen = \"0.0.0.0:3478\"\nrelay_ip = [\"203.0.113.10\", \"2001:db8::10\"]")
                .unwrap();
        assert_eq!(core.relay_ips.v6, Some("2001:db8::10".parse().unwrap()));
        assert_eq!(core.default_family, DefaultFamily::Client);
        let (core, _) =
            build("listen = \"192.0.2.1:3478\"\ndefault_relay_family = \"ipv4\"").unwrap();
        assert_eq!(core.default_family, DefaultFamily::Ipv4);
        assert_eq!(
            core.relay_ips.v6, None,
            "no IPv6 relay address, no IPv6 relaying"
        );
    }

    #[test]
    fn flags_win_over_the_file_and_users_secrets_and_peer_rules_add_up() {
        use clap::Parser;
        use declare::Overlay;
        #[derive(Parser)]
        struct Flags {
            #[command(flatten)]
            s: Settings,
        }
        let file: Settings = toml::from_str(
            "listen = \"192.0.2.1:3478\"\nrealm = \"file\"\nusers = [\"a:b\"]\nallow_loopback_peers = true\n[control]\nedge = \"https://e.example\"\nregion = \"eu\"",
        )
        .unwrap();
        let flags = Flags::try_parse_from([
            "serve",
            "--listen",
            "192.0.2.2:3478",
            "--user",
            "c:d",
            "--no-amplification",
            "--edge",
            "https://f.example",
        ])
        .unwrap()
        .s;
        let s = file.overlay(flags);
        assert_eq!(s.listen, ["192.0.2.2:3478".parse::<SocketAddr>().unwrap()]);
        assert_eq!(
            s.realm.as_deref(),
            Some("file"),
            "a flag not given keeps the file's"
        );
        assert_eq!(s.users, ["a:b", "c:d"], "users add up");
        assert!(s.allow_loopback_peers && s.no_amplification);
        assert_eq!(s.control.edge.as_deref(), Some("https://f.example"));
        assert_eq!(s.control.region.as_deref(), Some("eu"));
    }

    #[test]
    fn family_rules_are_clear_errors() {
        assert!(
            error("listen = [\"192.0.2.1:3478\", \"192.0.2.2:3478\"]")
                .contains("--listen takes one IPv4 address")
        );
        assert!(
            error("listen = \"192.0.2.1:3478\"\nrelay_ip = [\"2001:db8::1\", \"2001:db8::2\"]")
                .contains("--relay-ip takes one IPv6 address")
        );
        assert!(
            error("listen = [\"192.0.2.1:3478\", \"[::]:3478\"]")
                .contains("an IPv6 --relay-ip is required")
        );
        assert!(error("listen = \"[::]:3478\"\nrelay_ip = \"::\"").contains("not unspecified"));
        assert!(
            error("listen = [\"0.0.0.0:3478\", \"[::]:3478\"]\nrelay_ip = [\"192.0.2.1\", \"2001:db8::1\"]\noffload = [\"lo\"]")
                .contains("--offload needs --listen with a specific address")
        );
    }

    #[test]
    fn the_relays_own_addresses_of_both_families_are_refused_peers() {
        let (core, _) = build(
            "listen = [\"192.0.2.1:3478\", \"[2606:4700::5]:3478\"]\nrelay_ip = [\"8.8.4.4\", \"2606:4700::6\"]",
        )
        .unwrap();
        for own in [
            "8.8.4.4",
            "2606:4700::5",
            "2606:4700::6",
            "64:ff9b::8.8.4.4",
        ] {
            assert!(!core.policy.permits(own.parse().unwrap()), "{own}");
        }
        assert!(core.policy.permits("2606:4700::7".parse().unwrap()));
    }
}
