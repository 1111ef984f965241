//! `relay-native probe`: a native RFC 7635 client, the way an app without a browser uses
//! edgeturn. Allocate without credentials, read THIRD-PARTY-AUTHORIZATION from the 401, get a
//! token from the token endpoint for that server name, Allocate again with ACCESS-TOKEN, then
//! prove the data path both ways (Send/Data indications and ChannelData) through a peer, and
//! keep the allocation alive (Refresh, renewing the token before it expires) for `--hold`.
//! With long-term credentials instead of a token it is an RFC 8489 client that takes the
//! relay's SHA-256 offer; `--integrity` picks MESSAGE-INTEGRITY or -SHA256 either way.
//!
//! With `--credentials-url` it is what a browser does instead: `iceServers` from the edge
//! (the relay it names first, the browser credential), long-term signing.
//!
//! Blocking std sockets: one client, one allocation, no runtime needed.

pub mod client;
pub mod ice;
pub mod token;
pub mod transport;

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use client::{Credentials, Relayed, Reply, TurnClient};
use ice::{BrowserCred, CredentialsUrl};
use relay_proto::wire::IntegrityAlgorithm;
use token::{Endpoint, PopToken};
pub use transport::Transport;

/// Where the credentials come from.
#[derive(Clone, Debug)]
pub enum TokenSource {
    /// An OAuth token endpoint.
    Endpoint(Endpoint),
    /// A token already in hand (cannot be renewed).
    Fixed(PopToken),
    /// No token: long-term credentials (a static user, or a TURN REST username and password).
    LongTerm {
        /// USERNAME.
        username: String,
        /// The password.
        password: String,
    },
    /// A browser credential from the edge's `/turn/credentials`, signed as long-term
    /// credentials (cannot be renewed on the same allocation: the relay ties an allocation to
    /// its username).
    Browser(CredentialsUrl),
}

/// The credentials in use, and the browser credential they came from (for messages and the
/// report).
struct Held {
    creds: Credentials,
    browser: Option<BrowserCred>,
}

impl Held {
    fn mechanism(&self) -> &'static str {
        match (&self.creds, &self.browser) {
            (_, Some(_)) => "browser",
            (Credentials::Token(_), None) => "oauth",
            (Credentials::LongTerm { .. }, None) => "long-term",
        }
    }
}

/// Payload the probe sent through the relay and got back, as the relay counts it.
#[derive(Clone, Copy, Debug, Default)]
struct Sent {
    to_peer_packets: u64,
    to_peer_bytes: u64,
    to_client_packets: u64,
    to_client_bytes: u64,
}

/// What to probe and for how long.
#[derive(Clone, Debug)]
pub struct Options {
    /// The TURN server; None: the first `turn:` URL of the browser credentials for the
    /// transport.
    pub server: Option<SocketAddr>,
    /// How to reach it.
    pub transport: Transport,
    /// Where tokens come from.
    pub source: TokenSource,
    /// An echo peer; None: the probe is its own peer on a second local socket.
    pub peer: Option<SocketAddr>,
    /// Allocation lifetime to ask for.
    pub lifetime: u32,
    /// Keep the allocation this long, refreshing it.
    pub hold: Duration,
    /// Refresh at least this often while holding [default: half the granted lifetime].
    pub refresh_every: Option<Duration>,
    /// Get a new token when the current one has this many seconds left.
    pub renew_before: u64,
    /// Per STUN transaction and per HTTP request.
    pub timeout: Duration,
    /// The integrity attribute to sign with; `None`: the strongest the credentials and the
    /// relay allow.
    pub integrity: Option<IntegrityAlgorithm>,
    /// ChannelData round trips after the first, each of `size` payload bytes.
    pub messages: u32,
    /// Payload bytes of those round trips.
    pub size: usize,
}

/// Why a probe failed; each kind has its own exit code.
#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    /// Bad arguments or a local socket error (exit 2, like a usage error).
    Local(String),
    /// The token endpoint cannot be reached (exit 3).
    EndpointUnreachable(String),
    /// The token endpoint refused the client's (or user's) credentials (exit 4).
    ClientCredentials(String),
    /// The token endpoint answered, but not with a usable RFC 7635 token (exit 5).
    Endpoint(String),
    /// The relay or the token endpoint did not answer in time (exit 6).
    Timeout(String),
    /// The relay refused the token (exit 7).
    TokenRejected(String),
    /// The relay refused the long-term credentials (exit 7, as for a token).
    CredentialsRejected(String),
    /// The relay refused the token, which has expired (exit 8).
    TokenExpired(String),
    /// The relay does not offer RFC 7635 third-party authorization (exit 9).
    NoThirdParty(String),
    /// The relay refused a request for another reason: policy, quota, capacity (exit 10).
    Refused(String),
    /// The relay took the requests, but data did not make it through (exit 11).
    DataPath(String),
    /// The relay said something that breaks the protocol (exit 12).
    Protocol(String),
    /// The TLS handshake failed: certificate not trusted or not for this name, no common
    /// version, cipher suite or ALPN protocol (exit 13).
    Tls(String),
}

