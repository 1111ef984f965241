//! The relay's protocol core: a state machine with no sockets and no clock.
//!
//! Inputs: datagrams (or framed TCP messages) from clients via [`Server::handle_client`],
//! datagrams from peers on a relay socket via [`Server::handle_peer`], the result of binding
//! a relay socket via [`Server::relay_bound`], and time via [`Server::handle_timeout`].
//! Outputs: the hot paths return what to forward directly, borrowing the caller's buffer;
//! control replies are queued for [`Server::poll_transmit`]; socket work the driver must do
//! is queued for [`Server::poll_event`]. After any input, drain both queues and re-arm the
//! timer with [`Server::poll_timeout`].

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use stun_types::attribute::{Attribute, AttributeStaticType};
use stun_types::message::{
    Message, MessageClass, MessageHeader, MessageType, MessageWriteExt, MessageWriteVec,
};
use tracing::info;
use turn_types::message::SEND;

use crate::allocation::{AllocId, Allocation, Client, Table, Transport};
use crate::auth::AuthConfig;
use crate::clock::Clock;
use crate::nonce::Nonces;
use crate::policy::PeerPolicy;
use crate::quota::Quotas;
use crate::ratelimit::RateLimit;
use crate::routes::{self, RouteChange};
use crate::wire;

/// Bytes [`Server::handle_peer`] needs in front of the payload for the largest header it
/// writes there (a Data indication to an IPv6 peer: 20 + 24 + 4).
pub const HEADROOM: usize = 48;
/// Bytes it may need after the payload (padding to 4).
pub const TAILROOM: usize = 3;

/// Configuration shared by every core (every shard) of a relay.
pub struct Config {
    /// Credentials.
    pub auth: AuthConfig,
    /// Where relaying is allowed.
    pub policy: PeerPolicy,
    /// Allocation quotas, shared by all shards.
    pub quotas: Arc<Quotas>,
    /// The address relay sockets are bound to (and advertised).
    pub relay_ip: IpAddr,
    /// Default allocation lifetime (RFC 8656: 600 s).
    pub default_lifetime: u32,
    /// Longest allocation lifetime granted (RFC 8656 suggests 3600 s).
    pub max_lifetime: u32,
    /// Permission lifetime (RFC 8656: 300 s).
    pub permission_lifetime: Duration,
    /// Channel lifetime (RFC 8656: 600 s).
    pub channel_lifetime: Duration,
    /// Nonce lifetime before 438.
    pub nonce_ttl_secs: u64,
    /// Unauthenticated requests per second per source IP, and burst.
    pub unauth_rate: (f64, f64),
    /// Most permissions (and channels) one allocation may hold (508 beyond).
    pub max_permissions: usize,
    /// Report channel routes ([`Event::Route`]) for a kernel fast path.
    pub channel_routes: bool,
}

impl Config {
    /// Defaults around the given credentials and peer policy.
    pub fn new(auth: AuthConfig, policy: PeerPolicy, relay_ip: IpAddr) -> Config {
        Config {
            auth,
            policy,
            quotas: Arc::new(Quotas::new(0, 0)),
            relay_ip,
            default_lifetime: 600,
            max_lifetime: 3600,
            permission_lifetime: Duration::from_secs(300),
            channel_lifetime: Duration::from_secs(600),
            nonce_ttl_secs: 600,
            unauth_rate: (20.0, 40.0),
            max_permissions: 256,
            channel_routes: false,
        }
    }
}

/// A control message for a client.
#[derive(Debug)]
pub struct Transmit {
    /// To whom (and over which transport).
    pub to: Client,
    /// The bytes.
    pub data: Vec<u8>,
}

/// Socket work for the driver.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// Bind a UDP socket on `ip` (port of the driver's choosing) for allocation `alloc`, then
    /// call [`Server::relay_bound`].
    BindRelay {
        /// The allocation.
        alloc: AllocId,
        /// The relay IP.
        ip: IpAddr,
        /// The port must be even (EVEN-PORT).
        even: bool,
    },
    /// Close the relay socket of `alloc`.
    ReleaseRelay {
        /// The allocation that ended.
        alloc: AllocId,
    },
    /// A channel route appeared, moved its deadline or went away (only with
    /// [`Config::channel_routes`]). Clears come before the allocation's `ReleaseRelay`.
    Route(RouteChange),
}

/// What to do with a client's datagram.
#[derive(Debug, PartialEq, Eq)]
pub enum ClientOutcome<'a> {
    /// Nothing to forward (handled, replied to via the queue, or dropped).
    Done,
    /// Send `data` from `alloc`'s relay socket to `peer`.
    ToPeer {
        /// Whose relay socket.
        alloc: AllocId,
        /// Destination.
        peer: SocketAddr,
        /// Payload, borrowed from the input.
        data: &'a [u8],
    },
}

