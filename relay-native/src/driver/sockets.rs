//! Socket set-up: SO_REUSEPORT listeners and relay sockets.

use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

/// A non-blocking UDP socket bound to `addr` with SO_REUSEPORT (so every shard can bind
/// the listening address) and larger buffers (receive-buffer drops are the classic TURN
/// loss under load, coturn issue 616).
pub fn udp_listener(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
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
    s.set_reuse_port(true)?;
    s.set_reuse_address(true)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    s.listen(1024)?;
    Ok(s.into())
}

/// A relay socket on `ip`, port chosen by the operating system (an even one if `even`).
pub fn relay_socket(ip: std::net::IpAddr, even: bool) -> std::io::Result<std::net::UdpSocket> {
    for _ in 0..64 {
        let s = relay_socket_any(ip)?;
        if !even || s.local_addr()?.port() % 2 == 0 {
            return Ok(s);
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AddrInUse,
        "no even port found",
    ))
}

fn relay_socket_any(ip: std::net::IpAddr) -> std::io::Result<std::net::UdpSocket> {
    let addr = SocketAddr::new(ip, 0);
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    let _ = s.set_recv_buffer_size(1 << 20);
    let _ = s.set_send_buffer_size(1 << 20);
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    Ok(s.into())
}
