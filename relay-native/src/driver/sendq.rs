//! Batched sends: a shard queues every UDP datagram it sends while it works through one
//! receive batch, then sends them together, each run of equal-sized datagrams to one
//! destination through one socket as a single `sendmsg` with UDP GSO.
//!
//! Why: on loopback and on a VM alike, nearly all of a relay's time is the kernel's, and
//! most of that is paid once per `sendto` (the route, the IP and UDP output, and on loopback
//! the receiver's whole input path). One GSO `sendmsg` carries a burst (a peer's echoed
//! frame, a client's packets of one video frame) through all of that once; the datagrams are
//! cut apart at the very end. A plain C loop on this machine measured 5.1 us of sender CPU
//! per 204-byte datagram with one `sendto` each, 4.7 with `sendmmsg`, and 2.2 with GSO in
//! fours (docs/relay.md, "Measuring").
//!
//! What it keeps: datagrams leave in the order they were queued (a run only ever grows at
//! the back of the queue), a full socket buffer drops what did not fit as the network would
//! (the shard never waits), a GSO send the kernel refuses is retried one datagram at a time,
//! and nothing is allocated per datagram: the queue's buffer is reserved once per shard.

use std::net::SocketAddr;
use std::rc::Rc;

use quinn_udp::{Transmit, UdpSocketState};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tracing::debug;

/// A UDP socket of the shard with quinn-udp's view of it (GRO, GSO support).
pub(super) struct UdpSock {
    pub(super) io: AsyncFd<std::net::UdpSocket>,
    pub(super) state: UdpSocketState,
}

impl UdpSock {
    /// Registers a bound non-blocking socket with the shard's reactor, for readability
    /// only. A shard never waits to send (a full socket buffer drops), and a socket
    /// registered for writability too (as `tokio::net::UdpSocket` registers) wakes the
    /// shard each time its send buffer frees space: on loopback, each time a receiver reads
    /// one of its datagrams. Measured at 15k messages/s, one wake-up in six was only that.
    pub(super) fn new(socket: std::net::UdpSocket) -> std::io::Result<Rc<UdpSock>> {
        let state = UdpSocketState::new((&socket).into())?;
        // The socket is owned and moves into the AsyncFd, so the I/O-safety hole that
        // deprecated this constructor (a borrowed fd closed behind tokio's back) cannot
        // open here; its replacement is `unsafe`, which this workspace forbids.
        #[allow(deprecated)]
        let io = AsyncFd::with_interest(socket, Interest::READABLE)?;
        Ok(Rc::new(UdpSock { io, state }))
    }

    /// One datagram now, with one plain `sendto` on the non-blocking socket. Not tokio's
    /// `try_send_to`: that consults tokio's cached write readiness, which a socket gets
    /// only after the reactor's first turn, so the first datagram on a fresh relay socket
    /// would be dropped as WouldBlock.
    fn send_one(&self, data: &[u8], to: SocketAddr) -> std::io::Result<usize> {
        socket2::SockRef::from(self.io.get_ref()).send_to(data, &to.into())
    }

    /// Several datagrams of `segment` bytes back to back (the last may be shorter) in one
    /// `sendmsg` with UDP_SEGMENT.
    fn send_segments(&self, data: &[u8], segment: usize, to: SocketAddr) -> std::io::Result<()> {
        let transmit = Transmit {
            destination: to,
            ecn: None,
            contents: data,
            segment_size: Some(segment),
            src_ip: None,
        };
        self.state.try_send(self.io.get_ref().into(), &transmit)
    }
}

/// Bytes the queue holds before it sends what it has: room for the largest datagram, and
/// for a receive batch of media-sized ones.
const CAPACITY: usize = 256 * 1024;
/// Messages (single datagrams or GSO runs) it holds before it sends what it has.
const MAX_MESSAGES: usize = 256;
/// The largest datagram that joins a GSO run: the largest UDP payload that fits the IPv6
/// minimum MTU (1280 - 40 - 8), so every segment fits any link (a segment above the
/// outgoing interface's MTU would make the whole run fail, where the same datagram alone
/// might have been fragmented or refused on its own). WebRTC keeps its packets below it.
const GSO_MAX_SEGMENT: usize = 1232;
/// At most this many bytes in one GSO run: the largest UDP payload over IPv4.
const GSO_MAX_BYTES: usize = 65_507;
/// Linux's UDP_MAX_SEGMENTS.
const GSO_MAX_SEGMENTS: usize = 64;