/// Where a peer's datagram goes, framed in place in the caller's buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct ToClient {
    /// The client.
    pub to: Client,
    /// The framed message's range in the buffer.
    pub range: std::ops::Range<usize>,
}

/// Counters, for logs and metrics.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    /// Allocations made.
    pub allocations: u64,
    /// Requests refused for authentication.
    pub auth_failures: u64,
    /// Requests dropped by the rate limit.
    pub rate_limited: u64,
    /// Datagrams dropped as malformed.
    pub malformed: u64,
}

/// One relay core.
pub struct Server {
    cfg: Arc<Config>,
    clock: Clock,
    nonces: Nonces,
    table: Table,
    timers: BinaryHeap<Reverse<(Instant, AllocIdKey)>>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    limit: RateLimit,
    txid_state: u64,
    stats: Stats,
}

/// AllocId ordered for the heap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct AllocIdKey(u64);

const MAX_QUEUED: usize = 4096;

impl Server {
    /// A core. `nonce_secret` must be the same for every core of a relay (and random);
    /// `clock` maps `Instant`s to Unix time.
    pub fn new(cfg: Arc<Config>, nonce_secret: [u8; 32], clock: Clock) -> Server {
        let (per_sec, burst) = cfg.unauth_rate;
        let seed = u64::from_le_bytes([
            nonce_secret[0],
            nonce_secret[1],
            nonce_secret[2],
            nonce_secret[3],
            nonce_secret[4],
            nonce_secret[5],
            nonce_secret[6],
            nonce_secret[7],
        ]) | 1;
        Server {
            nonces: Nonces::new(nonce_secret, cfg.nonce_ttl_secs),
            cfg,
            clock,
            table: Table::default(),
            timers: BinaryHeap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            limit: RateLimit::new(per_sec, burst, 65_536),
            txid_state: seed,
            stats: Stats::default(),
        }
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Allocations in this core.
    pub fn allocations(&self) -> usize {
        self.table.len()
    }

    /// An allocation, for inspection.
    pub fn allocation(&self, id: AllocId) -> Option<&Allocation> {
        self.table.get(id)
    }

    /// The allocation of a client.
    pub fn allocation_of(&self, client: &Client) -> Option<AllocId> {
        self.table.find(client)
    }

    /// The next control message for a client. Poll until `None` after every input.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next socket operation for the driver. Poll until `None` after every input.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When to call [`Server::handle_timeout`] next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((at, _))| *at)
    }

