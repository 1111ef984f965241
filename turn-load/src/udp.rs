//! Batched UDP syscalls over std sockets: `recvmmsg` into a fixed set of buffers, `sendmmsg`
//! and UDP GSO `sendmsg` on connected sockets, and epoll readiness. Every socket here is
//! non-blocking; nothing allocates per call.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::socket::{
    ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg, sendmsg,
    setsockopt, sockopt,
};

/// Datagrams per `recvmmsg` / `sendmmsg`.
pub const BATCH: usize = 32;
/// Largest datagram we expect (ChannelData of a 1500-byte MTU's worth, with room).
pub const MAX_DATAGRAM: usize = 2048;
/// Socket buffers we ask for, so the generator's own sockets do not drop what a relay sent.
const SOCKET_BUFFER: usize = 4 << 20;

/// A non-blocking loopback-or-given-address socket with large buffers.
pub fn bind(ip: std::net::IpAddr) -> io::Result<UdpSocket> {
    let s = UdpSocket::bind((ip, 0))?;
    s.set_nonblocking(true)?;
    // SO_*BUFFORCE passes net.core.{r,w}mem_max when we may (CAP_NET_ADMIN); otherwise the
    // plain option takes what the limit allows.
    if setsockopt(&s, sockopt::RcvBufForce, &SOCKET_BUFFER).is_err() {
        let _ = setsockopt(&s, sockopt::RcvBuf, &SOCKET_BUFFER);
    }
    if setsockopt(&s, sockopt::SndBufForce, &SOCKET_BUFFER).is_err() {
        let _ = setsockopt(&s, sockopt::SndBuf, &SOCKET_BUFFER);
    }
    Ok(s)
}

/// Buffers for one `recvmmsg` and what it returned.
pub struct RecvBatch {
    bufs: Vec<Vec<u8>>,
    headers: MultiHeaders<SockaddrStorage>,
    got: Vec<(usize, Option<SocketAddr>)>,
}

impl Default for RecvBatch {
    fn default() -> Self {
        RecvBatch {
            bufs: vec![vec![0u8; MAX_DATAGRAM]; BATCH],
            headers: MultiHeaders::preallocate(BATCH, None),
            got: Vec::with_capacity(BATCH),
        }
    }
}

impl RecvBatch {
    /// One non-blocking `recvmmsg`: how many datagrams arrived (0 when none was waiting).
    pub fn recv(&mut self, sock: &UdpSocket) -> io::Result<usize> {
        let RecvBatch { bufs, headers, got } = self;
        got.clear();
        let mut it = bufs.iter_mut();
        let mut iovs: [[IoSliceMut<'_>; 1]; BATCH] = std::array::from_fn(|_| {
            [IoSliceMut::new(
                it.next().map(Vec::as_mut_slice).unwrap_or_default(),
            )]
        });
        match recvmmsg(
            sock.as_raw_fd(),
            headers,
            iovs.iter_mut(),
            MsgFlags::MSG_DONTWAIT,
            None,
        ) {
            Ok(msgs) => {
                for m in msgs {
                    got.push((m.bytes, m.address.as_ref().and_then(to_std)));
                }
                Ok(got.len())
            }
            Err(Errno::EAGAIN) => Ok(0),
            Err(e) => Err(e.into()),
        }
    }

    /// Datagram `i` of the last receive and where it came from.
    pub fn get_mut(&mut self, i: usize) -> Option<(&mut [u8], Option<SocketAddr>)> {
        let (len, from) = *self.got.get(i)?;
        Some((self.bufs.get_mut(i)?.get_mut(..len)?, from))
    }

    /// Datagram `i` of the last receive and where it came from.
    pub fn get(&self, i: usize) -> Option<(&[u8], Option<SocketAddr>)> {
        let (len, from) = *self.got.get(i)?;
        Some((self.bufs.get(i)?.get(..len)?, from))
    }

    /// How many datagrams the last receive returned.
    pub fn len(&self) -> usize {
        self.got.len()
    }

