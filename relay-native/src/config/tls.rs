//! The TLS part of the configuration: listeners need a certificate and key that load and
//! belong together, and bounded handshakes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tracing::warn;

use super::{ConfigError, Settings};
use crate::certs::{self, CertStore, provider};

/// Certificate files are checked for a change this often unless configured.
const RELOAD_INTERVAL: u64 = 10;
/// Handshake timeouts outside this range are refused (seconds).
const TIMEOUT_RANGE: std::ops::RangeInclusive<u64> = 1..=120;
/// Unfinished handshakes per shard unless configured.
const HANDSHAKES_PER_SHARD: usize = 256;
/// Unfinished handshakes per source address and shard unless configured.
const HANDSHAKES_PER_SOURCE: usize = 16;
/// The handshake timeout unless configured.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The TLS listeners, checked: where, the loaded certificate, and the handshake bounds.
pub struct TlsChecked {
    /// Listening addresses.
    pub listen: Vec<SocketAddr>,
    /// The certificate, loaded and reloadable.
    pub certs: Arc<CertStore>,
    /// Unfinished handshakes per shard; one more evicts the oldest.
    pub max_per_shard: usize,
    /// Unfinished handshakes per source address (IPv6: per /64) and shard.
    pub per_source: usize,
    /// A handshake not finished in this time is closed.
    pub timeout: Duration,
    /// How often to look for new certificate files (None: only on SIGHUP).
    pub reload_interval: Option<Duration>,
}

impl Settings {
    /// The TLS listeners' setup, None without `tls_listen`. Loads the certificate.
    pub(super) fn tls(&self, listen: &[SocketAddr]) -> Result<Option<TlsChecked>, ConfigError> {
        if self.tls_listen.is_empty() {
            if self.tls_cert.is_some() || self.tls_key.is_some() {
                return Err(ConfigError::Tls(
                    "--tls-cert and --tls-key need --tls-listen (where to serve TURN over TLS)",
                ));
            }
            return Ok(None);
        }
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Err(ConfigError::Tls(
                "--tls-listen needs --tls-cert (PEM chain) and --tls-key (PEM private key)",
            ));
        };
        // Listeners bind with SO_REUSEPORT, so an overlapping pair would bind without an
        // error and the kernel would share connections between TURN over TCP and over TLS.
        for (i, a) in self.tls_listen.iter().enumerate() {
            let mut others = self.tls_listen.iter().skip(i + 1).chain(listen);
            if others.any(|b| overlap(*a, *b)) {
                return Err(ConfigError::Tls(
                    "--tls-listen addresses must differ from each other and from --listen (another port)",
                ));
            }
        }
        let max_per_shard = self.tls_handshake_limit.unwrap_or(HANDSHAKES_PER_SHARD);
        let per_source = self
            .tls_handshake_limit_per_ip
            .unwrap_or(HANDSHAKES_PER_SOURCE);
        if max_per_shard == 0 || per_source == 0 {
            return Err(ConfigError::Tls(
                "--tls-handshake-limit and --tls-handshake-limit-per-ip must be at least 1",
            ));
        }
        let timeout = match self.tls_handshake_timeout {
            Some(s) if !TIMEOUT_RANGE.contains(&s) => {
                return Err(ConfigError::Tls(
                    "--tls-handshake-timeout must be 1 to 120 seconds",
                ));
            }
            Some(s) => Duration::from_secs(s),
            None => HANDSHAKE_TIMEOUT,
        };
        let store =
            CertStore::open(cert.clone(), key.clone(), provider()).map_err(ConfigError::Cert)?;
        let info = &store.current().info;
        if !info.valid_at(certs::unix_now()) {
            warn!(
                target: "tls",
                "the certificate for {} is valid from {} to {}, not now: TLS clients will refuse it",
                info.names.join(", "),
                certs::rfc3339(info.not_before),
                certs::rfc3339(info.not_after)
            );
        }
        let reload = self.tls_reload_interval.unwrap_or(RELOAD_INTERVAL);
        Ok(Some(TlsChecked {
            listen: self.tls_listen.clone(),
            certs: Arc::new(store),
            max_per_shard,
            per_source,
            timeout,
            reload_interval: (reload > 0).then(|| Duration::from_secs(reload)),
        }))
    }
}

/// Whether two listening addresses take the same connections: the same port, and the same
/// address or either unspecified.
fn overlap(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() == b.port() && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}

#[cfg(test)]
mod tests {
    use super::overlap;

    #[test]
    fn listeners_overlap_on_the_same_port_unless_both_addresses_are_specific_and_differ() {
        let o = |a: &str, b: &str| {
            overlap(
                a.parse().unwrap_or_else(|_| unreachable!()),
                b.parse().unwrap_or_else(|_| unreachable!()),
            )
        };
        assert!(o("0.0.0.0:443", "0.0.0.0:443"));
        assert!(o("0.0.0.0:3478", "192.0.2.1:3478"));
        assert!(o("[::]:443", "192.0.2.1:443"));
        assert!(!o("0.0.0.0:443", "0.0.0.0:5349"));
        assert!(!o("192.0.2.1:443", "192.0.2.2:443"));
    }
}
