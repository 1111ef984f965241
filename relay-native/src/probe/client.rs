//! A small blocking TURN client over UDP, TCP or TLS (`super::transport`): requests with
//! retransmission over UDP (RFC 8489 section 6.2.1), RFC 7635 signing (USERNAME = kid,
//! ACCESS-TOKEN, the integrity attribute under the mac_key: HMAC-SHA256 for a 32-byte key,
//! HMAC-SHA1 otherwise) or long-term signing with the password algorithm the relay offers
//! (RFC 8489 section 9.2), stale-nonce retry, and the data path (Send indications,
//! ChannelData).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use shared_token::MacKey;
use stun_types::attribute::{
    ErrorCode, Nonce, PasswordAlgorithm, PasswordAlgorithmValue, PasswordAlgorithms, RawAttribute,
    Realm, Username, XorMappedAddress,
};
use stun_types::message::{
    Message, MessageClass, MessageWrite, MessageWriteExt, MessageWriteVec, Method, TransactionId,
};
use turn_types::attribute::{
    ChannelNumber, Data, Lifetime, RequestedTransport, XorPeerAddress, XorRelayedAddress,
};
use turn_types::message::{ALLOCATE, CHANNEL_BIND, CREATE_PERMISSION, DATA, REFRESH, SEND};

use super::Failure;
use super::token::PopToken;
use super::transport::{Conn, Transport};
use relay_proto::auth::{password, token_integrity};
use relay_proto::nonce::SecurityFeatures;
use relay_proto::wire::{
    self, ACCESS_TOKEN, IntegrityAlgorithm, Signing, THIRD_PARTY_AUTHORIZATION,
};

/// First retransmission after this; doubled each time (RFC 8489's RTO, shortened for loopback
/// and LAN relays; the overall deadline is the caller's timeout).
const FIRST_RTO: Duration = Duration::from_millis(250);

/// What a response said.
#[derive(Debug)]
pub struct Reply {
    /// ERROR-CODE for error responses.
    pub error: Option<(u16, String)>,
    /// REALM, if any.
    pub realm: Option<String>,
    /// NONCE, if any.
    pub nonce: Option<String>,
    /// THIRD-PARTY-AUTHORIZATION (the server name), if any.
    pub server_name: Option<String>,
    /// XOR-RELAYED-ADDRESS.
    pub relayed: Option<SocketAddr>,
    /// XOR-MAPPED-ADDRESS.
    pub mapped: Option<SocketAddr>,
    /// LIFETIME.
    pub lifetime: Option<u32>,
    /// PASSWORD-ALGORITHMS, under a nonce cookie that announces them (RFC 8489 section 9.2).
    pub password_algorithms: Option<Vec<PasswordAlgorithmValue>>,
}

/// How the client proves who it is.
#[derive(Clone, Debug)]
pub enum Credentials {
    /// RFC 7635: USERNAME = kid, ACCESS-TOKEN, the token's mac_key.
    Token(PopToken),
    /// Long-term: USERNAME and a key from the password (RFC 8489 section 9.2.2).
    LongTerm {
        /// USERNAME.
        username: String,
        /// The password.
        password: String,
    },
}

/// How requests are signed, once chosen after the first challenge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signature {
    /// MESSAGE-INTEGRITY or MESSAGE-INTEGRITY-SHA256.
    pub integrity: IntegrityAlgorithm,
    /// For long-term credentials, the password algorithm (sent with the relay's list when it
    /// offered one).
    pub password: Option<PasswordAlgorithmValue>,
}

/// Relayed data that arrived from the server.
#[derive(Debug, PartialEq, Eq)]
pub enum Relayed {
    /// A Data indication from this peer.
    Indication(SocketAddr, Vec<u8>),
    /// ChannelData on this channel.
    Channel(u16, Vec<u8>),
}

/// One client 5-tuple talking to one TURN server.
pub struct TurnClient {
    conn: Conn,
    server: SocketAddr,
    timeout: Duration,
    realm: String,
    nonce: String,
    offered: Option<Vec<PasswordAlgorithmValue>>,
    creds: Option<Credentials>,
    signature: Option<Signature>,
}

