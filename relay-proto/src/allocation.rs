//! Allocations, their permissions and channels, in a slab addressed by [`AllocId`] (the
//! driver tags each relay socket with one, so the peer path needs no hashing) and indexed by
//! the client's transport address.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::time::Instant;

use stun_types::AddressFamily;
use stun_types::message::TransactionId;

pub use crate::alloc_id::AllocId;
use crate::auth::{Account, Credential};
use crate::bandwidth::Meters;
use crate::family::family_of;
use crate::routes::ChannelRoute;
use crate::traffic::Traffic;

/// The channel numbers a ChannelBind may use. RFC 8656 section 12 narrowed them to
/// 0x4000-0x4FFF; RFC 5766 clients (coturn's among them) still use up to 0x7FFF, so the
/// relay accepts both, and ChannelData is recognised by a first byte of 0x40-0x7F.
pub const CHANNEL_NUMBERS: RangeInclusive<u16> = 0x4000..=0x7FFF;

/// How the client reaches the relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP (RFC 8656 section 3.1 framing); `u64` names the connection.
    Tcp(u64),
}

/// The client side of an allocation's 5-tuple (the server side is the listener).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Client {
    /// Transport.
    pub transport: Transport,
    /// The client's address as seen by the relay.
    pub addr: SocketAddr,
}

/// A permission (RFC 8656 section 9): peer IP until `expires`.
#[derive(Clone, Copy, Debug)]
pub struct Permission {
    /// Peer IP.
    pub ip: IpAddr,
    /// End of life.
    pub expires: Instant,
}

/// A channel binding (RFC 8656 section 12).
#[derive(Clone, Copy, Debug)]
pub struct Channel {
    /// In [`CHANNEL_NUMBERS`].
    pub number: u16,
    /// The peer.
    pub peer: SocketAddr,
    /// End of life.
    pub expires: Instant,
}

/// One allocation.
#[derive(Debug)]
pub struct Allocation {
    /// Whose.
    pub client: Client,
    /// The relayed transport addresses: one family, or both (ADDITIONAL-ADDRESS-FAMILY).
    pub relays: Relays,
    /// End of life (already capped at the credential's expiry).
    pub expires: Instant,
    /// The credential it was made or last refreshed with.
    pub credential: Credential,
    /// Permissions.
    pub permissions: Vec<Permission>,
    /// Channels.
    pub channels: Vec<Channel>,
    /// The Allocate request being answered (while the relay socket is bound) or answered
    /// last, with its response, so a retransmission gets the same answer.
    pub allocate_txid: TransactionId,
    /// The success response sent for `allocate_txid`.
    pub allocate_response: Option<Vec<u8>>,
    /// Whether the Allocate had FINGERPRINT.
    pub fingerprint: bool,
    /// The channel routes last reported for it (see [`crate::routes`]).
    pub routes: Vec<(ChannelRoute, Instant)>,
    /// What the core forwarded for it (the sockets path).
    pub traffic: Traffic,
    /// Whose quota (and per-user bandwidth) it counts against: the user of the credential
    /// that made it. A Refresh with a new token changes `credential` (and the token id logs
    /// show) but not this, so the quota taken is the quota given back.
    pub owner: Account,
    /// Its bandwidth caps' buckets.
    pub meters: Meters,
}

impl Allocation {
    /// The routes this allocation (`id`) has at `now`, with their deadlines (see
    /// [`crate::routes`]).
    pub(crate) fn desired_routes(&self, id: AllocId, now: Instant) -> Vec<(ChannelRoute, Instant)> {
        let a = self;
        // A held allocation is over its bandwidth cap: its data comes through the core.
        if a.client.transport != Transport::Udp || a.expires <= now || a.meters.held_until.is_some()
        {
            return Vec::new();
        }
        a.channels
            .iter()
            .filter(|c| c.expires > now)
            .filter_map(|c| {
                let relay = a.relays.for_peer(c.peer.ip())?;
                let perm = a
                    .permissions
                    .iter()
                    .filter(|p| p.ip == c.peer.ip() && p.expires > now)
                    .map(|p| p.expires)
                    .max()?;
                let until = c.expires.min(perm).min(a.expires);
                let route = ChannelRoute {
                    alloc: id,
                    client: a.client.addr,
                    relay,
                    peer: c.peer,
                    channel: c.number,
                };
                Some((route, until))
            })
            .collect()
    }

