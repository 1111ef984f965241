//! How the probe reaches the relay: UDP, TCP or TLS (RFC 8656 section 3.1). Over TCP and
//! TLS messages are framed by their own length fields (relay-proto's [`StreamFramer`]), and
//! requests are not retransmitted (RFC 8489 section 6.2.2).
//!
//! TLS is rustls with the relay's provider: TLS 1.3 and 1.2, ALPN `stun.turn`, the relay's
//! name (from `--server`) for SNI and for verification, and trust in the Mozilla roots
//! (webpki-roots) unless `--tls-ca` names the one CA to trust instead.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};

use super::Failure;
use crate::certs::provider;
use crate::driver::tls::ALPN;
use relay_proto::framing::StreamFramer;

/// The transport to probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transport {
    /// TURN over UDP.
    Udp,
    /// TURN over TCP.
    Tcp,
    /// TURN over TLS.
    Tls {
        /// The name the certificate must carry, also sent as SNI: a DNS name or an IP address.
        name: String,
        /// Trust only this CA (PEM) instead of the Mozilla roots.
        ca: Option<PathBuf>,
    },
}

impl Transport {
    /// The relay's port when `--server` names none.
    pub fn default_port(&self) -> u16 {
        match self {
            Transport::Tls { .. } => 5349,
            _ => 3478,
        }
    }
}

/// An open connection to the relay.
pub(super) enum Conn {
    Udp(UdpSocket),
    /// Behind a mutex so that a client can be shared by threads (a sender and a reader).
    Stream(Mutex<Stream>),
}

fn lock(s: &Mutex<Stream>) -> MutexGuard<'_, Stream> {
    s.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Read and write, for a TCP socket or a TLS session over one.
trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// A byte stream and the bytes read from it that make no whole frame yet.
pub(super) struct Stream {
    io: Box<dyn ReadWrite + Send>,
    /// The same socket, to set read timeouts on.
    socket: TcpStream,
    framer: StreamFramer,
}

impl Conn {
    /// Connects (and for TLS completes the handshake) within `timeout`.
    /// `from`: the local address to send from (default: the system's choice).
    pub(super) fn open(
        server: SocketAddr,
        transport: &Transport,
        timeout: Duration,
        from: Option<std::net::IpAddr>,
    ) -> Result<Conn, Failure> {
        let local = |e: std::io::Error| Failure::Local(e.to_string());
        let tcp = match transport {
            Transport::Udp => return udp(server, from).map(Conn::Udp),
            Transport::Tcp | Transport::Tls { .. } => connect(server, timeout, from)?,
        };
        let socket = tcp.try_clone().map_err(local)?;
        let io: Box<dyn ReadWrite + Send> = match transport {
            Transport::Tls { name, ca } => Box::new(handshake(tcp, name, ca.as_deref(), timeout)?),
            _ => Box::new(tcp),
        };
        Ok(Conn::Stream(Mutex::new(Stream {
            io,
            socket,
            framer: StreamFramer::new(),
        })))
    }

    /// Whether this is a stream (ChannelData padded to 4, no retransmissions).
    pub(super) fn is_stream(&self) -> bool {
        matches!(self, Conn::Stream(_))
    }

    /// The local address the relay sees (before NAT).
    pub(super) fn local_addr(&self) -> std::io::Result<SocketAddr> {
        match self {
            Conn::Udp(s) => s.local_addr(),
            Conn::Stream(s) => lock(s).socket.local_addr(),
        }
    }

    /// Sends one message.
    pub(super) fn send(&self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Conn::Udp(s) => s.send(bytes).map(drop),
            Conn::Stream(s) => {
                let mut s = lock(s);
                s.io.write_all(bytes)?;
                s.io.flush()
            }
        }
    }

    /// One message into `buf` before `deadline`, or None. A stream's frames longer than
    /// `buf` are skipped.
    pub(super) fn recv(&self, buf: &mut [u8], deadline: Instant) -> std::io::Result<Option<usize>> {
        match self {
            Conn::Udp(s) => {
                let Some(left) = time_left(deadline) else {
                    return Ok(None);
                };
                s.set_read_timeout(Some(left))?;
                quiet_timeout(s.recv(buf))
            }
            Conn::Stream(s) => lock(s).recv(buf, deadline),
        }
    }
}

