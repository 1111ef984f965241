//! Batched receives (recvmmsg through quinn-udp) into a shard-wide arena.
//!
//! A shard is one thread and no receive holds its buffers across an `.await`, so every
//! socket of the shard can share one set of buffers: memory per shard is fixed however many
//! allocations it holds.

use std::io::IoSliceMut;

use quinn_udp::RecvMeta;
use tokio::io::Interest;

use super::sendq::UdpSock;
use relay_proto::{HEADROOM, TAILROOM};

/// Where each buffer's first datagram starts.
pub const HEAD: usize = HEADROOM;
/// Datagrams per receive call.
pub const BATCH: usize = 16;
/// Largest UDP payload.
pub const MAX_DATAGRAM: usize = 65_535;

/// Receive buffers with room in front of each datagram for a ChannelData or Data
/// indication header, and behind it for padding.
pub struct Arena {
    pub bufs: Vec<Vec<u8>>,
    pub meta: Vec<RecvMeta>,
    /// Where one datagram of a coalesced (GRO) buffer is framed, with the same room around.
    pub scratch: Vec<u8>,
}

impl Arena {
    /// `BATCH` buffers and the scratch buffer.
    pub fn new() -> Arena {
        Arena {
            bufs: (0..BATCH)
                .map(|_| vec![0u8; HEADROOM + MAX_DATAGRAM + TAILROOM])
                .collect(),
            meta: vec![RecvMeta::default(); BATCH],
            scratch: vec![0u8; HEADROOM + MAX_DATAGRAM + TAILROOM],
        }
    }

    /// One non-blocking batched receive on `socket`: the number of buffers filled, 0 when
    /// nothing was waiting. Nothing is allocated: the iovecs live on the stack.
    pub fn try_recv(&mut self, socket: &UdpSock) -> std::io::Result<usize> {
        let UdpSock { io: socket, state } = socket;
        let Arena { bufs, meta, .. } = self;
        let mut it = bufs.iter_mut();
        let mut iovs: [IoSliceMut<'_>; BATCH] = std::array::from_fn(|_| {
            IoSliceMut::new(
                it.next()
                    .and_then(|b| b.get_mut(HEADROOM..HEADROOM + MAX_DATAGRAM))
                    .unwrap_or_default(),
            )
        });
        let mut got = 0;
        let r = socket.try_io(Interest::READABLE, |sock| {
            got = state.recv(sock.into(), &mut iovs, meta)?;
            // Less than a full batch means the queue is empty now: report WouldBlock so tokio
            // clears the socket's readiness, and the caller's next try costs no syscall
            // instead of a recvmmsg that returns EAGAIN. (tokio keeps the readiness if a new
            // datagram's event arrived in between.)
            if got < BATCH {
                Err(std::io::ErrorKind::WouldBlock.into())
            } else {
                Ok(got)
            }
        });
        match r {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(got),
            Err(e) => Err(e),
        }
    }
}

/// The datagrams of buffer `i` (GRO may have coalesced several of equal size, `stride`
/// apart): yields (start, len) of each within the buffer.
pub fn datagrams(meta: &RecvMeta) -> impl Iterator<Item = (usize, usize)> {
    let stride = meta.stride.max(1);
    let len = meta.len;
    (0..len)
        .step_by(stride)
        .map(move |off| (HEADROOM + off, stride.min(len - off)))
}
