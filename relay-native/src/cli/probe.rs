//! `relay-native probe`: flags to probe::Options, the report to stdout, one line per step and
//! the failure to stderr, the failure's exit code.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::probe::ice::CredentialsUrl;
use crate::probe::token::{Endpoint, PopToken};
use crate::probe::{self, Failure, Options, TokenSource, unix_now};

/// `probe` flags.
#[derive(Args, Debug)]
#[command(after_help = probe::EXIT_CODES)]
pub struct ProbeArgs {
    /// TURN server, UDP (host:port) [default with --credentials-url: the first turn: URL the
    /// edge names].
    #[arg(long, required_unless_present = "credentials_url")]
    server: Option<String>,
    /// OAuth token endpoint, e.g. http://127.0.0.1:8787/oauth2/token.
    #[arg(
        long,
        required_unless_present_any = ["token_json", "credentials_url"],
        conflicts_with_all = ["token_json", "credentials_url"]
    )]
    token_endpoint: Option<String>,
    /// Act as a browser: get iceServers from this URL (the edge's /turn/credentials) with
    /// --bearer, and use the browser credential in them.
    #[arg(long, conflicts_with = "token_json", requires = "bearer")]
    credentials_url: Option<String>,
    /// The bearer token (scope turn) for --credentials-url.
    #[arg(long, env = "EDGETURN_BEARER", hide_env_values = true)]
    bearer: Option<String>,
    /// client_id at the token endpoint.
    #[arg(long, requires = "token_endpoint")]
    client_id: Option<String>,
    /// client_secret (client_secret_basic); omit for a public client.
    #[arg(long, env = "EDGETURN_CLIENT_SECRET", hide_env_values = true)]
    client_secret: Option<String>,
    /// Use the password grant as this user (legacy; the client must allow it).
    #[arg(long, requires = "password")]
    username: Option<String>,
    /// The user's password.
    #[arg(long, env = "EDGETURN_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// scope to ask for.
    #[arg(long, default_value = "turn")]
    scope: String,
    /// Use this token instead of a token endpoint: a JSON file with access_token, kid,
    /// key or mac_key, and expires_at or expires_in (what `token mint` prints).
    #[arg(long)]
    token_json: Option<PathBuf>,
    /// Echo peer to relay to (e.g. turnutils_peer); default: the probe's own second socket.
    #[arg(long)]
    peer: Option<SocketAddr>,
    /// Allocation lifetime to ask for, seconds.
    #[arg(long, default_value_t = 600)]
    lifetime: u32,
    /// Keep the allocation this many seconds, refreshing it, then release it.
    #[arg(long, default_value_t = 0)]
    hold: u64,
    /// Refresh this often while holding, seconds [default: half the granted lifetime].
    #[arg(long)]
    refresh_every: Option<u64>,
    /// Get a new token when the current one has this many seconds left.
    #[arg(long, default_value_t = 60)]
    renew_before: u64,
    /// ChannelData round trips to add after the first, each of --size payload bytes.
    #[arg(long, default_value_t = 0)]
    messages: u32,
    /// Payload bytes of the --messages round trips (at most 1200).
    #[arg(long, default_value_t = 100)]
    size: usize,
    /// Seconds to wait for each STUN transaction and HTTP request.
    #[arg(long, default_value_t = 5.0)]
    timeout: f64,
    /// No progress lines on stderr.
    #[arg(long, short = 'q')]
    quiet: bool,
}

/// Runs the probe; prints the report; the error carries the exit code.
pub fn run(a: &ProbeArgs) -> Result<(), Failure> {
    let opts = options(a)?;
    let quiet = a.quiet;
    let report = probe::run(&opts, &mut |line| {
        if !quiet {
            eprintln!("probe: {line}");
        }
    })?;
    println!("{report:#}");
    Ok(())
}

fn options(a: &ProbeArgs) -> Result<Options, Failure> {
    let bad = |m: String| Failure::Local(m);
    let server = match &a.server {
        Some(s) => Some(probe::resolve(s).map_err(bad)?),
        None => None,
    };
    if a.size > probe::MAX_PAYLOAD {
        return Err(bad(format!(
            "--size must be at most {}",
            probe::MAX_PAYLOAD
        )));
    }
    if !a.timeout.is_finite() || a.timeout <= 0.0 || a.timeout > 600.0 {
        return Err(bad("--timeout must be between 0 and 600 seconds".into()));
    }
    let timeout = Duration::from_secs_f64(a.timeout);
    let source = match (&a.token_endpoint, &a.token_json) {
        _ if a.credentials_url.is_some() => TokenSource::Browser(CredentialsUrl {
            url: a.credentials_url.clone().unwrap_or_default(),
            bearer: a
                .bearer
                .clone()
                .ok_or_else(|| bad("--credentials-url needs --bearer".into()))?,
            timeout,
        }),
        (Some(url), _) => TokenSource::Endpoint(Endpoint {
            url: url.clone(),
            client_id: a
                .client_id
                .clone()
                .ok_or_else(|| bad("--token-endpoint needs --client-id".into()))?,
            client_secret: a.client_secret.clone(),
            user: a.username.clone().zip(a.password.clone()),
            scope: a.scope.clone(),
            timeout,
        }),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| bad(format!("--token-json {}: {e}", path.display())))?;
            let v: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| bad(format!("--token-json {}: {e}", path.display())))?;
            TokenSource::Fixed(
                PopToken::from_json(&v, unix_now())
                    .map_err(|e| bad(format!("--token-json {}: {e}", path.display())))?,
            )
        }
        (None, None) => return Err(bad("give --token-endpoint or --token-json".into())),
    };
    Ok(Options {
        server,
        source,
        peer: a.peer,
        lifetime: a.lifetime,
        hold: Duration::from_secs(a.hold),
        refresh_every: a.refresh_every.map(|s| Duration::from_secs(s.max(1))),
        renew_before: a.renew_before,
        timeout,
        messages: a.messages,
        size: a.size,
    })
}