/// One queued message: a datagram, or a run of datagrams of `segment` bytes (the last may be
/// shorter) to one destination through one socket.
struct Message {
    via: Rc<UdpSock>,
    to: SocketAddr,
    start: usize,
    len: usize,
    segment: usize,
    /// Every datagram so far was `segment` bytes long, so another may join.
    open: bool,
}

impl Message {
    fn segments(&self) -> usize {
        self.len.div_ceil(self.segment.max(1))
    }

    /// Whether a datagram of `len` bytes from `via` to `to` may join this run.
    fn takes(&self, via: &Rc<UdpSock>, to: SocketAddr, len: usize) -> bool {
        self.open
            && self.to == to
            && Rc::ptr_eq(&self.via, via)
            && len > 0
            && len <= self.segment
            && self.segment <= GSO_MAX_SEGMENT
            && self.len + len <= GSO_MAX_BYTES
            && self.segments() < GSO_MAX_SEGMENTS.min(via.state.max_gso_segments())
    }
}

/// The shard's queue of datagrams to send.
pub(super) struct SendQueue {
    bytes: Vec<u8>,
    messages: Vec<Message>,
    /// What it holds at most: bytes, messages.
    limits: (usize, usize),
}

impl SendQueue {
    /// An empty queue with its buffers reserved.
    pub(super) fn new() -> SendQueue {
        SendQueue::with_limits(CAPACITY, MAX_MESSAGES)
    }

    fn with_limits(bytes: usize, messages: usize) -> SendQueue {
        SendQueue {
            bytes: Vec::with_capacity(bytes),
            messages: Vec::with_capacity(messages),
            limits: (bytes, messages),
        }
    }

    /// Queues `data` for `to` through `via`; sends what is queued first if it is full.
    pub(super) fn push(&mut self, via: &Rc<UdpSock>, to: SocketAddr, data: &[u8]) {
        let (max_bytes, max_messages) = self.limits;
        if self.bytes.len() + data.len() > max_bytes || self.messages.len() >= max_messages {
            self.send();
        }
        if data.len() > max_bytes {
            // Larger than the queue: it goes on its own (or the kernel says why not).
            Self::send_single(via, to, data);
            return;
        }
        let start = self.bytes.len();
        self.bytes.extend_from_slice(data);
        match self.messages.last_mut() {
            Some(m) if m.takes(via, to, data.len()) => {
                m.len += data.len();
                m.open = data.len() == m.segment;
            }
            _ => self.messages.push(Message {
                via: via.clone(),
                to,
                start,
                len: data.len(),
                segment: data.len(),
                open: true,
            }),
        }
    }

    /// Sends everything queued, in order.
    pub(super) fn send(&mut self) {
        for m in self.messages.drain(..) {
            let Some(data) = self.bytes.get(m.start..m.start + m.len) else {
                continue;
            };
            if m.len <= m.segment {
                Self::send_single(&m.via, m.to, data);
                continue;
            }
            match m.via.send_segments(data, m.segment, m.to) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    debug!(
                        "send to {}: socket buffer full, {} datagrams dropped",
                        m.to,
                        m.segments()
                    );
                }
                Err(e) => {
                    // The kernel refused the run as a whole (a route without checksum
                    // offload, IPsec: quinn-udp then stops offering GSO on this socket).
                    // Each datagram on its own may still go.
                    debug!("send to {}: GSO refused ({e}); one at a time", m.to);
                    for one in data.chunks(m.segment) {
                        Self::send_single(&m.via, m.to, one);
                    }
                }
            }
        }
        self.bytes.clear();
    }

    fn send_single(via: &UdpSock, to: SocketAddr, data: &[u8]) {
        if let Err(e) = via.send_one(data, to) {
            debug!("send to {to}: {e}");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests;
