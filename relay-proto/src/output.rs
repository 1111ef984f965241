//! What the core asks of its driver: [`Output`], in the order it must be carried out, from
//! [`Server::poll_output`](crate::Server::poll_output); and [`Forward`], the relayed datagram
//! an input returns directly.

use std::net::{IpAddr, SocketAddr};

use shared_token::TokenId;
use stun_types::message::Method;

use crate::allocation::{AllocId, Allocation, Client, Transport};
use crate::auth::{Account, AuthFailure, Mechanism};
use crate::error::TurnError;
use crate::ports::PortRequest;
use crate::routes::RouteChange;
use crate::traffic::Traffic;

/// One thing for the driver to do. Carry them out in the order they come: the order is part
/// of the protocol (a channel's [`Output::Route`] comes before the ChannelBind success that
/// lets the client use it; an allocation's route clears come before its
/// [`Output::ReleaseRelay`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Send a STUN message to a client.
    Transmit(Transmit),
    /// Bind a UDP socket on `ip` (a port of [`Config::relay_ports`](crate::Config::relay_ports)
    /// as `port` asks, not a reserved one unless asked for by name) for allocation `alloc`, then
    /// hand the result back as [`Input::RelayBound`](crate::Input::RelayBound). A dual
    /// allocation asks twice, once per family; datagrams for its peers go out of the socket
    /// of the peer's family.
    BindRelay {
        /// The allocation.
        alloc: AllocId,
        /// The relay IP.
        ip: IpAddr,
        /// Which port: any, an even one (EVEN-PORT), or a reserved one (RESERVATION-TOKEN).
        port: PortRequest,
    },
    /// Close the relay sockets of `alloc` (one per family it holds).
    ReleaseRelay {
        /// The allocation that ended.
        alloc: AllocId,
    },
    /// A channel route appeared, moved its deadline or went away (only with
    /// [`Config::channel_routes`](crate::Config::channel_routes)).
    Route(RouteChange),
    /// Close a client's stream connection, then hand in
    /// [`Input::ConnectionClosed`](crate::Input::ConnectionClosed).
    CloseConnection {
        /// The connection.
        transport: Transport,
        /// Why.
        reason: CloseReason,
    },
    /// Something to log or count; nothing to do.
    Event(Event),
}

/// A STUN message for a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// To whom (and over which transport).
    pub to: Client,
    /// The bytes.
    pub data: Vec<u8>,
}

/// A relayed datagram, borrowed from the input: send it now. An input that returns one
/// queues no [`Output`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Forward<'a> {
    /// Send `data` from the relay socket of `alloc` to `peer`.
    ToPeer {
        /// Whose relay socket.
        alloc: AllocId,
        /// Destination.
        peer: SocketAddr,
        /// The payload, borrowed from the client's datagram.
        data: &'a [u8],
    },
    /// Send `data` to `client`: a ChannelData message or a Data indication framed in place
    /// in the peer datagram's buffer.
    ToClient {
        /// The client.
        client: Client,
        /// The framed message.
        data: &'a [u8],
    },
}

/// What happened, for logs, metrics and usage records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// An allocation's relay socket is bound and its success response queued.
    AllocationCreated {
        /// The allocation.
        info: AllocationInfo,
        /// Its lifetime in seconds.
        lifetime: u32,
    },
    /// A Refresh moved an allocation's end.
    AllocationRefreshed {
        /// The allocation.
        info: AllocationInfo,
        /// Its new lifetime in seconds.
        lifetime: u32,
    },
    /// An allocation ended; its relay socket is released (and its routes cleared) first.
    AllocationEnded {
        /// The allocation.
        info: AllocationInfo,
        /// Why.
        reason: EndReason,
        /// What the core forwarded for it over its whole life (a kernel fast path's share is
        /// the driver's to add).
        traffic: Traffic,
    },
    /// A request got an error response other than a challenge.
    Refused {
        /// Who asked.
        client: Client,
        /// The request's method.
        method: Method,
        /// The error sent.
        error: TurnError,
        /// The authenticated account, if the request got that far.
        account: Option<Account>,
    },
    /// A request's credentials did not authenticate; it is challenged (401) unless the
    /// source is over its rate limit.
    AuthFailed {
        /// Who asked.
        client: Client,
        /// The request's method.
        method: Method,
        /// Why (never sent to the client in detail).
        why: AuthFailure,
    },
}

/// Who holds an allocation, as events report it. No keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllocationInfo {
    /// The allocation.
    pub alloc: AllocId,
    /// The client's 5-tuple side.
    pub client: Client,
    /// The relayed transport address (of the family asked for first), once bound.
    pub relay: Option<SocketAddr>,
    /// A dual allocation's relayed address of the other family (ADDITIONAL-ADDRESS-FAMILY).
    pub additional_relay: Option<SocketAddr>,
    /// How the credential was presented.
    pub mechanism: Mechanism,
    /// Whose: the account it is charged to.
    pub account: Account,
    /// The token's id, for token mechanisms (what revocation and usage records key on).
    pub token_id: Option<TokenId>,
}

impl AllocationInfo {
    pub(crate) fn of(alloc: AllocId, a: &Allocation) -> AllocationInfo {
        AllocationInfo {
            alloc,
            client: a.client,
            relay: a.relays.primary(),
            additional_relay: a.relays.additional(),
            mechanism: a.credential.mechanism,
            account: a.credential.account.clone(),
            token_id: a.credential.token_id,
        }
    }
}

/// Why an allocation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// Its time-to-expiry reached zero without a Refresh (RFC 8656 section 6).
    LifetimeOver,
    /// Its credential expired (a token's or a REST credential's end, which caps the
    /// lifetime): the core ends it then, not at the next Refresh.
    CredentialExpired,
    /// The client deleted it: Refresh with LIFETIME 0 (RFC 8656 section 8).
    Deleted,
    /// The client's stream connection closed (RFC 8656 section 3.1).
    ConnectionClosed,
    /// Its token was revoked at the authorization server ([`Input::Revoke`](crate::Input::Revoke)).
    Revoked,
}

impl EndReason {
    /// `expired`, `deleted` or `revoked`: whether time, the client or the authorization
    /// server ended it.
    pub fn kind(self) -> &'static str {
        match self {
            EndReason::LifetimeOver | EndReason::CredentialExpired => "expired",
            EndReason::Deleted | EndReason::ConnectionClosed => "deleted",
            EndReason::Revoked => "revoked",
        }
    }

    /// A few words for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::LifetimeOver => "lifetime over",
            EndReason::CredentialExpired => "credential expired",
            EndReason::Deleted => "refresh with lifetime 0",
            EndReason::ConnectionClosed => "connection closed",
            EndReason::Revoked => "credential revoked",
        }
    }
}

/// Why the core asks for a stream connection to be closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// No allocation, and nothing received, for
    /// [`Config::stream_idle`](crate::Config::stream_idle) (RFC 8656 section 3.1).
    IdleWithoutAllocation,
    /// The core already holds [`Config::max_connections`](crate::Config::max_connections).
    TooManyConnections,
}

impl CloseReason {
    /// A few words for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::IdleWithoutAllocation => "idle without an allocation",
            CloseReason::TooManyConnections => "connection limit reached",
        }
    }
}
