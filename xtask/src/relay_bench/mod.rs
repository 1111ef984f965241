//! `cargo xtask bench-relay`: coturn 4.6.1 (Debian), coturn 4.17.1 built from source in its
//! three modes, and relay-native on its sockets and with the kernel fast path, all driven by
//! one load generator (turn-load: batched syscalls, exact loss counts, per-packet delay).
//!
//! Trials are interleaved (A B C A B C ...) and each figure is the median of its trials; the
//! machine is shared and noisy, so only ratios within one run mean much. Per server: CPU per
//! relayed packet at fixed rates (the server's own CPU from /proc, and with the load
//! generator's added, since the fast path's work is charged to the senders), the highest
//! relayed packet rate with loss under 0.1%, the one-way delay through the relay at half that
//! rate next to the same load without a relay, and RSS with idle allocations.
//!
//! Any message lost in a fixed-rate run fails the command after the table, naming the server.

mod bpf_stats;
mod load;
pub(crate) mod procfs;
pub(crate) mod servers;
mod suite;
mod syscalls;
mod table;

use std::path::{Path, PathBuf};

use crate::util::{Result, cargo, run, target_dir};
use servers::{CoturnMode, Operator, Server};
use suite::Settings;

/// Where a coturn 4.17 `turnserver` is found when `--coturn-417` is not given.
const COTURN_417_ENV: &str = "EDGETURN_COTURN_417";

struct Options {
    trials: usize,
    smoke: bool,
    coturn_417: Option<PathBuf>,
    gso: bool,
    /// Other relay-native builds (e.g. main's) measured in the same trials on their sockets,
    /// as reference rows named "(baseline FILE)": a change is compared with what it changes
    /// in one run.
    baselines: Vec<PathBuf>,
    /// Also relay-native with `--metrics` scraped every second, and with caps it never
    /// reaches: what its operator features cost.
    operator: Vec<Operator>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options> {
        let mut o = Options {
            trials: 3,
            smoke: false,
            coturn_417: std::env::var_os(COTURN_417_ENV).map(PathBuf::from),
            gso: true,
            baselines: vec![],
            operator: vec![],
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--smoke" => o.smoke = true,
                "--no-gso" => o.gso = false,
                "--metrics" => o.operator.push(Operator {
                    metrics: true,
                    caps: false,
                }),
                "--caps" => o.operator.push(Operator {
                    metrics: false,
                    caps: true,
                }),
                "--coturn-417" => {
                    o.coturn_417 = Some(it.next().ok_or("--coturn-417 needs a path")?.into())
                }
                "--baseline" => o
                    .baselines
                    .push(it.next().ok_or("--baseline needs a path")?.into()),
                n => {
                    o.trials = n
                        .parse()
                        .map_err(|_| format!("bench-relay: `{n}` is not a number of trials"))?
                }
            }
        }
        if o.smoke {
            o.trials = 1;
        }
        Ok(o)
    }
}

/// Runs the benchmark (`--smoke`: a few seconds, Debian's coturn and relay-native's sockets).
pub fn bench(root: &Path, args: &[String]) -> Result {
    let o = Options::parse(args)?;
    let profile = if o.smoke { "debug" } else { "release" };
    let mut build = cargo();
    build
        .current_dir(root)
        .args(["build", "-p", "relay-native", "-p", "turn-load"]);
    if !o.smoke {
        build.arg("--release");
    }
    run(&mut build)?;
    let bins = target_dir(root).join(profile);
    let dir = target_dir(root).join(if o.smoke {
        "relay-bench-smoke"
    } else {
        "relay-bench"
    });
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;

    let servers = servers(&o, &bins)?;
    let set = if o.smoke {
        Settings::smoke()
    } else {
        Settings::full()
    };
    let load = load::Load {
        bin: bins.join("turn-load"),
        allocations: if o.smoke { 10 } else { 100 },
        log: dir.join("turn-load.log"),
        extra: if o.gso {
            vec![]
        } else {
            vec!["--no-gso".into()]
        },
        runs: Default::default(),
    };
    let tck = procfs::clock_ticks()?;
    let mut rows: Vec<table::Row> = servers
        .iter()
        .map(|s| table::Row {
            name: s.name(),
            offload: s.offloads(),
            trials: vec![],
        })
        .collect();
    for trial in 0..o.trials {
        for (server, row) in servers.iter().zip(rows.iter_mut()) {
            eprintln!("trial {}/{}: {}", trial + 1, o.trials, row.name);
            row.trials
                .push(suite::trial(server, &load, &set, &dir, tck)?);
        }
    }
    let header = format!(
        "relay benchmark{}: {} allocations, one channel each to its own echo socket, 200-byte ChannelData in bursts of 4, echo peer answering {}; {} server threads; median of {} interleaved trial(s); logs in {}",
        if o.smoke { " (smoke)" } else { "" },
        load.allocations,
        if o.gso {
            "with UDP GSO"
        } else {
            "with sendmmsg"
        },
        servers::THREADS,
        o.trials,
        dir.display()
    );
    table::print(&rows, &set, &header);
    check(&rows, o.smoke)
}

