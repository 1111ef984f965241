//! The TLS listeners' certificate: a chain and a key from PEM files, checked before use and
//! swapped without a restart (SIGHUP, or a change of either file seen by polling).
//!
//! Every handshake asks [`CertStore`] for the current certificate, so a swap takes effect
//! for the next handshake while established sessions keep the keys they negotiated. A new
//! certificate that does not load, whose key does not match it, or that is expired or not
//! yet valid is refused with a log line, and the current one stays.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tracing::{info, warn};
use x509_parser::extensions::GeneralName;

/// Why a certificate and key cannot be used.
#[derive(Debug)]
pub enum CertError {
    /// A file cannot be read.
    Read {
        /// `--tls-cert` or `--tls-key`.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The certificate file holds no PEM certificate, or a malformed one.
    Certificates {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The key file holds no PEM private key, or one the crypto provider cannot use.
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The key is not the certificate's.
    Mismatch,
    /// The certificate is not valid now.
    NotValidNow {
        /// Its validity, as the certificate says.
        info: Box<CertInfo>,
    },
}

impl std::fmt::Display for CertError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CertError::Read { flag, path, error } => {
                write!(f, "{flag} {}: {error}", path.display())
            }
            CertError::Certificates { path, reason } => {
                write!(f, "--tls-cert {}: {reason}", path.display())
            }
            CertError::Key { path, reason } => write!(f, "--tls-key {}: {reason}", path.display()),
            CertError::Mismatch => {
                f.write_str("--tls-key does not belong to the first certificate of --tls-cert")
            }
            CertError::NotValidNow { info } => write!(
                f,
                "the certificate for {} is valid from {} to {}, not now",
                info.names.join(", "),
                rfc3339(info.not_before),
                rfc3339(info.not_after)
            ),
        }
    }
}

impl std::error::Error for CertError {}

/// What the leaf certificate says, for logs and `check-config`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertInfo {
    /// The subject, e.g. `CN=turn.example.com`.
    pub subject: String,
    /// Subject alternative names (DNS names and IP addresses).
    pub names: Vec<String>,
    /// The issuer.
    pub issuer: String,
    /// Valid from, Unix seconds.
    pub not_before: i64,
    /// Valid until, Unix seconds.
    pub not_after: i64,
    /// Certificates in the chain, the leaf included.
    pub chain: usize,
}

impl CertInfo {
    fn read(chain: &[CertificateDer<'_>], path: &Path) -> Result<CertInfo, CertError> {
        let bad = |reason: String| CertError::Certificates {
            path: path.to_path_buf(),
            reason,
        };
        let leaf = chain
            .first()
            .ok_or_else(|| bad("no certificate in the file".into()))?;
        let (_, cert) = x509_parser::parse_x509_certificate(leaf)
            .map_err(|e| bad(format!("the first certificate does not parse: {e}")))?;
        let mut names = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for n in &san.value.general_names {
                match n {
                    GeneralName::DNSName(d) => names.push((*d).to_string()),
                    GeneralName::IPAddress(b) => {
                        if let Ok(a) = <[u8; 4]>::try_from(*b) {
                            names.push(IpAddr::from(a).to_string());
                        } else if let Ok(a) = <[u8; 16]>::try_from(*b) {
                            names.push(IpAddr::from(a).to_string());
                        }
                    }
                    _ => {}
                }
            }
        }
        let validity = cert.validity();
        Ok(CertInfo {
            subject: cert.subject().to_string(),
            names,
            issuer: cert.issuer().to_string(),
            not_before: validity.not_before.timestamp(),
            not_after: validity.not_after.timestamp(),
            chain: chain.len(),
        })
    }

    /// Whether it is valid at `now` (Unix seconds).
    pub fn valid_at(&self, now: i64) -> bool {
        self.not_before <= now && now <= self.not_after
    }
}

/// A certificate chain and its key, checked to belong together.
pub struct Loaded {
    /// What rustls serves.
    pub key: Arc<CertifiedKey>,
    /// What the leaf says.
    pub info: CertInfo,
    /// Identifies the two files' contents as loaded (to see a change).
    stamp: Stamp,
}

/// Reads and checks `cert` (PEM chain, leaf first) and `key` (PEM PKCS#8, PKCS#1 or SEC1).
pub fn load(cert: &Path, key: &Path, provider: &CryptoProvider) -> Result<Loaded, CertError> {
    // Taken before reading, so a write during the read shows up as a change next time.
    let stamp = Stamp::of(cert, key);
    let read = |flag, path: &Path| {
        std::fs::read(path).map_err(|error| CertError::Read {
            flag,
            path: path.to_path_buf(),
            error,
        })
    };
    let cert_pem = read("--tls-cert", cert)?;
    let key_pem = read("--tls-key", key)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CertError::Certificates {
            path: cert.to_path_buf(),
            reason: format!("not PEM certificates: {e}"),
        })?;
    let info = CertInfo::read(&chain, cert)?;
    let bad_key = |reason: String| CertError::Key {
        path: key.to_path_buf(),
        reason,
    };
    let der = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| bad_key(format!("no PEM private key: {e}")))?;
    let certified = CertifiedKey::from_der(chain, der, provider).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => CertError::Mismatch,
        e => bad_key(format!("cannot use this key: {e}")),
    })?;
    Ok(Loaded {
        key: Arc::new(certified),
        info,
        stamp,
    })
}