impl TurnClient {
    /// Opens a connection to `server` over `transport` (for TLS, with the handshake).
    pub fn connect(
        server: SocketAddr,
        transport: &Transport,
        timeout: Duration,
    ) -> Result<TurnClient, Failure> {
        TurnClient::connect_from(server, transport, timeout, None)
    }

    /// [`TurnClient::connect`] from the local address `from` (e.g. another loopback
    /// address, to appear as another source).
    pub fn connect_from(
        server: SocketAddr,
        transport: &Transport,
        timeout: Duration,
        from: Option<std::net::IpAddr>,
    ) -> Result<TurnClient, Failure> {
        Ok(TurnClient {
            conn: Conn::open(server, transport, timeout, from)?,
            server,
            timeout,
            realm: String::new(),
            nonce: String::new(),
            offered: None,
            creds: None,
            signature: None,
        })
    }

    /// The local address the server sees (before NAT).
    pub fn local_addr(&self) -> Result<SocketAddr, Failure> {
        self.conn
            .local_addr()
            .map_err(|e| Failure::Local(e.to_string()))
    }

    /// Signs later requests with `creds`, as `signature` says.
    pub fn set_credentials(&mut self, creds: Credentials, signature: Signature) {
        self.creds = Some(creds);
        self.signature = Some(signature);
    }

    /// Takes REALM, NONCE and PASSWORD-ALGORITHMS from a 401 or 438.
    pub fn challenged(&mut self, r: &Reply) {
        if let Some(realm) = &r.realm {
            self.realm.clone_from(realm);
        }
        if let Some(nonce) = &r.nonce {
            self.nonce.clone_from(nonce);
        }
        if r.nonce.is_some() {
            self.offered.clone_from(&r.password_algorithms);
        }
    }

    /// The password algorithms the relay offered in its last challenge, if any.
    pub fn offered(&self) -> Option<&[PasswordAlgorithmValue]> {
        self.offered.as_deref()
    }

    /// The HMAC key of the requests being signed.
    fn key(&self) -> Option<MacKey> {
        match (self.creds.as_ref()?, self.signature?) {
            (Credentials::Token(t), _) => Some(t.mac_key.clone()),
            (Credentials::LongTerm { username, password }, s) => Some(password::long_term_key(
                s.password.unwrap_or(PasswordAlgorithmValue::MD5),
                username,
                &self.realm,
                password,
            )),
        }
    }

    /// Allocate for UDP relaying, asking for `lifetime` seconds.
    pub fn allocate(&mut self, lifetime: Option<u32>) -> Result<Reply, Failure> {
        self.request(ALLOCATE, |w, _| {
            let _ = w.add_attribute(&RequestedTransport::new(RequestedTransport::UDP));
            if let Some(l) = lifetime {
                let _ = w.add_attribute(&Lifetime::new(l));
            }
        })
    }

    /// Refresh with LIFETIME (0 deletes the allocation).
    pub fn refresh(&mut self, lifetime: u32) -> Result<Reply, Failure> {
        self.request(REFRESH, |w, _| {
            let _ = w.add_attribute(&Lifetime::new(lifetime));
        })
    }

    /// CreatePermission for `peer`.
    pub fn create_permission(&mut self, peer: SocketAddr) -> Result<Reply, Failure> {
        self.request(CREATE_PERMISSION, |w, tx| {
            let _ = w.add_attribute(&XorPeerAddress::new(peer, tx));
        })
    }

    /// ChannelBind `number` to `peer`.
    pub fn channel_bind(&mut self, number: u16, peer: SocketAddr) -> Result<Reply, Failure> {
        self.request(CHANNEL_BIND, |w, tx| {
            let _ = w.add_attribute(&ChannelNumber::new(number));
            let _ = w.add_attribute(&XorPeerAddress::new(peer, tx));
        })
    }

    /// A Send indication carrying `data` to `peer`.
    pub fn send_indication(&self, peer: SocketAddr, data: &[u8]) -> Result<(), Failure> {
        let mut w =
            Message::builder_indication(SEND, MessageWriteVec::with_capacity(64 + data.len()));
        let tx = w.transaction_id();
        let _ = w.add_attribute(&XorPeerAddress::new(peer, tx));
        let _ = w.add_attribute(&Data::new(data));
        self.send(&w.finish())
    }