    /// True when the last receive returned nothing.
    pub fn is_empty(&self) -> bool {
        self.got.is_empty()
    }
}

fn to_std(a: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::V4(SocketAddrV4::from(*v4)));
    }
    a.as_sockaddr_in6()
        .map(|v6| SocketAddr::V6(SocketAddrV6::from(*v6)))
}

/// Headers for `sendmmsg` on connected sockets.
pub struct SendBatch {
    headers: MultiHeaders<()>,
    none: [Option<()>; BATCH],
}

impl Default for SendBatch {
    fn default() -> Self {
        SendBatch {
            headers: MultiHeaders::preallocate(BATCH, None),
            none: [None; BATCH],
        }
    }
}

impl SendBatch {
    /// One `sendmmsg` of up to `BATCH` datagrams on a connected socket: how many went out.
    pub fn send(&mut self, sock: &UdpSocket, frames: &[&[u8]]) -> io::Result<usize> {
        let n = frames.len().min(BATCH);
        let iovs: [[IoSlice<'_>; 1]; BATCH] =
            std::array::from_fn(|i| [IoSlice::new(frames.get(i).copied().unwrap_or_default())]);
        let (Some(iovs), Some(addrs)) = (iovs.get(..n), self.none.get(..n)) else {
            return Ok(0);
        };
        match sendmmsg(
            sock.as_raw_fd(),
            &mut self.headers,
            iovs,
            addrs,
            [],
            MsgFlags::MSG_DONTWAIT,
        ) {
            Ok(sent) => Ok(sent.count()),
            Err(Errno::EAGAIN) => Ok(0),
            Err(e) => Err(e.into()),
        }
    }
}

/// One `sendmsg` carrying `segments` (all `segments[0].len()` long but the last, which may be
/// shorter) as separate datagrams to the connected peer: UDP GSO. At most `BATCH`.
pub fn send_gso(sock: &UdpSocket, segments: &[&[u8]]) -> io::Result<()> {
    let Some(first) = segments.first() else {
        return Ok(());
    };
    let size = u16::try_from(first.len()).map_err(|_| io::ErrorKind::InvalidInput)?;
    let n = segments.len().min(BATCH);
    let iovs: [IoSlice<'_>; BATCH] =
        std::array::from_fn(|i| IoSlice::new(segments.get(i).copied().unwrap_or_default()));
    sendmsg::<()>(
        sock.as_raw_fd(),
        iovs.get(..n).unwrap_or_default(),
        &[ControlMessage::UdpGsoSegments(&size)],
        MsgFlags::empty(),
        None,
    )?;
    Ok(())
}

/// Level-triggered readability of a set of sockets, each known by its index.
pub struct Readiness {
    epoll: Epoll,
    events: Vec<EpollEvent>,
}

impl Readiness {
    /// Watches `socks`; `wait` reports their indices.
    pub fn new<'a>(socks: impl IntoIterator<Item = &'a UdpSocket>) -> io::Result<Readiness> {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        for (i, s) in socks.into_iter().enumerate() {
            epoll.add(s.as_fd(), EpollEvent::new(EpollFlags::EPOLLIN, i as u64))?;
        }
        Ok(Readiness {
            epoll,
            events: vec![EpollEvent::empty(); 256],
        })
    }

    /// Waits up to `timeout` and returns the indices of readable sockets.
    pub fn wait(&mut self, timeout: Duration) -> io::Result<impl Iterator<Item = usize> + '_> {
        let t = EpollTimeout::try_from(timeout).unwrap_or(EpollTimeout::NONE);
        let n = match self.epoll.wait(&mut self.events, t) {
            Ok(n) => n,
            Err(Errno::EINTR) => 0,
            Err(e) => return Err(e.into()),
        };
        Ok(self
            .events
            .iter()
            .take(n)
            .filter_map(|e| usize::try_from(e.data()).ok()))
    }
}
