//! The relays under test and how each is started: on loopback, a free port, two threads,
//! one static user, loopback peers allowed, nothing else changed from its defaults.

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::procs::Procs;
use crate::util::Result;

/// Both kinds of server get this many threads (the machine has 2 cores; the load generator
/// shares them).
pub const THREADS: &str = "2";
/// The static user every server accepts.
pub const USER: &str = "bench";
/// Its password.
pub const PASSWORD: &str = "bench-password";
const REALM: &str = "bench";

/// coturn 4.17's modes (issue 15): its defaults, batched receives, and the multiplexed peer
/// sockets that also batch sends and use GSO.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoturnMode {
    /// No flags beyond the common ones.
    Default,
    /// `--udp-recvmmsg`.
    Recvmmsg,
    /// `--multiplex-peer --udp-gso`.
    MultiplexGso,
}

/// One server configuration.
#[derive(Clone, Debug)]
pub enum Server {
    /// A coturn `turnserver` binary (Debian's or one built from source), as `version` reports.
    Coturn {
        /// The binary.
        bin: PathBuf,
        /// What `turnserver --version` printed.
        version: String,
        /// Flags.
        mode: CoturnMode,
    },
    /// relay-native, on its sockets or with the kernel fast path on `lo`.
    RelayNative {
        /// The binary.
        bin: PathBuf,
        /// `--offload lo`.
        offload: bool,
        /// Another build measured for comparison (bench-relay --baseline): its label.
        baseline: Option<String>,
        /// What else it runs with (its operator features, to show what they cost).
        with: Operator,
    },
}

/// relay-native's operator features a row runs with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Operator {
    /// `--metrics`, scraped every second during the whole trial.
    pub metrics: bool,
    /// Bandwidth caps per allocation and per user that the load never reaches, so every
    /// datagram is checked and none is dropped.
    pub caps: bool,
}

/// A cap no benchmark load reaches, bytes per second.
const UNREACHED_CAP: &str = "10000000000";

impl Server {
    /// How the table names it.
    pub fn name(&self) -> String {
        match self {
            Server::Coturn { version, mode, .. } => {
                let flags = match mode {
                    CoturnMode::Default => "",
                    CoturnMode::Recvmmsg => " --udp-recvmmsg",
                    CoturnMode::MultiplexGso => " --multiplex-peer --udp-gso",
                };
                format!("coturn {version}{flags}")
            }
            Server::RelayNative {
                offload,
                with,
                baseline,
                ..
            } => {
                let mut name = "relay-native".to_string();
                if *offload {
                    name.push_str(" --offload lo");
                }
                if with.metrics {
                    name.push_str(" --metrics");
                }
                if with.caps {
                    name.push_str(" --max-bps");
                }
                if let Some(label) = baseline {
                    name.push_str(&format!(" (baseline {label})"));
                }
                name
            }
        }
    }

    /// relay-native with the kernel fast path.
    pub fn offloads(&self) -> bool {
        matches!(self, Server::RelayNative { offload: true, .. })
    }