    /// ChannelData on `number` (padded to 4 bytes over a stream, RFC 8656 section 12.5).
    pub fn channel_data(&self, number: u16, data: &[u8]) -> Result<(), Failure> {
        let len =
            u16::try_from(data.len()).map_err(|_| Failure::Local("payload too long".into()))?;
        let mut frame = Vec::with_capacity(4 + data.len() + 3);
        frame.extend_from_slice(&number.to_be_bytes());
        frame.extend_from_slice(&len.to_be_bytes());
        frame.extend_from_slice(data);
        if self.conn.is_stream() {
            frame.resize(frame.len().next_multiple_of(4), 0);
        }
        self.send(&frame)
    }

    /// Waits until `deadline` for relayed data (Data indication or ChannelData).
    pub fn recv_relayed(&self, deadline: Instant) -> Result<Option<Relayed>, Failure> {
        let mut buf = [0u8; 2048];
        while let Some(n) = self.recv(&mut buf, deadline)? {
            let Some(pkt) = buf.get(..n) else { continue };
            if let Some(r) = parse_relayed(pkt) {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }

    /// Sends a request built by `attrs`, signed when a token is set; a 438 takes the new nonce
    /// and sends it once more, as RFC 8489 section 9.2.5 says.
    fn request(
        &mut self,
        method: Method,
        attrs: impl Fn(&mut MessageWriteVec, TransactionId),
    ) -> Result<Reply, Failure> {
        let mut reply = self.transact(method, &attrs)?;
        if reply.error.as_ref().is_some_and(|(c, _)| *c == 438) {
            self.challenged(&reply);
            reply = self.transact(method, &attrs)?;
        }
        Ok(reply)
    }

    fn transact(
        &mut self,
        method: Method,
        attrs: &impl Fn(&mut MessageWriteVec, TransactionId),
    ) -> Result<Reply, Failure> {
        let mut w = Message::builder_request(method, MessageWriteVec::with_capacity(512));
        let txid = w.transaction_id();
        attrs(&mut w, txid);
        let req = self.sign(w)?;
        let deadline = Instant::now() + self.timeout;
        // Over a stream the request is sent once and the deadline is the only timer.
        let mut rto = if self.conn.is_stream() {
            self.timeout
        } else {
            FIRST_RTO
        };
        let mut buf = [0u8; 2048];
        loop {
            self.send(&req)?;
            let wait_until = (Instant::now() + rto).min(deadline);
            while let Some(n) = self.recv(&mut buf, wait_until)? {
                let Some(pkt) = buf.get(..n) else { continue };
                let Ok(msg) = Message::from_bytes(pkt) else {
                    continue;
                };
                if msg.transaction_id() != txid
                    || msg.method() != method
                    || msg.class() == MessageClass::Indication
                {
                    continue;
                }
                return self.read_reply(&msg, pkt);
            }
            if Instant::now() >= deadline {
                return Err(Failure::Timeout(format!(
                    "the relay {} did not answer {} within {:.1} s",
                    self.server,
                    method_name(method),
                    self.timeout.as_secs_f32()
                )));
            }
            rto = rto.saturating_mul(2);
        }
    }

    fn sign(&self, mut w: MessageWriteVec) -> Result<Vec<u8>, Failure> {
        let (Some(creds), Some(sig), Some(key)) = (&self.creds, self.signature, self.key()) else {
            return Ok(w.finish());
        };
        let bad = |what: &str| Failure::Local(format!("cannot encode {what}"));
        let username = match creds {
            Credentials::Token(t) => {
                w.add_attribute(&RawAttribute::new(ACCESS_TOKEN, &t.token))
                    .map_err(|_| bad("ACCESS-TOKEN"))?;
                &t.kid
            }
            Credentials::LongTerm { username, .. } => username,
        };
        w.add_attribute(&Username::new(username).map_err(|_| bad("USERNAME"))?)
            .map_err(|_| bad("USERNAME"))?;
        w.add_attribute(&Realm::new(&self.realm).map_err(|_| bad("REALM"))?)
            .map_err(|_| bad("REALM"))?;
        w.add_attribute(&Nonce::new(&self.nonce).map_err(|_| bad("NONCE"))?)
            .map_err(|_| bad("NONCE"))?;
        // The relay's list goes back exactly as it came: that is what proves nobody on the
        // path took SHA-256 out of it (RFC 8489 section 9.2.1).
        if let (Some(picked), Some(offered)) = (sig.password, &self.offered) {
            w.add_attribute(&PasswordAlgorithms::new(offered))
                .map_err(|_| bad("PASSWORD-ALGORITHMS"))?;
            w.add_attribute(&PasswordAlgorithm::new(picked))
                .map_err(|_| bad("PASSWORD-ALGORITHM"))?;
        }
        let sign = Signing {
            key: &key,
            algorithm: sig.integrity,
        };
        Ok(wire::sign_request(w, sign))
    }

    fn read_reply(&self, msg: &Message<'_>, raw: &[u8]) -> Result<Reply, Failure> {
        let tx = msg.transaction_id();
        let error = match msg.class() {
            MessageClass::Error => {
                let e = msg.attribute::<ErrorCode>().map_err(|_| {
                    Failure::Protocol("an error response without ERROR-CODE".into())
                })?;
                Some((e.code(), e.reason().to_string()))
            }
            _ => None,
        };
        // A success for a signed request must be signed with the same key and the same
        // integrity attribute: otherwise someone else answered, or the relay did not use our
        // credentials.
        if error.is_none()
            && let (Some(sig), Some(key)) = (self.signature, self.key())
        {
            let ok = wire::integrity(msg).is_some_and(|at| {
                at.algorithm() == sig.integrity && wire::verify(raw, &at, key.secret())
            });
            if !ok {
                return Err(Failure::Protocol(format!(
                    "the {} response is not signed with {} under our key",
                    method_name(msg.method()),
                    integrity_name(sig.integrity)
                )));
            }
        }
        Ok(Reply {
            error,
            realm: msg.attribute::<Realm>().ok().map(|r| r.realm().to_string()),
            nonce: msg.attribute::<Nonce>().ok().map(|n| n.nonce().to_string()),
            server_name: msg
                .raw_attribute(THIRD_PARTY_AUTHORIZATION)
                .map(|a| String::from_utf8_lossy(&a.value).into_owned()),
            relayed: msg
                .attribute::<XorRelayedAddress>()
                .ok()
                .map(|a| a.addr(tx)),
            mapped: msg.attribute::<XorMappedAddress>().ok().map(|a| a.addr(tx)),
            lifetime: msg.attribute::<Lifetime>().ok().map(|l| l.seconds()),
            password_algorithms: offered_algorithms(msg),
        })
    }

    fn send(&self, bytes: &[u8]) -> Result<(), Failure> {
        match self.conn.send(bytes) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Err(self.refused()),
            Err(e) => Err(Failure::Local(format!("send to {}: {e}", self.server))),
        }
    }

    /// One message before `deadline`, or None.
    fn recv(&self, buf: &mut [u8], deadline: Instant) -> Result<Option<usize>, Failure> {
        match self.conn.recv(buf, deadline) {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Err(self.refused()),
            Err(e) => Err(Failure::Local(format!("receive from {}: {e}", self.server))),
        }
    }

    fn refused(&self) -> Failure {
        Failure::Timeout(format!(
            "nothing listens on {} (ICMP port unreachable)",
            self.server
        ))
    }
}

/// PASSWORD-ALGORITHMS of a challenge whose nonce cookie announces them.
fn offered_algorithms(msg: &Message<'_>) -> Option<Vec<PasswordAlgorithmValue>> {
    let nonce = msg.attribute::<Nonce>().ok()?;
    let features = SecurityFeatures::of_nonce(nonce.nonce())?;
    if !features.contains(SecurityFeatures::PASSWORD_ALGORITHMS) {
        return None;
    }
    let list = msg.attribute::<PasswordAlgorithms>().ok()?;
    Some(list.algorithms().to_vec())
}

/// The integrity attribute the probe signs with: `wanted` if given, else the strongest the
/// credential allows: for a token its mac_key's (SHA-256 for 32 bytes), for long-term
/// credentials SHA-256 with a SHA-256 key when the relay offers it, and MD5 with SHA-1 when it
/// does not (RFC 5389 relays, coturn).
pub fn choose(
    creds: &Credentials,
    wanted: Option<IntegrityAlgorithm>,
    offered: Option<&[PasswordAlgorithmValue]>,
) -> Result<Signature, Failure> {
    match creds {
        Credentials::Token(t) => {
            let fits = token_integrity(t.mac_key.secret());
            match wanted {
                Some(w) if w != fits => Err(Failure::Local(format!(
                    "--integrity {} needs a token whose mac_key has {} bytes; this one has {} (`token mint --sha256` makes 32-byte ones)",
                    integrity_name(w),
                    if w == IntegrityAlgorithm::Sha256 {
                        32
                    } else {
                        20
                    },
                    t.mac_key.len()
                ))),
                _ => Ok(Signature {
                    integrity: fits,
                    password: None,
                }),
            }
        }
        Credentials::LongTerm { .. } => {
            let sha256_offered =
                offered.is_some_and(|o| o.contains(&PasswordAlgorithmValue::SHA256));
            let md5 = offered.map(|_| PasswordAlgorithmValue::MD5);
            match wanted {
                Some(IntegrityAlgorithm::Sha256) if !sha256_offered => Err(Failure::Refused(
                    "--integrity sha256: the relay offers no SHA-256 password algorithm (no PASSWORD-ALGORITHMS with SHA-256 under an RFC 8489 nonce cookie in its 401)".into(),
                )),
                Some(IntegrityAlgorithm::Sha1) => Ok(Signature {
                    integrity: IntegrityAlgorithm::Sha1,
                    password: md5,
                }),
                _ if sha256_offered => Ok(Signature {
                    integrity: IntegrityAlgorithm::Sha256,
                    password: Some(PasswordAlgorithmValue::SHA256),
                }),
                _ => Ok(Signature {
                    integrity: IntegrityAlgorithm::Sha1,
                    password: md5,
                }),
            }
        }
    }
}

/// `sha1` or `sha256`, as the command line says it.
pub fn integrity_name(a: IntegrityAlgorithm) -> &'static str {
    match a {
        IntegrityAlgorithm::Sha1 => "sha1",
        IntegrityAlgorithm::Sha256 => "sha256",
    }
}

