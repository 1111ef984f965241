//! Finding the highest rate a relay carries with loss under a limit: raise the offered rate
//! geometrically until a step loses too much, then halve the interval between the last good
//! and the first bad step a few times.

use std::io;
use std::time::Duration;

use crate::drive::{self, Plan};
use crate::flows::Flow;
use crate::report::{RampReport, Report};

/// A step that sent less than this share of its offered rate could not be driven: the
/// generator, not the relay, set the limit.
const REACHED: f64 = 0.97;

/// How to ramp.
#[derive(Debug, Clone)]
pub struct RampPlan {
    /// First offered rate, messages/s.
    pub from: f64,
    /// Each step offers this many times the last.
    pub factor: f64,
    /// Never offer more than this.
    pub to: f64,
    /// Loss must stay under this share of sent messages (0.001: 0.1%).
    pub max_loss: f64,
    /// Bisection steps between the last good and the first bad rate.
    pub refine: u32,
    /// Each step's run (its rate is set by the ramp, its run number too).
    pub step: Plan,
}

impl RampPlan {
    /// From 20k msg/s up by 1.4x, loss under 0.1%, three refinements, 2 s steps.
    pub fn new() -> RampPlan {
        RampPlan {
            from: 20_000.0,
            factor: 1.4,
            to: 2_000_000.0,
            max_loss: 0.001,
            refine: 3,
            step: Plan {
                duration: Duration::from_secs(2),
                ..Plan::at_rate(0.0)
            },
        }
    }
}

impl Default for RampPlan {
    fn default() -> Self {
        RampPlan::new()
    }
}

/// Ramps `flows`; `on_step` sees each step as it ends.
pub fn ramp(
    flows: &[Flow],
    plan: &RampPlan,
    mut on_step: impl FnMut(&Report),
) -> io::Result<RampReport> {
    let mut out = RampReport::default();
    let mut step = |rate: f64, out: &mut RampReport| -> io::Result<Verdict> {
        let run = plan.step.run + out.steps.len() as u32;
        let r = drive::run(
            flows,
            &Plan {
                rate,
                run,
                ..plan.step.clone()
            },
        )?;
        on_step(&r);
        let verdict = judge(&r, plan.max_loss);
        if verdict != Verdict::Lossy {
            out.best = Some(r.clone());
        }
        out.steps.push(r);
        Ok(verdict)
    };
    let mut rate = plan.from;
    let mut bad = None;
    loop {
        match step(rate, &mut out)? {
            Verdict::Good if rate < plan.to => rate = (rate * plan.factor).min(plan.to),
            Verdict::Good => break,
            Verdict::Unreached => {
                out.generator_limited = true;
                break;
            }
            Verdict::Lossy => {
                bad = Some(rate);
                break;
            }
        }
    }
    for _ in 0..plan.refine {
        let (Some(good), Some(b)) = (out.best.as_ref().map(|r| r.offered_rate), bad) else {
            break;
        };
        let mid = (good + b) / 2.0;
        match step(mid, &mut out)? {
            Verdict::Lossy => bad = Some(mid),
            // `step` kept it as the best so far.
            Verdict::Good => {}
            Verdict::Unreached => {
                out.generator_limited = true;
                break;
            }
        }
    }
    Ok(out)
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Loss under the limit at the offered rate.
    Good,
    /// Loss under the limit, but the client could not send the offered rate.
    Unreached,
    /// Loss at or over the limit.
    Lossy,
}

fn judge(r: &Report, max_loss: f64) -> Verdict {
    if r.loss_ratio() >= max_loss || r.misrouted > 0 {
        Verdict::Lossy
    } else if r.send_rate() < REACHED * r.offered_rate {
        Verdict::Unreached
    } else {
        Verdict::Good
    }
}
