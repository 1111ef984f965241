//! What a driver hands the core: [`Input`], through [`Server::handle_input`](crate::Server::handle_input).

use std::net::{IpAddr, SocketAddr};

use crate::allocation::{AllocId, Client, Transport};
use crate::revocation::RevokedToken;
use crate::traffic::Traffic;

/// One thing that happened outside the core.
#[derive(Debug)]
pub enum Input<'a> {
    /// A datagram, or one frame of a stream connection (split with
    /// [`StreamFramer`](crate::framing::StreamFramer)), from a client.
    FromClient {
        /// Who sent it, and over which transport.
        client: Client,
        /// The datagram or frame.
        data: &'a [u8],
    },
    /// A datagram from `peer` on the relay socket of `alloc`. The payload is
    /// `buf[start..start + len]`, with at least [`HEADROOM`](crate::HEADROOM) bytes before it
    /// and [`TAILROOM`](crate::TAILROOM) after: the frame for the client is written around it,
    /// in place.
    FromPeer {
        /// Whose relay socket it arrived on.
        alloc: AllocId,
        /// The sender.
        peer: SocketAddr,
        /// The receive buffer.
        buf: &'a mut [u8],
        /// Where the payload starts in `buf`.
        start: usize,
        /// The payload's length.
        len: usize,
    },
    /// The answer to [`Output::BindRelay`](crate::Output::BindRelay): the relay socket's
    /// address, or why there is none.
    RelayBound {
        /// The allocation the socket is for.
        alloc: AllocId,
        /// The bound address.
        result: Result<SocketAddr, BindFailed>,
    },
    /// The driver accepted a stream connection (TCP, later TLS). The core may answer with
    /// [`Output::CloseConnection`](crate::Output::CloseConnection): at once when it holds too
    /// many, or when the connection stays idle without an allocation.
    ConnectionOpened {
        /// The connection and the client's address.
        client: Client,
    },
    /// A client's stream connection closed: its allocation ends (RFC 8656 section 3.1).
    ConnectionClosed {
        /// The connection.
        transport: Transport,
    },
    /// The deadline from [`Server::poll_timeout`](crate::Server::poll_timeout) was reached.
    Timeout,
    /// These tokens are revoked: every allocation holding one ends
    /// ([`EndReason::Revoked`](crate::EndReason::Revoked)), and requests presenting one are
    /// refused with 401 until the token would have expired anyway (see [`crate::revocation`]).
    /// Handing in a token again is harmless.
    Revoke {
        /// The tokens.
        tokens: &'a [RevokedToken],
    },
    /// Stop taking new allocations: from now on an Allocate for a new allocation is refused
    /// (300 Try Alternate to a configured alternate server, otherwise 508 Insufficient
    /// Capacity) while existing allocations keep relaying and refreshing until they end.
    /// There is no way back: a draining relay is on its way out.
    Drain,
    /// What a kernel fast path relayed for these allocations since the last report (the
    /// driver reads its route counters periodically while bandwidth caps are on). The core
    /// charges it to their buckets and withdraws the routes of an allocation that went over
    /// its cap ([`Output::Route`](crate::Output::Route)), so its data comes through the core,
    /// where the cap is applied per datagram.
    KernelTraffic {
        /// Allocations and what the kernel relayed for each.
        relayed: &'a [(AllocId, Traffic)],
    },
}

/// The driver could not bind a relay socket on `ip` (it logs the operating system's reason):
/// the Allocate is answered with 508 Insufficient Capacity, or for the second family of a
/// dual allocation with ADDRESS-ERROR-CODE 508 in its success.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BindFailed {
    /// The address of the [`Output::BindRelay`](crate::Output::BindRelay) that failed.
    pub ip: IpAddr,
}
