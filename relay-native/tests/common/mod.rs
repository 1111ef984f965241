//! Running the real relay-native binary and coturn's programs on loopback.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

pub mod gso_peer;
pub mod metrics;
pub mod pki;
pub mod tls;
pub mod turn;

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// coturn's built-in test keys (`turnutils_uclient -J`, ../shared/INTEROP.md) as a key file.
pub const COTURN_KEYS: &str = r#"[
  {"kid":"north","alg":"A256GCM","key":"MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEK","realm":"crinna.org"},
  {"kid":"union","alg":"A128GCM","key":"MTIzNDU2Nzg5MDEyMzQ1Ngo=","realm":"north.gov"},
  {"kid":"oldempire","alg":"A256GCM","key":"MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIK"}
]"#;

/// A child process killed (with its group) on drop.
pub struct Proc {
    pub child: Child,
    pub log: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return; // it exited by itself
        }
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.child.id())])
            .status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for the process to exit by itself.
    pub fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        eventually(within, || match self.child.try_wait() {
            Ok(Some(status)) => Ok(status),
            _ => Err(format!("still running:\n{}", self.log_text())),
        })
    }
}

/// A scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("relay-native-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A loopback port free for both UDP and TCP.
pub fn free_port() -> u16 {
    loop {
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        let p = u.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", p)).is_ok() {
            return p;
        }
    }
}

/// Fails clearly when a program the test needs is missing.
pub fn need(program: &str) -> PathBuf {
    let package = match program {
        "chromium" => "chromium",
        "certutil" => "libnss3-tools",
        "systemd-analyze" => "systemd",
        "openssl" => "openssl",
        "ip" => "iproute2",
        "ethtool" => "ethtool",
        _ => "coturn",
    };
    need_from(program, package)
}

/// [`need`], naming the Debian `package` that brings `program`.
pub fn need_from(program: &str, package: &str) -> PathBuf {
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir).join(program);
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "{program} is not installed: `cargo xtask setup` installs it (Debian package {package})"
    );
}

