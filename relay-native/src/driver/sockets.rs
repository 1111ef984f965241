//! Socket set-up: SO_REUSEPORT listeners and relay sockets, IPv6 ones IPv6-only.

use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

/// A non-blocking UDP socket bound to `addr` with SO_REUSEPORT (so every shard can bind
/// the listening address) and larger buffers (receive-buffer drops are the classic TURN
/// loss under load, coturn issue 616).
pub fn udp_listener(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    only_its_family(&s, addr)?;
    s.set_reuse_port(true)?;
    let _ = s.set_recv_buffer_size(4 << 20);
    let _ = s.set_send_buffer_size(4 << 20);
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    Ok(s.into())
}

/// A non-blocking TCP listener on `addr` with SO_REUSEPORT.
pub fn tcp_listener(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    only_its_family(&s, addr)?;
    s.set_reuse_port(true)?;
    s.set_reuse_address(true)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    s.listen(1024)?;
    Ok(s.into())
}

/// A relay socket bound to `addr` (a port of the relay range, see `ports`).
pub fn relay_socket(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    only_its_family(&s, addr)?;
    let _ = s.set_recv_buffer_size(1 << 20);
    let _ = s.set_send_buffer_size(1 << 20);
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    Ok(s.into())
}

/// An IPv6 socket takes IPv6 only (IPV6_V6ONLY), whatever the system default: `[::]` would
/// otherwise also take IPv4 clients as `::ffff:a.b.c.d`, so one client could appear under two
/// addresses and an IPv4 client would be answered from the IPv6 listener. Dual stack is two
/// listeners, one per family.
fn only_its_family(s: &Socket, addr: SocketAddr) -> std::io::Result<()> {
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    Ok(())
}
