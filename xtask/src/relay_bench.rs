//! `cargo xtask bench-relay`: coturn's turnserver and relay-native, one after the other, under
//! the same turnutils_uclient load (100 allocations, 200-byte ChannelData, 20k and 50k
//! messages/s, every message echoed by turnutils_peer), with the same number of threads.
//! For each server it reads the server process's CPU time (utime + stime from /proc, all
//! threads) around the load and its peak RSS (VmHWM), and prints CPU per relayed packet, the
//! loss uclient counted and the peak memory, as the median of several trials.
//!
//! relay-native runs twice: on its sockets alone, and with the kernel fast path for
//! ChannelData (`--offload lo`). The fast path's work runs in the kernel's receive path of
//! whoever sent the packet, so it is charged to uclient and turnutils_peer, not to the relay.
//! The table therefore also gives the CPU of all three processes per relayed packet: with the
//! load fixed, what a server adds there is its true cost, wherever the kernel accounts it.

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::procs::Procs;
use crate::util::{Result, cargo, run, target_dir};

const CLIENTS: u32 = 100;
const PAYLOAD: u32 = 200;
const SECONDS: u32 = 5;
const RATES: [u32; 2] = [20_000, 50_000];
/// Both servers get this many threads (the machine has 2 cores; uclient and the peer share them).
const THREADS: &str = "2";
const USER: &str = "bench";
const PASSWORD: &str = "bench-password";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Server {
    Coturn,
    RelayNative,
    RelayNativeOffload,
}

impl Server {
    fn name(self) -> &'static str {
        match self {
            Server::Coturn => "coturn 4.6.1",
            Server::RelayNative => "relay-native",
            Server::RelayNativeOffload => "relay-native --offload",
        }
    }
}

/// One run's figures.
#[derive(Clone, Copy)]
struct Sample {
    cpu_secs: f64,
    /// uclient's and turnutils_peer's CPU over the same run.
    others_cpu_secs: f64,
    sent: u64,
    received: u64,
    /// The most messages uclient sent in one second (it ramps its clients up and down).
    peak_rate: u64,
    peak_kib: u64,
}

impl Sample {
    /// Each echoed message crosses the relay twice; a lost one at least once.
    fn relayed(&self) -> u64 {
        self.sent + self.received
    }
    fn cpu_us_per_packet(&self) -> f64 {
        self.cpu_secs * 1e6 / self.relayed().max(1) as f64
    }
    fn all_us_per_packet(&self) -> f64 {
        (self.cpu_secs + self.others_cpu_secs) * 1e6 / self.relayed().max(1) as f64
    }
    fn loss(&self) -> f64 {
        self.sent.saturating_sub(self.received) as f64 / self.sent.max(1) as f64
    }
    fn rate(&self) -> f64 {
        self.peak_rate as f64
    }
}