/// Calls `f` until it returns `Ok` or `within` has passed; then fails with its last `Err`.
pub fn eventually<T>(within: Duration, mut f: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + within;
    loop {
        match f() {
            Ok(v) => return v,
            Err(e) if Instant::now() >= deadline => panic!("not within {within:?}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Starts `program args` in its own process group with output to `dir/name.log`.
pub fn spawn(dir: &Path, name: &str, program: &Path, args: &[&str]) -> Proc {
    use std::os::unix::process::CommandExt;
    let log = dir.join(format!("{name}.log"));
    let f = std::fs::File::create(&log).unwrap();
    let child = Command::new(program)
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(f.try_clone().unwrap())
        .stderr(f)
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
    Proc { child, log }
}

/// The relay-native binary under test.
pub fn relay_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_relay-native"))
}

/// A port free for UDP and TCP on both loopback addresses, 127.0.0.1 and ::1.
pub fn free_dual_port() -> u16 {
    loop {
        let p = free_port();
        if UdpSocket::bind(("::1", p)).is_ok() && std::net::TcpListener::bind(("::1", p)).is_ok() {
            return p;
        }
    }
}

/// Starts relay-native serve listening on 127.0.0.1 and ::1 (one port), relaying both
/// families, with `extra` flags; waits until both listeners answer a Binding request.
pub fn start_dual_relay(dir: &Path, extra: &[&str]) -> (Proc, SocketAddr, SocketAddr) {
    let port = free_dual_port();
    let (v4, v6): (SocketAddr, SocketAddr) = (
        format!("127.0.0.1:{port}").parse().unwrap(),
        format!("[::1]:{port}").parse().unwrap(),
    );
    (start_relay_on(dir, &[v4, v6], extra), v4, v6)
}

/// Starts relay-native serve on a free port with `extra` flags, waits until it answers a
/// STUN Binding request.
pub fn start_relay(dir: &Path, extra: &[&str]) -> (Proc, SocketAddr) {
    start_relay_sharded(dir, 1, extra)
}

/// [`start_relay`] with `shards` shards.
pub fn start_relay_sharded(dir: &Path, shards: usize, extra: &[&str]) -> (Proc, SocketAddr) {
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    (start_relay_listening(dir, &[addr], shards, extra), addr)
}

/// Starts relay-native serve listening on `listen` (addresses of this host) with `extra`
/// flags; waits until every listener answers a Binding request.
pub fn start_relay_on(dir: &Path, listen: &[SocketAddr], extra: &[&str]) -> Proc {
    start_relay_listening(dir, listen, 1, extra)
}

/// [`start_relay_on`] with `shards` shards.
fn start_relay_listening(dir: &Path, listen: &[SocketAddr], shards: usize, extra: &[&str]) -> Proc {
    let listen_args: Vec<String> = listen
        .iter()
        .flat_map(|l| ["--listen".to_string(), l.to_string()])
        .collect();
    let shards = shards.to_string();
    let mut args = vec!["serve", "--realm", "test.realm"];
    if !extra.contains(&"--shards") {
        args.extend(["--shards", &shards]);
    }
    args.extend(listen_args.iter().map(String::as_str));
    args.extend_from_slice(extra);
    let p = spawn(dir, "relay", &relay_bin(), &args);
    for addr in listen {
        wait_binding(*addr, &p);
    }
    p
}

/// Waits for a Binding success from `addr`.
pub fn wait_binding(addr: SocketAddr, p: &Proc) {
    let s = UdpSocket::bind(if addr.is_ipv4() {
        "127.0.0.1:0"
    } else {
        "[::1]:0"
    })
    .unwrap();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let bare: [u8; 20] = [
        0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
    ];
    // The same Binding padded (PADDING, 44 bytes) past the size of any Binding response, for
    // a relay that never answers with more bytes than it got (--no-amplification).
    let mut padded = bare.to_vec();
    padded[3] = 48;
    padded.extend_from_slice(&[0x00, 0x26, 0x00, 44]);
    padded.resize(68, 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 512];
    let mut tries = 0usize;
    while Instant::now() < deadline {
        tries += 1;
        let req = if tries.is_multiple_of(2) {
            &padded[..]
        } else {
            &bare[..]
        };
        let _ = s.send_to(req, addr);
        if let Ok((n, _)) = s.recv_from(&mut buf)
            && n >= 20
            && buf[0] == 0x01
            && buf[1] == 0x01
        {
            return;
        }
    }
    panic!(
        "relay at {addr} did not answer a Binding request; log:\n{}",
        p.log_text()
    );
}

/// coturn's echo peer on a free port.
pub fn start_peer(dir: &Path) -> (Proc, u16) {
    start_peer_on(dir, "127.0.0.1")
}

/// coturn's echo peer on `ip` (127.0.0.1 or ::1) and a free port.
pub fn start_peer_on(dir: &Path, ip: &str) -> (Proc, u16) {
    let port = free_dual_port();
    let p = spawn(
        dir,
        &format!("peer-{}", ip.replace(':', "_")),
        &need("turnutils_peer"),
        &["-L", ip, "-p", &port.to_string()],
    );
    std::thread::sleep(Duration::from_millis(200));
    (p, port)
}

/// What turnutils_uclient reported.
#[derive(Debug)]
pub struct Uclient {
    pub sent: u64,
    pub received: u64,
    pub lost: Option<u64>,
    pub output: String,
}

/// Runs turnutils_uclient with `clients` allocations of `messages` 120-byte messages each,
/// 5 ms apart (`-m -n -l -z`), plus `flags`; every message must come back.
pub fn uclient_all_echoed(
    name: &str,
    relay: &Proc,
    addr: SocketAddr,
    peer_port: u16,
    (clients, messages): (u64, u64),
    flags: &[&str],
) {
    let (m, n) = (clients.to_string(), messages.to_string());
    let mut args = vec!["-m", &m, "-n", &n, "-l", "120", "-z", "5"];
    args.extend_from_slice(flags);
    let u = uclient(addr, peer_port, &args);
    let expected = clients * messages;
    assert!(
        u.sent == expected && u.received == expected && u.lost == Some(0),
        "{name}: sent {} received {} lost {:?} (expected {expected} each, 0 lost)\nuclient:\n{}\nrelay log:\n{}",
        u.sent,
        u.received,
        u.lost,
        u.output,
        relay.log_text()
    );
}

/// Runs turnutils_uclient against `relay` with the echo peer on `peer_port`.
pub fn uclient(relay: SocketAddr, peer_port: u16, extra: &[&str]) -> Uclient {
    uclient_in(
        None,
        relay,
        SocketAddr::from(([127, 0, 0, 1], peer_port)),
        extra,
    )
}

/// Runs turnutils_uclient, inside network namespace `netns` if given, against `relay` with
/// the echo peer at `peer`.
pub fn uclient_in(
    netns: Option<&str>,
    relay: SocketAddr,
    peer: SocketAddr,
    extra: &[&str],
) -> Uclient {
    let uclient = need("turnutils_uclient");
    let port = relay.port().to_string();
    let (peer_ip, peer_port) = (peer.ip().to_string(), peer.port().to_string());
    let relay_ip = relay.ip().to_string();
    let mut args: Vec<&str> = vec!["-e", &peer_ip, "-r", &peer_port, "-p", &port, "-c"];
    args.extend_from_slice(extra);
    args.push(&relay_ip);
    let (bin, args) = match netns {
        Some(ns) => {
            let mut a = vec!["netns", "exec", ns, uclient.to_str().unwrap()];
            a.extend_from_slice(&args);
            (need("ip"), a)
        }
        None => (uclient, args),
    };
    let mut child = Command::new(bin)
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let num_after = |key: &str| -> Option<u64> {
        let line = output.lines().rfind(|l| l.contains(key))?;
        let rest = &line[line.rfind(key)? + key.len()..];
        rest.trim_start_matches(['=', ' '])
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    Uclient {
        sent: num_after("tot_send_msgs").unwrap_or(0),
        received: num_after("tot_recv_msgs").unwrap_or(0),
        lost: num_after("Total lost packets"),
        output,
    }
}

/// `token mint` into a file; `age` seconds in the past.
pub fn mint_token(
    dir: &Path,
    name: &str,
    keys: &str,
    server_name: &str,
    lifetime: u32,
    age: u64,
) -> PathBuf {
    mint_token_with(dir, name, keys, server_name, lifetime, age, &[])
}

/// `relay-native token mint` for `server_name` with a 600 s lifetime and `extra` flags: the JSON
/// it prints (`browser.username`, `browser.credential`, `token_id`, `account`, ...).
pub fn mint_json(keys: &Path, server_name: &str, extra: &[&str]) -> serde_json::Value {
    let out = Command::new(relay_bin())
        .args([
            "token",
            "mint",
            "--server-name",
            server_name,
            "--lifetime",
            "600",
        ])
        .arg("--keys")
        .arg(keys)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "token mint: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `token mint` with `extra` flags (`--sha256`) into a file; `age` seconds in the past.
pub fn mint_token_with(
    dir: &Path,
    name: &str,
    keys: &str,
    server_name: &str,
    lifetime: u32,
    age: u64,
    extra: &[&str],
) -> PathBuf {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let out = Command::new(relay_bin())
        .args([
            "token",
            "mint",
            "--keys",
            keys,
            "--server-name",
            server_name,
            "--lifetime",
            &lifetime.to_string(),
        ])
        .args(["--issued-at", &(now - age).to_string()])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "token mint: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p = dir.join(name);
    std::fs::write(&p, &out.stdout).unwrap();
    p
}

/// UDP receive-buffer drops (RcvbufErrors) in this network namespace and, if given, in
/// `netns`: when a load test loses messages, the difference says whether a socket overflowed
/// (the machine was too busy for a reader) or the datagrams vanished without a trace.
pub struct UdpDrops {
    netns: Option<String>,
    at_start: (u64, u64),
}

impl UdpDrops {
    pub fn now(netns: Option<&str>) -> UdpDrops {
        UdpDrops {
            netns: netns.map(String::from),
            at_start: Self::read(netns),
        }
    }

    /// IPv4 and IPv6 together (/proc/net/snmp and /proc/net/snmp6), here and in `netns`.
    fn read(netns: Option<&str>) -> (u64, u64) {
        let read = |file: &str| std::fs::read_to_string(file).unwrap_or_default();
        let here =
            rcvbuf_errors(&read("/proc/net/snmp")) + rcvbuf_errors6(&read("/proc/net/snmp6"));
        let there = |file: &str| {
            netns
                .and_then(|ns| {
                    Command::new("ip")
                        .args(["netns", "exec", ns, "cat", file])
                        .output()
                        .ok()
                })
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default()
        };
        let there =
            rcvbuf_errors(&there("/proc/net/snmp")) + rcvbuf_errors6(&there("/proc/net/snmp6"));
        (here, there)
    }

    /// What overflowed since [`UdpDrops::now`].
    pub fn since(&self) -> String {
        let (a, b) = Self::read(self.netns.as_deref());
        format!(
            "UDP receive-buffer drops since the start: {} here, {} in {}",
            a.saturating_sub(self.at_start.0),
            b.saturating_sub(self.at_start.1),
            self.netns.as_deref().unwrap_or("(no other namespace)")
        )
    }
}

/// Udp6RcvbufErrors of /proc/net/snmp6 (one `name value` pair a line).
fn rcvbuf_errors6(snmp6: &str) -> u64 {
    snmp6
        .lines()
        .find_map(|l| l.strip_prefix("Udp6RcvbufErrors"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// RcvbufErrors from the `Udp:` lines of /proc/net/snmp.
fn rcvbuf_errors(snmp: &str) -> u64 {
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let (Some(names), Some(values)) = (udp.next(), udp.next()) else {
        return 0;
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(n, _)| *n == "RcvbufErrors")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}
