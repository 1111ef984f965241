//! `relay-native probe`: flags to probe::Options, the report to stdout, one line per step and
//! the failure to stderr, the failure's exit code.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::probe::ice::CredentialsUrl;
use crate::probe::token::{Endpoint, PopToken};
use crate::probe::{self, Failure, Options, TokenSource, Transport, unix_now};
use relay_proto::wire::IntegrityAlgorithm;

/// `probe` flags.
#[derive(Args, Debug)]
#[command(after_help = probe::EXIT_CODES)]
pub struct ProbeArgs {
    /// TURN server, host:port (the port defaults to 3478, or 5349 for TLS). For TLS the
    /// host is also the name the certificate must carry, and SNI [default with
    /// --credentials-url: the first URL for --transport the edge names].
    #[arg(long, required_unless_present = "credentials_url")]
    server: Option<String>,
    /// How to reach the server.
    #[arg(long, value_enum, default_value_t = Via::Udp)]
    transport: Via,
    /// Trust this CA (PEM) for TLS instead of the Mozilla roots.
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// OAuth token endpoint, e.g. http://127.0.0.1:8787/oauth2/token.
    #[arg(
        long,
        required_unless_present_any = ["token_json", "turn_username", "credentials_url"],
        conflicts_with_all = ["token_json", "turn_username", "credentials_url"]
    )]
    token_endpoint: Option<String>,
    /// Act as a browser: get iceServers from this URL (the edge's /turn/credentials) with
    /// --bearer, and use the browser credential in them.
    #[arg(long, conflicts_with_all = ["token_json", "turn_username"], requires = "bearer")]
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
    #[arg(long, conflicts_with = "turn_username")]
    token_json: Option<PathBuf>,
    /// Long-term credentials instead of a token: this USERNAME (a static user, or a TURN REST
    /// `EXPIRY:user`) with --turn-password.
    #[arg(long, requires = "turn_password")]
    turn_username: Option<String>,
    /// The long-term password.
    #[arg(long, env = "EDGETURN_TURN_PASSWORD", hide_env_values = true)]
    turn_password: Option<String>,
    /// MESSAGE-INTEGRITY (sha1) or MESSAGE-INTEGRITY-SHA256 (sha256) [default: a token's
    /// mac_key decides (32 bytes: sha256); long-term: sha256 with a SHA-256 key when the relay
    /// offers it, else sha1 with MD5].
    #[arg(long, value_enum)]
    integrity: Option<Integrity>,
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

/// `--transport` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Via {
    Udp,
    Tcp,
    Tls,
}

/// `--integrity`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Integrity {
    /// MESSAGE-INTEGRITY (HMAC-SHA1), with an MD5 long-term key.
    Sha1,
    /// MESSAGE-INTEGRITY-SHA256 (HMAC-SHA256), with a SHA-256 long-term key.
    Sha256,
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
    let transport = match a.transport {
        Via::Udp => Transport::Udp,
        Via::Tcp => Transport::Tcp,
        Via::Tls => Transport::Tls {
            name: String::new(),
            ca: a.tls_ca.clone(),
        },
    };
    if a.tls_ca.is_some() && a.transport != Via::Tls {
        return Err(bad("--tls-ca is for --transport tls".into()));
    }
    let (server, transport) = match &a.server {
        Some(s) => {
            let (host, with_port) = probe::split_server(s, transport.default_port());
            let server = probe::resolve(s, &with_port).map_err(|e| bad(format!("--server {e}")))?;
            let transport = match transport {
                Transport::Tls { ca, .. } => Transport::Tls { name: host, ca },
                other => other,
            };
            (Some(server), transport)
        }
        None => (None, transport),
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
        _ if a.turn_username.is_some() => TokenSource::LongTerm {
            username: a.turn_username.clone().unwrap_or_default(),
            password: a
                .turn_password
                .clone()
                .ok_or_else(|| bad("--turn-username needs --turn-password".into()))?,
        },
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
        (None, None) => {
            return Err(bad(
                "give --token-endpoint, --token-json, --turn-username or --credentials-url".into(),
            ));
        }
    };
    Ok(Options {
        server,
        transport,
        source,
        peer: a.peer,
        lifetime: a.lifetime,
        hold: Duration::from_secs(a.hold),
        refresh_every: a.refresh_every.map(|s| Duration::from_secs(s.max(1))),
        renew_before: a.renew_before,
        timeout,
        integrity: a.integrity.map(|i| match i {
            Integrity::Sha1 => IntegrityAlgorithm::Sha1,
            Integrity::Sha256 => IntegrityAlgorithm::Sha256,
        }),
        messages: a.messages,
        size: a.size,
    })
}
