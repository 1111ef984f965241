//! The byte layouts of bpf/offload.c's maps (`struct c2p_key` ... `struct p2c_val`, their
//! IPv6 twins `struct c2p6_key` ... `struct p2c6_val`, and `struct counters` in
//! EDGETURN_COUNTERS).
//!
//! The two families' structs have the same fields in the same order and differ only in the
//! width `A` of an address (4 or 16 bytes), so one set of functions writes both, the array
//! length telling which. Addresses and ports are in network byte order, as the program
//! compares them with packet headers; the deadline is a native-endian u64 at an 8-byte offset,
//! and the counter slot a native-endian u32 behind it.

use std::net::{IpAddr, SocketAddr};

use relay_proto::Counters;

/// `struct c2p_key`: client address, listener port, channel number.
pub type C2pKey = [u8; 12];
/// `struct c2p_val`: relay and peer address, deadline, counter slot.
pub type C2pVal = [u8; 32];
/// `struct p2c_key`: peer address, relay address.
pub type P2cKey = [u8; 12];
/// `struct p2c_val`: client and listener address, channel number, deadline, counter slot.
pub type P2cVal = [u8; 32];
/// `struct c2p6_key`.
pub type C2p6Key = [u8; 24];
/// `struct c2p6_val`.
pub type C2p6Val = [u8; 56];
/// `struct p2c6_key`.
pub type P2c6Key = [u8; 36];
/// `struct p2c6_val`.
pub type P2c6Val = [u8; 56];
/// `struct counters` of one CPU: packets, bytes.
pub type CpuCounters = [u64; 2];

/// `flags`: the destination of this direction is an address of this host.
const ROUTE_LOCAL: u32 = 1;

/// The sum of one counters entry's per-CPU values.
pub fn sum<'a>(cpus: impl IntoIterator<Item = &'a CpuCounters>) -> Counters {
    cpus.into_iter().fold(Counters::default(), |mut t, [p, b]| {
        t.packets += p;
        t.bytes += b;
        t
    })
}

/// A struct being written: bytes and where its addresses' width puts each field.
struct Fields<const N: usize> {
    bytes: [u8; N],
    /// The width of one address: 4 or 16.
    a: usize,
    /// How many addresses lead the struct (1 for `c2p_key`, 2 for the others).
    addresses: usize,
}

impl<const N: usize> Fields<N> {
    fn new(family_of: SocketAddr, addresses: usize) -> Fields<N> {
        let a = if family_of.is_ipv4() { 4 } else { 16 };
        Fields {
            bytes: [0; N],
            a,
            addresses,
        }
    }

    fn put(&mut self, at: usize, v: &[u8]) {
        if let Some(d) = self.bytes.get_mut(at..at + v.len()) {
            d.copy_from_slice(v);
        }
    }

    /// Address `nth` (0 or 1) at the start, its port in the port words behind the addresses.
    fn addr(&mut self, nth: usize, sa: SocketAddr) {
        match sa.ip() {
            IpAddr::V4(ip) => self.put(nth * self.a, &ip.octets()),
            IpAddr::V6(ip) => self.put(nth * self.a, &ip.octets()),
        }
        self.port(nth, sa.port());
    }

    /// Port word `nth` behind the addresses.
    fn port(&mut self, nth: usize, port: u16) {
        self.put(self.addresses * self.a + 2 * nth, &port.to_be_bytes());
    }

    /// The 16-bit word `nth` behind a value's two addresses (channel, flags).
    fn word(&mut self, nth: usize, v: [u8; 2]) {
        self.put(2 * self.a + 2 * nth, &v);
    }

    /// `flags` as a u32 behind the two port words.
    fn flags(&mut self, v: u32) {
        self.put(2 * self.a + 4, &v.to_ne_bytes());
    }

    /// The deadline and the counter slot, at the end of a value.
    fn tail(mut self, until_ns: u64, slot: u32) -> [u8; N] {
        self.put(2 * self.a + 8, &until_ns.to_ne_bytes());
        self.put(2 * self.a + 16, &slot.to_ne_bytes());
        self.bytes
    }
}

/// The client-to-peer key (`C2pKey` or `C2p6Key` by the client's family).
pub fn c2p_key<const N: usize>(client: SocketAddr, server_port: u16, channel: u16) -> [u8; N] {
    let mut f = Fields::<N>::new(client, 1);
    f.addr(0, client);
    f.port(1, server_port);
    f.port(2, channel);
    f.bytes
}

/// The client-to-peer value; `local`: the peer is on this host; `slot`: its counters' entry.
pub fn c2p_val<const N: usize>(
    relay: SocketAddr,
    peer: SocketAddr,
    local: bool,
    until_ns: u64,
    slot: u32,
) -> [u8; N] {
    let mut f = Fields::<N>::new(relay, 2);
    f.addr(0, relay);
    f.addr(1, peer);
    f.flags(if local { ROUTE_LOCAL } else { 0 });
    f.tail(until_ns, slot)
}

