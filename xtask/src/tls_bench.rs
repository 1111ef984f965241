//! `cargo xtask bench-tls [TRIALS]`: what TURN over TLS costs relay-native (release build),
//! measured from the relay's own CPU time in /proc, never by timing a test:
//!
//! 1. TLS handshakes: `openssl s_time` opens connections for 5 s against one shard: full TLS
//!    1.3 handshakes (`-new`) with an ECDSA P-256 and an RSA 2048 certificate, and resumed
//!    TLS 1.2 ones (`-reuse`: s_time cannot resume TLS 1.3, whose tickets arrive after the
//!    handshake; the share it resumed is checked). The rate is bounded by openssl's own CPU
//!    on this machine; the relay's CPU per handshake says how many one relay core completes
//!    per second.
//! 2. Relaying: `turnutils_uclient` sends the same load (100 allocations, 200-byte
//!    ChannelData, 10k messages/s, every message echoed by turnutils_peer) over UDP, TCP and
//!    TLS (`-t -S`), and the relay's CPU per relayed packet is compared.
//!
//! Trials interleave the variants; the table shows medians.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::procs::Procs;
use crate::relay_bench::procfs::{clock_ticks, cpu_seconds, peak_kib};
use crate::relay_bench::servers::{free_port, wait_binding};
use crate::relay_bench::which;
use crate::util::{Result, cargo, run, target_dir};

const HANDSHAKE_SECONDS: &str = "5";
const CLIENTS: u32 = 100;
const PAYLOAD: u32 = 200;
const RATE: u32 = 10_000;
const SECONDS: u32 = 5;

/// The certificate's key.
#[derive(Clone, Copy)]
enum Key {
    EcdsaP256,
    Rsa2048,
}

impl Key {
    fn name(self) -> &'static str {
        match self {
            Key::EcdsaP256 => "ECDSA P-256",
            Key::Rsa2048 => "RSA 2048",
        }
    }
    fn file(self) -> &'static str {
        match self {
            Key::EcdsaP256 => "ecdsa",
            Key::Rsa2048 => "rsa",
        }
    }
    fn openssl_args(self) -> &'static [&'static str] {
        match self {
            Key::EcdsaP256 => &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
            Key::Rsa2048 => &["-newkey", "rsa:2048"],
        }
    }
}

/// A full handshake or a resumed one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Handshake {
    Full,
    Resumed,
}

impl Handshake {
    fn name(self) -> &'static str {
        match self {
            Handshake::Full => "full (TLS 1.3)",
            Handshake::Resumed => "resumed (TLS 1.2)",
        }
    }
    fn s_time_args(self) -> &'static [&'static str] {
        match self {
            Handshake::Full => &["-new"],
            Handshake::Resumed => &["-reuse", "-tls1_2"],
        }
    }
}

