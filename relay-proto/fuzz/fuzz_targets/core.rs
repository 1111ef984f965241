//! The relay core driven by arbitrary sequences of inputs and time steps: well-formed and
//! signed requests from a few clients (so the fuzzer gets past authentication), raw and
//! mutated bytes, peer datagrams, relay sockets that fail to bind, opened and closed
//! connections, revocations of the clients' tokens, a drain, kernel fast path traffic
//! against bandwidth caps, and timeouts early, late and on time. Nothing may panic, every
//! size stays under its cap, and
//! the outputs keep their order (an allocation's routes are cleared before its relay socket
//! is released; nothing is relayed through an allocation that is gone).
//! Run with `cargo xtask fuzz-relay [SECONDS]`.
#![no_main]

use std::collections::HashSet;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use relay_proto::{
    AllocId, AuthConfig, ChannelRoute, Client, Clock, Config, Counters, Forward, HEADROOM, Input,
    NonceSecret, Output, PeerPolicy, QuotaCounts, Rate, RevokedToken, RouteChange, Seeds, Server,
    TAILROOM, Traffic, Transport,
};
use shared_token::{BrowserCredential, Keyring, MacKeyProfile, MintRequest, RestSecret, TokenId};
use stun_types::AddressFamily;
use stun_types::attribute::{
    AttributeStaticType, ErrorCode, Nonce, PasswordAlgorithm, PasswordAlgorithmValue,
    PasswordAlgorithms, RawAttribute, Realm, Username,
};
use stun_types::message::{
    BINDING, IntegrityAlgorithm, LongTermCredentials, Message, MessageClass, MessageWrite,
    MessageWriteExt, MessageWriteVec, Method,
};
use turn_types::attribute::{
    AdditionalAddressFamily, ChannelNumber, Data, EvenPort, Lifetime, RequestedAddressFamily,
    RequestedTransport, XorPeerAddress,
};
use turn_types::message::{ALLOCATE, CHANNEL_BIND, CREATE_PERMISSION, REFRESH, SEND};

const REALM: &str = "fuzz.realm";
const UNIX0: u64 = 1_800_000_000;
const MAX_ALLOCATIONS: usize = 6;
const MAX_PERMISSIONS: usize = 4;
const MAX_QUEUED: usize = 32;
const MAX_SOURCES: usize = 8;
const MAX_CONNECTIONS: usize = 3;
const MAX_REVOKED: usize = 4;
const SERVER_NAME: &str = "turn.fuzz";
const KEYS: &str =
    r#"[{"kid":"k1","alg":"A256GCM","key":"MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEK"}]"#;

#[derive(Arbitrary, Debug)]
enum Step {
    Allocate {
        client: u8,
        lifetime: Option<u16>,
        even: Option<bool>,
        transport: u8,
        family: u8,
    },
    Refresh {
        client: u8,
        lifetime: Option<u16>,
    },
    Permit {
        client: u8,
        peers: Vec<u8>,
    },
    Bind {
        client: u8,
        channel: u16,
        peer: u8,
    },
    Binding {
        client: u8,
    },
    Send {
        client: u8,
        peer: u8,
        data: Vec<u8>,
    },
    ChannelData {
        client: u8,
        channel: u16,
        data: Vec<u8>,
        claimed: Option<u16>,
    },
    FromPeer {
        client: u8,
        peer: u8,
        len: u16,
    },
    Raw {
        client: u8,
        bytes: Vec<u8>,
    },
    Mutated {
        client: u8,
        at: u16,
        xor: u8,
    },
    Credentials {
        client: u8,
        which: u8,
    },
    Open {
        client: u8,
    },
    Close {
        client: u8,
    },
    /// Revokes some of the tokens handed out so far (`which` picks them) and `junk` ids.
    Revoke {
        which: u8,
        junk: Vec<u8>,
    },
    /// Which families' relay binds fail: bit 0 IPv4, bit 1 IPv6.
    FailBinds(u8),
    Drain,
    Kernel {
        client: u8,
        to_peer: u32,
        to_client: u32,
    },
    Advance {
        millis: u32,
    },
    EarlyTimeout,
}

