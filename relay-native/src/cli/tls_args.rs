//! The TLS flags of `serve` and `check-config`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use crate::config::Settings;

/// TURN over TLS: listeners, certificate, handshake bounds.
#[derive(Args, Debug, Default)]
pub struct TlsArgs {
    /// Serve TURN over TLS on this address (repeatable; e.g. 0.0.0.0:443 and 0.0.0.0:5349).
    #[arg(long = "tls-listen", value_name = "ADDR")]
    pub tls_listen: Vec<SocketAddr>,
    /// PEM certificate chain, leaf first (reloaded on SIGHUP and when the file changes).
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of the certificate (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Unfinished TLS handshakes per shard; one more evicts the oldest [default: 256].
    #[arg(long, value_name = "N")]
    pub tls_handshake_limit: Option<usize>,
    /// Unfinished TLS handshakes per source address (IPv6: per /64) and shard; more are
    /// closed at once [default: 16].
    #[arg(long, value_name = "N")]
    pub tls_handshake_limit_per_ip: Option<usize>,
    /// Seconds a TLS handshake may take [default: 10].
    #[arg(long, value_name = "SECS")]
    pub tls_handshake_timeout: Option<u64>,
    /// Seconds between checks of the certificate files for a change; 0: only on SIGHUP
    /// [default: 10].
    #[arg(long, value_name = "SECS")]
    pub tls_reload_interval: Option<u64>,
}

impl TlsArgs {
    /// These flags as settings (everything else unset).
    pub fn settings(&self) -> Settings {
        Settings {
            tls_listen: self.tls_listen.clone(),
            tls_cert: self.tls_cert.clone(),
            tls_key: self.tls_key.clone(),
            tls_handshake_limit: self.tls_handshake_limit,
            tls_handshake_limit_per_ip: self.tls_handshake_limit_per_ip,
            tls_handshake_timeout: self.tls_handshake_timeout,
            tls_reload_interval: self.tls_reload_interval,
            ..Settings::default()
        }
    }
}
