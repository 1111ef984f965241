//! What /proc says about a process: CPU time and resident memory.

use std::process::Command;

use crate::util::Result;

/// The fields after the command name of /proc/PID/stat (which may hold spaces), from state.
fn stat_fields(path: &str) -> Result<Vec<u64>> {
    let stat = std::fs::read_to_string(path)?;
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| format!("odd {path}"))?;
    // The state letter is not a number; keep positions by mapping it to 0.
    Ok(rest
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect())
}

/// utime + stime of a process (all its threads), in seconds.
pub fn cpu_seconds(pid: u32, tck: f64) -> Result<f64> {
    let f = stat_fields(&format!("/proc/{pid}/stat"))?;
    let get = |i: usize| f.get(i).copied().ok_or("short /proc/PID/stat");
    Ok((get(11)? + get(12)?) as f64 / tck)
}

/// Resident memory of a process now (VmRSS), in KiB.
pub fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or("no VmRSS")?;
    Ok(line.split_whitespace().nth(1).ok_or("odd VmRSS")?.parse()?)
}

/// Peak resident memory of a process (VmHWM), in KiB.
pub fn peak_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .ok_or("no VmHWM")?;
    Ok(line.split_whitespace().nth(1).ok_or("odd VmHWM")?.parse()?)
}

/// Clock ticks per second (the unit of /proc/PID/stat's times).
pub fn clock_ticks() -> Result<f64> {
    let out = Command::new("getconf").arg("CLK_TCK").output()?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
}