impl Failure {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Local(_) => 2,
            Failure::EndpointUnreachable(_) => 3,
            Failure::ClientCredentials(_) => 4,
            Failure::Endpoint(_) => 5,
            Failure::Timeout(_) => 6,
            Failure::TokenRejected(_) | Failure::CredentialsRejected(_) => 7,
            Failure::TokenExpired(_) => 8,
            Failure::NoThirdParty(_) => 9,
            Failure::Refused(_) => 10,
            Failure::DataPath(_) => 11,
            Failure::Protocol(_) => 12,
            Failure::Tls(_) => 13,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (kind, text) = match self {
            Failure::Local(t) => ("error", t),
            Failure::EndpointUnreachable(t) => ("token endpoint unreachable", t),
            Failure::ClientCredentials(t) => ("bad client credentials", t),
            Failure::Endpoint(t) => ("token endpoint error", t),
            Failure::Timeout(t) => ("timeout", t),
            Failure::TokenRejected(t) => ("token rejected by the relay", t),
            Failure::CredentialsRejected(t) => ("credentials rejected by the relay", t),
            Failure::TokenExpired(t) => ("token expired", t),
            Failure::NoThirdParty(t) => ("no third-party authorization", t),
            Failure::Refused(t) => ("refused by the relay", t),
            Failure::DataPath(t) => ("data path broken", t),
            Failure::Protocol(t) => ("protocol error", t),
            Failure::Tls(t) => ("TLS handshake failed", t),
        };
        write!(f, "{kind}: {text}")
    }
}

/// Exit codes and their meaning, for `--help`.
pub const EXIT_CODES: &str = "Exit codes: 0 ok; 2 bad arguments or local error; 3 token endpoint unreachable; \
4 bad client credentials; 5 token endpoint error; 6 timeout; 7 token (or long-term credentials) rejected by the relay; \
8 token expired; 9 relay offers no third-party authorization; 10 refused by the relay; \
11 data did not make it through the relay; 12 protocol error; 13 TLS handshake failed.";

/// Unix seconds now.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The channel the probe binds.
const CHANNEL: u16 = 0x4000;

/// Largest payload the probe sends: what fits a 1500-byte path with TURN's framing.
pub const MAX_PAYLOAD: usize = 1200;

