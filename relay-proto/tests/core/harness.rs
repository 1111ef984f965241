//! A virtual-clock harness around the protocol core, and a test TURN client that builds
//! requests with stun-types. No sockets: addresses are made up.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    // `h.from_peer(..)` reads as what happens in a test: a datagram from a peer.
    clippy::wrong_self_convention
)]

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use relay_proto::auth::password::{self, PasswordAlgorithmValue};
use relay_proto::wire::{ACCESS_TOKEN, IntegrityAlgorithm, Signing};
use relay_proto::{
    AllocId, AuthConfig, BindFailed, Client, Clock, CloseReason, Config, Event, Forward, HEADROOM,
    Input, NonceSecret, Output, PeerPolicy, PortRequest, Quota, QuotaCounts, RouteChange, Seeds,
    Server, Transport,
};
use shared_token::{Keyring, MacKey};
use stun_types::attribute::{
    AttributeStaticType, ErrorCode, Fingerprint, Nonce, PasswordAlgorithm, PasswordAlgorithms,
    RawAttribute, Realm, UnknownAttributes, Userhash, Username,
};
use stun_types::message::{
    Message, MessageClass, MessageWrite, MessageWriteExt, MessageWriteVec, Method, TransactionId,
};
use turn_types::attribute::{
    ChannelNumber, Data, Lifetime, RequestedTransport, XorPeerAddress, XorRelayedAddress,
};
use turn_types::message::{ALLOCATE, CHANNEL_BIND, CREATE_PERMISSION, REFRESH, SEND};

pub const REALM: &str = "test.realm";
pub const SERVER_NAME: &str = "turn.test";
pub const UNIX0: u64 = 1_800_000_000;
pub const KEYS: &str =
    r#"[{"kid":"k1","alg":"A256GCM","key":"MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEK"}]"#;

/// What a client's datagram caused: the payload forwarded to a peer (if any), and the
/// replies to the client.
pub type Sent = (Option<(SocketAddr, Vec<u8>)>, Vec<Vec<u8>>);

/// The relay under test and its clock.
pub struct H {
    pub server: Server,
    pub t0: Instant,
    pub now: Instant,
    pub released: Vec<AllocId>,
    /// Channel route changes, in order (with `Config::channel_routes`).
    pub routes: Vec<RouteChange>,
    /// Events, in order.
    pub events: Vec<Event>,
    /// Every output, in the order the core queued it.
    pub outputs: Vec<Output>,
    /// Stream connections the core asked to close (and the harness closed), in order.
    pub closed: Vec<(Transport, CloseReason)>,
    /// Relay addresses whose binds fail (the driver's answer is `BindFailed`).
    pub fail_binds: Vec<IpAddr>,
    next_port: u16,
    /// The configuration the core runs on (shared reservations live there).
    pub cfg: Arc<Config>,
}

/// Builds a config: static user alice/secret, REST secret "rest", the test key file.
pub fn config() -> Config {
    let mut auth = AuthConfig {
        realm: REALM.into(),
        server_name: SERVER_NAME.into(),
        keyring: Some(Keyring::from_json(KEYS).unwrap()),
        ..AuthConfig::default()
    };
    auth.add_user("alice", "secret");
    auth.add_user("bob", "hunter2");
    auth.rest = shared_token::rest::RestSecrets::new(vec![shared_token::RestSecret::new(*b"rest")]);
    let mut policy = PeerPolicy::new(vec![], vec![], vec!["198.51.100.1".parse().unwrap()]);
    policy.allow_loopback();
    Config::new(auth, policy, "198.51.100.1".parse().unwrap())
}

impl H {
    pub fn new() -> H {
        H::with(config())
    }

    pub fn with(cfg: Config) -> H {
        H::with_quota(cfg, QuotaCounts::new(0, 0))
    }

    pub fn with_quota(cfg: Config, quota: impl Quota + 'static) -> H {
        H::sharing(Arc::new(cfg), quota, Instant::now())
    }

    /// A core on a configuration other cores may share (as a relay's shards do), starting
    /// at `t0` (give two cores the same `t0` to keep their clocks together).
    pub fn sharing(cfg: Arc<Config>, quota: impl Quota + 'static, t0: Instant) -> H {
        let seeds = Seeds {
            nonce_secret: NonceSecret::new([9; 32]),
            txid_seed: 5,
        };
        H {
            server: Server::new(cfg.clone(), Box::new(quota), seeds, Clock::new(t0, UNIX0)),
            cfg,
            t0,
            now: t0,
            released: vec![],
            routes: vec![],
            events: vec![],
            outputs: vec![],
            closed: vec![],
            fail_binds: vec![],
            next_port: 50_000,
        }
    }