/// Runs the benchmark; `args`: optional number of trials (default 3).
pub fn bench(root: &Path, args: &[String]) -> Result {
    let trials: usize = match args.first() {
        Some(s) => s
            .parse()
            .map_err(|_| format!("bench-relay: `{s}` is not a number of trials"))?,
        None => 3,
    };
    for tool in ["turnserver", "turnutils_uclient", "turnutils_peer"] {
        which(tool)?;
    }
    run(cargo()
        .current_dir(root)
        .args(["build", "--release", "-p", "relay-native"]))?;
    let relay_bin = target_dir(root).join("release/relay-native");
    let dir = target_dir(root).join("relay-bench");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let tck = clock_ticks()?;

    let mut table = Vec::new();
    for rate in RATES {
        // uclient sends one message per client every `gap` ms.
        let gap = CLIENTS * 1000 / rate;
        let per_client = rate * SECONDS / CLIENTS;
        let mut results: Vec<(Server, Vec<Sample>)> = vec![
            (Server::Coturn, vec![]),
            (Server::RelayNative, vec![]),
            (Server::RelayNativeOffload, vec![]),
        ];
        for trial in 0..trials {
            for (server, samples) in &mut results {
                let s = one(*server, &dir, &relay_bin, gap, per_client, tck)?;
                eprintln!(
                    "  {rate} msg/s trial {}: {:<22} {:.2} us/pkt (all three processes {:.2})  sent {} received {}  peak {:.0} msg/s  peak RSS {} KiB",
                    trial + 1,
                    server.name(),
                    s.cpu_us_per_packet(),
                    s.all_us_per_packet(),
                    s.sent,
                    s.received,
                    s.rate(),
                    s.peak_kib
                );
                samples.push(s);
            }
        }
        table.push((rate, results));
    }

    println!();
    println!(
        "relay benchmark: {CLIENTS} allocations, {PAYLOAD}-byte ChannelData, {SECONDS} s per run, {THREADS} server threads, median of {trials}"
    );
    println!(
        "{:<9} {:<22} {:>11} {:>12} {:>10} {:>14} {:>9} {:>10}",
        "target", "server", "peak msg/s", "CPU us/pkt", "CPU s", "all 3 us/pkt", "loss", "peak MiB"
    );
    for (rate, results) in &table {
        let mut medians = Vec::new();
        for (server, samples) in results {
            let m = median(samples, Sample::cpu_us_per_packet);
            let all = median(samples, Sample::all_us_per_packet);
            let loss = samples.iter().map(Sample::loss).fold(0.0, f64::max);
            let peak = samples.iter().map(|s| s.peak_kib).max().unwrap_or(0);
            println!(
                "{:<9} {:<22} {:>11.0} {:>12.2} {:>10.3} {:>14.2} {:>8.3}% {:>10.1}",
                format!("{}k", rate / 1000),
                server.name(),
                median(samples, Sample::rate),
                m,
                median(samples, |s| s.cpu_secs),
                all,
                loss * 100.0,
                peak as f64 / 1024.0
            );
            medians.push((m, all));
        }
        if let [(coturn, coturn_all), rest @ ..] = &medians[..] {
            for ((ours, ours_all), (server, _)) in rest.iter().zip(results.iter().skip(1)) {
                println!(
                    "{:<9} {} uses {:.2}x coturn's CPU per relayed packet (target: at most 0.5x); all three processes: {:.2} us less per packet ({:.2}x)",
                    "",
                    server.name(),
                    ours / coturn,
                    coturn_all - ours_all,
                    ours_all / coturn_all
                );
            }
        }
    }
    println!(
        "(CPU: the server process's user+system time over the whole uclient run, per relayed packet (sent + echoed);\n \
         all 3: server + turnutils_uclient + turnutils_peer, where the --offload row's kernel work is charged;\n \
         loss: the worst trial; peak msg/s: uclient's busiest second, it ramps clients up and down; logs: {})",
        dir.display()
    );
    Ok(())
}

