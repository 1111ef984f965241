//! The control plane of one allocation: Allocate and ChannelBind over UDP with long-term
//! credentials (RFC 8489 section 9.2), retransmitted per RFC 8489 section 6.2.1 with a short
//! first RTO (the relays measured here are on this host or its LAN).

use std::fmt;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use stun_types::attribute::{ErrorCode, Nonce, Realm, Username};
use stun_types::message::{
    IntegrityAlgorithm, LongTermKeyCredentials, Message, MessageClass, MessageIntegrityCredentials,
    MessageWrite, MessageWriteExt, MessageWriteVec, Method, TransactionId,
};
use turn_types::attribute::{
    ChannelNumber, Lifetime, RequestedTransport, XorPeerAddress, XorRelayedAddress,
};
use turn_types::message::{ALLOCATE, CHANNEL_BIND, REFRESH};

/// First retransmission after this, doubled each time.
const FIRST_RTO: Duration = Duration::from_millis(200);
/// Transmissions of one request before it times out.
const TRANSMISSIONS: u32 = 6;
/// Unauthenticated (RFC 8489 section 9.2.4).
const UNAUTHORIZED: u16 = 401;
/// Stale Nonce (RFC 8489 section 9.2.5).
const STALE_NONCE: u16 = 438;
/// Allocation Mismatch (RFC 8656 section 7.2): this 5-tuple already has an allocation.
pub const ALLOCATION_MISMATCH: u16 = 437;

/// A static user both coturn (`--user`) and relay-native (`--user`) accept.
#[derive(Clone)]
pub struct Credentials {
    /// USERNAME.
    pub user: String,
    /// The password (never printed).
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Credentials {{ user: {:?}, password: [redacted] }}",
            self.user
        )
    }
}

/// Why a request failed.
#[derive(Debug)]
pub enum TurnError {
    /// No response after every retransmission.
    Timeout(&'static str),
    /// An error response (code, reason).
    Rejected(&'static str, u16, String),
    /// A response we could not use (named).
    Malformed(&'static str, &'static str),
    /// A local socket error.
    Io(std::io::Error),
}

impl fmt::Display for TurnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TurnError::Timeout(m) => write!(f, "{m}: no response"),
            TurnError::Rejected(m, code, reason) => write!(f, "{m}: error {code} {reason}"),
            TurnError::Malformed(m, what) => write!(f, "{m}: response without {what}"),
            TurnError::Io(e) => write!(f, "socket: {e}"),
        }
    }
}

impl std::error::Error for TurnError {}

impl From<std::io::Error> for TurnError {
    fn from(e: std::io::Error) -> Self {
        TurnError::Io(e)
    }
}

/// What signs an allocation's later requests.
#[derive(Debug, Clone, Default)]
pub struct Auth {
    realm: String,
    nonce: String,
}

/// One allocation's client side: a socket connected to the relay and the realm and nonce
/// that sign its requests.
pub struct Session<'a> {
    sock: &'a UdpSocket,
    credentials: &'a Credentials,
    realm: String,
    nonce: String,
}

impl<'a> Session<'a> {
    /// Allocates (UDP relaying) over `sock`, connected to the relay and in blocking mode;
    /// answers the 401 challenge. Returns the session and the relayed address.
    pub fn allocate(
        sock: &'a UdpSocket,
        credentials: &'a Credentials,
    ) -> Result<(Session<'a>, SocketAddr), TurnError> {
        let mut s = Session {
            sock,
            credentials,
            realm: String::new(),
            nonce: String::new(),
        };
        let add = |w: &mut MessageWriteVec, _: TransactionId| {
            let _ = w.add_attribute(&RequestedTransport::new(RequestedTransport::UDP));
        };
        let relayed = s
            .request(ALLOCATE, &add)?
            .relayed
            .ok_or(TurnError::Malformed("Allocate", "XOR-RELAYED-ADDRESS"))?;
        Ok((s, relayed))
    }