    /// The port a driver binds for `request`: the next free one of the kind asked for, never
    /// a reserved one unless asked for by name, and `Exact` as asked.
    fn pick_port(&mut self, ip: IpAddr, request: PortRequest) -> u16 {
        if let PortRequest::Exact(p) = request {
            return p;
        }
        loop {
            self.next_port += 1;
            let p = self.next_port;
            let reserved = |p: u16| {
                self.cfg
                    .reservations
                    .is_reserved(SocketAddr::new(ip, p), self.now)
            };
            let fits = match request {
                PortRequest::Even { reserve_next } => {
                    p.is_multiple_of(2) && !(reserve_next && reserved(p + 1))
                }
                _ => true,
            };
            if fits && !reserved(p) {
                return p;
            }
        }
    }

    pub fn unix(&self) -> u64 {
        UNIX0 + (self.now - self.t0).as_secs()
    }

    /// Moves time forward, handing the core each deadline it asked for on the way, as a
    /// driver's timer would.
    pub fn advance(&mut self, d: Duration) {
        let target = self.now + d;
        while let Some(at) = self.server.poll_timeout().filter(|at| *at <= target) {
            assert!(at >= self.now, "a deadline in the past: {at:?}");
            self.now = at;
            self.input(Input::Timeout);
        }
        self.now = target;
    }

    /// Hands the core an input that forwards nothing, and carries out what it asks.
    pub fn input(&mut self, input: Input<'_>) -> Vec<(Client, Vec<u8>)> {
        let fwd = self.server.handle_input(self.now, input);
        assert!(fwd.is_none(), "{fwd:?}");
        self.pump()
    }

    /// Carries out the core's outputs like a driver would, in order; returns the messages
    /// for clients.
    pub fn pump(&mut self) -> Vec<(Client, Vec<u8>)> {
        let mut out = vec![];
        while let Some(o) = self.server.poll_output() {
            self.outputs.push(o.clone());
            match o {
                Output::Transmit(t) => out.push((t.to, t.data)),
                Output::BindRelay { alloc, ip, port } => {
                    let bound = if self.fail_binds.contains(&ip) {
                        Err(BindFailed { ip })
                    } else {
                        Ok(SocketAddr::new(ip, self.pick_port(ip, port)))
                    };
                    let fwd = self.server.handle_input(
                        self.now,
                        Input::RelayBound {
                            alloc,
                            result: bound,
                        },
                    );
                    assert!(fwd.is_none());
                }
                Output::ReleaseRelay { alloc } => self.released.push(alloc),
                Output::Route(change) => self.routes.push(change),
                Output::Event(e) => self.events.push(e),
                Output::CloseConnection { transport, reason } => {
                    self.closed.push((transport, reason));
                    let closed = Input::ConnectionClosed { transport };
                    assert!(self.server.handle_input(self.now, closed).is_none());
                }
            }
        }
        out
    }

    /// Sends `bytes` from `from` (UDP); returns the forwarded payload (peer, data) if any,
    /// and every reply.
    pub fn send(&mut self, from: SocketAddr, bytes: &[u8]) -> Sent {
        self.send_on(
            Client {
                transport: Transport::Udp,
                addr: from,
            },
            bytes,
        )
    }

    pub fn send_on(&mut self, client: Client, bytes: &[u8]) -> Sent {
        let fwd = match self.server.handle_input(
            self.now,
            Input::FromClient {
                client,
                data: bytes,
            },
        ) {
            Some(Forward::ToPeer { peer, data, .. }) => Some((peer, data.to_vec())),
            Some(other) => panic!("a client's datagram forwarded to a client: {other:?}"),
            None => None,
        };
        let replies = self
            .pump()
            .into_iter()
            .filter(|(to, _)| *to == client)
            .map(|(_, d)| d)
            .collect();
        (fwd, replies)
    }

    /// One reply expected.
    pub fn request(&mut self, from: SocketAddr, bytes: &[u8]) -> Vec<u8> {
        let (_, mut r) = self.send(from, bytes);
        assert_eq!(r.len(), 1, "expected one reply, got {}", r.len());
        r.remove(0)
    }