    /// The relayed transport address of the family the allocation was asked for first, once
    /// bound.
    pub fn relay(&self) -> Option<SocketAddr> {
        self.relays.primary()
    }

    /// A live permission for `ip` at `now`.
    pub fn permits(&self, ip: IpAddr, now: Instant) -> bool {
        self.permissions
            .iter()
            .any(|p| p.ip == ip && p.expires > now)
    }

    /// The live channel with this number.
    pub fn channel(&self, number: u16, now: Instant) -> Option<&Channel> {
        self.channels
            .iter()
            .find(|c| c.number == number && c.expires > now)
    }

    /// The live channel bound to `peer`.
    pub fn channel_for(&self, peer: SocketAddr, now: Instant) -> Option<&Channel> {
        self.channels
            .iter()
            .find(|c| c.peer == peer && c.expires > now)
    }

    /// Installs or refreshes a permission.
    pub fn permit(&mut self, ip: IpAddr, expires: Instant, now: Instant) {
        self.permissions.retain(|p| p.expires > now);
        match self.permissions.iter_mut().find(|p| p.ip == ip) {
            Some(p) => p.expires = expires,
            None => self.permissions.push(Permission { ip, expires }),
        }
    }

    /// Drops expired permissions and channels.
    pub fn prune(&mut self, now: Instant) {
        self.permissions.retain(|p| p.expires > now);
        self.channels.retain(|c| c.expires > now);
    }
}

/// One family's relayed transport address of an allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelaySlot {
    /// Not asked for.
    Unused,
    /// Asked for (ADDITIONAL-ADDRESS-FAMILY), but the relay does not relay this family:
    /// ADDRESS-ERROR-CODE 440 in the Allocate success.
    Unsupported,
    /// The driver is binding it.
    Binding,
    /// Bound.
    Bound(SocketAddr),
    /// The driver could not bind it: 508.
    Failed,
}

/// An allocation's relayed transport addresses (RFC 8656 section 7.2): the family asked for
/// (REQUESTED-ADDRESS-FAMILY or the default), and with ADDITIONAL-ADDRESS-FAMILY the other one
/// too. Peers of a family are relayed through that family's address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Relays {
    /// The family asked for first; its address is the one events and logs report.
    pub primary: AddressFamily,
    /// IPv4.
    pub v4: RelaySlot,
    /// IPv6.
    pub v6: RelaySlot,
}

impl Relays {
    /// `primary` being bound, and `additional` too if given.
    pub fn binding(primary: AddressFamily, additional: Option<RelaySlot>) -> Relays {
        let mut r = Relays {
            primary,
            v4: RelaySlot::Unused,
            v6: RelaySlot::Unused,
        };
        *r.slot_mut(primary) = RelaySlot::Binding;
        if let Some(slot) = additional {
            *r.slot_mut(other(primary)) = slot;
        }
        r
    }

    /// The slot of `family`.
    pub fn slot(&self, family: AddressFamily) -> RelaySlot {
        match family {
            AddressFamily::IPV4 => self.v4,
            AddressFamily::IPV6 => self.v6,
        }
    }

    pub(crate) fn slot_mut(&mut self, family: AddressFamily) -> &mut RelaySlot {
        match family {
            AddressFamily::IPV4 => &mut self.v4,
            AddressFamily::IPV6 => &mut self.v6,
        }
    }

    /// The bound address of `family`.
    pub fn of(&self, family: AddressFamily) -> Option<SocketAddr> {
        match self.slot(family) {
            RelaySlot::Bound(a) => Some(a),
            _ => None,
        }
    }

    /// The bound address a peer at `ip` is relayed through.
    pub fn for_peer(&self, ip: IpAddr) -> Option<SocketAddr> {
        self.of(family_of(ip))
    }

    /// The bound address of the first family.
    pub fn primary(&self) -> Option<SocketAddr> {
        self.of(self.primary)
    }

