//! TURN clients holding RFC 7635 tokens from `token mint`, and a peer that counts what
//! reaches it: for tests that need their own pace and their own measurements.

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use relay_native::probe::Transport;
use relay_native::probe::client::{Credentials, Reply, TurnClient, choose};
use relay_native::probe::token::PopToken;

use super::metrics::start_with_metrics;
use super::{Proc, mint_token};

pub const KID: &str = "test-1";
pub const KEY: &str = "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEK";
pub const SERVER_NAME: &str = "turn.test";

/// The key file, in `dir`.
pub fn key_file(dir: &Path) -> PathBuf {
    let p = dir.join("keys.json");
    std::fs::write(
        &p,
        format!(r#"[{{"kid":"{KID}","alg":"A256GCM","key":"{KEY}"}}]"#),
    )
    .unwrap();
    p
}

/// relay-native taking tokens under [`key_file`] (in `dir`), relaying to loopback peers,
/// with `shards` shards, metrics and `extra` flags: the process, its TURN address, its
/// metrics address and the key file.
pub fn token_relay(
    dir: &Path,
    shards: usize,
    extra: &[&str],
) -> (Proc, SocketAddr, SocketAddr, PathBuf) {
    let keys = key_file(dir);
    let mut flags = vec![
        "--keys",
        keys.to_str().unwrap(),
        "--server-name",
        SERVER_NAME,
        "--allow-loopback-peers",
    ];
    flags.extend_from_slice(extra);
    let (p, addr, metrics) = start_with_metrics(dir, shards, &flags);
    (p, addr, metrics, keys)
}

/// A fresh token (a user of its own: the relay's user for a token is its token id).
pub fn token(dir: &Path, keys: &Path, name: &str) -> PopToken {
    let path = mint_token(dir, name, keys.to_str().unwrap(), SERVER_NAME, 3600, 0);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    PopToken::from_json(&v, relay_native::probe::unix_now()).unwrap()
}

/// A client with `token` that asked for an allocation: the relay's final answer.
pub fn allocate(relay: SocketAddr, token: &PopToken) -> (TurnClient, Reply) {
    let mut c = TurnClient::connect(relay, &Transport::Udp, Duration::from_secs(3)).unwrap();
    let challenge = c.allocate(None).unwrap();
    assert_eq!(
        challenge.error.as_ref().map(|e| e.0),
        Some(401),
        "{challenge:?}"
    );
    c.challenged(&challenge);
    let creds = Credentials::Token(token.clone());
    let signature = choose(&creds, None, c.offered()).unwrap();
    c.set_credentials(creds, signature);
    let r = c.allocate(Some(600)).unwrap();
    (c, r)
}

/// A client with an allocation and `channel` bound to `peer`; and its relayed address.
pub fn bound(
    relay: SocketAddr,
    token: &PopToken,
    channel: u16,
    peer: SocketAddr,
) -> (TurnClient, SocketAddr) {
    let (mut c, r) = allocate(relay, token);
    assert!(r.error.is_none(), "{r:?}");
    let b = c.channel_bind(channel, peer).unwrap();
    assert!(b.error.is_none(), "{b:?}");
    (c, r.relayed.unwrap())
}

/// A UDP peer on loopback that counts the datagrams and bytes it receives, per source
/// (relayed address), on a thread of its own until dropped.
pub struct CountingPeer {
    pub addr: SocketAddr,
    pub socket: Arc<UdpSocket>,
    counts: Arc<std::sync::Mutex<std::collections::HashMap<SocketAddr, (u64, u64)>>>,
    stop: Arc<AtomicU64>,
}

impl CountingPeer {
    pub fn start() -> CountingPeer {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket2::SockRef::from(&socket)
            .set_recv_buffer_size(8 << 20)
            .unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let socket = Arc::new(socket);
        let addr = socket.local_addr().unwrap();
        let counts = Arc::new(std::sync::Mutex::new(std::collections::HashMap::new()));
        let stop = Arc::new(AtomicU64::new(0));
        let (s, c, st) = (socket.clone(), counts.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while st.load(Ordering::Relaxed) == 0 {
                if let Ok((n, from)) = s.recv_from(&mut buf) {
                    let mut c = c.lock().unwrap();
                    let e: &mut (u64, u64) = c.entry(from).or_default();
                    e.0 += 1;
                    e.1 += n as u64;
                }
            }
        });
        CountingPeer {
            addr,
            socket,
            counts,
            stop,
        }
    }

    /// (datagrams, bytes) received from `from`.
    pub fn from(&self, from: SocketAddr) -> (u64, u64) {
        self.counts
            .lock()
            .unwrap()
            .get(&from)
            .copied()
            .unwrap_or_default()
    }
}

impl Drop for CountingPeer {
    fn drop(&mut self) {
        self.stop.store(1, Ordering::Relaxed);
    }
}

/// Sends `size`-byte ChannelData on `channel` every `gap` for `total`; the time it took
/// from the first datagram to the last.
pub fn send_paced(
    c: &TurnClient,
    channel: u16,
    size: usize,
    gap: Duration,
    total: Duration,
) -> (u64, Duration) {
    let payload = vec![0x5au8; size];
    let start = Instant::now();
    let mut sent = 0;
    let mut next = start;
    while next < start + total {
        c.channel_data(channel, &payload).unwrap();
        sent += 1;
        next += gap;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    (sent, start.elapsed())
}