fn median(samples: &[Sample], f: impl Fn(&Sample) -> f64) -> f64 {
    let mut v: Vec<f64> = samples.iter().map(f).collect();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// One server under one load.
fn one(
    server: Server,
    dir: &Path,
    relay_bin: &Path,
    gap: u32,
    per_client: u32,
    tck: f64,
) -> Result<Sample> {
    let procs = Procs::default();
    let port = free_port()?;
    let peer_port = free_port()?;
    let listen = format!("127.0.0.1:{port}");
    let log = |n: &str| dir.join(format!("{n}-{port}.log"));
    let peer_pid = procs.spawn(
        "turnutils_peer",
        Command::new("turnutils_peer").args(["-L", "127.0.0.1", "-p", &peer_port.to_string()]),
        &log("peer"),
    )?;
    let user = format!("{USER}:{PASSWORD}");
    let pid = match server {
        Server::Coturn => procs.spawn(
            "turnserver",
            Command::new("turnserver")
                .args([
                    "-n",
                    "--listening-ip",
                    "127.0.0.1",
                    "--relay-ip",
                    "127.0.0.1",
                ])
                .args([
                    "--listening-port",
                    &port.to_string(),
                    "--min-port",
                    &(port + 1).to_string(),
                    "--max-port",
                    &(port + 400).to_string(),
                    "--allow-loopback-peers",
                    "--no-tls",
                    "--no-dtls",
                    "--no-cli",
                    "--lt-cred-mech",
                    "--realm",
                    "bench",
                    "--user",
                    &user,
                    "-m",
                    THREADS,
                    "--simple-log",
                    "--no-stdout-log",
                    "--log-file",
                    &log("coturn").to_string_lossy(),
                    "--pidfile",
                    &dir.join(format!("coturn-{port}.pid")).to_string_lossy(),
                ]),
            &log("coturn-out"),
        )?,
        Server::RelayNative | Server::RelayNativeOffload => procs.spawn(
            "relay-native",
            Command::new(relay_bin)
                .args([
                    "serve",
                    "--listen",
                    &listen,
                    "--relay-ip",
                    "127.0.0.1",
                    "--realm",
                    "bench",
                    "--user",
                    &user,
                ])
                .args(["--allow-loopback-peers", "--shards", THREADS])
                .args(if server == Server::RelayNativeOffload {
                    &["--offload", "lo"][..]
                } else {
                    &[][..]
                })
                .env("RUST_LOG", "info"),
            &log(if server == Server::RelayNativeOffload {
                "relay-native-offload"
            } else {
                "relay-native"
            }),
        )?,
    };
    wait_binding(&listen)?;
    procs.check_running()?;
    let cpu0 = cpu_ticks(pid)?;
    let peer0 = cpu_ticks(peer_pid)?;
    let children0 = children_ticks()?;
    let out = Command::new("turnutils_uclient")
        .args([
            "-u",
            USER,
            "-w",
            PASSWORD,
            "-e",
            "127.0.0.1",
            "-r",
            &peer_port.to_string(),
            "-p",
            &port.to_string(),
        ])
        .args([
            "-m",
            &CLIENTS.to_string(),
            "-n",
            &per_client.to_string(),
            "-l",
            &PAYLOAD.to_string(),
        ])
        .args(["-z", &gap.to_string(), "-c", "127.0.0.1"])
        .stdin(Stdio::null())
        .output()?;
    let cpu1 = cpu_ticks(pid)?;
    let peer1 = cpu_ticks(peer_pid)?;
    // uclient has been waited for: its CPU is in our children's times.
    let uclient = children_ticks()? - children0;
    let peak_kib = peak_kib(pid)?;
    procs.stop_all();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(log("uclient"), &text)?;
    let sent = last_number(&text, "tot_send_msgs").ok_or_else(|| {
        format!(
            "uclient printed no totals; see {}",
            log("uclient").display()
        )
    })?;
    let received = last_number(&text, "tot_recv_msgs").unwrap_or(0);
    Ok(Sample {
        cpu_secs: (cpu1 - cpu0) as f64 / tck,
        others_cpu_secs: (peer1 - peer0 + uclient) as f64 / tck,
        sent,
        received,
        peak_rate: peak_rate(&text),
        peak_kib,
    })
}

/// The largest one-second step of uclient's per-second `tot_send_msgs=` progress lines.
fn peak_rate(text: &str) -> u64 {
    let counts: Vec<u64> = text
        .lines()
        .filter(|l| l.contains("start_mclient: msz="))
        .filter_map(|l| last_number(l, "tot_send_msgs"))
        .collect();
    counts
        .windows(2)
        .filter_map(|w| w.get(1)?.checked_sub(*w.first()?))
        .max()
        .unwrap_or(0)
}

/// utime + stime of a process (all its threads), in clock ticks.
pub(crate) fn cpu_ticks(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) start at state, field 3.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or("odd /proc/PID/stat")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let get =
        |i: usize| -> Result<u64> { Ok(f.get(i).ok_or("short /proc/PID/stat")?.parse::<u64>()?) };
    Ok(get(11)? + get(12)?)
}

/// cutime + cstime of this process: the CPU of every child it has waited for.
fn children_ticks() -> Result<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or("odd /proc/self/stat")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let get =
        |i: usize| -> Result<u64> { Ok(f.get(i).ok_or("short /proc/self/stat")?.parse::<u64>()?) };
    Ok(get(13)? + get(14)?)
}

pub(crate) fn peak_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .ok_or("no VmHWM")?;
    Ok(line.split_whitespace().nth(1).ok_or("odd VmHWM")?.parse()?)
}

pub(crate) fn clock_ticks() -> Result<f64> {
    let out = Command::new("getconf").arg("CLK_TCK").output()?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
}

/// The number after the last `key` in uclient's output (`tot_send_msgs=3000`).
pub(crate) fn last_number(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().rfind(|l| l.contains(key))?;
    let rest = line.get(line.rfind(key)? + key.len()..)?;
    rest.trim_start_matches(['=', ' ', ':'])
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

pub(crate) fn which(tool: &str) -> Result<PathBuf> {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("{tool} is missing: `cargo xtask setup` installs coturn").into())
}

/// A loopback port free for UDP and TCP, with the 400 above it for coturn's relay range.
pub(crate) fn free_port() -> Result<u16> {
    for _ in 0..100 {
        let port = UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port();
        if port < 60_000 && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err("no free port".into())
}

/// Waits for a STUN Binding success.
pub(crate) fn wait_binding(addr: &str) -> Result {
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
