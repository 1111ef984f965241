//! `relay-native serve` configuration: a TOML file, flags and environment variables, checked
//! into the core's [`Config`] with a clear error for anything wrong.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;
use shared_token::rest::RestSecrets;
use shared_token::{KeyError, Keyring, RestSecret, Validation};

use crate::driver::{DriverConfig, Handle, SharedQuota};
use relay_proto::{AuthConfig, Config, PeerPolicy, Rate};

/// Everything `serve` can be told, from the file or from flags (flags win).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// UDP and TCP listening address, e.g. `0.0.0.0:3478`.
    pub listen: Option<SocketAddr>,
    /// The address relay sockets bind to and clients are told (XOR-RELAYED-ADDRESS).
    pub relay_ip: Option<IpAddr>,
    /// REALM.
    pub realm: Option<String>,
    /// The TURN server name (RFC 7635 AAD, THIRD-PARTY-AUTHORIZATION). Defaults to the realm.
    pub server_name: Option<String>,
    /// shared-token key file (enables RFC 7635 and browser tokens).
    pub keys: Option<PathBuf>,
    /// The key file's JSON itself (from EDGETURN_KEYS).
    #[serde(skip)]
    pub keys_json: Option<String>,
    /// Static users, `name:password`.
    #[serde(default)]
    pub users: Vec<String>,
    /// TURN REST API shared secrets; the first mints, all verify.
    #[serde(default)]
    pub auth_secrets: Vec<String>,
    /// Allow relaying to loopback peers (tests, local runs).
    #[serde(default)]
    pub allow_loopback_peers: bool,
    /// CIDRs peers may be in even if the defaults refuse them.
    #[serde(default)]
    pub allow_peers: Vec<IpNet>,
    /// CIDRs peers may never be in.
    #[serde(default)]
    pub deny_peers: Vec<IpNet>,
    /// Most allocations in total (0: no limit).
    pub max_allocations: Option<usize>,
    /// Most allocations per user (0: no limit).
    pub max_allocations_per_user: Option<usize>,
    /// Longest allocation lifetime in seconds.
    pub max_lifetime: Option<u32>,
    /// Clock skew tolerated on token times, seconds.
    pub token_clock_skew: Option<u32>,
    /// Shards (threads); default: one per CPU.
    pub shards: Option<usize>,
    /// Interfaces for the kernel fast path of ChannelData (needs root or CAP_BPF and
    /// CAP_NET_ADMIN, and a specific IPv4 `listen` address).
    #[serde(default)]
    pub offload: Vec<String>,
    /// Where to serve Prometheus metrics (`/metrics`), `/healthz`, `/readyz` and, for
    /// loopback clients, `POST /drain`.
    pub metrics: Option<SocketAddr>,
    /// The longest a drain (SIGUSR1 or `POST /drain`) waits for the last allocation to end,
    /// in seconds [default: 3600].
    pub drain_deadline: Option<u64>,
    /// Where a draining relay sends new allocations (300 Try Alternate), one per family.
    #[serde(default)]
    pub alternate_servers: Vec<SocketAddr>,
    /// Payload bytes per second each allocation may relay each way (0: no cap).
    pub max_bps_per_allocation: Option<u64>,
    /// Payload bytes per second each user may relay each way over all their allocations
    /// (0: no cap).
    pub max_bps_per_user: Option<u64>,
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
    /// Listening on an unspecified address, and no `--relay-ip` to tell clients.
    RelayIpRequired,
    /// `--relay-ip` is an unspecified address.
    RelayIpUnspecified,
    /// `--relay-ip` and `--listen` are of different families.
    FamilyMismatch,
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
    /// `--offload` without a specific IPv4 listen address.
    OffloadListen,
    /// `--alternate-server` names this relay itself, or is unspecified.
    AlternateServer,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::ReadFile { path, error } => write!(f, "{}: {error}", path.display()),
            ConfigError::ParseFile { path, error } => write!(f, "{}: {error}", path.display()),
            ConfigError::RelayIpRequired => f.write_str(
                "--relay-ip is required when listening on an unspecified address",
            ),
            ConfigError::RelayIpUnspecified => f.write_str(
                "--relay-ip must be an address clients can reach, not unspecified",
            ),
            ConfigError::FamilyMismatch => {
                f.write_str("--relay-ip and --listen must be the same address family")
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
                "--offload needs --listen with the specific IPv4 address clients reach (not 0.0.0.0, not IPv6)",
            ),
            ConfigError::AlternateServer => f.write_str(
                "--alternate-server must be another relay's address, not this one's and not unspecified",
            ),
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

    /// Overlays `other`'s set values onto these.
    pub fn overlay(mut self, o: Settings) -> Settings {
        macro_rules! take {
            ($($f:ident),*) => { $( if o.$f.is_some() { self.$f = o.$f; } )* };
        }
        take!(
            listen,
            relay_ip,
            realm,
            server_name,
            keys,
            keys_json,
            max_allocations,
            max_allocations_per_user,
            max_lifetime,
            token_clock_skew,
            shards,
            metrics,
            drain_deadline,
            max_bps_per_allocation,
            max_bps_per_user
        );
        if !o.alternate_servers.is_empty() {
            self.alternate_servers = o.alternate_servers;
        }
        self.users.extend(o.users);
        self.auth_secrets.extend(o.auth_secrets);
        self.allow_loopback_peers |= o.allow_loopback_peers;
        self.allow_peers.extend(o.allow_peers);
        self.deny_peers.extend(o.deny_peers);
        if !o.offload.is_empty() {
            self.offload = o.offload;
        }
        self
    }

    /// Checks and builds the core and driver configuration.
    pub fn build(self) -> Result<(Arc<Config>, DriverConfig), ConfigError> {
        let listen = self
            .listen
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 3478)));
        let relay_ip = match self.relay_ip {
            Some(ip) => ip,
            None if !listen.ip().is_unspecified() => listen.ip(),
            None => return Err(ConfigError::RelayIpRequired),
        };
        if relay_ip.is_unspecified() {
            return Err(ConfigError::RelayIpUnspecified);
        }
        if relay_ip.is_ipv4() != listen.is_ipv4() {
            return Err(ConfigError::FamilyMismatch);
        }
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
        let mut policy = PeerPolicy::new(
            self.allow_peers,
            self.deny_peers,
            vec![relay_ip, listen.ip()],
        );
        if self.allow_loopback_peers {
            policy.allow_loopback();
        }
        let mut cfg = Config::new(auth, policy, relay_ip);
        if let Some(m) = self.max_lifetime {
            if m < 60 {
                return Err(ConfigError::MaxLifetime);
            }
            cfg.max_lifetime = m;
            cfg.default_lifetime = cfg.default_lifetime.min(m);
        }
        if !self.offload.is_empty() {
            if !listen.is_ipv4() || listen.ip().is_unspecified() {
                return Err(ConfigError::OffloadListen);
            }
            cfg.channel_routes = true;
        }
        cfg.bandwidth.per_allocation = self.max_bps_per_allocation.and_then(Rate::new);
        cfg.bandwidth.per_user = self.max_bps_per_user.and_then(Rate::new);
        if self.alternate_servers.iter().any(|a| {
            a.ip().is_unspecified()
                || *a == listen
                || *a == SocketAddr::new(relay_ip, listen.port())
        }) {
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
            DriverConfig {
                listen,
                shards: shards.max(1),
                offload: self.offload,
                quota: SharedQuota::new(
                    self.max_allocations.unwrap_or(0),
                    self.max_allocations_per_user.unwrap_or(0),
                ),
                handle: Handle::new(),
                metrics: self.metrics,
                drain_deadline: Duration::from_secs(self.drain_deadline.unwrap_or(3600)),
            },
        ))
    }
}
