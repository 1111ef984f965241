//! The table: per server the median of its trials, and ratios to the coturns of the same run.

use super::bpf_stats::Program;
use super::suite::{Figures, Settings};
use super::syscalls::Calls;

/// One server's trials.
pub struct Row {
    pub name: String,
    /// relay-native with the kernel fast path (its program time must be counted).
    pub offload: bool,
    pub trials: Vec<Figures>,
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

impl Row {
    fn med(&self, f: impl Fn(&Figures) -> Option<f64>) -> Option<f64> {
        median(self.trials.iter().filter_map(&f).collect())
    }

    /// Median server CPU per relayed packet at fixed rate number `i`.
    pub fn server_us(&self, i: usize) -> Option<f64> {
        self.med(|t| t.fixed.get(i).map(|x| x.server_us))
    }

    fn loss_percent(&self, i: usize) -> Option<f64> {
        self.med(|t| {
            t.fixed
                .get(i)
                .map(|x| x.lost as f64 * 100.0 / x.sent.max(1) as f64)
        })
    }

    fn calls(&self, i: usize, pick: fn(&Calls) -> f64) -> Option<f64> {
        self.med(|t| t.fixed.get(i).map(|x| pick(&x.calls)))
    }

    fn fixed_delay(&self, i: usize, pick: fn(&turn_load::Delays) -> f64) -> Option<f64> {
        self.med(|t| t.fixed.get(i).map(|x| pick(&x.one_way)))
    }

    fn program(&self, i: usize, pick: fn(&Program) -> f64) -> Option<f64> {
        self.med(|t| t.fixed.get(i).and_then(|x| x.program.as_ref().map(pick)))
    }

    /// Median CPU per relayed packet that the relay added to the host at fixed rate `i`.
    pub fn added_us(&self, i: usize) -> Option<f64> {
        self.med(|t| t.fixed.get(i).map(|x| x.added_us))
    }

    fn all_us(&self, i: usize) -> Option<f64> {
        self.med(|t| t.fixed.get(i).map(|x| x.all_us))
    }

    /// Median maximum lossless relayed packets/s (a trial without one counts as 0).
    pub fn max_relayed(&self) -> Option<f64> {
        self.med(|t| Some(t.max_relayed.unwrap_or(0.0)))
    }

    fn delay(&self, pick: impl Fn(&turn_load::Delays) -> f64, added: bool) -> Option<f64> {
        self.med(|t| {
            let (relay, base) = t.delay.as_ref()?;
            Some(if added {
                pick(relay) - pick(base)
            } else {
                pick(relay)
            })
        })
    }

    fn rss_mib(&self, i: usize) -> Option<f64> {
        self.med(|t| t.rss_kib.get(i).map(|k| *k as f64 / 1024.0))
    }