/// Debian's coturn, coturn 4.17 when given, relay-native both ways (only its sockets in a
/// smoke run).
fn servers(o: &Options, bins: &Path) -> Result<Vec<Server>> {
    let debian = which("turnserver")?;
    let mut v = vec![Server::Coturn {
        version: servers::coturn_version(&debian)?,
        bin: debian,
        mode: CoturnMode::Default,
    }];
    match (&o.coturn_417, o.smoke) {
        (_, true) => {}
        (None, false) => eprintln!(
            "bench-relay: coturn 4.17.1 skipped: pass --coturn-417 PATH/turnserver or set {COTURN_417_ENV} (docs/relay.md, \"Measuring against coturn\")"
        ),
        (Some(bin), false) => {
            let version = servers::coturn_version(bin)?;
            for mode in [
                CoturnMode::Default,
                CoturnMode::Recvmmsg,
                CoturnMode::MultiplexGso,
            ] {
                v.push(Server::Coturn {
                    bin: bin.clone(),
                    version: version.clone(),
                    mode,
                });
            }
        }
    }
    let offloads: &[bool] = if o.smoke { &[false] } else { &[false, true] };
    for &offload in offloads {
        for with in std::iter::once(Operator::default()).chain(o.operator.iter().copied()) {
            v.push(Server::RelayNative {
                bin: bins.join("relay-native"),
                offload,
                with,
                baseline: None,
            });
        }
    }
    // Baselines on their sockets only: the kernel fast path is the same program.
    for bin in &o.baselines {
        let label = bin.file_name().map_or_else(
            || bin.display().to_string(),
            |f| f.to_string_lossy().into_owned(),
        );
        v.push(Server::RelayNative {
            bin: bin.clone(),
            offload: false,
            with: Operator::default(),
            baseline: Some(label),
        });
    }
    Ok(v)
}

/// Fails, naming each server, if a fixed-rate run lost a message or the fast path's program
/// time went unmeasured; a smoke run also needs every figure of the table.
fn check(rows: &[table::Row], smoke: bool) -> Result {
    let lost = table::losses(rows);
    if !lost.is_empty() {
        return Err(format!("messages lost in fixed-rate runs:\n  {}", lost.join("\n  ")).into());
    }
    for row in rows.iter().filter(|r| r.offload) {
        let measured = row.trials.iter().all(|t| {
            t.fixed
                .iter()
                .all(|x| x.program.is_some_and(|p| p.runs > 0.0))
        });
        if !measured {
            return Err(format!("{}: no run time of its program was counted", row.name).into());
        }
    }
    if smoke {
        for row in rows {
            let complete = row.trials.iter().all(|t| {
                t.fixed.iter().all(|x| {
                    x.sent > 0 && x.server_us > 0.0 && x.added_us.is_finite() && x.calls.sends > 0.0
                }) && t.max_relayed.is_some()
                    && t.delay.is_some()
                    && t.rss_kib.iter().all(|&k| k > 0)
            });
            if !complete {
                return Err(
                    format!("smoke: the table has no complete row for {}", row.name).into(),
                );
            }
        }
    }
    Ok(())
}

pub(crate) fn which(tool: &str) -> Result<PathBuf> {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("{tool} is missing: `cargo xtask setup` installs coturn").into())
}