/// Runs the probe; `progress` gets one line per step. Returns the report as JSON.
pub fn run(opts: &Options, progress: &mut dyn FnMut(&str)) -> Result<Value, Failure> {
    let started = Instant::now();
    // A browser's credentials come first: they name the relay.
    let browser = match &opts.source {
        TokenSource::Browser(c) => Some(c.fetch()?),
        _ => None,
    };
    let (server, transport) = match (opts.server, &browser) {
        (Some(s), _) => (s, opts.transport.clone()),
        (None, Some(b)) => named_relay(b, &opts.transport)?,
        (None, None) => return Err(Failure::Local("give --server".into())),
    };
    let mut turn = TurnClient::connect(server, &transport, opts.timeout)?;

    // 1. Allocate without credentials: the 401 names the token's audience, and the password
    //    algorithms the relay offers.
    let first = turn.allocate(Some(opts.lifetime))?;
    match &first.error {
        Some((401, _)) => {}
        Some((code, reason)) => {
            return Err(Failure::Refused(format!(
                "unauthenticated Allocate: {code} {reason}"
            )));
        }
        None => {
            return Err(Failure::Protocol(
                "the relay allocated without any credential".into(),
            ));
        }
    }
    turn.challenged(&first);
    let server_name = match (&opts.source, &first.server_name) {
        (TokenSource::LongTerm { .. } | TokenSource::Browser(_), name) => {
            name.clone().unwrap_or_default()
        }
        (_, Some(name)) => name.clone(),
        (_, None) => {
            return Err(Failure::NoThirdParty(format!(
                "{}'s 401 has no THIRD-PARTY-AUTHORIZATION: RFC 7635 tokens are not enabled there",
                server
            )));
        }
    };
    progress(&format!(
        "401 from {server}: realm {:?}, server name {server_name:?}, password algorithms {}",
        first.realm.as_deref().unwrap_or(""),
        match turn.offered() {
            Some(o) => o
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            None => "not offered".into(),
        }
    ));

    // 2. Credentials: a token for that server, the long-term ones given, or the browser
    //    credential in hand.
    let (mut tok, creds) = match (&opts.source, &browser) {
        (_, Some(b)) => {
            progress(&format!(
                "the browser credential of token {} ({} s left)",
                b.token_id,
                b.remaining(unix_now())
            ));
            (
                None,
                Credentials::LongTerm {
                    username: b.username.clone(),
                    password: b.credential.clone(),
                },
            )
        }
        (TokenSource::LongTerm { username, password }, None) => (
            None,
            Credentials::LongTerm {
                username: username.clone(),
                password: password.clone(),
            },
        ),
        (source, None) => {
            let t = get_token(source, &server_name)?;
            progress(&format!(
                "token {} (kid {}, {} s left)",
                t.id,
                t.kid,
                t.remaining(unix_now())
            ));
            (Some(t.clone()), Credentials::Token(t))
        }
    };
    let mut held = Held { creds, browser };
    let signature = client::choose(&held.creds, opts.integrity, turn.offered())?;
    progress(&format!(
        "signing with {}{}",
        client::integrity_name(signature.integrity),
        signature
            .password
            .map(|p| format!(", password algorithm {p}"))
            .unwrap_or_default()
    ));
    turn.set_credentials(held.creds.clone(), signature);

    // 3. Allocate with them.
    let alloc = turn.allocate(Some(opts.lifetime))?;
    if let Some((code, reason)) = &alloc.error {
        return Err(refused(*code, reason, &held, "Allocate"));
    }
    let relayed = alloc
        .relayed
        .ok_or_else(|| Failure::Protocol("Allocate success without XOR-RELAYED-ADDRESS".into()))?;
    let mut lifetime = alloc.lifetime.unwrap_or(opts.lifetime);
    progress(&format!("allocated {relayed} for {lifetime} s"));

    // 4. Permission, then data both ways by Send indication and by ChannelData.
    let peer = Peer::new(opts.peer, turn.local_addr()?, opts.timeout)?;
    expect_ok(
        turn.create_permission(peer.addr)?,
        "CreatePermission",
        &held,
    )?;
    let mut echo = Echo {
        peer: &peer,
        relayed,
        timeout: opts.timeout,
        sent: Sent::default(),
    };
    let rtt_send = echo.round_trip(&turn, None, 0)?;
    expect_ok(turn.channel_bind(CHANNEL, peer.addr)?, "ChannelBind", &held)?;
    let rtt_channel = echo.round_trip(&turn, Some(CHANNEL), 0)?;
    progress(&format!(
        "data through {relayed} to {} and back: Send/Data {:.2} ms, ChannelData {:.2} ms",
        peer.addr,
        ms(rtt_send),
        ms(rtt_channel)
    ));
    for _ in 0..opts.messages {
        echo.round_trip(&turn, Some(CHANNEL), opts.size)?;
    }
    if opts.messages > 0 {
        progress(&format!(
            "{} more ChannelData round trips of {} bytes",
            opts.messages, opts.size
        ));
    }

    // 5. Hold: refresh the allocation, renew the token before it runs out.
    let (mut refreshes, mut renewals) = (0u32, 0u32);
    let hold_until = started + opts.hold;
    loop {
        let every = opts
            .refresh_every
            .unwrap_or(Duration::from_secs(u64::from(lifetime / 2).max(1)));
        let next = (Instant::now() + every).min(hold_until);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        if Instant::now() >= hold_until {
            break;
        }
        if let Some(t) = tok.as_mut()
            && t.remaining(unix_now()) <= opts.renew_before
        {
            match &opts.source {
                TokenSource::Endpoint(_) => {
                    *t = get_token(&opts.source, &server_name)?;
                    held.creds = Credentials::Token(t.clone());
                    turn.set_credentials(held.creds.clone(), signature);
                    renewals += 1;
                    progress(&format!(
                        "renewed: token {} ({} s left)",
                        t.id,
                        t.remaining(unix_now())
                    ));
                }
                _ => progress("the token runs out soon and cannot be renewed (--token-json)"),
            }
        }
        if let Some(b) = &held.browser
            && b.remaining(unix_now()) <= opts.renew_before
        {
            progress(
                "the browser credential runs out soon and cannot be renewed on this allocation",
            );
        }
        let r = turn.refresh(opts.lifetime)?;
        if let Some((code, reason)) = &r.error {
            return Err(refused(*code, reason, &held, "Refresh"));
        }
        lifetime = r.lifetime.unwrap_or(lifetime);
        refreshes += 1;
        expect_ok(
            turn.create_permission(peer.addr)?,
            "CreatePermission",
            &held,
        )?;
        expect_ok(turn.channel_bind(CHANNEL, peer.addr)?, "ChannelBind", &held)?;
        echo.round_trip(&turn, Some(CHANNEL), 0)?;
        progress(&format!("refreshed: {lifetime} s, data still flows"));
    }

    // 6. Release.
    let bye = turn.refresh(0)?;
    let released = bye.error.is_none();
    progress(if released {
        "released"
    } else {
        "release refused; the allocation will expire"
    });

    let token_id = match (&tok, &held.browser) {
        (Some(t), _) => Some(t.id.to_string()),
        (None, Some(b)) => Some(b.token_id.clone()),
        (None, None) => None,
    };
    Ok(json!({
        "server": server.to_string(),
        "transport": transport_name(&transport),
        "mechanism": held.mechanism(),
        "server_name": server_name,
        "realm": first.realm,
        // A browser credential's username carries its token: the report names the token's id.
        "username": match (&held.creds, &held.browser) {
            (Credentials::LongTerm { username, .. }, None) => Some(username.clone()),
            _ => None,
        },
        "kid": tok.as_ref().map(|t| t.kid.clone()),
        "token_id": token_id,
        "urls": held.browser.as_ref().map(|b| b.urls.clone()),
        "integrity": client::integrity_name(signature.integrity),
        "password_algorithm": signature.password.map(|p| p.to_string()),
        "relayed": relayed.to_string(),
        "mapped": alloc.mapped.map(|a| a.to_string()),
        "peer": peer.addr.to_string(),
        "lifetime": lifetime,
        "rtt_ms": { "send_indication": ms(rtt_send), "channel_data": ms(rtt_channel) },
        "traffic": {
            "to_peer_packets": echo.sent.to_peer_packets,
            "to_peer_bytes": echo.sent.to_peer_bytes,
            "to_client_packets": echo.sent.to_client_packets,
            "to_client_bytes": echo.sent.to_client_bytes,
        },
        "refreshes": refreshes,
        "token_renewals": renewals,
        "released": released,
    }))
}