    /// KiB per idle allocation between the first and the last count.
    fn kib_per_allocation(&self, counts: &[usize]) -> Option<f64> {
        let (first, last) = (*counts.first()?, *counts.last()?);
        self.med(|t| {
            let a = *t.rss_kib.get(1)? as f64;
            let b = *t.rss_kib.get(counts.len())? as f64;
            Some((b - a) / (last - first).max(1) as f64)
        })
    }
}

fn num(v: Option<f64>, digits: usize) -> String {
    v.map_or("-".into(), |x| format!("{x:.digits$}"))
}

/// Prints the tables (markdown, so they paste into docs).
pub fn print(rows: &[Row], set: &Settings, header: &str) {
    println!("\n{header}\n");
    let rates: Vec<String> = set
        .rates
        .iter()
        .map(|r| format!("{}k", r / 1000.0))
        .collect();
    print!("| server |");
    for r in &rates {
        print!(" CPU us/pkt at {r} msg/s (all processes), loss |");
    }
    println!(
        " max lossless relayed pkt/s | one-way delay p50 / p99 / p99.9 us at half that (added by the relay) |"
    );
    println!("|---|{}---|---|", "---|".repeat(rates.len()));
    for row in rows {
        print!("| {} |", row.name);
        for i in 0..rates.len() {
            print!(
                " {} ({}), {}% |",
                num(row.server_us(i), 2),
                num(row.all_us(i), 2),
                num(row.loss_percent(i), 2)
            );
        }
        let limited = row.trials.iter().any(|t| t.generator_limited);
        let d = |p: fn(&turn_load::Delays) -> f64| {
            format!(
                "{} ({})",
                num(row.delay(p, false), 0),
                num(row.delay(p, true), 0)
            )
        };
        println!(
            " {}{} | {} / {} / {} |",
            if limited { ">= " } else { "" },
            num(row.max_relayed(), 0),
            d(|x| x.p50_us),
            d(|x| x.p99_us),
            d(|x| x.p999_us),
        );
    }
    println!();
    print!("| server | RSS MiB, no allocation |");
    for n in &set.idle_counts {
        print!(" {n} idle |");
    }
    println!(" KiB per idle allocation |");
    println!("|---|---|{}---|", "---|".repeat(set.idle_counts.len()));
    for row in rows {
        print!("| {} |", row.name);
        for i in 0..=set.idle_counts.len() {
            print!(" {} |", num(row.rss_mib(i), 1));
        }
        println!(" {} |", num(row.kib_per_allocation(&set.idle_counts), 2));
    }
    for (i, rate) in rates.iter().enumerate() {
        where_time_goes(rows, i, rate);
    }
    ratios(rows, set);
}

/// At fixed rate number `i`: per relayed packet, the CPU the relay added to the host, the
/// server's system calls by kind, its context switches and its eBPF programs' run time; and
/// the one-way delay through each server at this same load.
fn where_time_goes(rows: &[Row], i: usize, rate: &str) {
    println!(
        "\nAt {rate} msg/s: per relayed packet, the CPU the relay added to the host (all processes less the same load without a relay), the server's system calls, context switches and fast-path program time (runs); the one-way delay through it:\n"
    );
    println!(
        "| server | CPU us added | system calls | sends (of them sendto) | receives | epoll waits | context switches | program ns (runs) | delay p50 / p99 / p99.9 us |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for row in rows {
        let c = |pick: fn(&Calls) -> f64| num(row.calls(i, pick), 3);
        let d = |pick: fn(&turn_load::Delays) -> f64| num(row.fixed_delay(i, pick), 0);
        println!(
            "| {} | {} | {} | {} ({}) | {} | {} | {} | {} ({}) | {} / {} / {} |",
            row.name,
            num(row.added_us(i), 2),
            c(|x| x.all),
            c(|x| x.sends),
            c(|x| x.sendto),
            c(|x| x.receives),
            c(|x| x.waits),
            c(|x| x.switches),
            num(row.program(i, |p| p.ns), 0),
            num(row.program(i, |p| p.runs), 2),
            d(|x| x.p50_us),
            d(|x| x.p99_us),
            d(|x| x.p999_us),
        );
    }
}

/// relay-native's figures over each coturn's (and the baseline build's), within this run.
fn ratios(rows: &[Row], set: &Settings) {
    let (ours, coturns): (Vec<&Row>, Vec<&Row>) = rows
        .iter()
        .partition(|r| r.name.starts_with("relay-native") && !r.name.contains("(baseline"));
    if coturns.is_empty() {
        return;
    }
    println!();
    for o in &ours {
        for c in &coturns {
            let mut parts = Vec::new();
            for (i, rate) in set.rates.iter().enumerate() {
                if let (Some(a), Some(b)) = (o.server_us(i), c.server_us(i)) {
                    parts.push(format!(
                        "{:.2}x the CPU per packet at {}k",
                        a / b,
                        rate / 1000.0
                    ));
                }
                if let (Some(a), Some(b)) = (o.added_us(i), c.added_us(i)) {
                    parts.push(format!("{:.2}x the CPU added to the host", a / b));
                }
            }
            if let (Some(a), Some(b)) = (o.max_relayed(), c.max_relayed())
                && b > 0.0
            {
                parts.push(format!("{:.2}x the maximum lossless rate", a / b));
            }
            println!("{} vs {}: {}", o.name, c.name, parts.join(", "));
        }
    }
}

/// Every fixed-rate run that lost or misrouted a message: (server, rate, trial, lost, sent).
pub fn losses(rows: &[Row]) -> Vec<String> {
    let mut out = Vec::new();
    for row in rows {
        for (t, fig) in row.trials.iter().enumerate() {
            for x in fig.fixed.iter().filter(|x| x.lost > 0 || x.misrouted > 0) {
                out.push(format!(
                    "{} lost {} of {} messages at {} msg/s ({} misrouted) in trial {}",
                    row.name,
                    x.lost,
                    x.sent,
                    x.rate,
                    x.misrouted,
                    t + 1
                ));
            }
        }
    }
    out
}