    /// Signs requests on `sock` with a realm and nonce from an earlier session.
    pub fn resume(sock: &'a UdpSocket, credentials: &'a Credentials, auth: &Auth) -> Session<'a> {
        Session {
            sock,
            credentials,
            realm: auth.realm.clone(),
            nonce: auth.nonce.clone(),
        }
    }

    /// The realm and nonce this session signs with.
    pub fn auth(&self) -> Auth {
        Auth {
            realm: self.realm.clone(),
            nonce: self.nonce.clone(),
        }
    }

    /// Deletes the allocation (Refresh with LIFETIME 0, RFC 8656 section 8).
    pub fn release(&mut self) -> Result<(), TurnError> {
        let add = |w: &mut MessageWriteVec, _: TransactionId| {
            let _ = w.add_attribute(&Lifetime::new(0));
        };
        self.request(REFRESH, &add).map(drop)
    }

    /// Binds channel `number` to `peer` (which also permits the peer).
    pub fn channel_bind(&mut self, number: u16, peer: SocketAddr) -> Result<(), TurnError> {
        let add = |w: &mut MessageWriteVec, tx: TransactionId| {
            let _ = w.add_attribute(&ChannelNumber::new(number));
            let _ = w.add_attribute(&XorPeerAddress::new(peer, tx));
        };
        self.request(CHANNEL_BIND, &add).map(drop)
    }

    /// A signed request; takes REALM and NONCE from a 401 or 438 and tries again.
    fn request(
        &mut self,
        method: Method,
        add: &dyn Fn(&mut MessageWriteVec, TransactionId),
    ) -> Result<OwnedReply, TurnError> {
        for _ in 0..3 {
            let reply = self.transact(method, add)?;
            let Some((code, reason)) = reply.error.clone() else {
                return Ok(reply);
            };
            let challenge = code == UNAUTHORIZED && self.nonce.is_empty() || code == STALE_NONCE;
            match (challenge, &reply.realm, &reply.nonce) {
                (true, Some(realm), Some(nonce)) => {
                    self.realm.clone_from(realm);
                    self.nonce.clone_from(nonce);
                }
                _ => return Err(TurnError::Rejected(method_name(method), code, reason)),
            }
        }
        Err(TurnError::Rejected(
            method_name(method),
            UNAUTHORIZED,
            "challenged again after answering".into(),
        ))
    }

    fn transact(
        &self,
        method: Method,
        add: &dyn Fn(&mut MessageWriteVec, TransactionId),
    ) -> Result<OwnedReply, TurnError> {
        let mut w = Message::builder_request(method, MessageWriteVec::with_capacity(256));
        let tx = w.transaction_id();
        add(&mut w, tx);
        let req = self.sign(w, method)?;
        let mut rto = FIRST_RTO;
        let mut buf = [0u8; 1500];
        for _ in 0..TRANSMISSIONS {
            self.sock.send(&req)?;
            let deadline = Instant::now() + rto;
            while let Some(n) = recv_until(self.sock, &mut buf, deadline)? {
                let Some(pkt) = buf.get(..n) else { continue };
                let Ok(msg) = Message::from_bytes(pkt) else {
                    continue;
                };
                if msg.transaction_id() == tx
                    && msg.method() == method
                    && msg.class() != MessageClass::Indication
                {
                    return Ok(OwnedReply::read(&msg));
                }
            }
            rto = rto.saturating_mul(2);
        }
        Err(TurnError::Timeout(method_name(method)))
    }

    fn sign(&self, mut w: MessageWriteVec, method: Method) -> Result<Vec<u8>, TurnError> {
        if self.nonce.is_empty() {
            return Ok(w.finish());
        }
        let bad = |what| TurnError::Malformed(method_name(method), what);
        let user = Username::new(&self.credentials.user).map_err(|_| bad("a valid USERNAME"))?;
        let realm = Realm::new(&self.realm).map_err(|_| bad("a valid REALM"))?;
        let nonce = Nonce::new(&self.nonce).map_err(|_| bad("a valid NONCE"))?;
        for a in [
            &user as &dyn stun_types::attribute::AttributeWrite,
            &realm,
            &nonce,
        ] {
            w.add_attribute(a).map_err(|_| bad("room for attributes"))?;
        }
        let key = LongTermKeyCredentials::new(
            self.credentials.user.clone(),
            self.credentials.password.clone(),
            self.realm.clone(),
        );
        w.add_message_integrity(
            &MessageIntegrityCredentials::from(key),
            IntegrityAlgorithm::Sha1,
        )
        .map_err(|_| bad("room for MESSAGE-INTEGRITY"))?;
        Ok(w.finish())
    }
}

/// The parts of a response this client uses, owned so the receive buffer can be reused.
struct OwnedReply {
    error: Option<(u16, String)>,
    realm: Option<String>,
    nonce: Option<String>,
    relayed: Option<SocketAddr>,
}

impl OwnedReply {
    fn read(msg: &Message<'_>) -> OwnedReply {
        let error = (msg.class() == MessageClass::Error).then(|| {
            msg.attribute::<ErrorCode>()
                .map(|e| (e.code(), e.reason().to_string()))
                .unwrap_or((0, "without ERROR-CODE".into()))
        });
        OwnedReply {
            error,
            realm: msg.attribute::<Realm>().ok().map(|r| r.realm().to_string()),
            nonce: msg.attribute::<Nonce>().ok().map(|n| n.nonce().to_string()),
            relayed: msg
                .attribute::<XorRelayedAddress>()
                .ok()
                .map(|a| a.addr(msg.transaction_id())),
        }
    }
}

/// One datagram before `deadline`, or None (`sock` is in blocking mode).
fn recv_until(
    sock: &UdpSocket,
    buf: &mut [u8],
    deadline: Instant,
) -> std::io::Result<Option<usize>> {
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        sock.set_read_timeout(Some((deadline - now).max(Duration::from_millis(1))))?;
        match sock.recv(buf) {
            Ok(n) => return Ok(Some(n)),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            // An ICMP error from an earlier datagram (nothing listened yet): keep waiting.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
            Err(e) => return Err(e),
        }
    }
}

fn method_name(m: Method) -> &'static str {
    match m {
        ALLOCATE => "Allocate",
        CHANNEL_BIND => "ChannelBind",
        REFRESH => "Refresh",
        _ => "request",
    }
}