/// The relay a browser credential names first for `via`, and how to reach it (for TLS, by
/// the URL's host name).
fn named_relay(b: &BrowserCred, via: &Transport) -> Result<(SocketAddr, Transport), Failure> {
    let url = b.first_for(via).ok_or_else(|| {
        Failure::Endpoint(format!(
            "the credentials name no relay URL over {}",
            transport_name(via)
        ))
    })?;
    let (host, with_port) = split_server(&url, via.default_port());
    let server = resolve(&url, &with_port)
        .map_err(|e| Failure::Local(format!("the relay the edge named first: {e}")))?;
    let transport = match via {
        Transport::Tls { ca, .. } => Transport::Tls {
            name: host,
            ca: ca.clone(),
        },
        other => other.clone(),
    };
    Ok((server, transport))
}

/// `udp`, `tcp` or `tls`.
fn transport_name(t: &Transport) -> &'static str {
    match t {
        Transport::Udp => "udp",
        Transport::Tcp => "tcp",
        Transport::Tls { .. } => "tls",
    }
}

/// `server` (`host`, `host:port`, `v6`, `[v6]` or `[v6]:port`) as its host (without
/// brackets: the TLS name) and as host:port, with `default` when it names no port.
pub fn split_server(server: &str, default: u16) -> (String, String) {
    if let Ok(a) = server.parse::<SocketAddr>() {
        return (a.ip().to_string(), server.to_string());
    }
    if let Ok(ip) = server.trim_matches(['[', ']']).parse::<IpAddr>() {
        return (ip.to_string(), SocketAddr::new(ip, default).to_string());
    }
    match server.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() => (host.to_string(), server.to_string()),
        _ => (server.to_string(), format!("{server}:{default}")),
    }
}