/// The files' identity and size and modification time: certbot replaces files (a new
/// inode behind the symlink), editors and `cp` rewrite them (a new mtime).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp([Option<(u64, u64, SystemTime)>; 2]);

impl Stamp {
    fn of(cert: &Path, key: &Path) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        let one = |p: &Path| {
            let m = std::fs::metadata(p).ok()?;
            Some((m.ino(), m.len(), m.modified().ok()?))
        };
        Stamp([one(cert), one(key)])
    }
}

/// The certificate every TLS handshake gets, and its reloading.
pub struct CertStore {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<Loaded>>,
    /// The files as last tried, loaded or refused, so a refused pair is not retried (and
    /// logged) on every poll, only when a file changes again.
    tried: RwLock<Stamp>,
}

impl std::fmt::Debug for CertStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertStore")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl CertStore {
    /// Loads the pair for the first time. An expired certificate is served (with a warning
    /// from the caller): refusing to start would take the UDP and TCP listeners down too.
    pub fn open(
        cert: PathBuf,
        key: PathBuf,
        provider: Arc<CryptoProvider>,
    ) -> Result<CertStore, CertError> {
        let loaded = load(&cert, &key, &provider)?;
        Ok(CertStore {
            tried: RwLock::new(loaded.stamp),
            current: RwLock::new(Arc::new(loaded)),
            cert,
            key,
            provider,
        })
    }

    /// The certificate served now.
    pub fn current(&self) -> Arc<Loaded> {
        match self.current.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Loads the files again and serves them from the next handshake on, unless they are
    /// refused (logged; the current certificate stays). `why` names the trigger in the log.
    pub fn reload(&self, why: &str) -> Result<(), CertError> {
        let result = load(&self.cert, &self.key, &self.provider).and_then(|new| {
            if new.info.valid_at(unix_now()) {
                Ok(new)
            } else {
                Err(CertError::NotValidNow {
                    info: Box::new(new.info),
                })
            }
        });
        let stamp = match &result {
            Ok(new) => new.stamp,
            Err(_) => Stamp::of(&self.cert, &self.key),
        };
        if let Ok(mut t) = self.tried.write() {
            *t = stamp;
        }
        match result {
            Ok(new) => {
                let info = new.info.clone();
                match self.current.write() {
                    Ok(mut c) => *c = Arc::new(new),
                    Err(poisoned) => *poisoned.into_inner() = Arc::new(new),
                }
                info!(
                    target: "tls",
                    subject = %info.subject,
                    names = info.names.join(","),
                    not_after = %rfc3339(info.not_after),
                    "{why}: certificate reloaded; new handshakes use it, established sessions keep theirs"
                );
                Ok(())
            }
            Err(e) => {
                warn!(target: "tls", "{why}: certificate reload refused, the current one stays: {e}");
                Err(e)
            }
        }
    }

    /// Reloads when either file changed since it was last tried.
    pub fn reload_if_changed(&self) {
        let now = Stamp::of(&self.cert, &self.key);
        let tried = self.tried.read().map(|t| *t).unwrap_or(now);
        if now != tried {
            let _ = self.reload("certificate files changed");
        }
    }

    /// Polls the files every `every` and reloads on a change; never returns.
    pub async fn watch(self: Arc<Self>, every: Duration) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.reload_if_changed();
        }
    }
}

/// The crypto provider: ring. rustls' own default is aws-lc-rs, which needs cmake (and
/// NASM elsewhere) to build; ring builds with the C compiler alone and is what the relay's
/// HTTPS client (ureq) already links, so TLS adds no build step and no second library.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

#[cfg(test)]
impl CertStore {
    /// A store with a fresh self-signed certificate for `localhost`, in a temporary
    /// directory.
    pub(crate) fn for_tests() -> Arc<CertStore> {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("relay-native-certs-{}-{n}", std::process::id()));
        let made = (|| {
            std::fs::create_dir_all(&dir).ok()?;
            let c = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).ok()?;
            std::fs::write(dir.join("c.pem"), c.cert.pem()).ok()?;
            std::fs::write(dir.join("k.pem"), c.signing_key.serialize_pem()).ok()?;
            CertStore::open(dir.join("c.pem"), dir.join("k.pem"), provider()).ok()
        })();
        let _ = std::fs::remove_dir_all(&dir);
        match made {
            Some(store) => Arc::new(store),
            None => unreachable!("a self-signed test certificate always loads"),
        }
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current().key.clone())
    }
}

/// Unix seconds now.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `2026-01-31T12:00:00Z` for Unix seconds.
pub fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("@{unix}"))
}
