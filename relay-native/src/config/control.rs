//! `[control]` in the configuration file and its flags: the control plane's settings as
//! given (the control plane checks them: [`crate::control`]).

use std::path::PathBuf;

use clap::Args;
use serde::Deserialize;

/// `[control]` in the configuration file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The edge's base URL (`https://edge.example.com`); the control plane is on when set.
    pub edge: Option<String>,
    /// This relay's OAuth client id at the edge.
    pub client_id: Option<String>,
    /// A file holding the client secret (or the secret in EDGETURN_RELAY_CLIENT_SECRET).
    pub client_secret_file: Option<PathBuf>,
    /// The secret from the environment.
    #[serde(skip)]
    pub client_secret: Option<String>,
    /// This relay's name at the edge [default: the client id].
    pub relay_id: Option<String>,
    /// A region name, shown in the edge's relay list.
    pub region: Option<String>,
    /// Where the relay is, in degrees: the edge hands callers the nearest relays.
    pub latitude: Option<f64>,
    /// Where the relay is, in degrees.
    pub longitude: Option<f64>,
    /// The `turn:`/`turns:` URLs clients reach this relay by [default: UDP and TCP for each
    /// listening address, by the relay address of its family; `turns:` URLs name the
    /// certificate's host, so they are only listed when given here].
    #[serde(default)]
    pub urls: Vec<String>,
    /// Allocations this relay is sized for; load is allocations / capacity [default:
    /// max_allocations, or 10000].
    pub capacity: Option<u64>,
    /// Where the usage spool and the revocation list live (must survive restarts).
    pub state_dir: Option<PathBuf>,
    /// Seconds between heartbeats [default: 10].
    pub heartbeat_secs: Option<f64>,
    /// Seconds between usage records of a long allocation [default: 300].
    pub usage_secs: Option<f64>,
    /// Seconds between usage uploads [default: 5].
    pub report_secs: Option<f64>,
    /// Longest wait of one poll of the revocation feed, seconds [default: 20].
    pub feed_wait_secs: Option<u64>,
    /// Most usage records kept while the edge is unreachable [default: 200000].
    pub spool_max: Option<usize>,
}

/// `serve` flags for the control plane; each overrides the same key of `[control]`.
#[derive(Args, Debug, Default, Clone)]
pub struct ControlArgs {
    /// The edge's base URL: turns the control plane on (revocations, usage, heartbeats).
    #[arg(long = "edge", value_name = "URL")]
    pub edge: Option<String>,
    /// This relay's OAuth client id at the edge (a client with the `relay` scope).
    #[arg(long = "edge-client-id", value_name = "ID")]
    pub client_id: Option<String>,
    /// A file holding the client secret; or the secret in EDGETURN_RELAY_CLIENT_SECRET.
    #[arg(long = "edge-client-secret-file", value_name = "FILE")]
    pub client_secret_file: Option<PathBuf>,
    /// Where the usage spool and the revocation list are kept.
    #[arg(long = "state-dir", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

impl Settings {
    /// Overlays flags and the environment onto the file's `[control]`.
    pub fn overlay(mut self, a: &ControlArgs) -> Settings {
        macro_rules! take {
            ($($f:ident),*) => { $( if a.$f.is_some() { self.$f = a.$f.clone(); } )* };
        }
        take!(edge, client_id, client_secret_file, state_dir);
        if self.client_secret_file.is_none() {
            self.client_secret = std::env::var("EDGETURN_RELAY_CLIENT_SECRET").ok();
        }
        self
    }
}