fn method_name(m: Method) -> &'static str {
    match m {
        ALLOCATE => "Allocate",
        REFRESH => "Refresh",
        CREATE_PERMISSION => "CreatePermission",
        CHANNEL_BIND => "ChannelBind",
        _ => "the request",
    }
}

/// A Data indication or ChannelData frame, if `pkt` is one.
fn parse_relayed(pkt: &[u8]) -> Option<Relayed> {
    let first = *pkt.first()?;
    if first & 0xC0 == 0x40 {
        let number = u16::from_be_bytes([first, *pkt.get(1)?]);
        let len = usize::from(u16::from_be_bytes([*pkt.get(2)?, *pkt.get(3)?]));
        return Some(Relayed::Channel(number, pkt.get(4..4 + len)?.to_vec()));
    }
    let msg = Message::from_bytes(pkt).ok()?;
    if msg.method() != DATA || msg.class() != MessageClass::Indication {
        return None;
    }
    let peer = msg
        .attribute::<XorPeerAddress>()
        .ok()?
        .addr(msg.transaction_id());
    let data = msg.attribute::<Data<'_>>().ok()?;
    Some(Relayed::Indication(peer, data.data().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_data_and_garbage() {
        assert_eq!(
            parse_relayed(&[0x40, 0x00, 0x00, 0x02, b'h', b'i', 0, 0]),
            Some(Relayed::Channel(0x4000, b"hi".to_vec()))
        );
        assert_eq!(parse_relayed(&[0x40, 0x00, 0x00, 0x09, b'h']), None);
        assert_eq!(parse_relayed(&[]), None);
        assert_eq!(parse_relayed(&[0x00, 0x01, 0x00]), None);
    }

    #[test]
    fn data_indication() {
        let peer: SocketAddr = "192.0.2.7:4000".parse().unwrap_or_else(|_| unreachable!());
        let mut w = Message::builder_indication(DATA, MessageWriteVec::new());
        let tx = w.transaction_id();
        let _ = w.add_attribute(&XorPeerAddress::new(peer, tx));
        let _ = w.add_attribute(&Data::new(b"echo"));
        assert_eq!(
            parse_relayed(&w.finish()),
            Some(Relayed::Indication(peer, b"echo".to_vec()))
        );
    }
}
