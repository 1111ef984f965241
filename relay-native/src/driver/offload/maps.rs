//! The byte layouts of bpf/offload.c's maps (`struct c2p_key` ... `struct p2c_val`, their
//! IPv6 twins `struct c2p6_key` ... `struct p2c6_val`, and `struct counters` in
//! EDGETURN_COUNTERS).
//!
//! Addresses and ports are in network byte order, as the program compares them with packet
//! headers; the deadline is a native-endian u64 at an 8-byte offset, and the counter slot a
//! native-endian u32 behind it.

use std::net::{SocketAddrV4, SocketAddrV6};

use relay_proto::Counters;

/// `struct c2p_key`: client address, listener port, channel number.
pub type C2pKey = [u8; 12];
/// `struct c2p_val`: relay and peer address, deadline, counter slot.
pub type C2pVal = [u8; 32];
/// `struct p2c_key`: peer address, relay address.
pub type P2cKey = [u8; 12];
/// `struct p2c_val`: client and listener address, channel number, deadline, counter slot.
pub type P2cVal = [u8; 32];
/// `struct counters` of one CPU: packets, bytes.
pub type CpuCounters = [u64; 2];

/// `flags`: the destination of this direction is an address of this host.
const ROUTE_LOCAL: u32 = 1;
const UNTIL: usize = 16;
const SLOT: usize = 24;