    /// A datagram from `peer` to the relay socket of `from`'s allocation.
    pub fn from_peer(
        &mut self,
        client: SocketAddr,
        peer: SocketAddr,
        payload: &[u8],
    ) -> Option<Vec<u8>> {
        self.from_peer_on(
            Client {
                transport: Transport::Udp,
                addr: client,
            },
            peer,
            payload,
        )
    }

    pub fn from_peer_on(
        &mut self,
        client: Client,
        peer: SocketAddr,
        payload: &[u8],
    ) -> Option<Vec<u8>> {
        let id = self.server.allocation_of(&client)?;
        let mut buf = vec![0u8; HEADROOM + payload.len() + 3];
        buf[HEADROOM..HEADROOM + payload.len()].copy_from_slice(payload);
        let input = Input::FromPeer {
            alloc: id,
            peer,
            buf: &mut buf,
            start: HEADROOM,
            len: payload.len(),
        };
        match self.server.handle_input(self.now, input)? {
            Forward::ToClient { client: to, data } => {
                assert_eq!(to, client);
                Some(data.to_vec())
            }
            other => panic!("a peer's datagram forwarded to a peer: {other:?}"),
        }
    }
}

/// How a test client proves who it is.
#[derive(Clone)]
pub enum Creds {
    /// Long-term: username, password.
    LongTerm(String, String),
    /// RFC 7635: kid, token, mac_key (signing key bytes).
    Token(String, Vec<u8>, Vec<u8>),
    /// Nothing.
    None,
}

/// A TURN client with its own address.
pub struct C {
    pub addr: SocketAddr,
    pub creds: Creds,
    pub nonce: Option<String>,
    pub fingerprint: bool,
    pub send_token: bool,
    /// MESSAGE-INTEGRITY (SHA-1, what browsers send) or MESSAGE-INTEGRITY-SHA256.
    pub integrity: IntegrityAlgorithm,
    /// PASSWORD-ALGORITHM to pick (with PASSWORD-ALGORITHMS as `offered`); `None`: neither
    /// attribute, so MD5 (browsers, coturn).
    pub password: Option<PasswordAlgorithmValue>,
    /// The PASSWORD-ALGORITHMS list echoed back.
    pub offered: Vec<PasswordAlgorithmValue>,
    /// USERHASH instead of USERNAME.
    pub userhash: bool,
}

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

impl C {
    pub fn new(a: &str, creds: Creds) -> C {
        C {
            addr: addr(a),
            creds,
            nonce: None,
            fingerprint: false,
            send_token: true,
            integrity: IntegrityAlgorithm::Sha1,
            password: None,
            offered: password::OFFERED.to_vec(),
            userhash: false,
        }
    }

    /// Signs with MESSAGE-INTEGRITY-SHA256 under a SHA-256 long-term key, as an RFC 8489
    /// client that took the relay's offer.
    pub fn sha256(mut self) -> C {
        self.integrity = IntegrityAlgorithm::Sha256;
        self.password = Some(PasswordAlgorithmValue::SHA256);
        self
    }

    pub fn key(&self) -> Option<Vec<u8>> {
        match &self.creds {
            Creds::LongTerm(u, p) => {
                let algorithm = self.password.unwrap_or(PasswordAlgorithmValue::MD5);
                Some(
                    password::long_term_key(algorithm, u, REALM, p)
                        .secret()
                        .to_vec(),
                )
            }
            Creds::Token(_, _, k) => Some(k.clone()),
            Creds::None => None,
        }
    }

    /// Builds a request; `attrs` adds method attributes.
    pub fn build(
        &self,
        method: Method,
        attrs: impl FnOnce(&mut MessageWriteVec, TransactionId),
    ) -> Vec<u8> {
        let mut w = Message::builder_request(method, MessageWriteVec::new());
        let txid = w.transaction_id();
        attrs(&mut w, txid);
        self.sign(w)
    }

