//! The byte layouts of bpf/offload.c's two maps (`struct c2p_key` ... `struct p2c_val`).
//!
//! Addresses and ports are in network byte order, as the program compares them with packet
//! headers; the deadline and the counters are native-endian u64s at 8-byte offsets.

use std::net::SocketAddrV4;

/// `struct c2p_key`: client address, listener port, channel number.
pub type C2pKey = [u8; 12];
/// `struct c2p_val`: relay and peer address, deadline, counters.
pub type C2pVal = [u8; 40];
/// `struct p2c_key`: peer address, relay address.
pub type P2cKey = [u8; 12];
/// `struct p2c_val`: client and listener address, channel number, deadline, counters.
pub type P2cVal = [u8; 40];

/// `flags`: the destination of this direction is an address of this host.
const ROUTE_LOCAL: u32 = 1;
const UNTIL: usize = 16;
const PACKETS: usize = 24;
const BYTES: usize = 32;

/// Packets and payload bytes one direction of a route carried.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Datagrams.
    pub packets: u64,
    /// Payload bytes (without the ChannelData header).
    pub bytes: u64,
}

impl std::ops::AddAssign for Counters {
    fn add_assign(&mut self, o: Counters) {
        self.packets += o.packets;
        self.bytes += o.bytes;
    }
}

fn put_addr(out: &mut [u8], ip_at: usize, port_at: usize, a: SocketAddrV4) {
    if let Some(d) = out.get_mut(ip_at..ip_at + 4) {
        d.copy_from_slice(&a.ip().octets());
    }
    if let Some(d) = out.get_mut(port_at..port_at + 2) {
        d.copy_from_slice(&a.port().to_be_bytes());
    }
}

fn put_u64(out: &mut [u8], at: usize, v: u64) {
    if let Some(d) = out.get_mut(at..at + 8) {
        d.copy_from_slice(&v.to_ne_bytes());
    }
}

fn get_u64(v: &[u8], at: usize) -> u64 {
    v.get(at..at + 8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_ne_bytes)
        .unwrap_or(0)
}

/// The client-to-peer key.
pub fn c2p_key(client: SocketAddrV4, server_port: u16, channel: u16) -> C2pKey {
    let mut k = [0u8; 12];
    put_addr(&mut k, 0, 4, client);
    k[6..8].copy_from_slice(&server_port.to_be_bytes());
    k[8..10].copy_from_slice(&channel.to_be_bytes());
    k
}

/// The client-to-peer value; `local`: the peer is on this host.
pub fn c2p_val(
    relay: SocketAddrV4,
    peer: SocketAddrV4,
    local: bool,
    until_ns: u64,
    kept: Counters,
) -> C2pVal {
    let mut v = [0u8; 40];
    put_addr(&mut v, 0, 8, relay);
    put_addr(&mut v, 4, 10, peer);
    v[12..16].copy_from_slice(&(if local { ROUTE_LOCAL } else { 0 }).to_ne_bytes());
    put_u64(&mut v, UNTIL, until_ns);
    put_u64(&mut v, PACKETS, kept.packets);
    put_u64(&mut v, BYTES, kept.bytes);
    v
}

/// The peer-to-client key.
pub fn p2c_key(peer: SocketAddrV4, relay: SocketAddrV4) -> P2cKey {
    let mut k = [0u8; 12];
    put_addr(&mut k, 0, 8, peer);
    put_addr(&mut k, 4, 10, relay);
    k
}

/// The peer-to-client value; `local`: the client is on this host.
pub fn p2c_val(
    client: SocketAddrV4,
    server: SocketAddrV4,
    channel: u16,
    local: bool,
    until_ns: u64,
    kept: Counters,
) -> P2cVal {
    let mut v = [0u8; 40];
    put_addr(&mut v, 0, 8, client);
    put_addr(&mut v, 4, 10, server);
    v[12..14].copy_from_slice(&channel.to_be_bytes());
    v[14..16].copy_from_slice(&(if local { ROUTE_LOCAL as u16 } else { 0 }).to_ne_bytes());
    put_u64(&mut v, UNTIL, until_ns);
    put_u64(&mut v, PACKETS, kept.packets);
    put_u64(&mut v, BYTES, kept.bytes);
    v
}

/// The counters of a value of either map.
pub fn counters(v: &[u8; 40]) -> Counters {
    Counters {
        packets: get_u64(v, PACKETS),
        bytes: get_u64(v, BYTES),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn layouts_match_the_c_structs() {
        let client: SocketAddrV4 = "192.0.2.1:5000".parse().unwrap_or_else(|_| unreachable!());
        let relay: SocketAddrV4 = "198.51.100.2:49152"
            .parse()
            .unwrap_or_else(|_| unreachable!());
        let peer: SocketAddrV4 = "203.0.113.3:6000"
            .parse()
            .unwrap_or_else(|_| unreachable!());
        assert_eq!(
            c2p_key(client, 3478, 0x4001),
            [192, 0, 2, 1, 0x13, 0x88, 0x0d, 0x96, 0x40, 0x01, 0, 0]
        );
        let v = c2p_val(
            relay,
            peer,
            true,
            7,
            Counters {
                packets: 3,
                bytes: 600,
            },
        );
        assert_eq!(
            &v[..12],
            &[198, 51, 100, 2, 203, 0, 113, 3, 0xc0, 0x00, 0x17, 0x70]
        );
        assert_eq!(
            u32::from_ne_bytes(v[12..16].try_into().unwrap_or_default()),
            1
        );
        assert_eq!(
            u64::from_ne_bytes(v[16..24].try_into().unwrap_or_default()),
            7
        );
        assert_eq!(
            counters(&v),
            Counters {
                packets: 3,
                bytes: 600
            }
        );
        assert_eq!(
            p2c_key(peer, relay),
            [203, 0, 113, 3, 198, 51, 100, 2, 0x17, 0x70, 0xc0, 0x00]
        );
        let v = p2c_val(
            client,
            "198.51.100.2:3478"
                .parse()
                .unwrap_or_else(|_| unreachable!()),
            0x4001,
            false,
            9,
            Counters::default(),
        );
        assert_eq!(
            &v[..16],
            &[
                192, 0, 2, 1, 198, 51, 100, 2, 0x13, 0x88, 0x0d, 0x96, 0x40, 0x01, 0, 0
            ]
        );
    }
}