    /// Ends allocations whose time (or whose credential's time) is up.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, key))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            let id = key_to_id(key);
            let Some(a) = self.table.get_mut(id) else {
                continue;
            };
            if a.expires > now {
                continue; // refreshed since; a later timer exists
            }
            let reason = match a.credential.expires_at {
                Some(e) if self.clock.unix(now) >= e => "credential expired",
                _ => "lifetime over",
            };
            self.end(id, "expired", reason);
        }
    }

    /// The client's TCP connection closed: its allocations end (RFC 8656 section 3.1).
    pub fn client_closed(&mut self, transport: Transport) {
        for id in self.table.of_transport(transport) {
            self.end(id, "deleted", "connection closed");
        }
    }

    fn end(&mut self, id: AllocId, event: &str, reason: &str) {
        if let Some(a) = self.table.remove(id) {
            self.cfg.quotas.release(&a.credential.user);
            for (route, _) in &a.routes {
                self.events
                    .push_back(Event::Route(RouteChange::Clear { route: *route }));
            }
            if a.relay.is_some() {
                self.events.push_back(Event::ReleaseRelay { alloc: id });
            }
            info!(
                target: "allocation",
                event,
                reason,
                user = %a.credential.user,
                mechanism = %a.credential.mechanism,
                token_id = a.credential.token_id.map(|t| t.to_string()).unwrap_or_default(),
                client = %a.client.addr,
                relay = a.relay.map(|r| r.to_string()).unwrap_or_default(),
                "allocation {event}"
            );
        }
    }

    /// Reports how allocation `id`'s channel routes changed (after a request changed its
    /// channels, permissions or lifetime).
    fn sync_routes(&mut self, id: AllocId, now: Instant) {
        if !self.cfg.channel_routes {
            return;
        }
        let Some(a) = self.table.get_mut(id) else {
            return;
        };
        let want = routes::desired(id, a, now);
        let changes = routes::diff(&a.routes, &want);
        a.routes = want;
        self.events.extend(changes.into_iter().map(Event::Route));
    }

    fn queue(&mut self, to: Client, data: Vec<u8>) {
        if self.transmits.len() < MAX_QUEUED {
            self.transmits.push_back(Transmit { to, data });
        }
    }

    fn next_txid(&mut self) -> [u8; 12] {
        let mut out = [0u8; 12];
        for chunk in out.chunks_mut(4) {
            self.txid_state ^= self.txid_state << 13;
            self.txid_state ^= self.txid_state >> 7;
            self.txid_state ^= self.txid_state << 17;
            chunk.copy_from_slice(&self.txid_state.to_le_bytes()[..4]);
        }
        out
    }

    /// A datagram (or one framed TCP message) from a client.
    pub fn handle_client<'a>(
        &mut self,
        now: Instant,
        client: Client,
        data: &'a [u8],
    ) -> ClientOutcome<'a> {
        match data.first() {
            Some(0x40..=0x7f) => self.channel_data(now, client, data),
            Some(0x00..=0x03) => self.stun(now, client, data),
            _ => {
                self.stats.malformed += 1;
                ClientOutcome::Done
            }
        }
    }

    fn channel_data<'a>(
        &mut self,
        now: Instant,
        client: Client,
        data: &'a [u8],
    ) -> ClientOutcome<'a> {
        let (Some(hdr), Some(rest)) = (data.get(..4), data.get(4..)) else {
            self.stats.malformed += 1;
            return ClientOutcome::Done;
        };
        let number = u16::from_be_bytes([hdr[0], hdr[1]]);
        let len = usize::from(u16::from_be_bytes([hdr[2], hdr[3]]));
        let Some(payload) = rest.get(..len) else {
            self.stats.malformed += 1;
            return ClientOutcome::Done;
        };
        let Some(id) = self.table.find(&client) else {
            return ClientOutcome::Done;
        };
        let Some(a) = self.table.get(id) else {
            return ClientOutcome::Done;
        };
        match a.channel(number, now) {
            Some(ch) if a.permits(ch.peer.ip(), now) && a.expires > now => ClientOutcome::ToPeer {
                alloc: id,
                peer: ch.peer,
                data: payload,
            },
            _ => ClientOutcome::Done,
        }
    }

    fn stun<'a>(&mut self, now: Instant, client: Client, data: &'a [u8]) -> ClientOutcome<'a> {
        let Ok(header) = MessageHeader::from_bytes(data) else {
            self.stats.malformed += 1;
            return ClientOutcome::Done;
        };
        // A datagram is exactly one message; trailing bytes make it malformed.
        if usize::from(header.data_length()) + MessageHeader::LENGTH != data.len() {
            self.stats.malformed += 1;
            return ClientOutcome::Done;
        }
        let Ok(msg) = Message::from_bytes(data) else {
            self.stats.malformed += 1;
            if header.get_type().class() == MessageClass::Request {
                // The header is a request but an attribute is broken: 400, unsigned.
                if let Some(reply) = bad_request_from_header(data) {
                    self.queue(client, reply);
                }
            }
            return ClientOutcome::Done;
        };
        match msg.class() {
            MessageClass::Request => {
                self.request(now, client, &msg, data);
                ClientOutcome::Done
            }
            MessageClass::Indication if msg.method() == SEND => {
                self.send_indication(now, client, &msg, data)
            }
            _ => ClientOutcome::Done,
        }
    }

    fn send_indication<'a>(
        &mut self,
        now: Instant,
        client: Client,
        msg: &Message<'_>,
        raw: &'a [u8],
    ) -> ClientOutcome<'a> {
        let Some(id) = self.table.find(&client) else {
            return ClientOutcome::Done;
        };
        let Some(a) = self.table.get(id) else {
            return ClientOutcome::Done;
        };
        let (Some(peer), Some(data)) = (peer_address(msg), data_attribute(raw)) else {
            return ClientOutcome::Done;
        };
        if a.expires > now && a.permits(peer.ip(), now) {
            ClientOutcome::ToPeer {
                alloc: id,
                peer,
                data,
            }
        } else {
            ClientOutcome::Done
        }
    }

    /// A datagram from `peer` on the relay socket of `alloc`. The payload is
    /// `buf[start..start + len]`, with at least [`HEADROOM`] bytes before it and [`TAILROOM`]
    /// after; the frame for the client is written around it, in place.
    pub fn handle_peer(
        &mut self,
        now: Instant,
        alloc: AllocId,
        peer: SocketAddr,
        buf: &mut [u8],
        start: usize,
        len: usize,
    ) -> Option<ToClient> {
        let a = self.table.get(alloc)?;
        if a.expires <= now || !a.permits(peer.ip(), now) || len > usize::from(u16::MAX) - HEADROOM
        {
            return None;
        }
        let to = a.client;
        let pad = if matches!(to.transport, Transport::Tcp(_)) {
            (4 - len % 4) % 4
        } else {
            0
        };
        if let Some(ch) = a.channel_for(peer, now) {
            let number = ch.number;
            let begin = start.checked_sub(4)?;
            let end = start + len + pad;
            let frame = buf.get_mut(begin..end)?;
            frame[..2].copy_from_slice(&number.to_be_bytes());
            frame[2..4].copy_from_slice(&(len as u16).to_be_bytes());
            frame[4 + len..].fill(0);
            return Some(ToClient {
                to,
                range: begin..end,
            });
        }
        // A Data indication: header, XOR-PEER-ADDRESS, DATA, payload, padding.
        let txid = self.next_txid();
        let addr_len = if peer.is_ipv4() { 8 } else { 20 };
        let head = 20 + 4 + addr_len + 4;
        let data_pad = (4 - len % 4) % 4;
        let begin = start.checked_sub(head)?;
        let end = start + len + data_pad;
        let frame = buf.get_mut(begin..end)?;
        let body_len = (4 + addr_len + 4 + len + data_pad) as u16;
        MessageType::from_class_method(MessageClass::Indication, turn_types::message::DATA)
            .write_into(&mut frame[..2]);
        frame[2..4].copy_from_slice(&body_len.to_be_bytes());
        frame[4..8].copy_from_slice(&MAGIC.to_be_bytes());
        frame[8..20].copy_from_slice(&txid);
        frame[20..22].copy_from_slice(&0x0012u16.to_be_bytes());
        frame[22..24].copy_from_slice(&(addr_len as u16).to_be_bytes());
        write_xor_address(&mut frame[24..24 + addr_len], peer, &txid);
        let d = 24 + addr_len;
        frame[d..d + 2].copy_from_slice(&0x0013u16.to_be_bytes());
        frame[d + 2..d + 4].copy_from_slice(&(len as u16).to_be_bytes());
        frame[head + len..].fill(0);
        Some(ToClient {
            to,
            range: begin..end,
        })
    }
}

