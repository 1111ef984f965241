//! One trial of one server: the fixed-rate runs, the ramp, the delay at half the maximum, on
//! one instance; the idle allocations on a fresh one (so traffic buffers do not count).

use std::path::Path;

use turn_load::Delays;

use super::load::Load;
use super::servers::Server;
use crate::procs::Procs;
use crate::util::Result;

/// What a trial runs.
pub struct Settings {
    /// Fixed rates (messages/s) at which CPU per packet is read.
    pub rates: Vec<f64>,
    /// Seconds per fixed-rate run.
    pub seconds: f64,
    /// The ramp: first rate, highest rate, seconds per step, bisection steps.
    pub ramp_from: f64,
    pub ramp_to: f64,
    pub step_seconds: f64,
    pub refine: u32,
    /// Seconds of the delay run (at half the maximum lossless rate).
    pub delay_seconds: f64,
    /// Idle allocation counts at which RSS is read.
    pub idle_counts: Vec<usize>,
}

impl Settings {
    /// The full benchmark (issue 15's figures). The fixed rates are those at which every
    /// reference server relayed without loss on this project's 2-core machine with the load
    /// generator beside it (docs/relay.md says why not issue 15's 20k and 50k).
    pub fn full() -> Settings {
        Settings {
            rates: vec![10_000.0, 15_000.0],
            seconds: 5.0,
            ramp_from: 10_000.0,
            ramp_to: 1_000_000.0,
            step_seconds: 2.0,
            refine: 3,
            delay_seconds: 3.0,
            idle_counts: vec![100, 1_000, 10_000],
        }
    }

    /// Seconds, not minutes: the same steps with tiny counts.
    pub fn smoke() -> Settings {
        Settings {
            rates: vec![2_000.0, 5_000.0],
            seconds: 1.0,
            ramp_from: 2_000.0,
            ramp_to: 8_000.0,
            step_seconds: 0.5,
            refine: 0,
            delay_seconds: 1.0,
            idle_counts: vec![10, 50, 100],
        }
    }
}

/// One fixed-rate run's figures.
#[derive(Clone, Debug)]
pub struct Fixed {
    pub rate: f64,
    /// Server CPU per relayed packet, microseconds.
    pub server_us: f64,
    /// Server plus load generator (client and echo peer), per relayed packet.
    pub all_us: f64,
    /// What the relay added to the host's CPU per relayed packet: `all_us` less what the
    /// same load cost the generator straight to its echo peer. The fast path's kernel work
    /// runs in the generator's softirqs, so only this figure counts it.
    pub added_us: f64,
    pub sent: u64,
    pub lost: u64,
    pub misrouted: u64,
    /// The server's system calls and context switches per relayed packet.
    pub calls: super::syscalls::Calls,
    /// One-way delay through the relay, both directions (every server at the same load).
    pub one_way: Delays,
    /// The fast path's program time per relayed packet (servers with one).
    pub program: Option<super::bpf_stats::Program>,
}

/// One trial's figures for one server.
#[derive(Clone, Debug, Default)]
pub struct Figures {
    pub fixed: Vec<Fixed>,
    /// Highest relayed packets/s with loss under 0.1%, if any step had it.
    pub max_relayed: Option<f64>,
    /// The messages/s offered at that step.
    pub max_offered: Option<f64>,
    /// The ramp stopped because the generator could not send faster.
    pub generator_limited: bool,
    /// One-way delay through the relay at half the maximum, and without a relay.
    pub delay: Option<(Delays, Delays)>,
    /// Server RSS in KiB before any allocation, then at each idle count.
    pub rss_kib: Vec<u64>,
}

/// Runs one trial of `server`.
pub fn trial(
    server: &Server,
    load: &Load,
    set: &Settings,
    dir: &Path,
    tck: f64,
) -> Result<Figures> {
    let name = server.name();
    let mut f = Figures::default();
    {
        let procs = Procs::default();
        let running = server.start(&procs, dir)?;
        for &rate in &set.rates {
            let m = load.fixed(&running, rate, set.seconds, tck)?;
            let r = &m.report;
            let relayed = (r.sent + r.received).max(1) as f64;
            let direct = load.direct(&running, rate, set.seconds)?;
            let all_us = (m.server_cpu + r.cpu_seconds) * 1e6 / relayed;
            let direct_us =
                direct.cpu_seconds * 1e6 / (direct.sent + direct.received).max(1) as f64;
            eprintln!(
                "  {name} at {rate} msg/s: {} ; server CPU {:.3} s",
                r.summary(),
                m.server_cpu
            );
            f.fixed.push(Fixed {
                rate,
                server_us: m.server_cpu * 1e6 / relayed,
                all_us,
                added_us: all_us - direct_us,
                sent: r.sent,
                lost: r.lost,
                misrouted: r.misrouted,
                calls: m.calls,
                one_way: r.one_way,
                program: m.program,
            });
        }
        let ramp = load.ramp(
            &running,
            set.ramp_from,
            set.ramp_to,
            set.step_seconds,
            set.refine,
        )?;
        f.generator_limited = ramp.generator_limited;
        if let Some(best) = &ramp.best {
            f.max_relayed = Some(best.relayed_per_second());
            f.max_offered = Some(best.offered_rate);
            eprintln!("  {name} ramp: best {}", best.summary());
            let half = best.offered_rate / 2.0;
            let m = load.fixed(&running, half, set.delay_seconds, tck)?;
            let base = load.direct(&running, half, set.delay_seconds)?;
            f.delay = Some((m.report.one_way, base.one_way));
        } else {
            eprintln!(
                "  {name} ramp: loss at or above 0.1% already at {} msg/s",
                set.ramp_from
            );
        }
        procs.stop_all();
    }
    let procs = Procs::default();
    let running = server.start(&procs, dir)?;
    f.rss_kib.push(super::procfs::rss_kib(running.pid)?);
    f.rss_kib.extend(load.idle_rss(&running, &set.idle_counts)?);
    procs.stop_all();
    Ok(f)
}