    /// The bound address of the other family (a dual allocation's second).
    pub fn additional(&self) -> Option<SocketAddr> {
        self.of(other(self.primary))
    }

    /// Every bound address, the first family's first.
    pub fn bound(&self) -> impl Iterator<Item = SocketAddr> {
        self.primary().into_iter().chain(self.additional())
    }

    /// True while the driver is binding one of them.
    pub fn pending(&self) -> bool {
        self.v4 == RelaySlot::Binding || self.v6 == RelaySlot::Binding
    }
}

/// The other family.
pub fn other(family: AddressFamily) -> AddressFamily {
    match family {
        AddressFamily::IPV4 => AddressFamily::IPV6,
        AddressFamily::IPV6 => AddressFamily::IPV4,
    }
}

enum Slot {
    Used(u32, Box<Allocation>),
    Free(u32),
}

/// All allocations of one core.
#[derive(Default)]
pub(crate) struct Table {
    slots: Vec<Slot>,
    free: Vec<u32>,
    by_client: HashMap<Client, AllocId>,
}

impl Table {
    /// Inserts; the client must not have one.
    pub fn insert(&mut self, a: Allocation) -> AllocId {
        let client = a.client;
        let id = match self.free.pop() {
            Some(idx) => {
                let generation = match self.slots.get(idx as usize) {
                    Some(Slot::Free(g)) => g.wrapping_add(1),
                    _ => 0,
                };
                if let Some(s) = self.slots.get_mut(idx as usize) {
                    *s = Slot::Used(generation, Box::new(a));
                }
                AllocId { idx, generation }
            }
            None => {
                let idx = self.slots.len() as u32;
                self.slots.push(Slot::Used(0, Box::new(a)));
                AllocId { idx, generation: 0 }
            }
        };
        self.by_client.insert(client, id);
        id
    }

    /// The allocation `id`, if it still exists.
    pub fn get(&self, id: AllocId) -> Option<&Allocation> {
        match self.slots.get(id.idx as usize) {
            Some(Slot::Used(g, a)) if *g == id.generation => Some(a),
            _ => None,
        }
    }

    /// Mutable.
    pub fn get_mut(&mut self, id: AllocId) -> Option<&mut Allocation> {
        match self.slots.get_mut(id.idx as usize) {
            Some(Slot::Used(g, a)) if *g == id.generation => Some(a),
            _ => None,
        }
    }

    /// The allocation of `client`.
    pub fn find(&self, client: &Client) -> Option<AllocId> {
        self.by_client.get(client).copied()
    }

    /// Removes and returns it.
    pub fn remove(&mut self, id: AllocId) -> Option<Allocation> {
        let slot = self.slots.get_mut(id.idx as usize)?;
        match slot {
            Slot::Used(g, _) if *g == id.generation => {}
            _ => return None,
        }
        let old = std::mem::replace(slot, Slot::Free(id.generation));
        self.free.push(id.idx);
        match old {
            Slot::Used(_, a) => {
                self.by_client.remove(&a.client);
                Some(*a)
            }
            Slot::Free(_) => None,
        }
    }

    /// Number of allocations.
    pub fn len(&self) -> usize {
        self.by_client.len()
    }

    /// Every allocation.
    pub fn iter(&self) -> impl Iterator<Item = &Allocation> {
        self.iter_ids().map(|(_, a)| a)
    }

    /// Every allocation with its id.
    pub fn iter_ids(&self) -> impl Iterator<Item = (AllocId, &Allocation)> {
        (0u32..).zip(&self.slots).filter_map(|(idx, s)| match s {
            Slot::Used(generation, a) => Some((
                AllocId {
                    idx,
                    generation: *generation,
                },
                &**a,
            )),
            Slot::Free(_) => None,
        })
    }

    /// Every allocation id of `transport`'s connection (to free them when a TCP connection closes).
    pub fn of_transport(&self, transport: Transport) -> Vec<AllocId> {
        self.by_client
            .iter()
            .filter(|(c, _)| c.transport == transport)
            .map(|(_, id)| *id)
            .collect()
    }
}