/// A test client: its address, credentials and the nonce it learned.
struct FuzzClient {
    addr: SocketAddr,
    tcp: bool,
    user: String,
    pass: String,
    /// RFC 8489 signing: PASSWORD-ALGORITHM SHA-256 and MESSAGE-INTEGRITY-SHA256.
    sha256: bool,
    nonce: Option<String>,
}

struct World {
    core: Server,
    cfg: Arc<Config>,
    t0: Instant,
    now: Instant,
    clients: Vec<FuzzClient>,
    fail_binds: u8,
    next_port: u16,
    rest: RestSecret,
    keyring: Keyring,
    /// Tokens handed to clients as browser credentials, with their expiry.
    tokens: Vec<RevokedToken>,
    /// Routes set and not cleared, by allocation.
    routes: HashSet<ChannelRoute>,
    /// Relay sockets bound and not released.
    relays: HashSet<AllocId>,
}

fn peer(i: u8) -> SocketAddr {
    let ip = match i % 4 {
        3 => IpAddr::from(Ipv6Addr::LOCALHOST),
        n => IpAddr::from([127, 0, 0, 1 + n]),
    };
    SocketAddr::new(ip, 40_000 + u16::from(i % 2))
}

impl World {
    fn new() -> World {
        let relay_ip: IpAddr = "198.51.100.1"
            .parse()
            .unwrap_or(IpAddr::from([198, 51, 100, 1]));
        let keyring = Keyring::from_json(KEYS).ok();
        let mut auth = AuthConfig {
            realm: REALM.into(),
            server_name: SERVER_NAME.into(),
            keyring: keyring.clone(),
            ..AuthConfig::default()
        };
        auth.add_user("alice", "secret");
        auth.add_user("bob", "hunter2");
        let rest = RestSecret::new(*b"rest");
        auth.rest = shared_token::rest::RestSecrets::new(vec![rest.clone()]);
        let mut policy = PeerPolicy::new(vec![], vec![], vec![relay_ip]);
        policy.allow_loopback();
        let mut cfg = Config::new(auth, policy, relay_ip);
        cfg.relay_ips = cfg.relay_ips.set(IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]));
        cfg.max_permissions = MAX_PERMISSIONS;
        cfg.max_queued_transmits = MAX_QUEUED;
        cfg.unauth_sources = MAX_SOURCES;
        cfg.channel_routes = true;
        cfg.max_connections = MAX_CONNECTIONS;
        cfg.max_revoked = MAX_REVOKED;
        (cfg.default_lifetime, cfg.max_lifetime) = (120, 600);
        cfg.bandwidth.per_allocation = Rate::new(20_000);
        cfg.bandwidth.per_user = Rate::new(30_000);
        cfg.alternate_servers = vec![SocketAddr::new(IpAddr::from([192, 0, 2, 9]), 3478)];
        let cfg = Arc::new(cfg);
        let now = Instant::now();
        let seeds = Seeds {
            nonce_secret: NonceSecret::new([3; 32]),
            txid_seed: 1,
        };
        let quota = Box::new(QuotaCounts::new(MAX_ALLOCATIONS, 3));
        let clients = (0..8u8)
            .map(|i| FuzzClient {
                addr: SocketAddr::new(
                    if i % 3 == 2 {
                        IpAddr::from([0x2001, 0xdb8, 2, 0, 0, 0, 0, u16::from(i)])
                    } else {
                        IpAddr::from([203, 0, 113, i / 2])
                    },
                    1000 + u16::from(i % 2),
                ),
                tcp: i % 4 == 3,
                user: "alice".into(),
                pass: "secret".into(),
                sha256: false,
                nonce: None,
            })
            .collect();
        World {
            core: Server::new(cfg.clone(), quota, seeds, Clock::new(now, UNIX0)),
            cfg,
            t0: now,
            now,
            clients,
            fail_binds: 0,
            next_port: 50_000,
            rest,
            keyring: keyring.unwrap_or_else(|| panic!("the fuzz key file")),
            tokens: Vec::new(),
            routes: HashSet::new(),
            relays: HashSet::new(),
        }
    }

    fn client(&self, i: u8) -> (usize, Client) {
        let i = usize::from(i) % self.clients.len();
        let c = &self.clients[i];
        let transport = if c.tcp {
            Transport::Tcp(i as u64)
        } else {
            Transport::Udp
        };
        (
            i,
            Client {
                transport,
                addr: c.addr,
            },
        )
    }

    fn unix(&self) -> u64 {
        UNIX0 + self.now.saturating_duration_since(self.t0).as_secs()
    }

    /// A request from client `i`, signed if it has a nonce.
    fn request(
        &self,
        i: usize,
        method: Method,
        attrs: impl FnOnce(&mut MessageWriteVec),
    ) -> Vec<u8> {
        let c = &self.clients[i];
        let mut w = Message::builder_request(method, MessageWriteVec::new());
        attrs(&mut w);
        if let Some(nonce) = &c.nonce {
            let _ = w.add_attribute(&Username::new(&c.user).unwrap());
            let _ = w.add_attribute(&Realm::new(REALM).unwrap());
            if let Ok(n) = Nonce::new(nonce) {
                let _ = w.add_attribute(&n);
            }
            let creds =
                LongTermCredentials::new(c.user.clone(), c.pass.clone()).to_key(REALM.into());
            // stun-types keys HMAC-SHA256 with the SHA-256 long-term key: the relay's offer.
            let algorithm = if c.sha256 {
                let _ = w.add_attribute(&PasswordAlgorithms::new(&[
                    PasswordAlgorithmValue::SHA256,
                    PasswordAlgorithmValue::MD5,
                ]));
                let _ = w.add_attribute(&PasswordAlgorithm::new(PasswordAlgorithmValue::SHA256));
                IntegrityAlgorithm::Sha256
            } else {
                IntegrityAlgorithm::Sha1
            };
            let _ = w.add_message_integrity(&creds.into(), algorithm);
        }
        w.finish()
    }

    /// A datagram from client `i` into the core, with the driver's work after it.
    fn from_client(&mut self, i: usize, client: Client, data: &[u8]) {
        match self
            .core
            .handle_input(self.now, Input::FromClient { client, data })
        {
            Some(Forward::ToPeer { alloc, .. }) => {
                assert!(
                    self.relays.contains(&alloc),
                    "relayed through an allocation without a relay socket"
                );
                assert!(
                    self.core.allocation(alloc).is_some(),
                    "relayed through an ended allocation"
                );
            }
            Some(Forward::ToClient { .. }) => panic!("a client's datagram forwarded to a client"),
            None => {}
        }
        self.drain(Some(i));
    }

    /// Carries out the core's outputs as a driver does, checking their order and the caps.
    fn drain(&mut self, from: Option<usize>) {
        let f = self.core.footprint();
        assert!(f.queued_transmits <= MAX_QUEUED, "{f:?}");
        assert!(f.allocations <= MAX_ALLOCATIONS, "{f:?}");
        assert!(f.connections <= MAX_CONNECTIONS, "{f:?}");
        assert!(
            f.timers >= f.allocations && f.timers <= f.allocations + f.held + f.connections,
            "a deadline per allocation, per held allocation and per idle connection: {f:?}"
        );
        assert!(f.held <= f.allocations, "{f:?}");
        assert!(f.most_permissions <= MAX_PERMISSIONS, "{f:?}");
        assert!(f.most_channels <= MAX_PERMISSIONS, "{f:?}");
        assert!(f.rate_limited_sources <= MAX_SOURCES, "{f:?}");
        assert!(f.revoked <= MAX_REVOKED, "{f:?}");
        // Each allocation's end queues at most its routes, a release and an event.
        assert!(
            f.queued
                <= MAX_QUEUED + MAX_ALLOCATIONS * (MAX_PERMISSIONS + 2) + 2 * MAX_PERMISSIONS + 4,
            "{f:?}"
        );
        while let Some(out) = self.core.poll_output() {
            match out {
                Output::Transmit(t) => self.learn(from, &t.data),
                Output::BindRelay { alloc, ip, port } => {
                    let even = matches!(port, relay_proto::PortRequest::Even { .. });
                    let bit = if ip.is_ipv4() { 1 } else { 2 };
                    let result = if self.fail_binds & bit != 0 {
                        Err(relay_proto::BindFailed { ip })
                    } else {
                        self.next_port = self.next_port.wrapping_add(if even { 2 } else { 1 });
                        self.relays.insert(alloc);
                        let bound = match port {
                            relay_proto::PortRequest::Exact(p) => p,
                            _ => self.next_port,
                        };
                        Ok(SocketAddr::new(ip, bound))
                    };
                    let fwd = self
                        .core
                        .handle_input(self.now, Input::RelayBound { alloc, result });
                    assert!(fwd.is_none());
                }
                Output::ReleaseRelay { alloc } => {
                    assert!(
                        self.relays.remove(&alloc),
                        "released a relay socket twice or never bound"
                    );
                    assert!(
                        !self.routes.iter().any(|r| r.alloc == alloc),
                        "relay socket released before its routes were cleared"
                    );
                }
                Output::Route(RouteChange::Set { route, until }) => {
                    assert!(until > self.now, "a route that is already over");
                    assert!(
                        self.relays.contains(&route.alloc),
                        "a route for an allocation without a relay socket"
                    );
                    self.routes.retain(|r| *r != route);
                    self.routes.insert(route);
                }
                Output::Route(RouteChange::Clear { route }) => {
                    assert!(
                        self.routes.remove(&route),
                        "cleared a route that was not set"
                    );
                }
                Output::Event(_) => {}
                Output::CloseConnection { transport, .. } => {
                    assert_ne!(transport, Transport::Udp);
                    let closed = Input::ConnectionClosed { transport };
                    assert!(self.core.handle_input(self.now, closed).is_none());
                }
            }
        }
        assert_eq!(self.core.footprint().queued, 0);
        // A relay socket outlives its allocation only while the release is queued: none now.
        for alloc in &self.relays {
            assert!(
                self.core.allocation(*alloc).is_some(),
                "an allocation ended without releasing its relay socket"
            );
        }
    }

    /// Takes the nonce from a 401 or 438, as a client does.
    fn learn(&mut self, from: Option<usize>, reply: &[u8]) {
        let (Some(i), Ok(m)) = (from, Message::from_bytes(reply)) else {
            return;
        };
        if m.class() != MessageClass::Error {
            return;
        }
        let code = m.attribute::<ErrorCode>().map(|e| e.code()).unwrap_or(0);
        if code == 401 || code == 438 {
            if let Ok(n) = m.attribute::<Nonce>() {
                self.clients[i].nonce = Some(n.nonce().to_string());
            }
        }
    }

    fn advance(&mut self, by: Duration) {
        let target = self.now + by;
        while let Some(at) = self.core.poll_timeout().filter(|at| *at <= target) {
            assert!(at >= self.now, "a deadline in the past");
            self.now = at;
            assert!(self.core.handle_input(self.now, Input::Timeout).is_none());
            self.drain(None);
        }
        self.now = target;
    }

    fn step(&mut self, step: Step) {
        match step {
            Step::Allocate {
                client,
                lifetime,
                even,
                transport,
                family,
            } => {
                let (i, c) = self.client(client);
                let req = self.request(i, ALLOCATE, |w| {
                    let _ = w.add_attribute(&RequestedTransport::new(if transport % 8 == 0 {
                        6
                    } else {
                        17
                    }));
                    if let Some(l) = lifetime {
                        let _ = w.add_attribute(&Lifetime::new(u32::from(l)));
                    }
                    if let Some(e) = even {
                        let _ = w.add_attribute(&EvenPort::new(e));
                    }
                    let (v4, v6) = (AddressFamily::IPV4, AddressFamily::IPV6);
                    let _ = match family % 6 {
                        1 => w.add_attribute(&RequestedAddressFamily::new(v4)),
                        2 => w.add_attribute(&RequestedAddressFamily::new(v6)),
                        3 => w.add_attribute(&AdditionalAddressFamily::new(v6)),
                        4 => w.add_attribute(&RawAttribute::new(
                            AdditionalAddressFamily::TYPE,
                            &[family / 6 % 4, 0, 0, 0],
                        )),
                        5 => w
                            .add_attribute(&RequestedAddressFamily::new(v4))
                            .and_then(|()| w.add_attribute(&AdditionalAddressFamily::new(v6))),
                        _ => Ok(()),
                    };
                });
                self.from_client(i, c, &req);
            }
            Step::Refresh { client, lifetime } => {
                let (i, c) = self.client(client);
                let req = self.request(i, REFRESH, |w| {
                    if let Some(l) = lifetime {
                        let _ = w.add_attribute(&Lifetime::new(u32::from(l % 700)));
                    }
                });
                self.from_client(i, c, &req);
            }
            Step::Permit { client, peers } => {
                let (i, c) = self.client(client);
                let req = self.request(i, CREATE_PERMISSION, |w| {
                    let tx = w.transaction_id();
                    for p in peers.iter().take(70) {
                        let _ = w.add_attribute(&XorPeerAddress::new(peer(*p), tx));
                    }
                });
                self.from_client(i, c, &req);
            }
            Step::Bind {
                client,
                channel,
                peer: p,
            } => {
                let (i, c) = self.client(client);
                let req = self.request(i, CHANNEL_BIND, |w| {
                    let tx = w.transaction_id();
                    let _ = w.add_attribute(&ChannelNumber::new(0x4000 | (channel % 0x4000)));
                    let _ = w.add_attribute(&XorPeerAddress::new(peer(p), tx));
                });
                self.from_client(i, c, &req);
            }
            Step::Binding { client } => {
                let (i, c) = self.client(client);
                let req = Message::builder_request(BINDING, MessageWriteVec::new()).finish();
                self.from_client(i, c, &req);
            }
            Step::Send {
                client,
                peer: p,
                data,
            } => {
                let (i, c) = self.client(client);
                let mut w = Message::builder_indication(SEND, MessageWriteVec::new());
                let tx = w.transaction_id();
                let _ = w.add_attribute(&XorPeerAddress::new(peer(p), tx));
                let _ = w.add_attribute(&Data::new(&data));
                let req = w.finish();
                self.from_client(i, c, &req);
            }
            Step::ChannelData {
                client,
                channel,
                data,
                claimed,
            } => {
                let (i, c) = self.client(client);
                let len = claimed.unwrap_or(data.len() as u16);
                let mut frame = (0x4000 | (channel % 0x4000)).to_be_bytes().to_vec();
                frame.extend_from_slice(&len.to_be_bytes());
                frame.extend_from_slice(&data);
                self.from_client(i, c, &frame);
            }
            Step::FromPeer {
                client,
                peer: p,
                len,
            } => {
                let (_, c) = self.client(client);
                let Some(alloc) = self.core.allocation_of(&c) else {
                    return;
                };
                let len = usize::from(len);
                let mut buf = vec![0xA5u8; HEADROOM + len + TAILROOM];
                let input = Input::FromPeer {
                    alloc,
                    peer: peer(p),
                    buf: &mut buf,
                    start: HEADROOM,
                    len,
                };
                match self.core.handle_input(self.now, input) {
                    Some(Forward::ToClient { client, data }) => {
                        assert_eq!(client, c);
                        assert!(data.len() >= len && data.len() <= len + HEADROOM + TAILROOM);
                    }
                    Some(Forward::ToPeer { .. }) => panic!("a peer's datagram forwarded to a peer"),
                    None => {}
                }
                self.drain(None);
            }
            Step::Raw { client, bytes } => {
                let (i, c) = self.client(client);
                self.from_client(i, c, &bytes);
            }
            Step::Mutated { client, at, xor } => {
                let (i, c) = self.client(client);
                let mut req = self.request(i, REFRESH, |w| {
                    let _ = w.add_attribute(&Lifetime::new(300));
                });
                let at = usize::from(at) % req.len().max(1);
                if let Some(b) = req.get_mut(at) {
                    *b ^= xor;
                }
                self.from_client(i, c, &req);
            }
            Step::Credentials { client, which } => {
                let (i, _) = self.client(client);
                let (user, pass) = match which % 5 {
                    0 => ("alice".to_string(), "secret".to_string()),
                    1 => ("bob".to_string(), "hunter2".to_string()),
                    2 => ("alice".to_string(), "wrong".to_string()),
                    4 => self.browser_credential(60 + u32::from(which) * 3, which),
                    _ => {
                        let expiry = self.unix() + u64::from(which) * 3;
                        let r = shared_token::rest::mint(&self.rest, "carol", expiry);
                        (r.username, r.password)
                    }
                };
                self.clients[i].user = user;
                self.clients[i].pass = pass;
                self.clients[i].sha256 = which & 0x80 != 0;
            }
            Step::Open { client } => {
                let (_, client) = self.client(client);
                let opened = Input::ConnectionOpened { client };
                assert!(self.core.handle_input(self.now, opened).is_none());
                self.drain(None);
            }
            Step::Close { client } => {
                let (_, c) = self.client(client);
                let fwd = self.core.handle_input(
                    self.now,
                    Input::ConnectionClosed {
                        transport: c.transport,
                    },
                );
                assert!(fwd.is_none());
                self.drain(None);
            }
            Step::Revoke { which, junk } => {
                let mut tokens: Vec<RevokedToken> = (0..self.tokens.len())
                    .filter(|n| which & (1 << (n % 8)) != 0)
                    .filter_map(|n| self.tokens.get(n).copied())
                    .collect();
                tokens.extend(junk.iter().take(8).map(|b| RevokedToken {
                    id: TokenId::of(&[*b]),
                    expires_at: self.unix() + u64::from(*b) * 7,
                }));
                let ids: Vec<TokenId> = tokens.iter().map(|t| t.id).collect();
                let fwd = self
                    .core
                    .handle_input(self.now, Input::Revoke { tokens: &tokens });
                assert!(fwd.is_none());
                self.drain(None);
                // No allocation may hold a token that was revoked (unless the set was full).
                if self.core.stats().revocations_dropped == 0 {
                    assert!(
                        !self
                            .core
                            .traffic()
                            .any(|(info, _)| info.token_id.is_some_and(|t| ids.contains(&t))),
                        "an allocation outlived its token's revocation"
                    );
                }
            }
            Step::FailBinds(f) => self.fail_binds = f % 4,
            Step::Drain => {
                assert!(self.core.handle_input(self.now, Input::Drain).is_none());
                self.drain(None);
            }
            Step::Kernel {
                client,
                to_peer,
                to_client,
            } => {
                let (_, c) = self.client(client);
                let Some(alloc) = self.core.allocation_of(&c) else {
                    return;
                };
                let count = |bytes: u32| Counters {
                    packets: u64::from(bytes / 100),
                    bytes: u64::from(bytes),
                };
                let relayed = [(
                    alloc,
                    Traffic {
                        to_peer: count(to_peer),
                        to_client: count(to_client),
                    },
                )];
                let input = Input::KernelTraffic { relayed: &relayed };
                assert!(self.core.handle_input(self.now, input).is_none());
                self.drain(None);
            }
            Step::Advance { millis } => self.advance(Duration::from_millis(u64::from(millis))),
            Step::EarlyTimeout => {
                assert!(self.core.handle_input(self.now, Input::Timeout).is_none());
                self.drain(None);
            }
        }
    }
}

