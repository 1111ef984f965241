//! Setting up the flows: one client socket per allocation, an Allocate and a ChannelBind to
//! its own echo socket through the relay; or, for the baseline, straight to the echo peer.

use std::fmt;
use std::net::{IpAddr, SocketAddr, UdpSocket};

use crate::turn::{ALLOCATION_MISMATCH, Auth, Credentials, Session, TurnError};
use crate::udp;

/// The first channel number (RFC 8656 section 12).
pub const FIRST_CHANNEL: u16 = 0x4000;
/// How many channel numbers RFC 8656 allows (0x4000-0x4FFF; coturn 4.17 refuses the 0x5000-0x7FFF
/// that RFC 5766 also allowed).
pub const CHANNELS: usize = 0x1000;

/// Where the load goes.
#[derive(Debug, Clone)]
pub enum Target {
    /// Through a TURN relay at `server`, as this static user.
    Relay {
        /// The relay's UDP listener.
        server: SocketAddr,
        /// Long-term credentials.
        credentials: Credentials,
    },
    /// Straight to the echo peer: the path without a relay, for comparison.
    Direct,
}

/// One allocation's client side (or, with `Target::Direct`, one plain 5-tuple).
#[derive(Debug)]
pub struct Flow {
    /// Connected to the relay (or to the echo socket), non-blocking.
    pub sock: UdpSocket,
    /// The channel bound to the echo socket; None without a relay.
    pub channel: Option<u16>,
    /// What signs its requests (to release it); None without a relay.
    pub auth: Option<Auth>,
}

impl Flow {
    /// The payload of a datagram that arrived on this flow: inside ChannelData on our channel
    /// through a relay, the datagram itself without one.
    pub fn payload<'a>(&self, datagram: &'a [u8]) -> Option<&'a [u8]> {
        let Some(channel) = self.channel else {
            return Some(datagram);
        };
        let number = u16::from_be_bytes([*datagram.first()?, *datagram.get(1)?]);
        let len = usize::from(u16::from_be_bytes([*datagram.get(2)?, *datagram.get(3)?]));
        (number == channel)
            .then(|| datagram.get(4..4 + len))
            .flatten()
    }

    /// Bytes in front of the payload when sending.
    pub fn header_len(&self) -> usize {
        if self.channel.is_some() { 4 } else { 0 }
    }

    /// Writes the ChannelData header for a `payload_len` payload into `frame` (no-op without a
    /// relay).
    pub fn write_header(&self, frame: &mut [u8], payload_len: u16) {
        if let (Some(channel), Some(head)) = (self.channel, frame.get_mut(..4)) {
            let [c0, c1] = channel.to_be_bytes();
            let [l0, l1] = payload_len.to_be_bytes();
            head.copy_from_slice(&[c0, c1, l0, l1]);
        }
    }
}

/// Channel number of allocation `i`.
pub fn channel(i: usize) -> u16 {
    FIRST_CHANNEL + (i % CHANNELS) as u16
}

/// Which allocation failed, and how.
#[derive(Debug)]
pub struct FlowError {
    /// Index of the allocation.
    pub index: usize,
    /// What went wrong.
    pub error: TurnError,
}

impl fmt::Display for FlowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "allocation {}: {}", self.index, self.error)
    }
}

impl std::error::Error for FlowError {}

/// One flow per address in `peers`, from sockets bound on `bind`.
pub fn open(target: &Target, bind: IpAddr, peers: &[SocketAddr]) -> Result<Vec<Flow>, FlowError> {
    peers
        .iter()
        .enumerate()
        .map(|(index, peer)| {
            open_one(target, bind, index, *peer).map_err(|error| FlowError { index, error })
        })
        .collect()
}

fn open_one(target: &Target, bind: IpAddr, i: usize, peer: SocketAddr) -> Result<Flow, TurnError> {
    let flow = match target {
        Target::Direct => {
            let sock = udp::bind(bind)?;
            sock.connect(peer)?;
            Flow {
                sock,
                channel: None,
                auth: None,
            }
        }
        Target::Relay {
            server,
            credentials,
        } => {
            let (sock, auth) = allocate(*server, credentials, bind)?;
            let mut session = Session::resume(&sock, credentials, &auth);
            session.channel_bind(channel(i), peer)?;
            let auth = Some(session.auth());
            Flow {
                sock,
                channel: Some(channel(i)),
                auth,
            }
        }
    };
    flow.sock.set_nonblocking(true)?;
    Ok(flow)
}

/// Deletes the flows' allocations, so the next run's sockets (which may get the same ports)
/// find none left behind. Best effort: stops at the first request that goes unanswered.
pub fn release(flows: &[Flow], target: &Target) {
    let Target::Relay { credentials, .. } = target else {
        return;
    };
    for f in flows {
        let Some(auth) = &f.auth else { continue };
        if f.sock.set_nonblocking(false).is_err() {
            continue;
        }
        if let Err(TurnError::Timeout(_)) = Session::resume(&f.sock, credentials, auth).release() {
            return;
        }
    }
}

/// A new allocation on a new socket. A socket may get the port of one whose allocation the
/// relay still holds (437): then another socket.
fn allocate(
    server: SocketAddr,
    credentials: &Credentials,
    bind: IpAddr,
) -> Result<(UdpSocket, Auth), TurnError> {
    let mut tries = 0;
    loop {
        let sock = connect_blocking(udp::bind(bind)?, server)?;
        let auth = Session::allocate(&sock, credentials).map(|(session, _)| session.auth());
        match auth {
            Ok(auth) => return Ok((sock, auth)),
            Err(TurnError::Rejected(_, ALLOCATION_MISMATCH, _)) if tries < 5 => tries += 1,
            Err(e) => return Err(e),
        }
    }
}

/// Holds `count` more allocations without traffic (for the relay's memory per allocation),
/// until `release_idle` or until the relay times them out.
pub fn allocate_idle(
    server: SocketAddr,
    credentials: &Credentials,
    bind: IpAddr,
    count: usize,
    held: &mut Vec<Flow>,
) -> Result<(), FlowError> {
    for _ in 0..count {
        let index = held.len();
        let (sock, auth) =
            allocate(server, credentials, bind).map_err(|error| FlowError { index, error })?;
        held.push(Flow {
            sock,
            channel: None,
            auth: Some(auth),
        });
    }
    Ok(())
}

fn connect_blocking(sock: UdpSocket, server: SocketAddr) -> std::io::Result<UdpSocket> {
    sock.set_nonblocking(false)?;
    sock.connect(server)?;
    Ok(sock)
}