impl Stream {
    fn recv(&mut self, buf: &mut [u8], deadline: Instant) -> std::io::Result<Option<usize>> {
        let mut chunk = [0u8; 4096];
        loop {
            match self.framer.next_frame() {
                Ok(Some(frame)) => match buf.get_mut(..frame.len()) {
                    Some(dst) => {
                        dst.copy_from_slice(frame);
                        return Ok(Some(frame.len()));
                    }
                    None => continue,
                },
                Ok(None) => {}
                Err(_) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "the relay sent something that is neither STUN nor ChannelData",
                    ));
                }
            }
            let Some(left) = time_left(deadline) else {
                return Ok(None);
            };
            self.socket.set_read_timeout(Some(left))?;
            match quiet_timeout(self.io.read(&mut chunk))? {
                None => return Ok(None),
                Some(0) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the relay closed the connection",
                    ));
                }
                Some(n) => self.framer.push(chunk.get(..n).unwrap_or_default()),
            }
        }
    }
}

/// The address to bind a client socket to: `from`, or any of the server's family.
fn local_for(server: SocketAddr, from: Option<std::net::IpAddr>) -> SocketAddr {
    let any: std::net::IpAddr = if server.is_ipv4() {
        [0, 0, 0, 0].into()
    } else {
        std::net::Ipv6Addr::UNSPECIFIED.into()
    };
    SocketAddr::new(from.unwrap_or(any), 0)
}

fn udp(server: SocketAddr, from: Option<std::net::IpAddr>) -> Result<UdpSocket, Failure> {
    let sock = UdpSocket::bind(local_for(server, from))
        .map_err(|e| Failure::Local(format!("cannot open a UDP socket: {e}")))?;
    sock.connect(server)
        .map_err(|e| Failure::Local(format!("cannot route to {server}: {e}")))?;
    Ok(sock)
}

fn connect(
    server: SocketAddr,
    timeout: Duration,
    from: Option<std::net::IpAddr>,
) -> Result<TcpStream, Failure> {
    let tcp = match from {
        None => TcpStream::connect_timeout(&server, timeout),
        Some(_) => {
            let local =
                |e: std::io::Error| Failure::Local(format!("cannot open a TCP socket: {e}"));
            let s = socket2::Socket::new(
                socket2::Domain::for_address(server),
                socket2::Type::STREAM,
                Some(socket2::Protocol::TCP),
            )
            .map_err(local)?;
            s.bind(&local_for(server, from).into()).map_err(local)?;
            s.connect_timeout(&server.into(), timeout)
                .map(|()| TcpStream::from(s))
        }
    }
    .map_err(|e| Failure::Timeout(format!("no TCP connection to {server}: {e}")))?;
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}

/// The TLS handshake, with the relay's certificate verified for `name`.
fn handshake(
    mut tcp: TcpStream,
    name: &str,
    ca: Option<&Path>,
    timeout: Duration,
) -> Result<StreamOwned<ClientConnection, TcpStream>, Failure> {
    let local = |m: String| Failure::Local(m);
    let mut roots = RootCertStore::empty();
    match ca {
        Some(path) => {
            for cert in CertificateDer::pem_file_iter(path)
                .map_err(|e| local(format!("--tls-ca {}: {e}", path.display())))?
            {
                let cert = cert.map_err(|e| local(format!("--tls-ca {}: {e}", path.display())))?;
                roots
                    .add(cert)
                    .map_err(|e| local(format!("--tls-ca {}: {e}", path.display())))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let mut cfg = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| local(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![ALPN[0].to_vec()];
    let server_name = ServerName::try_from(name.to_string())
        .map_err(|_| local(format!("{name:?} is not a DNS name or IP address for TLS")))?;
    let mut conn = ClientConnection::new(Arc::new(cfg), server_name)
        .map_err(|e| Failure::Tls(e.to_string()))?;
    let _ = tcp.set_read_timeout(Some(timeout));
    let _ = tcp.set_write_timeout(Some(timeout));
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => Failure::Timeout(
                format!("the TLS handshake with {name} did not finish in time"),
            ),
            _ => Failure::Tls(format!("handshake with {name}: {e}")),
        })?;
    }
    Ok(StreamOwned::new(conn, tcp))
}

fn time_left(deadline: Instant) -> Option<Duration> {
    let left = deadline.checked_duration_since(Instant::now())?;
    Some(left.max(Duration::from_millis(1)))
}

/// A read timeout as no data rather than an error.
fn quiet_timeout(r: std::io::Result<usize>) -> std::io::Result<Option<usize>> {
    match r {
        Ok(n) => Ok(Some(n)),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}
