//! TLS from the test's side: what certificate a relay presents, and its memory.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};

use super::pki::{Leaf, Pki, Validity};
use super::{Proc, free_port, scratch, start_relay};

/// relay-native with a TLS listener whose certificate a fresh test CA issued.
pub struct TlsRelay {
    pub dir: PathBuf,
    pub pki: Pki,
    pub leaf: Leaf,
    pub keys: PathBuf,
    pub relay: Proc,
    /// The UDP and TCP listener.
    pub udp: SocketAddr,
    pub tls: SocketAddr,
}

/// Starts relay-native with `keys_json` as its key file, server name `turn.test`, loopback
/// peers allowed, a TLS listener with a certificate for `names`, and `extra` flags.
pub fn start_tls_relay(name: &str, keys_json: &str, names: &[&str], extra: &[&str]) -> TlsRelay {
    let dir = scratch(name);
    let keys = dir.join("keys.json");
    std::fs::write(&keys, keys_json).unwrap();
    let pki = Pki::new(&dir, name);
    let leaf = pki.leaf(&dir, "relay", names, Validity::Now);
    let tls: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let tls_s = tls.to_string();
    let mut args = vec![
        "--keys",
        keys.to_str().unwrap(),
        "--server-name",
        "turn.test",
        "--allow-loopback-peers",
        "--tls-listen",
        &tls_s,
        "--tls-cert",
        leaf.cert.to_str().unwrap(),
        "--tls-key",
        leaf.key.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let (relay, udp) = start_relay(&dir, &args);
    TlsRelay {
        dir,
        pki,
        leaf,
        keys,
        relay,
        udp,
        tls,
    }
}

impl TlsRelay {
    /// A token for this relay (`token mint` with its key file), in `dir/file`.
    pub fn token(&self, file: &str) -> PathBuf {
        super::mint_token(
            &self.dir,
            file,
            self.keys.to_str().unwrap(),
            "turn.test",
            600,
            0,
        )
    }
}

/// Stops the relay and returns its whole log.
pub fn stop(relay: Proc) -> String {
    let path = relay.log.clone();
    drop(relay);
    std::fs::read_to_string(path).unwrap()
}

/// A rustls client configuration trusting only the CA in `ca_pem`.
pub fn client_config(ca_pem: &Path) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca_pem).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let mut cfg =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    cfg.alpn_protocols = vec![b"stun.turn".to_vec()];
    Arc::new(cfg)
}

/// The leaf certificate (DER) `addr` presents for `name` in a full handshake, verified
/// against the CA in `ca_pem`.
pub fn served_certificate(addr: SocketAddr, name: &str, ca_pem: &Path) -> Result<Vec<u8>, String> {
    let mut tcp =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let name = ServerName::try_from(name.to_string()).unwrap();
    let mut conn = ClientConnection::new(client_config(ca_pem), name).unwrap();
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).map_err(|e| e.to_string())?;
    }
    let leaf = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .ok_or("no certificate")?;
    Ok(leaf.to_vec())
}

/// A `Vm*` figure of /proc/PID/status in KiB (VmRSS: resident now, VmHWM: peak).
pub fn vm_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// The counts on the relay's "TLS handshakes since start" line (logged when it stops).
pub fn handshake_counts(log: &str) -> Option<[u64; 5]> {
    let line = log
        .lines()
        .find(|l| l.contains("TLS handshakes since start"))?;
    let field = |name: &str| -> Option<u64> {
        line.split(&format!("{name}="))
            .nth(1)?
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    Some([
        field("completed")?,
        field("failed")?,
        field("timed_out")?,
        field("evicted")?,
        field("refused")?,
    ])
}