impl World {
    /// A browser credential (the token inside the username) for `lifetime` seconds; the token
    /// is remembered for revocation.
    fn browser_credential(&mut self, lifetime: u32, seed: u8) -> (String, String) {
        let req = MintRequest {
            kid: None,
            server_name: SERVER_NAME,
            lifetime,
            profile: MacKeyProfile::Sha1Coturn,
            now: self.unix(),
        };
        let Ok(m) = self.keyring.mint_with(&req, &[seed; 32], &[seed; 12]) else {
            return ("alice".into(), "secret".into());
        };
        let Ok(cred) = BrowserCredential::new(&m.kid, &m.token, &m.mac_key) else {
            return ("alice".into(), "secret".into());
        };
        if self.tokens.len() < 8 {
            self.tokens.push(RevokedToken {
                id: m.id,
                expires_at: m.expires_at(),
            });
        }
        (cred.username, cred.credential)
    }
}

fuzz_target!(|steps: Vec<Step>| {
    let mut world = World::new();
    for step in steps.into_iter().take(256) {
        world.step(step);
    }
    // In the end every allocation expires, and everything it held goes with it.
    world.advance(Duration::from_secs(3600));
    // Revocations outlive nothing either: past every token's expiry a deadline prunes them.
    assert!(world.core.handle_input(world.now, Input::Timeout).is_none());
    let f = world.core.footprint();
    assert_eq!(
        (f.allocations, f.timers, f.queued, f.connections, f.revoked),
        (0, 0, 0, 0, 0),
        "{f:?}"
    );
    assert!(world.relays.is_empty() && world.routes.is_empty());
    assert!(
        world.cfg.bandwidth.users.is_empty(),
        "a user's buckets outlived their allocations"
    );
});
