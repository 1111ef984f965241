//! The `relay-native` command line.

pub mod check_config;
pub mod probe;
pub mod serve;
pub mod token;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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

/// `serve` flags: the configuration file, and every setting of it as a flag that overrides
/// the file's (one declaration per setting: [`Settings`](crate::config::Settings)).
#[derive(Args, Debug, Default)]
pub struct ServeArgs {
    /// TOML configuration file (docs/relay.md lists its keys).
    #[arg(long, short = 'c')]
    pub config: Option<PathBuf>,
    /// Every setting.
    #[command(flatten)]
    pub settings: crate::config::Settings,
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
