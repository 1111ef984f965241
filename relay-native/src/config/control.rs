//! `[control]` in the configuration file and its flags: the control plane's settings as
//! given (the control plane checks them: [`crate::control`]).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::declare;

declare::settings! {
    /// `[control]` in the configuration file, and the flags that override its keys.
    #[derive(Clone, Debug, Default, Deserialize, Serialize, clap::Args)]
    #[serde(deny_unknown_fields)]
    #[group(skip)]
    pub struct Settings {
        /// The edge's base URL: turns the control plane on (revocations, usage, heartbeats).
        #[arg(long = "edge", value_name = "URL")]
        pub edge: Option<String> => replace,
        /// This relay's OAuth client id at the edge (a client with the `relay` scope).
        #[arg(long = "edge-client-id", value_name = "ID")]
        pub client_id: Option<String> => replace,
        /// A file holding the client secret; or the secret in EDGETURN_RELAY_CLIENT_SECRET.
        #[arg(long = "edge-client-secret-file", value_name = "FILE")]
        pub client_secret_file: Option<PathBuf> => replace,
        /// The secret from the environment (EDGETURN_RELAY_CLIENT_SECRET, read by `serve` when
        /// no secret file is given).
        #[arg(skip)]
        #[serde(skip)]
        pub client_secret: Option<String> => replace,
        /// This relay's name at the edge [default: the client id].
        #[arg(skip)]
        pub relay_id: Option<String> => replace,
        /// A region name, shown in the edge's relay list.
        #[arg(skip)]
        pub region: Option<String> => replace,
        /// Where the relay is, in degrees: the edge hands callers the nearest relays.
        #[arg(skip)]
        pub latitude: Option<f64> => replace,
        /// Where the relay is, in degrees.
        #[arg(skip)]
        pub longitude: Option<f64> => replace,
        /// The `turn:`/`turns:` URLs clients reach this relay by [default: UDP and TCP for each
        /// listening address, by the relay address of its family; `turns:` URLs name the
        /// certificate's host, so they are only listed when given here].
        #[arg(skip)]
        #[serde(default)]
        pub urls: Vec<String> => replace,
        /// Allocations this relay is sized for; load is allocations / capacity [default:
        /// max_allocations, or 10000].
        #[arg(skip)]
        pub capacity: Option<u64> => replace,
        /// Where the usage spool and the revocation list are kept.
        #[arg(long = "state-dir", value_name = "DIR")]
        pub state_dir: Option<PathBuf> => replace,
        /// Seconds between heartbeats [default: 10].
        #[arg(skip)]
        pub heartbeat_secs: Option<f64> => replace,
        /// Seconds between usage records of a long allocation [default: 300].
        #[arg(skip)]
        pub usage_secs: Option<f64> => replace,
        /// Seconds between usage uploads [default: 5].
        #[arg(skip)]
        pub report_secs: Option<f64> => replace,
        /// Longest wait of one poll of the revocation feed, seconds [default: 20].
        #[arg(skip)]
        pub feed_wait_secs: Option<u64> => replace,
        /// Most usage records kept while the edge is unreachable [default: 200000].
        #[arg(skip)]
        pub spool_max: Option<usize> => replace,
    }
}