/// The first address `with_port` resolves to; errors name `server` as given.
pub fn resolve(server: &str, with_port: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    with_port
        .to_socket_addrs()
        .map_err(|e| format!("{server}: {e}"))?
        .next()
        .ok_or_else(|| format!("{server}: no address"))
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 100_000.0).round() / 100.0
}

fn get_token(source: &TokenSource, server_name: &str) -> Result<PopToken, Failure> {
    match source {
        TokenSource::Endpoint(e) => e.fetch(server_name),
        TokenSource::Fixed(t) => Ok(t.clone()),
        TokenSource::LongTerm { .. } | TokenSource::Browser(_) => {
            Err(Failure::Local("long-term credentials have no token".into()))
        }
    }
}

/// What a refused authenticated request means. A 401 after the credentials were sent is the
/// relay refusing them: for a token or a browser credential, expired if our own clock says
/// so, otherwise rejected (revoked, wrong key, wrong server name, unknown kid); for other
/// long-term credentials, the wrong user or password.
fn refused(code: u16, reason: &str, held: &Held, what: &str) -> Failure {
    let now = unix_now();
    if let (401, Some(b)) = (code, &held.browser) {
        return if b.remaining(now) == 0 {
            Failure::TokenExpired(format!(
                "{what}: 401 {reason}: the browser credential of token {} expired {} s ago",
                b.token_id,
                now.saturating_sub(b.expires_at)
            ))
        } else {
            Failure::TokenRejected(format!(
                "{what}: 401 {reason}: the relay does not accept the browser credential of token {}: it was revoked, or the relay holds another key for its kid",
                b.token_id
            ))
        };
    }
    match (code, &held.creds) {
        (401, Credentials::Token(tok)) if tok.remaining(now) == 0 => {
            Failure::TokenExpired(format!(
                "{what}: 401 {reason}: token {} expired {} s ago",
                tok.id,
                now.saturating_sub(tok.expires_at)
            ))
        }
        (401, Credentials::Token(tok)) => Failure::TokenRejected(format!(
            "{what}: 401 {reason}: the relay does not accept token {} (kid {}): it was revoked, or the relay holds another key for this kid or has another server name than the token's issuer",
            tok.id, tok.kid
        )),
        (401, Credentials::LongTerm { username, .. }) => Failure::CredentialsRejected(format!(
            "{what}: 401 {reason}: the relay does not accept user {username:?} with this password (or not in this realm)"
        )),
        // Reached only when the relay sent 438 twice in a row.
        (438, _) => Failure::Protocol(format!("{what}: 438 {reason} twice in a row")),
        _ => Failure::Refused(format!("{what}: {code} {reason}")),
    }
}

fn expect_ok(r: Reply, what: &str, held: &Held) -> Result<(), Failure> {
    match r.error {
        None => Ok(()),
        Some((code, reason)) => Err(refused(code, &reason, held, what)),
    }
}

/// The far end of the relayed path: an echo peer given by the user, or our own socket.
struct Peer {
    addr: SocketAddr,
    own: Option<UdpSocket>,
}

impl Peer {
    fn new(
        given: Option<SocketAddr>,
        local: SocketAddr,
        timeout: Duration,
    ) -> Result<Peer, Failure> {
        if let Some(addr) = given {
            return Ok(Peer { addr, own: None });
        }
        let sock = UdpSocket::bind(SocketAddr::new(local.ip(), 0))
            .map_err(|e| Failure::Local(format!("peer socket: {e}")))?;
        let _ = sock.set_read_timeout(Some(timeout));
        let addr = sock
            .local_addr()
            .map_err(|e| Failure::Local(e.to_string()))?;
        Ok(Peer {
            addr,
            own: Some(sock),
        })
    }
}

/// Round trips through the relayed address to the peer and back, and what they carried.
struct Echo<'a> {
    peer: &'a Peer,
    relayed: SocketAddr,
    timeout: Duration,
    sent: Sent,
}

