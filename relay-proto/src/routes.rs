//! Channel routes: what a kernel fast path may forward without asking the core.
//!
//! A bound channel of a UDP client, with a live permission for its peer, is a fixed rewrite
//! in both directions (client 5-tuple + channel number <-> relay address + peer address).
//! When [`Config::channel_routes`](crate::Config::channel_routes) is on, the core reports each
//! such route with the instant it stops being valid: the earliest of the channel's, the
//! permission's and the allocation's end (the allocation's end already honours the
//! credential's expiry). It reports a route again whenever that instant moves, and withdraws
//! it when the channel, the permission or the allocation is gone. Whoever forwards on a route
//! must stop at `until` by itself: the core withdraws routes on requests and on allocation
//! end, not at every expiry, so the deadline is part of the route.

use std::net::SocketAddr;
use std::time::Instant;

use crate::alloc_id::AllocId;

/// One channel's fixed rewrite, both directions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ChannelRoute {
    /// The allocation.
    pub alloc: AllocId,
    /// The client's address (UDP).
    pub client: SocketAddr,
    /// The allocation's relayed transport address of the peer's family.
    pub relay: SocketAddr,
    /// The peer bound to the channel.
    pub peer: SocketAddr,
    /// The channel number.
    pub channel: u16,
}

/// A change to the set of routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteChange {
    /// Forward on `route` until `until` (a new route, or a new deadline).
    Set {
        /// The route.
        route: ChannelRoute,
        /// When it stops being valid.
        until: Instant,
    },
    /// Stop forwarding on `route`.
    Clear {
        /// The route.
        route: ChannelRoute,
    },
}

/// The changes that turn `had` into `want`.
pub(super) fn diff(
    had: &[(ChannelRoute, Instant)],
    want: &[(ChannelRoute, Instant)],
) -> Vec<RouteChange> {
    let mut out: Vec<RouteChange> = had
        .iter()
        .filter(|(r, _)| !want.iter().any(|(w, _)| w == r))
        .map(|(route, _)| RouteChange::Clear { route: *route })
        .collect();
    out.extend(
        want.iter()
            .filter(|w| !had.contains(w))
            .map(|(route, until)| RouteChange::Set {
                route: *route,
                until: *until,
            }),
    );
    out
}
