//! Where a server's time goes during a fixed-rate run: its system calls and context switches,
//! counted by `perf stat` on its process (all threads) over the sending window.
//!
//! Nearly all of a relay's CPU on loopback is the kernel's, paid per call: a send carries one
//! datagram (`sendto`), a GSO run (`sendmsg`) or several messages (`sendmmsg`); a wake-up
//! costs an `epoll_wait` and a context switch. Counting them per relayed packet shows what
//! one relay batches that another does not, which CPU time alone cannot.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::util::Result;

/// The system calls counted, by what they do.
const SENDS: &[&str] = &["sendto", "sendmsg", "sendmmsg", "write", "writev"];
const RECEIVES: &[&str] = &["recvfrom", "recvmsg", "recvmmsg", "read", "readv"];
const WAITS: &[&str] = &["epoll_wait", "epoll_pwait", "epoll_pwait2", "poll", "ppoll"];
const ALL: &str = "raw_syscalls:sys_enter";
const SWITCHES: &str = "context-switches";

/// Counts per relayed packet over one run.
#[derive(Clone, Copy, Debug, Default)]
pub struct Calls {
    /// Every system call.
    pub all: f64,
    /// Calls that send (of them, `sendto` of one datagram each).
    pub sends: f64,
    pub sendto: f64,
    /// Calls that receive.
    pub receives: f64,
    /// Waits for readiness (`epoll_wait` and the like).
    pub waits: f64,
    /// Context switches, voluntary or not.
    pub switches: f64,
}

/// A `perf stat` attached to a server's process until [`Counting::finish`].
pub struct Counting {
    child: Child,
    out: PathBuf,
}

fn tracepoint(name: &str) -> String {
    format!("syscalls:sys_enter_{name}")
}

impl Counting {
    /// Starts counting `pid`'s calls; fails if perf cannot (the benchmark needs it: `cargo
    /// xtask setup` installs Debian's linux-perf, and tracepoints need root).
    pub fn start(pid: u32, dir: &Path) -> Result<Counting> {
        let out = dir.join(format!("perf-stat-{pid}.csv"));
        let mut events = vec![ALL.to_string(), SWITCHES.to_string()];
        events.extend(
            SENDS
                .iter()
                .chain(RECEIVES)
                .chain(WAITS)
                .map(|s| tracepoint(s)),
        );
        let child = Command::new("perf")
            .args(["stat", "-x", ",", "-e", &events.join(",")])
            .args(["-p", &pid.to_string(), "-o"])
            .arg(&out)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start perf (cargo xtask setup installs it): {e}"))?;
        // perf attaches to every thread before it counts; a run starts only after that.
        std::thread::sleep(std::time::Duration::from_millis(300));
        Ok(Counting { child, out })
    }

    /// Stops perf (SIGINT makes it write its counts) and returns them per relayed packet.
    pub fn finish(mut self, relayed: u64) -> Result<Calls> {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-INT", &pid]).status()?;
        self.child.wait()?;
        let text = std::fs::read_to_string(&self.out)?;
        let counts = parse(&text);
        let get = |name: &str| {
            counts
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| *v)
                .ok_or_else(|| format!("perf counted no {name}; see {}", self.out.display()))
        };
        let sum = |names: &[&str]| -> Result<f64> {
            Ok(names
                .iter()
                .map(|n| get(&tracepoint(n)))
                .sum::<std::result::Result<f64, String>>()?)
        };
        let per = relayed.max(1) as f64;
        Ok(Calls {
            all: get(ALL)? / per,
            sends: sum(SENDS)? / per,
            sendto: get(&tracepoint("sendto"))? / per,
            receives: sum(RECEIVES)? / per,
            waits: sum(WAITS)? / per,
            switches: get(SWITCHES)? / per,
        })
    }
}

/// `perf stat -x,` lines: count, unit, event, ... ("<not counted>" lines are left out).
fn parse(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split(',');
            let count = f.next()?.trim().parse::<f64>().ok()?;
            let _unit = f.next()?;
            Some((f.next()?.trim().to_string(), count))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_perf_stat_csv() {
        let text = "# started on Thu Dec  3 02:08:37 2026\n\n\
            973.39,msec,task-clock,973386896,100.00,0.144,CPUs utilized\n\
            37712,,context-switches,973386896,100.00,38.743,K/sec\n\
            <not counted>,,syscalls:sys_enter_readv,0,100.00,,\n\
            19864,,syscalls:sys_enter_sendto,973386896,100.00,20.407,K/sec\n";
        let got = parse(text);
        assert_eq!(
            got,
            vec![
                ("task-clock".to_string(), 973.39),
                ("context-switches".to_string(), 37712.0),
                ("syscalls:sys_enter_sendto".to_string(), 19864.0),
            ]
        );
    }
}
