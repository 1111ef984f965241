//! Setting up the flows: one client socket per allocation, an Allocate and a ChannelBind to
//! its own echo socket through the relay; or, for the baseline, straight to the echo peer.

use std::fmt;
use std::net::{IpAddr, SocketAddr, UdpSocket};

use crate::turn::{Credentials, Session, TurnError};
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
    let sock = udp::bind(bind)?;
    let flow = match target {
        Target::Direct => {
            sock.connect(peer)?;
            Flow {
                sock,
                channel: None,
            }
        }
        Target::Relay {
            server,
            credentials,
        } => {
            let sock = connect_blocking(sock, *server)?;
            let (mut session, _) = Session::allocate(&sock, credentials)?;
            session.channel_bind(channel(i), peer)?;
            Flow {
                sock,
                channel: Some(channel(i)),
            }
        }
    };
    flow.sock.set_nonblocking(true)?;
    Ok(flow)
}

/// Holds `count` more allocations without traffic (for the relay's memory per allocation);
/// they last until the sockets are dropped and the relay times them out.
pub fn allocate_idle(
    server: SocketAddr,
    credentials: &Credentials,
    bind: IpAddr,
    count: usize,
    held: &mut Vec<UdpSocket>,
) -> Result<(), FlowError> {
    for _ in 0..count {
        let index = held.len();
        let at = |error| FlowError { index, error };
        let sock = udp::bind(bind)
            .and_then(|s| connect_blocking(s, server))
            .map_err(|e| at(e.into()))?;
        Session::allocate(&sock, credentials).map_err(at)?;
        held.push(sock);
    }
    Ok(())
}

fn connect_blocking(sock: UdpSocket, server: SocketAddr) -> std::io::Result<UdpSocket> {
    sock.set_nonblocking(false)?;
    sock.connect(server)?;
    Ok(sock)
}