/// The peer-to-client key.
pub fn p2c_key<const N: usize>(peer: SocketAddr, relay: SocketAddr) -> [u8; N] {
    let mut f = Fields::<N>::new(peer, 2);
    f.addr(0, peer);
    f.addr(1, relay);
    f.bytes
}

/// The peer-to-client value; `local`: the client is on this host; `slot`: its counters' entry.
pub fn p2c_val<const N: usize>(
    client: SocketAddr,
    server: SocketAddr,
    channel: u16,
    local: bool,
    until_ns: u64,
    slot: u32,
) -> [u8; N] {
    let mut f = Fields::<N>::new(client, 2);
    f.addr(0, client);
    f.addr(1, server);
    f.word(2, channel.to_be_bytes());
    f.word(
        3,
        (if local { ROUTE_LOCAL as u16 } else { 0 }).to_ne_bytes(),
    );
    f.tail(until_ns, slot)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)]
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap_or_else(|_| unreachable!())
    }

    fn ne_u32(b: &[u8]) -> u32 {
        u32::from_ne_bytes(b.try_into().unwrap_or_default())
    }

    fn ne_u64(b: &[u8]) -> u64 {
        u64::from_ne_bytes(b.try_into().unwrap_or_default())
    }

    #[test]
    fn ipv4_layouts_match_the_c_structs() {
        let (client, relay, peer) = (
            sa("192.0.2.1:5000"),
            sa("198.51.100.2:49152"),
            sa("203.0.113.3:6000"),
        );
        let k: C2pKey = c2p_key(client, 3478, 0x4001);
        assert_eq!(k, [192, 0, 2, 1, 0x13, 0x88, 0x0d, 0x96, 0x40, 0x01, 0, 0]);
        let v: C2pVal = c2p_val(relay, peer, true, 7, 0x0102_0304);
        assert_eq!(
            &v[..12],
            &[198, 51, 100, 2, 203, 0, 113, 3, 0xc0, 0x00, 0x17, 0x70]
        );
        assert_eq!(ne_u32(&v[12..16]), 1);
        assert_eq!(ne_u64(&v[16..24]), 7);
        assert_eq!(ne_u32(&v[24..28]), 0x0102_0304);
        assert_eq!(&v[28..], &[0, 0, 0, 0]);
        let k: P2cKey = p2c_key(peer, relay);
        assert_eq!(k, [203, 0, 113, 3, 198, 51, 100, 2, 0x17, 0x70, 0xc0, 0x00]);
        let v: P2cVal = p2c_val(client, sa("198.51.100.2:3478"), 0x4001, false, 9, 5);
        assert_eq!(
            &v[..16],
            &[
                192, 0, 2, 1, 198, 51, 100, 2, 0x13, 0x88, 0x0d, 0x96, 0x40, 0x01, 0, 0
            ]
        );
        assert_eq!(ne_u64(&v[16..24]), 9);
        assert_eq!(ne_u32(&v[24..28]), 5);
    }

    #[test]
    fn ipv6_layouts_match_the_c_structs() {
        let (client, relay, peer) = (
            sa("[2001:db8::1]:5000"),
            sa("[2001:db8::2]:49152"),
            sa("[2001:db8::3]:6000"),
        );
        let ip = |last: u8| {
            let mut a = [0u8; 16];
            a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
            a[15] = last;
            a
        };
        let k: C2p6Key = c2p_key(client, 3478, 0x4001);
        assert_eq!(&k[..16], &ip(1));
        assert_eq!(&k[16..], &[0x13, 0x88, 0x0d, 0x96, 0x40, 0x01, 0, 0]);
        let v: C2p6Val = c2p_val(relay, peer, true, 7, 9);
        assert_eq!((&v[..16], &v[16..32]), (&ip(2)[..], &ip(3)[..]));
        assert_eq!(&v[32..36], &[0xc0, 0x00, 0x17, 0x70]);
        assert_eq!(ne_u32(&v[36..40]), 1);
        assert_eq!(ne_u64(&v[40..48]), 7);
        assert_eq!(ne_u32(&v[48..52]), 9);
        assert_eq!(&v[52..], &[0; 4]);
        let k: P2c6Key = p2c_key(peer, relay);
        assert_eq!((&k[..16], &k[16..32]), (&ip(3)[..], &ip(2)[..]));
        assert_eq!(&k[32..], &[0x17, 0x70, 0xc0, 0x00]);
        let v: P2c6Val = p2c_val(client, relay, 0x4001, false, 11, 5);
        assert_eq!((&v[..16], &v[16..32]), (&ip(1)[..], &ip(2)[..]));
        assert_eq!(&v[32..40], &[0x13, 0x88, 0xc0, 0x00, 0x40, 0x01, 0, 0]);
        assert_eq!(ne_u64(&v[40..48]), 11);
        assert_eq!(ne_u32(&v[48..52]), 5);
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