    /// A short name for log files.
    fn slug(&self) -> String {
        self.name()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' {
                    c
                } else {
                    '-'
                }
            })
            .collect::<String>()
            .replace("--", "-")
    }

    /// Starts it under `procs`; waits until it answers a STUN Binding request.
    pub fn start(&self, procs: &Procs, dir: &Path) -> Result<Running> {
        let port = free_port()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let log = dir.join(format!("{}-{port}.log", self.slug()));
        let user = format!("{USER}:{PASSWORD}");
        let mut scraper = None;
        let pid = match self {
            Server::Coturn { bin, mode, version } => {
                // An empty configuration file: otherwise coturn reads /etc/turnserver.conf.
                let conf = dir.join("empty-turnserver.conf");
                std::fs::write(&conf, "")?;
                let mut cmd = Command::new(bin);
                cmd.args(["-c", &conf.to_string_lossy(), "-n"])
                    .args(["--listening-ip", "127.0.0.1", "--relay-ip", "127.0.0.1"])
                    .args(["--listening-port", &port.to_string()])
                    .args(["--allow-loopback-peers", "--no-tls"])
                    .args(["--lt-cred-mech", "--realm", REALM, "--user", &user])
                    .args(["-m", THREADS, "--simple-log", "--no-stdout-log"])
                    .args(["--log-file", &log.to_string_lossy()])
                    .args([
                        "--pidfile",
                        &dir.join(format!("coturn-{port}.pid")).to_string_lossy(),
                    ]);
                // Before 4.17 coturn also started DTLS and its telnet CLI on a fixed port
                // unless told not to; 4.17 starts neither and calls the flags deprecated.
                if !version.starts_with("4.17") {
                    cmd.args(["--no-dtls", "--no-cli"]);
                }
                match mode {
                    CoturnMode::Default => {}
                    CoturnMode::Recvmmsg => {
                        cmd.arg("--udp-recvmmsg");
                    }
                    CoturnMode::MultiplexGso => {
                        cmd.args(["--multiplex-peer", "--udp-gso", "--multiplex-peer-port"])
                            .arg(free_port_run(4)?.to_string());
                    }
                }
                procs.spawn(
                    "turnserver",
                    &mut cmd,
                    &dir.join(format!("{}-{port}-out.log", self.slug())),
                )?
            }
            Server::RelayNative {
                bin, offload, with, ..
            } => {
                let mut cmd = Command::new(bin);
                cmd.args([
                    "serve",
                    "--listen",
                    &addr.to_string(),
                    "--relay-ip",
                    "127.0.0.1",
                ])
                .args(["--realm", REALM, "--user", &user])
                .args(["--allow-loopback-peers", "--shards", THREADS])
                .env("RUST_LOG", "info");
                if *offload {
                    cmd.args(["--offload", "lo"]);
                }
                if with.caps {
                    cmd.args(["--max-bps-per-allocation", UNREACHED_CAP])
                        .args(["--max-bps-per-user", UNREACHED_CAP]);
                }
                if with.metrics {
                    let metrics = SocketAddr::from(([127, 0, 0, 1], free_port()?));
                    cmd.args(["--metrics", &metrics.to_string()]);
                    scraper = Some(Scraper::start(metrics));
                }
                procs.spawn("relay-native", &mut cmd, &log)?
            }
        };
        wait_binding(addr)?;
        procs.check_running()?;
        Ok(Running {
            pid,
            addr,
            _scraper: scraper,
        })
    }
}

/// A started server.
pub struct Running {
    /// Its process.
    pub pid: u32,
    /// Its UDP listener.
    pub addr: SocketAddr,
    _scraper: Option<Scraper>,
}

/// Fetches `/metrics` once a second, as a Prometheus with a 1 s scrape interval would
/// (15 s is the default), until dropped.
struct Scraper {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Scraper {
    fn start(at: SocketAddr) -> Scraper {
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let done = stop.clone();
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if let Ok(mut s) = std::net::TcpStream::connect(at) {
                    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                    let _ = s.write_all(b"GET /metrics HTTP/1.0\r\nHost: bench\r\n\r\n");
                    let _ = s.read_to_end(&mut Vec::new());
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        });
        Scraper { stop }
    }
}

impl Drop for Scraper {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// What `turnserver --version` says (Debian's 4.6.1 and 4.17 print the bare version).
pub fn coturn_version(bin: &Path) -> Result<String> {
    let out = Command::new(bin).arg("--version").output()?;
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    text.split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()) && w.contains('.'))
        .map(str::to_string)
        .ok_or_else(|| format!("{} --version printed no version: {text}", bin.display()).into())
}

/// A loopback port free for UDP and TCP.
pub(crate) fn free_port() -> Result<u16> {
    free_port_run(1)
}

/// The first of `n` consecutive loopback ports free for UDP (IPv4 and IPv6) and TCP.
fn free_port_run(n: u16) -> Result<u16> {
    for _ in 0..200 {
        let base = UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port();
        if base >= 60_000 {
            continue;
        }
        let free = (base..base + n).all(|p| {
            UdpSocket::bind(("127.0.0.1", p)).is_ok()
                && UdpSocket::bind(("::1", p)).is_ok()
                && std::net::TcpListener::bind(("127.0.0.1", p)).is_ok()
        });
        if free {
            return Ok(base);
        }
    }
    Err("no free ports".into())
}

/// Waits for a STUN Binding success.
pub(crate) fn wait_binding(addr: SocketAddr) -> Result {
    let s = UdpSocket::bind("127.0.0.1:0")?;
    s.set_read_timeout(Some(Duration::from_millis(100)))?;
    let req: [u8; 20] = [
        0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    ];
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 512];
    while Instant::now() < deadline {
        let _ = s.send_to(&req, addr);
        if let Ok(n) = s.recv(&mut buf)
            && n >= 20
            && buf.get(..2) == Some(&[1, 1])
        {
            return Ok(());
        }
    }
    Err(format!("no Binding response from {addr}").into())
}
