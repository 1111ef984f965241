//! What a run reports, in a form `cargo xtask bench-relay` reads back (JSON).

use serde::{Deserialize, Serialize};

use crate::echo::EchoStats;
use crate::tally::Tally;

/// Delay percentiles of one set of packets, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Delays {
    /// Packets measured.
    pub count: u64,
    /// Median.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// Largest.
    pub max_us: f64,
}

impl Delays {
    /// Percentiles of `ns` (nearest rank); all 0 when there is none (JSON has no NaN).
    pub fn of(mut ns: Vec<u64>) -> Delays {
        ns.sort_unstable();
        let at = |q: f64| {
            let rank = ((q * ns.len() as f64).ceil() as usize).clamp(1, ns.len().max(1)) - 1;
            ns.get(rank).map_or(0.0, |&v| v as f64 / 1e3)
        };
        Delays {
            count: ns.len() as u64,
            p50_us: at(0.5),
            p99_us: at(0.99),
            p999_us: at(0.999),
            max_us: ns.last().map_or(0.0, |&v| v as f64 / 1e3),
        }
    }
}

/// One fixed-rate run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report {
    /// Messages per second asked for (client to relay).
    pub offered_rate: f64,
    /// How long the client sent, in seconds.
    pub seconds: f64,
    /// Allocations (flows) driven.
    pub flows: usize,
    /// Messages the kernel accepted from the client.
    pub sent: u64,
    /// Distinct messages that came back to the flow that sent them.
    pub received: u64,
    /// `sent - received`.
    pub lost: u64,
    /// Messages that came back more than once (extra copies).
    pub duplicates: u64,
    /// Messages that came back to another allocation.
    pub misrouted: u64,
    /// Datagrams of an earlier run, or not ours.
    pub stale_or_foreign: u64,
    /// Messages the client's kernel refused to send (not counted as sent).
    pub send_failures: u64,
    /// CPU time (user + system) of this process over the run, both ends included.
    pub cpu_seconds: f64,
    /// Client to echo peer: one pass through the relay.
    pub to_peer: Delays,
    /// Echo peer to client: one pass through the relay.
    pub to_client: Delays,
    /// Both directions together: the delay of one pass through the relay.
    pub one_way: Delays,
    /// Client to client.
    pub round_trip: Delays,
    /// What the echo peer saw during the run.
    pub echo: EchoStats,
}

impl Report {
    /// Builds the report of a run from what was sent and what came back.
    pub fn new(
        offered_rate: f64,
        seconds: f64,
        sent: u64,
        send_failures: u64,
        tally: Tally,
    ) -> Report {
        let mut one_way = tally.to_peer.clone();
        one_way.extend_from_slice(&tally.to_client);
        Report {
            offered_rate,
            seconds,
            flows: 0,
            sent,
            received: tally.received,
            lost: sent.saturating_sub(tally.received),
            duplicates: tally.duplicates,
            misrouted: tally.misrouted,
            stale_or_foreign: tally.stale + tally.foreign,
            send_failures,
            cpu_seconds: 0.0,
            to_peer: Delays::of(tally.to_peer),
            to_client: Delays::of(tally.to_client),
            one_way: Delays::of(one_way),
            round_trip: Delays::of(tally.round_trip),
            echo: EchoStats::default(),
        }
    }

    /// Messages per second the client actually sent.
    pub fn send_rate(&self) -> f64 {
        self.sent as f64 / self.seconds.max(1e-9)
    }

    /// Packets per second through the relay: every message in, every echo back.
    pub fn relayed_per_second(&self) -> f64 {
        (self.sent + self.received) as f64 / self.seconds.max(1e-9)
    }

    /// Lost messages per message sent.
    pub fn loss_ratio(&self) -> f64 {
        self.lost as f64 / self.sent.max(1) as f64
    }

    /// One line for people.
    pub fn summary(&self) -> String {
        let echo = if self.echo.echoed > 0 {
            format!(
                ", echoed {} ({} with GSO)",
                self.echo.echoed, self.echo.gso_datagrams
            )
        } else {
            String::new()
        };
        format!(
            "offered {:.0} msg/s, sent {} ({:.0}/s), received {}, lost {} ({:.3}%), dup {}, misrouted {}, one-way p50/p99/p99.9 {:.0}/{:.0}/{:.0} us{echo}",
            self.offered_rate,
            self.sent,
            self.send_rate(),
            self.received,
            self.lost,
            self.loss_ratio() * 100.0,
            self.duplicates,
            self.misrouted,
            self.one_way.p50_us,
            self.one_way.p99_us,
            self.one_way.p999_us,
        )
    }
}

/// A ramp: the offered rate raised until loss reaches the limit, then narrowed down.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RampReport {
    /// Every step, in order.
    pub steps: Vec<Report>,
    /// The fastest step with loss under the limit.
    pub best: Option<Report>,
    /// True when the client could not send faster although nothing was lost: the maximum is
    /// then the generator's, not the relay's.
    pub generator_limited: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let d = Delays::of((1..=1000).map(|us| us * 1000).collect());
        assert_eq!(
            (d.p50_us, d.p99_us, d.p999_us, d.max_us),
            (500.0, 990.0, 999.0, 1000.0)
        );
        assert_eq!(d.count, 1000);
        assert_eq!(Delays::of(vec![]), Delays::default());
        assert_eq!(Delays::of(vec![7000]).p999_us, 7.0);
    }
}