impl Echo<'_> {
    /// Sends a numbered payload of `size` bytes (at least its number) to the peer through the
    /// relay, by ChannelData on `channel` or else a Send indication, and waits for it to come
    /// back.
    fn round_trip(
        &mut self,
        turn: &TurnClient,
        channel: Option<u16>,
        size: usize,
    ) -> Result<Duration, Failure> {
        let (peer, relayed, timeout) = (self.peer, self.relayed, self.timeout);
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let mut payload = format!(
            "edgeturn probe {} {}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        // Padded to `size` bytes (what the relay counts is exactly what was sent).
        while payload.len() < size.min(MAX_PAYLOAD) {
            payload.push('.');
        }
        let start = Instant::now();
        match channel {
            Some(n) => turn.channel_data(n, payload.as_bytes())?,
            None => turn.send_indication(peer.addr, payload.as_bytes())?,
        }
        let how = if channel.is_some() {
            "ChannelData"
        } else {
            "a Send indication"
        };
        if let Some(sock) = &peer.own {
            let mut buf = [0u8; 2048];
            let (n, from) = sock.recv_from(&mut buf).map_err(|_| {
                Failure::DataPath(format!(
                    "the peer {} never received {how} sent through {relayed}",
                    peer.addr
                ))
            })?;
            if buf.get(..n) != Some(payload.as_bytes()) || from != relayed {
                return Err(Failure::DataPath(format!(
                    "the peer received other data, from {from}, than it was sent through {relayed}"
                )));
            }
            sock.send_to(payload.as_bytes(), relayed)
                .map_err(|e| Failure::Local(format!("peer send: {e}")))?;
        }
        let deadline = Instant::now() + timeout;
        while let Some(got) = turn.recv_relayed(deadline)? {
            let data = match (&got, channel) {
                (Relayed::Channel(n, d), Some(c)) if *n == c => d,
                (Relayed::Indication(from, d), None) if *from == peer.addr => d,
                _ => continue,
            };
            if data.as_slice() == payload.as_bytes() {
                let n = payload.len() as u64;
                let sent = &mut self.sent;
                sent.to_peer_packets += 1;
                sent.to_peer_bytes += n;
                sent.to_client_packets += 1;
                sent.to_client_bytes += n;
                return Ok(start.elapsed());
            }
        }
        Err(Failure::DataPath(format!(
            "no echo from {} came back through {relayed} after {how}",
            peer.addr
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn browser(expires_at: u64) -> Held {
        Held {
            creds: Credentials::LongTerm {
                username: "et1.k.AAAA".into(),
                password: "cred".into(),
            },
            browser: Some(BrowserCred {
                username: "et1.k.AAAA".into(),
                credential: "cred".into(),
                token_id: "KWa9ZY3uogilQFwA".into(),
                expires_at,
                urls: vec![],
            }),
        }
    }

    #[test]
    fn a_refused_credential_says_why() {
        let live = refused(401, "Unauthorized", &browser(unix_now() + 600), "Allocate");
        assert!(
            matches!(&live, Failure::TokenRejected(m) if m.contains("revoked") && m.contains("KWa9ZY3uogilQFwA")),
            "{live:?}"
        );
        assert_eq!(live.exit_code(), 7);
        let old = refused(401, "Unauthorized", &browser(1), "Refresh");
        assert!(matches!(old, Failure::TokenExpired(_)), "{old:?}");
        let user = Held {
            browser: None,
            ..browser(0)
        };
        assert_eq!(user.mechanism(), "long-term");
        let wrong = refused(401, "Unauthorized", &user, "Allocate");
        assert!(
            matches!(&wrong, Failure::CredentialsRejected(m) if !m.contains("revoked")),
            "{wrong:?}"
        );
        assert!(matches!(
            refused(
                486,
                "Allocation Quota Reached",
                &browser(u64::MAX),
                "Allocate"
            ),
            Failure::Refused(_)
        ));
        assert_eq!(browser(0).mechanism(), "browser");
    }

    #[test]
    fn server_host_and_port() {
        let hp = |s: &str| split_server(s, 5349);
        let pair = |h: &str, a: &str| (h.to_string(), a.to_string());
        assert_eq!(
            hp("turn.example.com"),
            pair("turn.example.com", "turn.example.com:5349")
        );
        assert_eq!(
            hp("turn.example.com:443"),
            pair("turn.example.com", "turn.example.com:443")
        );
        assert_eq!(hp("192.0.2.1"), pair("192.0.2.1", "192.0.2.1:5349"));
        assert_eq!(hp("192.0.2.1:443"), pair("192.0.2.1", "192.0.2.1:443"));
        assert_eq!(hp("2001:db8::1"), pair("2001:db8::1", "[2001:db8::1]:5349"));
        assert_eq!(
            hp("[2001:db8::1]"),
            pair("2001:db8::1", "[2001:db8::1]:5349")
        );
        assert_eq!(
            hp("[2001:db8::1]:443"),
            pair("2001:db8::1", "[2001:db8::1]:443")
        );
    }
}