/// The sum of one counters entry's per-CPU values.
pub fn sum<'a>(cpus: impl IntoIterator<Item = &'a CpuCounters>) -> Counters {
    cpus.into_iter().fold(Counters::default(), |mut t, [p, b]| {
        t.packets += p;
        t.bytes += b;
        t
    })
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

fn put_u32(out: &mut [u8], at: usize, v: u32) {
    if let Some(d) = out.get_mut(at..at + 4) {
        d.copy_from_slice(&v.to_ne_bytes());
    }
}

/// The client-to-peer key.
pub fn c2p_key(client: SocketAddrV4, server_port: u16, channel: u16) -> C2pKey {
    let mut k = [0u8; 12];
    put_addr(&mut k, 0, 4, client);
    k[6..8].copy_from_slice(&server_port.to_be_bytes());
    k[8..10].copy_from_slice(&channel.to_be_bytes());
    k
}

/// The client-to-peer value; `local`: the peer is on this host; `slot`: its counters' entry.
pub fn c2p_val(
    relay: SocketAddrV4,
    peer: SocketAddrV4,
    local: bool,
    until_ns: u64,
    slot: u32,
) -> C2pVal {
    let mut v = [0u8; 32];
    put_addr(&mut v, 0, 8, relay);
    put_addr(&mut v, 4, 10, peer);
    put_u32(&mut v, 12, if local { ROUTE_LOCAL } else { 0 });
    put_u64(&mut v, UNTIL, until_ns);
    put_u32(&mut v, SLOT, slot);
    v
}

/// The peer-to-client key.
pub fn p2c_key(peer: SocketAddrV4, relay: SocketAddrV4) -> P2cKey {
    let mut k = [0u8; 12];
    put_addr(&mut k, 0, 8, peer);
    put_addr(&mut k, 4, 10, relay);
    k
}

/// The peer-to-client value; `local`: the client is on this host; `slot`: its counters' entry.
pub fn p2c_val(
    client: SocketAddrV4,
    server: SocketAddrV4,
    channel: u16,
    local: bool,
    until_ns: u64,
    slot: u32,
) -> P2cVal {
    let mut v = [0u8; 32];
    put_addr(&mut v, 0, 8, client);
    put_addr(&mut v, 4, 10, server);
    v[12..14].copy_from_slice(&channel.to_be_bytes());
    v[14..16].copy_from_slice(&(if local { ROUTE_LOCAL as u16 } else { 0 }).to_ne_bytes());
    put_u64(&mut v, UNTIL, until_ns);
    put_u32(&mut v, SLOT, slot);
    v
}

/// `struct c2p6_key`: client address, listener port, channel number.
pub type C2p6Key = [u8; 24];
/// `struct c2p6_val`: relay and peer address, deadline, counter slot.
pub type C2p6Val = [u8; 56];
/// `struct p2c6_key`: peer address, relay address.
pub type P2c6Key = [u8; 36];
/// `struct p2c6_val`: client and listener address, channel number, deadline, counter slot.
pub type P2c6Val = [u8; 56];

const UNTIL6: usize = 40;
const SLOT6: usize = 48;

fn put_addr6(out: &mut [u8], ip_at: usize, port_at: usize, a: SocketAddrV6) {
    if let Some(d) = out.get_mut(ip_at..ip_at + 16) {
        d.copy_from_slice(&a.ip().octets());
    }
    if let Some(d) = out.get_mut(port_at..port_at + 2) {
        d.copy_from_slice(&a.port().to_be_bytes());
    }
}

/// The IPv6 client-to-peer key.
pub fn c2p6_key(client: SocketAddrV6, server_port: u16, channel: u16) -> C2p6Key {
    let mut k = [0u8; 24];
    put_addr6(&mut k, 0, 16, client);
    k[18..20].copy_from_slice(&server_port.to_be_bytes());
    k[20..22].copy_from_slice(&channel.to_be_bytes());
    k
}

/// The IPv6 client-to-peer value.
pub fn c2p6_val(
    relay: SocketAddrV6,
    peer: SocketAddrV6,
    local: bool,
    until_ns: u64,
    slot: u32,
) -> C2p6Val {
    let mut v = [0u8; 56];
    put_addr6(&mut v, 0, 32, relay);
    put_addr6(&mut v, 16, 34, peer);
    put_u32(&mut v, 36, if local { ROUTE_LOCAL } else { 0 });
    put_u64(&mut v, UNTIL6, until_ns);
    put_u32(&mut v, SLOT6, slot);
    v
}

/// The IPv6 peer-to-client key.
pub fn p2c6_key(peer: SocketAddrV6, relay: SocketAddrV6) -> P2c6Key {
    let mut k = [0u8; 36];
    put_addr6(&mut k, 0, 32, peer);
    put_addr6(&mut k, 16, 34, relay);
    k
}

/// The IPv6 peer-to-client value.
pub fn p2c6_val(
    client: SocketAddrV6,
    server: SocketAddrV6,
    channel: u16,
    local: bool,
    until_ns: u64,
    slot: u32,
) -> P2c6Val {
    let mut v = [0u8; 56];
    put_addr6(&mut v, 0, 32, client);
    put_addr6(&mut v, 16, 34, server);
    v[36..38].copy_from_slice(&channel.to_be_bytes());
    v[38..40].copy_from_slice(&(if local { ROUTE_LOCAL as u16 } else { 0 }).to_ne_bytes());
    put_u64(&mut v, UNTIL6, until_ns);
    put_u32(&mut v, SLOT6, slot);
    v
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
        let v = c2p_val(relay, peer, true, 7, 0x0102_0304);
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
            u32::from_ne_bytes(v[24..28].try_into().unwrap_or_default()),
            0x0102_0304
        );
        assert_eq!(&v[28..], &[0, 0, 0, 0]);
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
            5,
        );
        assert_eq!(
            &v[..16],
            &[
                192, 0, 2, 1, 198, 51, 100, 2, 0x13, 0x88, 0x0d, 0x96, 0x40, 0x01, 0, 0
            ]
        );
        assert_eq!(
            u32::from_ne_bytes(v[24..28].try_into().unwrap_or_default()),
            5
        );
    }

    #[test]
    fn ipv6_layouts_match_the_c_structs() {
        let client: SocketAddrV6 = "[2001:db8::1]:5000"
            .parse()
            .unwrap_or_else(|_| unreachable!());
        let relay: SocketAddrV6 = "[2001:db8::2]:49152"
            .parse()
            .unwrap_or_else(|_| unreachable!());
        let peer: SocketAddrV6 = "[2001:db8::3]:6000"
            .parse()
            .unwrap_or_else(|_| unreachable!());
        let ip = |last: u8| {
            let mut a = [0u8; 16];
            a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
            a[15] = last;
            a
        };
        let k = c2p6_key(client, 3478, 0x4001);
        assert_eq!(&k[..16], &ip(1));
        assert_eq!(&k[16..], &[0x13, 0x88, 0x0d, 0x96, 0x40, 0x01, 0, 0]);
        let v = c2p6_val(relay, peer, true, 7, 9);
        assert_eq!((&v[..16], &v[16..32]), (&ip(2)[..], &ip(3)[..]));
        assert_eq!(&v[32..36], &[0xc0, 0x00, 0x17, 0x70]);
        assert_eq!(
            u32::from_ne_bytes(v[36..40].try_into().unwrap_or_default()),
            1
        );
        assert_eq!(
            u64::from_ne_bytes(v[40..48].try_into().unwrap_or_default()),
            7
        );
        assert_eq!(
            u32::from_ne_bytes(v[48..52].try_into().unwrap_or_default()),
            9
        );
        assert_eq!(&v[52..], &[0; 4]);
        let k = p2c6_key(peer, relay);
        assert_eq!((&k[..16], &k[16..32]), (&ip(3)[..], &ip(2)[..]));
        assert_eq!(&k[32..], &[0x17, 0x70, 0xc0, 0x00]);
        let v = p2c6_val(client, relay, 0x4001, false, 11, 5);
        assert_eq!((&v[..16], &v[16..32]), (&ip(1)[..], &ip(2)[..]));
        assert_eq!(&v[32..40], &[0x13, 0x88, 0xc0, 0x00, 0x40, 0x01, 0, 0]);
        assert_eq!(
            u64::from_ne_bytes(v[40..48].try_into().unwrap_or_default()),
            11
        );
        assert_eq!(
            u32::from_ne_bytes(v[48..52].try_into().unwrap_or_default()),
            5
        );
    }

    #[test]
    fn counters_sum_over_cpus() {
        let cpus: [CpuCounters; 3] = [[1, 200], [0, 0], [2, 400]];
        assert_eq!(
            sum(&cpus),
            Counters {
                packets: 3,
                bytes: 600
            }
        );
    }
}