    pub fn sign(&self, mut w: MessageWriteVec) -> Vec<u8> {
        if let (Some(nonce), Some(key)) = (&self.nonce, self.key()) {
            let user = match &self.creds {
                Creds::LongTerm(u, _) => u.clone(),
                Creds::Token(kid, token, _) => {
                    if self.send_token {
                        w.add_attribute(&RawAttribute::new(ACCESS_TOKEN, token))
                            .unwrap();
                    }
                    kid.clone()
                }
                Creds::None => unreachable!(),
            };
            if self.userhash {
                w.add_attribute(&Userhash::new(password::userhash(&user, REALM)))
                    .unwrap();
            } else {
                w.add_attribute(&Username::new(&user).unwrap()).unwrap();
            }
            w.add_attribute(&Realm::new(REALM).unwrap()).unwrap();
            w.add_attribute(&Nonce::new(nonce).unwrap()).unwrap();
            if let Some(picked) = self.password {
                w.add_attribute(&PasswordAlgorithms::new(&self.offered))
                    .unwrap();
                w.add_attribute(&PasswordAlgorithm::new(picked)).unwrap();
            }
            let key = MacKey::new(key);
            let sign = Signing {
                key: &key,
                algorithm: self.integrity,
            };
            relay_proto::wire::integrity::push(&mut w, sign);
        }
        if self.fingerprint {
            w.add_fingerprint().unwrap();
        }
        w.finish()
    }

    /// Allocate (with the 401 round trip if no nonce yet); returns the final reply.
    pub fn allocate(&mut self, h: &mut H, lifetime: Option<u32>) -> Vec<u8> {
        let req = |c: &C| {
            c.build(ALLOCATE, |w, _| {
                w.add_attribute(&RequestedTransport::new(17)).unwrap();
                if let Some(l) = lifetime {
                    w.add_attribute(&Lifetime::new(l)).unwrap();
                }
            })
        };
        let mut reply = h.request(self.addr, &req(self));
        if code(&reply) == Some(401) || code(&reply) == Some(438) {
            self.nonce = Some(attr_nonce(&reply));
            reply = h.request(self.addr, &req(self));
        }
        reply
    }

    /// Allocate over `client`'s transport (a TCP connection, say), with the 401 round trip;
    /// returns the final reply.
    pub fn allocate_on(&mut self, h: &mut H, client: Client) -> Vec<u8> {
        let req = |c: &C| {
            c.build(ALLOCATE, |w, _| {
                w.add_attribute(&RequestedTransport::new(17)).unwrap()
            })
        };
        let (_, mut r) = h.send_on(client, &req(self));
        if code(&r[0]) == Some(401) {
            self.nonce = Some(attr_nonce(&r[0]));
            r = h.send_on(client, &req(self)).1;
        }
        assert_eq!(r.len(), 1, "expected one reply, got {}", r.len());
        r.remove(0)
    }

    /// Sends a request built by `f`; on 438 takes the new nonce and sends it again, as
    /// real clients do.
    pub fn retrying(&mut self, h: &mut H, f: impl Fn(&C) -> Vec<u8>) -> Vec<u8> {
        let r = h.request(self.addr, &f(self));
        if code(&r) == Some(438) {
            self.nonce = Some(attr_nonce(&r));
            return h.request(self.addr, &f(self));
        }
        r
    }

    pub fn refresh(&mut self, h: &mut H, lifetime: Option<u32>) -> Vec<u8> {
        self.retrying(h, |c| {
            c.build(REFRESH, |w, _| {
                if let Some(l) = lifetime {
                    w.add_attribute(&Lifetime::new(l)).unwrap();
                }
            })
        })
    }

    pub fn permit(&mut self, h: &mut H, peer: SocketAddr) -> Vec<u8> {
        self.retrying(h, |c| {
            c.build(CREATE_PERMISSION, |w, tx| {
                w.add_attribute(&XorPeerAddress::new(peer, tx)).unwrap();
            })
        })
    }

    pub fn bind(&mut self, h: &mut H, number: u16, peer: SocketAddr) -> Vec<u8> {
        self.retrying(h, |c| {
            c.build(CHANNEL_BIND, |w, tx| {
                w.add_attribute(&ChannelNumber::new(number)).unwrap();
                w.add_attribute(&XorPeerAddress::new(peer, tx)).unwrap();
            })
        })
    }

    pub fn send_indication(&self, peer: SocketAddr, data: &[u8]) -> Vec<u8> {
        let mut w = Message::builder_indication(SEND, MessageWriteVec::new());
        let tx = w.transaction_id();
        w.add_attribute(&XorPeerAddress::new(peer, tx)).unwrap();
        w.add_attribute(&Data::new(data)).unwrap();
        w.finish()
    }
}

/// ChannelData framing.
pub fn channel_data(number: u16, data: &[u8]) -> Vec<u8> {
    let mut v = number.to_be_bytes().to_vec();
    v.extend_from_slice(&(data.len() as u16).to_be_bytes());
    v.extend_from_slice(data);
    v
}

