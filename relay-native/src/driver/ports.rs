//! Relay sockets inside the relay port range (`relay_ports`): a random start and a bounded
//! walk (RFC 8656 section 7.2 asks for unpredictable ports), skipping reserved ports, an even
//! port for EVEN-PORT, with its odd neighbour free too when it is to be reserved, and the
//! exact reserved port for RESERVATION-TOKEN.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use relay_proto::{Config, PortRequest};

use super::sockets;

/// Ports tried per bind before the range counts as exhausted (508).
pub const TRIES: usize = 256;

/// Why no relay socket was bound.
#[derive(Debug)]
pub enum PickError {
    /// Every port tried was taken or reserved.
    Exhausted,
    /// The socket could not be made at all.
    Io(std::io::Error),
}

impl std::fmt::Display for PickError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PickError::Exhausted => f.write_str("no free port in the relay port range"),
            PickError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// A relay socket on `ip` at a port of `cfg.relay_ports` as `request` asks.
pub fn bind(
    cfg: &Config,
    ip: IpAddr,
    request: PortRequest,
    now: Instant,
) -> Result<std::net::UdpSocket, PickError> {
    let start = random_u32();
    let reserved = |port: u16| cfg.reservations.is_reserved(SocketAddr::new(ip, port), now);
    for port in cfg.relay_ports.candidates(request, start, TRIES) {
        let exact = matches!(request, PortRequest::Exact(_));
        if !exact && reserved(port) {
            continue;
        }
        if let PortRequest::Even { reserve_next: true } = request {
            // The odd neighbour must be free now; the reservation keeps other picks off it.
            let Some(next) = port.checked_add(1) else {
                continue;
            };
            if reserved(next) || sockets::relay_socket(SocketAddr::new(ip, next)).is_err() {
                continue;
            }
        }
        match sockets::relay_socket(SocketAddr::new(ip, port)) {
            Ok(s) => return Ok(s),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
            Err(e) => return Err(PickError::Io(e)),
        }
    }
    Err(PickError::Exhausted)
}

fn random_u32() -> u32 {
    let mut b = [0u8; 4];
    // Without the system's randomness the walk starts at the bottom: still correct.
    let _ = getrandom::fill(&mut b);
    u32::from_ne_bytes(b)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use relay_proto::{AuthConfig, PeerPolicy, PortRange, ReservationToken};

    fn config(min: u16, max: u16) -> Config {
        let mut cfg = Config::new(
            AuthConfig::default(),
            PeerPolicy::default(),
            "127.0.0.1".parse().unwrap(),
        );
        cfg.relay_ports = PortRange::new(min, max).unwrap();
        cfg
    }

    /// A run of `n` ports on loopback none of which is bound now (so the test can own them).
    /// It looks below Linux's ephemeral range (32768-60999), where no outgoing socket of
    /// another test lands, from a start that differs per process and per call, so tests
    /// running at once do not pick the same run.
    fn free_run(n: u16) -> u16 {
        static CALLS: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
        let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let first = (std::process::id() as u16)
            .wrapping_mul(97)
            .wrapping_add(call * 31)
            % 180;
        for i in 0..180u16 {
            let start = 20_000 + ((first + i) % 180) * 64;
            let all: Vec<_> = (start..start + n)
                .map(|p| std::net::UdpSocket::bind(("127.0.0.1", p)))
                .collect();
            if all.iter().all(Result::is_ok) {
                return start;
            }
        }
        panic!("no free run of {n} ports");
    }

    #[test]
    fn every_socket_binds_in_the_range_until_it_is_exhausted() {
        let min = free_run(4);
        let cfg = config(min, min + 3);
        let now = Instant::now();
        let ip = "127.0.0.1".parse().unwrap();
        let held: Vec<_> = (0..4)
            .map(|_| bind(&cfg, ip, PortRequest::Any, now).unwrap())
            .collect();
        let mut ports: Vec<u16> = held
            .iter()
            .map(|s| s.local_addr().unwrap().port())
            .collect();
        ports.sort_unstable();
        assert_eq!(ports, [min, min + 1, min + 2, min + 3]);
        assert!(matches!(
            bind(&cfg, ip, PortRequest::Any, now),
            Err(PickError::Exhausted)
        ));
    }

    #[test]
    fn even_ports_reserved_ports_and_the_exact_reserved_one() {
        let min = free_run(4);
        let cfg = config(min, min + 3);
        let now = Instant::now();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let even = bind(&cfg, ip, PortRequest::Even { reserve_next: true }, now).unwrap();
        let p = even.local_addr().unwrap().port();
        assert_eq!(p % 2, 0);
        cfg.reservations
            .reserve(ReservationToken(1), SocketAddr::new(ip, p + 1), now)
            .unwrap();
        // The reserved port is skipped by any other pick...
        let others: Vec<_> = (0..2)
            .map(|_| bind(&cfg, ip, PortRequest::Any, now).unwrap())
            .collect();
        assert!(
            others
                .iter()
                .all(|s| s.local_addr().unwrap().port() != p + 1)
        );
        assert!(matches!(
            bind(&cfg, ip, PortRequest::Any, now),
            Err(PickError::Exhausted)
        ));
        // ...and bound when asked for by name.
        let exact = bind(&cfg, ip, PortRequest::Exact(p + 1), now).unwrap();
        assert_eq!(exact.local_addr().unwrap().port(), p + 1);
    }
}
