//! A shard's side of the control plane: hands its core the revocations as they arrive, and
//! the control plane each live allocation's running total every usage interval (sockets and
//! kernel fast path together).

use std::rc::Rc;
use std::time::Instant;

use tokio::time::MissedTickBehavior;

use super::ctx::Ctx;
use crate::link::{RevocationList, ShardLink};
use relay_proto::Input;

/// Runs for the shard's life.
pub(super) async fn run(ctx: Rc<Ctx>, link: ShardLink) {
    let mut list = link.revocations();
    // (generation, entries handed in): the list only grows within a generation.
    let mut seen = (u64::MAX, 0usize);
    revoke(&ctx, &list.borrow_and_update(), &mut seen);
    let mut tick = tokio::time::interval(link.usage_every());
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    tick.tick().await;
    loop {
        tokio::select! {
            changed = list.changed() => {
                if changed.is_err() {
                    // The control plane is gone: keep reporting totals, nothing more to revoke.
                    loop {
                        tick.tick().await;
                        totals(&ctx, &link);
                    }
                }
                let current = list.borrow_and_update().clone();
                revoke(&ctx, &current, &mut seen);
            }
            _ = tick.tick() => totals(&ctx, &link),
        }
    }
}

/// Hands the core the entries it has not seen.
fn revoke(ctx: &Rc<Ctx>, list: &RevocationList, seen: &mut (u64, usize)) {
    let from = if list.generation == seen.0 { seen.1 } else { 0 };
    let new = list.entries.get(from..).unwrap_or_default();
    if !new.is_empty() {
        ctx.input(Instant::now(), Input::Revoke { tokens: new });
    }
    *seen = (list.generation, list.entries.len());
}

/// Every live allocation's running total, to the control plane.
fn totals(ctx: &Ctx, link: &ShardLink) {
    let kernel = ctx
        .offload
        .as_ref()
        .and_then(|o| o.lock().ok().map(|o| o.relayed_by_alloc(ctx.index)))
        .unwrap_or_default();
    let core = ctx.core.borrow();
    link.totals(core.traffic().map(|(info, t)| {
        (
            (ctx.index, info.alloc.to_bits()),
            t + kernel.get(&info.alloc).copied().unwrap_or_default(),
        )
    }));
}

/// At shutdown: the last running totals, so what live allocations relayed since the last
/// interval is not lost.
pub(super) fn last_totals(ctx: &Ctx) {
    if let Some(link) = &ctx.control {
        totals(ctx, link);
    }
}