/// The ERROR-CODE of a reply, or None for a success.
pub fn code(reply: &[u8]) -> Option<u16> {
    let m = Message::from_bytes(reply).unwrap();
    match m.class() {
        MessageClass::Error => Some(m.attribute::<ErrorCode>().unwrap().code()),
        _ => None,
    }
}

pub fn is_success(reply: &[u8]) -> bool {
    Message::from_bytes(reply).unwrap().class() == MessageClass::Success
}

pub fn attr_nonce(reply: &[u8]) -> String {
    Message::from_bytes(reply)
        .unwrap()
        .attribute::<Nonce>()
        .unwrap()
        .nonce()
        .to_string()
}

pub fn lifetime(reply: &[u8]) -> u32 {
    Message::from_bytes(reply)
        .unwrap()
        .attribute::<Lifetime>()
        .unwrap()
        .seconds()
}

pub fn relayed(reply: &[u8]) -> SocketAddr {
    let m = Message::from_bytes(reply).unwrap();
    m.attribute::<XorRelayedAddress>()
        .unwrap()
        .addr(m.transaction_id())
}

/// Every XOR-RELAYED-ADDRESS of a reply, in order.
pub fn relayed_all(reply: &[u8]) -> Vec<SocketAddr> {
    let m = Message::from_bytes(reply).unwrap();
    (0..)
        .map_while(|n| m.nth_attribute::<XorRelayedAddress>(n).ok())
        .map(|a| a.addr(m.transaction_id()))
        .collect()
}

/// ADDRESS-ERROR-CODE of a reply: the family and the code.
pub fn address_error(reply: &[u8]) -> Option<(stun_types::AddressFamily, u16)> {
    let m = Message::from_bytes(reply).unwrap();
    m.attribute::<turn_types::attribute::AddressErrorCode>()
        .ok()
        .map(|a| (a.family(), a.error().code()))
}

pub fn unknown_attrs(reply: &[u8]) -> Vec<u16> {
    let m = Message::from_bytes(reply).unwrap();
    let u = m.attribute::<UnknownAttributes>().unwrap();
    (0..0x10000u32)
        .filter(|t| u.has_attribute(stun_types::attribute::AttributeType::new(*t as u16)))
        .map(|t| t as u16)
        .collect()
}

/// True when the reply's MESSAGE-INTEGRITY verifies under `key`.
pub fn signed_with(reply: &[u8], key: &[u8]) -> bool {
    let m = Message::from_bytes(reply).unwrap();
    let Some(at) = relay_proto::wire::integrity(&m) else {
        return false;
    };
    relay_proto::wire::verify(reply, &at, key)
}

/// The integrity attribute of a reply: which one, if any.
pub fn integrity_of(reply: &[u8]) -> Option<IntegrityAlgorithm> {
    let m = Message::from_bytes(reply).unwrap();
    relay_proto::wire::integrity(&m).map(|at| at.algorithm())
}

pub fn has(reply: &[u8], t: stun_types::attribute::AttributeType) -> bool {
    Message::from_bytes(reply).unwrap().has_attribute(t)
}

pub fn fingerprint_type() -> stun_types::attribute::AttributeType {
    Fingerprint::TYPE
}

/// Mints a token with the test key file.
pub fn token(h: &H, lifetime: u32, random: u8) -> (String, Vec<u8>, MacKey) {
    token_of(h, lifetime, random, shared_token::MacKeyProfile::Sha1Coturn)
}

/// Mints a token with the test key file and a mac_key of `profile`.
pub fn token_of(
    h: &H,
    lifetime: u32,
    random: u8,
    profile: shared_token::MacKeyProfile,
) -> (String, Vec<u8>, MacKey) {
    token_for(h, lifetime, random, profile, None)
}

/// Mints a token charged to `account` (none: a token from before accounts).
pub fn token_for(
    h: &H,
    lifetime: u32,
    random: u8,
    profile: shared_token::MacKeyProfile,
    account: Option<shared_token::AccountKey>,
) -> (String, Vec<u8>, MacKey) {
    let ring = Keyring::from_json(KEYS).unwrap();
    let m = ring
        .mint_with(
            &shared_token::MintRequest {
                kid: None,
                server_name: SERVER_NAME,
                lifetime,
                profile,
                now: h.unix(),
                account,
            },
            &[random; 32],
            &[random; 12],
        )
        .unwrap();
    (m.kid, m.token, m.mac_key)
}
