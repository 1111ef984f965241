//! What the kernel fast path costs the kernel: the run time it accounts to a server's eBPF
//! programs while `kernel.bpf_stats_enabled` is on, read from /proc/PID/fdinfo around a run.
//!
//! With the fast path a relayed packet never reaches the relay's process: its program runs
//! in the softirq of whichever process sent the packet (on loopback, the load generator and
//! its echo peer), so the relay's own CPU time leaves that work out. The kernel's count of
//! each program's runs and nanoseconds puts a figure on it.

use std::path::Path;

use crate::util::Result;

const SYSCTL: &str = "/proc/sys/kernel/bpf_stats_enabled";

/// The fast path's program time per relayed packet over one run.
#[derive(Clone, Copy, Debug)]
pub struct Program {
    /// Nanoseconds the server's programs ran, per relayed packet.
    pub ns: f64,
    /// Program runs per relayed packet (it also sees, and passes on, what it does not relay).
    pub runs: f64,
}

/// Totals over a process's eBPF programs.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Totals {
    ns: u64,
    runs: u64,
}

/// Program statistics switched on for one run of a server that has programs.
pub struct Counting {
    pid: u32,
    start: Totals,
    was: String,
}

impl Counting {
    /// Switches statistics on if `pid` holds eBPF programs; None for a server that has none.
    pub fn start(pid: u32) -> Result<Option<Counting>> {
        if programs(pid)?.is_empty() {
            return Ok(None);
        }
        let was = std::fs::read_to_string(SYSCTL)?;
        std::fs::write(SYSCTL, "1")
            .map_err(|e| format!("cannot turn on {SYSCTL} (needs root, as the fast path): {e}"))?;
        let start = totals(pid)?;
        Ok(Some(Counting { pid, start, was }))
    }

    /// The program time since [`Counting::start`], per relayed packet.
    pub fn finish(self, relayed: u64) -> Result<Program> {
        let end = totals(self.pid)?;
        let per = relayed.max(1) as f64;
        Ok(Program {
            ns: end.ns.saturating_sub(self.start.ns) as f64 / per,
            runs: end.runs.saturating_sub(self.start.runs) as f64 / per,
        })
    }
}

impl Drop for Counting {
    fn drop(&mut self) {
        // Statistics cost a little on every program run of the host: back as they were.
        let _ = std::fs::write(SYSCTL, self.was.trim());
    }
}

/// The fdinfo paths of the eBPF programs `pid` holds open.
fn programs(pid: u32) -> Result<Vec<std::path::PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd"))? {
        let entry = entry?;
        let is_prog = std::fs::read_link(entry.path())
            .is_ok_and(|target| target == Path::new("anon_inode:bpf-prog"));
        if is_prog {
            found.push(Path::new(&format!("/proc/{pid}/fdinfo")).join(entry.file_name()));
        }
    }
    Ok(found)
}

fn totals(pid: u32) -> Result<Totals> {
    let mut sum = Totals::default();
    for path in programs(pid)? {
        // A program fd closed between the listing and the read counts as nothing.
        if let Ok(text) = std::fs::read_to_string(&path) {
            let t = parse(&text);
            sum.ns += t.ns;
            sum.runs += t.runs;
        }
    }
    Ok(sum)
}

/// `run_time_ns:` and `run_cnt:` of a program's fdinfo (absent while statistics are off).
fn parse(fdinfo: &str) -> Totals {
    let field = |name: &str| {
        fdinfo
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    Totals {
        ns: field("run_time_ns:"),
        runs: field("run_cnt:"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_program_fdinfo() {
        let text = "pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t2072\n\
            prog_type:\t3\nprog_jited:\t1\nprog_tag:\t6deef7357e7b4530\n\
            memlock:\t4096\nprog_id:\t41\nrun_time_ns:\t1834021\nrun_cnt:\t9120\n\
            recursion_misses:\t0\nverified_insns:\t512\n";
        assert_eq!(
            parse(text),
            Totals {
                ns: 1_834_021,
                runs: 9120
            }
        );
        assert_eq!(parse("prog_type:\t3\n"), Totals::default());
    }
}
