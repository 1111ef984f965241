//! A shard's side of the operator's [`Handle`](super::Handle): it answers snapshots and
//! drains between inputs; and, with bandwidth caps and the kernel fast path both on, it
//! reports what the kernel relayed for its allocations so the core can apply their caps.

use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::counters::ShardSnapshot;
use super::ctx::Ctx;
use super::handle::Command;
use relay_proto::Input;

/// How often the kernel fast path's counters are read for bandwidth caps: an allocation
/// over its cap relays at most this long (plus its bucket) in the kernel before its routes
/// go. Each read costs two map lookups per route of the shard.
pub(super) const METER_EVERY: Duration = Duration::from_millis(250);

/// Answers the operator's commands until the handle is gone.
pub(super) async fn operator_loop(ctx: Rc<Ctx>, mut commands: mpsc::UnboundedReceiver<Command>) {
    while let Some(c) = commands.recv().await {
        match c {
            Command::Snapshot(reply) => {
                let _ = reply.send(snapshot(&ctx));
            }
            Command::Drain => ctx.input(Instant::now(), Input::Drain),
        }
    }
}

/// This shard's figures now. Walks its allocations (for the gauges and the live traffic):
/// work per scrape, none per datagram.
fn snapshot(ctx: &Ctx) -> ShardSnapshot {
    let core = ctx.core.borrow();
    let mut s = ShardSnapshot {
        counts: ctx.counts.borrow().clone(),
        stats: core.stats(),
        held: core.footprint().held as u64,
        draining: core.is_draining(),
        ..ShardSnapshot::default()
    };
    for (info, traffic) in core.traffic() {
        s.allocation(info.client.transport, info.mechanism, traffic);
    }
    s
}

/// Hands the core what the kernel relayed for this shard's allocations, every
/// [`METER_EVERY`].
pub(super) async fn kernel_meter(ctx: Rc<Ctx>) {
    let Some(offload) = ctx.offload.clone() else {
        return;
    };
    let mut tick = tokio::time::interval(METER_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let relayed = match offload.lock() {
            Ok(mut o) => o.meter(ctx.index),
            Err(_) => return,
        };
        if !relayed.is_empty() {
            ctx.input(Instant::now(), Input::KernelTraffic { relayed: &relayed });
        }
    }
}