/// Runs the benchmark; `args`: optional number of trials (default 3).
pub fn bench(root: &Path, args: &[String]) -> Result {
    let trials: usize = match args.first() {
        Some(s) => s
            .parse()
            .map_err(|_| format!("bench-tls: `{s}` is not a number of trials"))?,
        None => 3,
    };
    for tool in ["openssl", "turnutils_uclient", "turnutils_peer"] {
        which(tool)?;
    }
    run(cargo()
        .current_dir(root)
        .args(["build", "--release", "-p", "relay-native"]))?;
    let bin = target_dir(root).join("release/relay-native");
    let dir = target_dir(root).join("tls-bench");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    for key in [Key::EcdsaP256, Key::Rsa2048] {
        certificate(&dir, key)?;
    }
    let tck = clock_ticks()?;

    let variants = [
        (Key::EcdsaP256, Handshake::Full),
        (Key::EcdsaP256, Handshake::Resumed),
        (Key::Rsa2048, Handshake::Full),
    ];
    let mut handshakes: Vec<Vec<(f64, f64)>> = vec![Vec::new(); variants.len()];
    let transports = [
        ("UDP", &[][..]),
        ("TCP", &["-t"][..]),
        ("TLS", &["-t", "-S"][..]),
    ];
    let mut relaying: Vec<Vec<(f64, u64, u64, u64)>> = vec![Vec::new(); transports.len()];
    for trial in 1..=trials {
        for ((key, mode), out) in variants.iter().zip(&mut handshakes) {
            let (n, wall, cpu) = handshake_run(&dir, &bin, *key, *mode, tck)?;
            eprintln!(
                "  trial {trial}: {} {}: {n} handshakes, {:.0}/s, relay {:.0} us CPU each",
                key.name(),
                mode.name(),
                n as f64 / wall,
                cpu * 1e6 / n.max(1) as f64
            );
            out.push((n as f64 / wall, cpu * 1e6 / n.max(1) as f64));
        }
        for ((name, flags), out) in transports.iter().zip(&mut relaying) {
            let s = relay_run(&dir, &bin, flags, tck)?;
            eprintln!(
                "  trial {trial}: {name}: relay {:.2} us CPU per relayed packet; sent {} received {}; peak RSS {} KiB",
                s.0, s.1, s.2, s.3
            );
            out.push(s);
        }
    }

    println!();
    println!(
        "TLS handshakes against one relay shard, openssl s_time for {HANDSHAKE_SECONDS} s, median of {trials}"
    );
    println!(
        "{:<14} {:<22} {:>14} {:>20} {:>22}",
        "certificate", "handshake", "handshakes/s", "relay CPU us each", "per relay core-second"
    );
    for ((key, mode), runs) in variants.iter().zip(&handshakes) {
        let rate = median(runs.iter().map(|r| r.0).collect());
        let cpu = median(runs.iter().map(|r| r.1).collect());
        println!(
            "{:<14} {:<22} {:>14.0} {:>20.0} {:>22.0}",
            key.name(),
            mode.name(),
            rate,
            cpu,
            1e6 / cpu
        );
    }
    println!(
        "(handshakes/s is bounded by openssl's own CPU on the same machine; the last column is the relay's capacity)"
    );
    println!();
    println!(
        "Relaying {CLIENTS} allocations x {PAYLOAD}-byte ChannelData at {}k msg/s for {SECONDS} s, two shards, median of {trials}",
        RATE / 1000
    );
    println!(
        "{:<10} {:>16} {:>12} {:>10} {:>10}",
        "transport", "relay us/packet", "vs UDP", "loss", "peak MiB"
    );
    let udp = relaying
        .first()
        .map_or(f64::NAN, |runs| median(runs.iter().map(|r| r.0).collect()));
    for ((name, _), runs) in transports.iter().zip(&relaying) {
        let cpu = median(runs.iter().map(|r| r.0).collect());
        let loss = runs
            .iter()
            .map(|r| r.1.saturating_sub(r.2) as f64 / r.1.max(1) as f64)
            .fold(0.0, f64::max);
        let peak = runs.iter().map(|r| r.3).max().unwrap_or(0);
        println!(
            "{:<10} {:>16.2} {:>11.2}x {:>9.3}% {:>10.1}",
            name,
            cpu,
            cpu / udp,
            loss * 100.0,
            peak as f64 / 1024.0
        );
    }
    println!(
        "(relay us/packet: the relay's user+system CPU over the run per relayed packet, sent + echoed; loss: worst trial; logs: {})",
        dir.display()
    );
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// A self-signed certificate for 127.0.0.1 with a `key` key: dir/NAME.pem, dir/NAME.key.
fn certificate(dir: &Path, key: Key) -> Result {
    run(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-nodes",
            "-days",
            "30",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .args(key.openssl_args())
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(dir.join(format!("{}.key", key.file())))
        .arg("-out")
        .arg(dir.join(format!("{}.pem", key.file())))
        .stderr(Stdio::null()))
}

/// Starts the relay with a TLS listener; returns its pid, the TLS address and the UDP/TCP one.
fn start(
    procs: &Procs,
    dir: &Path,
    bin: &Path,
    key: Key,
    shards: &str,
) -> Result<(u32, String, String)> {
    let (port, tls_port) = (free_port()?, free_port()?);
    let listen = format!("127.0.0.1:{port}");
    let tls = format!("127.0.0.1:{tls_port}");
    let pid = procs.spawn(
        "relay-native",
        Command::new(bin)
            .args(["serve", "--listen", &listen, "--realm", "bench"])
            .args(["--user", "bench:bench-password", "--allow-loopback-peers"])
            .args(["--shards", shards, "--tls-listen", &tls])
            .arg("--tls-cert")
            .arg(dir.join(format!("{}.pem", key.file())))
            .arg("--tls-key")
            .arg(dir.join(format!("{}.key", key.file())))
            // The handshake limits are for floods; openssl comes from one address, fast.
            .args([
                "--tls-handshake-limit",
                "4096",
                "--tls-handshake-limit-per-ip",
                "4096",
            ])
            .env("RUST_LOG", "warn"),
        &dir.join(format!("relay-{tls_port}.log")),
    )?;
    wait_binding(listen.parse()?)?;
    procs.check_running()?;
    Ok((pid, tls, listen))
}

/// One `openssl s_time` run; returns (handshakes, wall seconds, relay CPU seconds).
fn handshake_run(
    dir: &Path,
    bin: &Path,
    key: Key,
    mode: Handshake,
    tck: f64,
) -> Result<(u64, f64, f64)> {
    let procs = Procs::default();
    let (pid, tls, _) = start(&procs, dir, bin, key, "1")?;
    let cpu0 = cpu_seconds(pid, tck)?;
    let out = Command::new("openssl")
        .args(["s_time", "-connect", &tls, "-time", HANDSHAKE_SECONDS])
        .args(mode.s_time_args())
        .stdin(Stdio::null())
        .output()?;
    let cpu1 = cpu_seconds(pid, tck)?;
    procs.stop_all();
    let text = String::from_utf8_lossy(&out.stdout);
    // "2604 connections in 6 real seconds, 0 bytes read per connection"
    let line = text
        .lines()
        .find(|l| l.contains("real seconds"))
        .ok_or_else(|| format!("openssl s_time printed no totals:\n{text}"))?;
    let mut words = line.split_whitespace();
    let n: u64 = words.next().ok_or("odd s_time line")?.parse()?;
    let wall: f64 = words.nth(2).ok_or("odd s_time line")?.parse()?;
    // s_time prints `*` for each new session and `r` for each resumed one.
    let resumed = text
        .lines()
        .filter(|l| !l.is_empty() && l.chars().all(|c| c == '*' || c == 'r'))
        .map(|l| l.chars().filter(|c| *c == 'r').count() as u64)
        .sum::<u64>();
    if mode == Handshake::Resumed && resumed < n * 9 / 10 {
        return Err(format!("s_time resumed only {resumed} of {n} sessions").into());
    }
    Ok((n, wall, cpu1 - cpu0))
}

/// One uclient run over a transport; returns (relay us per relayed packet, sent, received,
/// peak RSS KiB).
fn relay_run(dir: &Path, bin: &Path, flags: &[&str], tck: f64) -> Result<(f64, u64, u64, u64)> {
    let procs = Procs::default();
    let peer_port = free_port()?;
    procs.spawn(
        "turnutils_peer",
        Command::new("turnutils_peer").args(["-L", "127.0.0.1", "-p", &peer_port.to_string()]),
        &dir.join(format!("peer-{peer_port}.log")),
    )?;
    let (pid, tls, listen) = start(&procs, dir, bin, Key::EcdsaP256, "2")?;
    let tls_transport = flags.contains(&"-S");
    let port = if tls_transport { &tls } else { &listen };
    let port = port.rsplit(':').next().unwrap_or_default();
    let gap = CLIENTS * 1000 / RATE;
    let per_client = RATE * SECONDS / CLIENTS;
    let cpu0 = cpu_seconds(pid, tck)?;
    let out = Command::new("turnutils_uclient")
        .args(["-u", "bench", "-w", "bench-password", "-e", "127.0.0.1"])
        .args(["-r", &peer_port.to_string(), "-p", port])
        .args(flags)
        .args(["-m", &CLIENTS.to_string(), "-n", &per_client.to_string()])
        .args([
            "-l",
            &PAYLOAD.to_string(),
            "-z",
            &gap.to_string(),
            "-c",
            "127.0.0.1",
        ])
        .stdin(Stdio::null())
        .output()?;
    let cpu1 = cpu_seconds(pid, tck)?;
    let peak = peak_kib(pid)?;
    procs.stop_all();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let log = dir.join(format!("uclient-{peer_port}.log"));
    std::fs::write(&log, &text)?;
    let sent = last_number(&text, "tot_send_msgs")
        .ok_or_else(|| format!("uclient printed no totals; see {}", log.display()))?;
    let received = last_number(&text, "tot_recv_msgs").unwrap_or(0);
    let relayed = (sent + received).max(1);
    Ok(((cpu1 - cpu0) * 1e6 / relayed as f64, sent, received, peak))
}

/// The number after the last `key` in uclient's output (`tot_send_msgs=3000`).
fn last_number(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().rfind(|l| l.contains(key))?;
    let rest = line.get(line.rfind(key)? + key.len()..)?;
    rest.trim_start_matches(['=', ' ', ':'])
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}
