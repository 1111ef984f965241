//! Running turn-load against a started server: a fixed-rate run with the server's CPU read
//! around exactly the sending window, a ramp, and idle allocations with the server's memory
//! read at each count.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use turn_load::{RampReport, Report};

use super::bpf_stats::{self, Program};
use super::procfs;
use super::servers::{PASSWORD, Running, USER};
use super::syscalls::{Calls, Counting};
use crate::util::Result;

/// The load generator and its fixed settings.
pub struct Load {
    /// The turn-load binary.
    pub bin: PathBuf,
    /// Allocations driven in data runs.
    pub allocations: usize,
    /// Where its stderr goes.
    pub log: PathBuf,
    /// Extra flags for every data run (e.g. `--no-gso`).
    pub extra: Vec<String>,
    /// Data runs so far: each gets its own echo peer address.
    pub runs: std::cell::Cell<u32>,
}

/// A fixed-rate run and the server's CPU over it.
pub struct Measured {
    /// What the generator counted.
    pub report: Report,
    /// Server CPU seconds (user + system, all threads) over the run.
    pub server_cpu: f64,
    /// The server's system calls and context switches per relayed packet over the run.
    pub calls: Calls,
    /// The fast path's program time per relayed packet, for a server that has one.
    pub program: Option<Program>,
}

impl Load {
    fn command(&self, server: &Running, sub: &str) -> Result<Command> {
        let mut c = Command::new(&self.bin);
        c.arg(sub)
            .args(["--server", &server.addr.to_string(), "--user", USER])
            .env("TURN_LOAD_PASSWORD", PASSWORD)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log_file(&self.log)?);
        Ok(c)
    }

    fn data_command(&self, server: &Running, sub: &str) -> Result<Command> {
        let mut c = self.command(server, sub)?;
        // coturn's --multiplex-peer keeps routing a peer address to the allocation that
        // named it for a while after that allocation is gone, and refuses to give it to
        // another (400): a fresh loopback address per run keeps runs apart.
        let n = self.runs.get() + 1;
        self.runs.set(n);
        let peer = std::net::Ipv4Addr::new(127, 1, (n / 250) as u8, (n % 250 + 1) as u8);
        c.args(["--allocations", &self.allocations.to_string()])
            .args(["--peer-ip", &peer.to_string()])
            .args(&self.extra);
        Ok(c)
    }

    /// `rate` messages/s for `seconds`; the server's CPU is read when the allocations exist
    /// and after the generator has drained and exited.
    pub fn fixed(&self, server: &Running, rate: f64, seconds: f64, tck: f64) -> Result<Measured> {
        let mut c = self.data_command(server, "run")?;
        c.args([
            "--rate",
            &rate.to_string(),
            "--seconds",
            &seconds.to_string(),
        ])
        .arg("--wait-go");
        let mut child = Talk::spawn(c, &self.log)?;
        child.expect("ready")?;
        let dir = self.log.parent().unwrap_or(Path::new("."));
        let counting = Counting::start(server.pid, dir)?;
        let programs = bpf_stats::Counting::start(server.pid)?;
        let cpu0 = procfs::cpu_seconds(server.pid, tck)?;
        child.say()?;
        let line = child.finish()?;
        let cpu1 = procfs::cpu_seconds(server.pid, tck)?;
        let report = run_report(&line)?;
        let relayed = report.sent + report.received;
        let calls = counting.finish(relayed)?;
        let program = programs.map(|p| p.finish(relayed)).transpose()?;
        Ok(Measured {
            report,
            server_cpu: cpu1 - cpu0,
            calls,
            program,
        })
    }

    /// The same load as [`Load::fixed`] straight to the echo peer, without a relay: what
    /// the generator and its echo peer cost by themselves. Run right after a server's
    /// fixed-rate run, outside its measuring window, so each server has its own.
    pub fn direct(&self, server: &Running, rate: f64, seconds: f64) -> Result<Report> {
        let mut c = self.data_command(server, "run")?;
        c.args(["--rate", &rate.to_string()])
            .args(["--seconds", &seconds.to_string()])
            .arg("--direct");
        run_report(&Talk::spawn(c, &self.log)?.finish()?)
    }

    /// A ramp from `from` msg/s with steps of `step_seconds`.
    pub fn ramp(
        &self,
        server: &Running,
        from: f64,
        to: f64,
        step_seconds: f64,
        refine: u32,
    ) -> Result<RampReport> {
        let mut c = self.data_command(server, "ramp")?;
        c.args(["--from", &from.to_string(), "--to", &to.to_string()])
            .args(["--step-seconds", &step_seconds.to_string()])
            .args(["--refine", &refine.to_string()]);
        let line = Talk::spawn(c, &self.log)?.finish()?;
        Ok(serde_json::from_str(&line)?)
    }

    /// Holds `counts` idle allocations (cumulative) and returns the server's RSS (KiB) at
    /// each.
    pub fn idle_rss(&self, server: &Running, counts: &[usize]) -> Result<Vec<u64>> {
        let mut c = self.command(server, "idle")?;
        let list: Vec<String> = counts.iter().map(usize::to_string).collect();
        c.args(["--counts", &list.join(",")]);
        let mut child = Talk::spawn(c, &self.log)?;
        let mut rss = Vec::new();
        for n in counts {
            child.expect(&format!("held {n}"))?;
            rss.push(procfs::rss_kib(server.pid)?);
            child.say()?;
        }
        child.finish()?;
        Ok(rss)
    }
}

/// The report in `turn-load run`'s last line (`{"run": ...}`).
fn run_report(line: &str) -> Result<Report> {
    #[derive(serde::Deserialize)]
    struct Out {
        run: Report,
    }
    Ok(serde_json::from_str::<Out>(line)?.run)
}

fn log_file(path: &Path) -> Result<std::fs::File> {
    Ok(std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?)
}

/// A turn-load child we exchange lines with.
struct Talk {
    log: PathBuf,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Talk {
    fn spawn(mut c: Command, log: &Path) -> Result<Talk> {
        let mut child = c
            .spawn()
            .map_err(|e| format!("cannot start turn-load: {e}"))?;
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        Ok(Talk {
            log: log.to_path_buf(),
            child,
            stdin,
            stdout,
        })
    }

    fn line(&mut self) -> Result<String> {
        let mut s = String::new();
        self.stdout.read_line(&mut s)?;
        Ok(s.trim_end().to_string())
    }

    /// Fails unless the next line is `want` (turn-load's stderr log says why).
    fn expect(&mut self, want: &str) -> Result {
        let got = self.line()?;
        if got == want {
            return Ok(());
        }
        let _ = self.child.wait();
        Err(format!(
            "turn-load said `{got}` instead of `{want}`; see {}",
            self.log.display()
        )
        .into())
    }

    fn say(&mut self) -> Result {
        if let Some(s) = self.stdin.as_mut() {
            s.write_all(b"go\n")?;
            s.flush()?;
        }
        Ok(())
    }

    /// Waits for it to exit; its last line.
    fn finish(mut self) -> Result<String> {
        drop(self.stdin.take());
        let mut last = String::new();
        loop {
            let l = self.line()?;
            if l.is_empty() {
                break;
            }
            last = l;
        }
        let status = self.child.wait()?;
        if !status.success() {
            return Err(format!("turn-load failed ({status}); see {}", self.log.display()).into());
        }
        Ok(last)
    }
}