const MAGIC: u32 = 0x2112_A442;

fn write_xor_address(out: &mut [u8], addr: SocketAddr, txid: &[u8; 12]) {
    out[0] = 0;
    let port = addr.port() ^ (MAGIC >> 16) as u16;
    out[2..4].copy_from_slice(&port.to_be_bytes());
    match addr.ip() {
        IpAddr::V4(ip) => {
            out[1] = 1;
            let x = u32::from(ip) ^ MAGIC;
            out[4..8].copy_from_slice(&x.to_be_bytes());
        }
        IpAddr::V6(ip) => {
            out[1] = 2;
            let mut key = [0u8; 16];
            key[..4].copy_from_slice(&MAGIC.to_be_bytes());
            key[4..].copy_from_slice(txid);
            for (i, b) in ip.octets().iter().enumerate() {
                out[4 + i] = b ^ key[i];
            }
        }
    }
}

fn key_of(id: AllocId) -> AllocIdKey {
    AllocIdKey(id.to_bits())
}

fn key_to_id(k: AllocIdKey) -> AllocId {
    AllocId::from_bits(k.0)
}

/// XOR-PEER-ADDRESS of a message.
pub(crate) fn peer_address(msg: &Message<'_>) -> Option<SocketAddr> {
    msg.attribute::<turn_types::attribute::XorPeerAddress>()
        .ok()
        .map(|a| a.addr(msg.transaction_id()))
}

/// The DATA attribute's value, borrowed from the datagram itself.
fn data_attribute(data: &[u8]) -> Option<&[u8]> {
    let (offset, raw) = stun_types::message::MessageAttributesIter::new(data)
        .find(|(_, a)| a.get_type() == turn_types::attribute::Data::TYPE)?;
    data.get(offset + 4..offset + 4 + raw.value.len())
}

fn bad_request_from_header(data: &[u8]) -> Option<Vec<u8>> {
    // Build a minimal 400 echoing the transaction: type error of the same method.
    let header = MessageHeader::from_bytes(data).ok()?;
    let mtype = MessageType::from_class_method(MessageClass::Error, header.get_type().method());
    let mut w = Message::builder(
        mtype,
        header.transaction_id(),
        MessageWriteVec::with_capacity(64),
    );
    let e = stun_types::attribute::ErrorCode::builder(400)
        .build()
        .ok()?;
    w.add_attribute(&e).ok()?;
    Some(wire::finish(w, None, false))
}

mod requests;
