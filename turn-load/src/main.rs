//! `turn-load`: drive a TURN relay with ChannelData at a set rate (`run`), find its highest
//! rate with loss under 0.1% (`ramp`), or hold idle allocations (`idle`). Progress goes to
//! stderr; the result is one JSON line on stdout.

use std::io::{BufRead, Write};
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use turn_load::echo::Echo;
use turn_load::flows::{self, Target};
use turn_load::ramp::{RampPlan, ramp};
use turn_load::{Credentials, Plan, Report, drive};

#[derive(Parser)]
#[command(
    version,
    about = "A TURN load generator with exact loss counts and per-packet delay"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// One run at a fixed rate.
    Run {
        #[command(flatten)]
        common: Common,
        /// Messages per second, all allocations together.
        #[arg(long, default_value_t = 20_000.0)]
        rate: f64,
        /// Seconds to send.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Also run the same load straight to the echo peer (no relay) and report it as
        /// `baseline`: what the relay adds is the difference.
        #[arg(long)]
        baseline: bool,
        /// Only the load straight to the echo peer: what the generator itself can drive
        /// (`--server` is not used).
        #[arg(long, conflicts_with = "baseline")]
        direct: bool,
    },
    /// Raise the rate until loss reaches --max-loss; report the fastest step under it.
    Ramp {
        #[command(flatten)]
        common: Common,
        /// First rate (messages/s).
        #[arg(long, default_value_t = 20_000.0)]
        from: f64,
        /// Highest rate to offer.
        #[arg(long, default_value_t = 2_000_000.0)]
        to: f64,
        /// Each step offers this many times the previous one.
        #[arg(long, default_value_t = 1.4)]
        factor: f64,
        /// Seconds per step.
        #[arg(long, default_value_t = 2.0)]
        step_seconds: f64,
        /// Loss limit as a share of sent messages.
        #[arg(long, default_value_t = 0.001)]
        max_loss: f64,
        /// Bisection steps after the first lossy step.
        #[arg(long, default_value_t = 3)]
        refine: u32,
    },
    /// Hold allocations without traffic: after each count, print `held N` and wait for a
    /// line on stdin (so a caller can read the relay's memory).
    Idle {
        #[command(flatten)]
        relay: Relay,
        /// Cumulative allocation counts, e.g. 100,1000,10000.
        #[arg(long, value_delimiter = ',', default_value = "100,1000,10000")]
        counts: Vec<usize>,
    },
}

#[derive(Args)]
struct Relay {
    /// The relay's UDP address.
    #[arg(long)]
    server: SocketAddr,
    /// A static user of the relay.
    #[arg(long, default_value = "bench")]
    user: String,
    /// Its password.
    #[arg(long, env = "TURN_LOAD_PASSWORD", hide_env_values = true)]
    password: String,
    /// Local address for the client sockets (and the echo peer).
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
}

#[derive(Args)]
struct Common {
    #[command(flatten)]
    relay: Relay,
    /// Allocations (each with one channel to its own echo socket).
    #[arg(long, default_value_t = 100)]
    allocations: usize,
    /// Payload bytes per message.
    #[arg(long, default_value_t = 200)]
    payload: usize,
    /// Messages an allocation sends back to back.
    #[arg(long, default_value_t = 4)]
    burst: usize,
    /// Address of the echo peer's sockets (default: --bind). A relay that routes by the
    /// peer's exact address (coturn's --multiplex-peer) may still hold an earlier run's peer
    /// ports for a while: a loopback address of its own per run (127.0.0.0/8) never meets them.
    #[arg(long)]
    peer_ip: Option<IpAddr>,
    /// The echo peer answers with sendmmsg only, never UDP GSO.
    #[arg(long)]
    no_gso: bool,
    /// Print `ready` once the allocations exist and wait for a line on stdin before sending.
    #[arg(long)]
    wait_go: bool,
}

impl Relay {
    fn target(&self) -> Target {
        Target::Relay {
            server: self.server,
            credentials: Credentials {
                user: self.user.clone(),
                password: self.password.clone(),
            },
        }
    }
}

impl Common {
    fn echo(&self) -> std::io::Result<Echo> {
        let ip = self.peer_ip.unwrap_or(self.relay.bind);
        Echo::bind(ip, self.allocations, !self.no_gso)
    }

    fn plan(&self, rate: f64, seconds: f64) -> Plan {
        Plan {
            rate,
            duration: Duration::from_secs_f64(seconds),
            payload: self.payload,
            burst: self.burst,
            ..Plan::at_rate(rate)
        }
    }
}

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> ExitCode {
    match Cli::parse().command.exec() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("turn-load: {e}");
            ExitCode::FAILURE
        }
    }
}

impl Command {
    fn exec(self) -> Result {
        match self {
            Command::Run {
                common,
                rate,
                seconds,
                baseline,
                direct,
            } => {
                let plan = common.plan(rate, seconds);
                let target = if direct {
                    Target::Direct
                } else {
                    common.relay.target()
                };
                let report = measured(&common, &target, &plan)?;
                let base = if baseline {
                    Some(measured(&common, &Target::Direct, &plan)?)
                } else {
                    None
                };
                emit(&serde_json::json!({ "run": report, "baseline": base }))
            }
            Command::Ramp {
                common,
                from,
                to,
                factor,
                step_seconds,
                max_loss,
                refine,
            } => {
                let plan = RampPlan {
                    from,
                    to,
                    factor,
                    max_loss,
                    refine,
                    step: common.plan(from, step_seconds),
                };
                let echo = common.echo()?;
                let flows = flows::open(&common.relay.target(), common.relay.bind, &echo.addrs()?)?;
                ready(common.wait_go)?;
                let r =
                    echo.serve(|| ramp(&flows, &plan, |s| eprintln!("  step: {}", s.summary())))?;
                emit(&r)
            }
            Command::Idle { relay, counts } => idle(&relay, &counts),
        }
    }
}

/// Opens the flows, then one run with its own echo peer.
fn measured(common: &Common, target: &Target, plan: &Plan) -> Result<Report> {
    let echo = common.echo()?;
    let flows = flows::open(target, common.relay.bind, &echo.addrs()?)?;
    if matches!(target, Target::Relay { .. }) {
        ready(common.wait_go)?;
    }
    let report = echo.serve(|| drive::run(&flows, plan));
    flows::release(&flows, target);
    let mut report = report?;
    report.echo = echo.stats();
    eprintln!(
        "turn-load {}: {}",
        if matches!(target, Target::Direct) {
            "direct"
        } else {
            "relay"
        },
        report.summary()
    );
    Ok(report)
}

fn idle(relay: &Relay, counts: &[usize]) -> Result {
    let Target::Relay {
        server,
        credentials,
    } = relay.target()
    else {
        return Ok(());
    };
    let mut held = Vec::new();
    for &n in counts {
        let more = n.saturating_sub(held.len());
        let got = flows::allocate_idle(server, &credentials, relay.bind, more, &mut held);
        if got.is_err() {
            flows::release(&held, &relay.target());
        }
        got?;
        println!("held {}", held.len());
        std::io::stdout().flush()?;
        wait_line()?;
    }
    flows::release(&held, &relay.target());
    Ok(())
}

/// `ready`, then a line from stdin, when asked to.
fn ready(wait: bool) -> Result {
    if wait {
        println!("ready");
        std::io::stdout().flush()?;
        wait_line()?;
    }
    Ok(())
}

fn wait_line() -> Result {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(())
}

fn emit<T: serde::Serialize>(value: &T) -> Result {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}
