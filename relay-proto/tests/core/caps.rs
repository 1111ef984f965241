//! Bandwidth caps: per allocation and per user, each direction apart, on the sockets path
//! (what exceeds the bucket is dropped and counted) and for a kernel fast path (an
//! allocation whose kernel traffic took it over its cap loses its routes until it has
//! dropped nothing for the hold, then gets them back).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use relay_proto::{
    Client, Config, Counters, Input, QuotaCounts, Rate, RouteChange, Traffic, Transport,
};

use super::harness::*;

const PEER: &str = "127.0.0.1:40000";
const CH: u16 = 0x4001;

fn alice(a: &str) -> C {
    C::new(a, Creds::LongTerm("alice".into(), "secret".into()))
}

fn bob(a: &str) -> C {
    C::new(a, Creds::LongTerm("bob".into(), "hunter2".into()))
}

fn capped(per_allocation: u64, per_user: u64) -> Config {
    let mut cfg = config();
    cfg.bandwidth.per_allocation = Rate::new(per_allocation);
    cfg.bandwidth.per_user = Rate::new(per_user);
    cfg
}

/// An allocation with channel `CH` bound to the peer.
fn ready(h: &mut H, c: &mut C) {
    assert!(is_success(&c.allocate(h, Some(3600))));
    assert!(is_success(&c.bind(h, CH, addr(PEER))));
}

/// Every millisecond for `ms`: each client in `to_peer` sends `size` bytes of ChannelData
/// and the peer sends `size` bytes to each client in `to_client`. Payload bytes relayed,
/// per client, each way.
fn run(h: &mut H, clients: &[(SocketAddr, usize)], ms: u64) -> Vec<(u64, u64)> {
    let mut got = vec![(0, 0); clients.len()];
    for _ in 0..ms {
        for ((client, size), (up, down)) in clients.iter().zip(got.iter_mut()) {
            let payload = vec![7u8; *size];
            if h.send(*client, &channel_data(CH, &payload)).0.is_some() {
                *up += *size as u64;
            }
            if h.from_peer(*client, addr(PEER), &payload).is_some() {
                *down += *size as u64;
            }
        }
        h.advance(Duration::from_millis(1));
    }
    got
}

fn near(got: u64, want: u64, what: &str) {
    assert!(
        got.abs_diff(want) * 100 <= want,
        "{what}: {got} bytes, expected {want} within 1%"
    );
}

#[test]
fn an_allocation_over_its_cap_gets_its_cap_each_way_and_others_lose_nothing() {
    // 200 kB/s per allocation: a bucket of 100 kB.
    let mut h = H::with(capped(200_000, 0));
    let (mut a, mut b) = (alice("203.0.113.5:1000"), bob("203.0.113.6:1000"));
    ready(&mut h, &mut a);
    ready(&mut h, &mut b);
    // Alice offers 1 MB/s each way for 2 s; Bob 150 kB/s.
    let got = run(&mut h, &[(a.addr, 1000), (b.addr, 150)], 2000);
    let cap = 2 * 200_000 + 100_000;
    near(got[0].0, cap, "alice to her peer");
    near(got[0].1, cap, "her peer to alice");
    assert_eq!(got[1], (150 * 2000, 150 * 2000), "bob is under his cap");
    let s = h.server.stats();
    assert_eq!(
        s.dropped_allocation_cap.to_peer,
        Counters {
            packets: (2_000_000 - got[0].0) / 1000,
            bytes: 2_000_000 - got[0].0
        }
    );
    assert_eq!(
        s.dropped_allocation_cap.to_client.bytes,
        2_000_000 - got[0].1
    );
    assert_eq!(s.dropped_user_cap, Traffic::default());
    // What was relayed is what the allocation's traffic says; drops are not in it.
    let id = h.server.allocation_of(&udp(a.addr)).unwrap();
    let t = h.server.allocation(id).unwrap().traffic;
    assert_eq!((t.to_peer.bytes, t.to_client.bytes), got[0]);
}

fn udp(addr: SocketAddr) -> Client {
    Client {
        transport: Transport::Udp,
        addr,
    }
}

#[test]
fn a_users_cap_spans_the_users_allocations_in_every_core() {
    let cfg = Arc::new(capped(0, 200_000));
    let t0 = Instant::now();
    let mut one = H::sharing(cfg.clone(), QuotaCounts::new(0, 0), t0);
    let mut two = H::sharing(cfg.clone(), QuotaCounts::new(0, 0), t0);
    let (mut a1, mut a2, mut b) = (
        alice("203.0.113.5:1000"),
        alice("203.0.113.5:1001"),
        bob("203.0.113.6:1000"),
    );
    ready(&mut one, &mut a1);
    ready(&mut two, &mut a2);
    ready(&mut one, &mut b);
    let mut up = [0u64; 3];
    for _ in 0..2000 {
        let (data, small) = (channel_data(CH, &[7u8; 300]), channel_data(CH, &[7u8; 100]));
        let sent = [
            one.send(a1.addr, &data).0.map(|(_, d)| d.len()),
            two.send(a2.addr, &data).0.map(|(_, d)| d.len()),
            one.send(b.addr, &small).0.map(|(_, d)| d.len()),
        ];
        for (total, sent) in up.iter_mut().zip(sent) {
            *total += sent.unwrap_or(0) as u64;
        }
        one.advance(Duration::from_millis(1));
        two.advance(Duration::from_millis(1));
    }
    // Alice offers 600 kB/s over two allocations in two cores; her cap is 200 kB/s. (Who
    // gets the share is first come, first served.)
    near(
        up[0] + up[1],
        2 * 200_000 + 100_000,
        "alice's two allocations",
    );
    assert!(up[0] > 0 && up[1] > 0, "both got through: {up:?}");
    assert_eq!(up[2], 100 * 2000, "bob, under his own cap, loses nothing");
    assert!(one.server.stats().dropped_user_cap.to_peer.packets > 0);
    assert_eq!(cfg.bandwidth.users.len(), 2, "alice and bob");
    assert!(is_success(&a1.refresh(&mut one, Some(0))));
    assert!(is_success(&b.refresh(&mut one, Some(0))));
    assert_eq!(
        cfg.bandwidth.users.len(),
        1,
        "alice still holds an allocation"
    );
    assert!(is_success(&a2.refresh(&mut two, Some(0))));
    assert!(cfg.bandwidth.users.is_empty(), "no allocation, no bucket");
}

fn kernel(h: &mut H, c: &C, to_peer_bytes: u64) {
    let id = h.server.allocation_of(&udp(c.addr)).unwrap();
    let t = Traffic {
        to_peer: Counters {
            packets: to_peer_bytes / 1000,
            bytes: to_peer_bytes,
        },
        to_client: Counters::default(),
    };
    h.input(Input::KernelTraffic {
        relayed: &[(id, t)],
    });
}

fn sets_and_clears(h: &H) -> (usize, usize) {
    let sets = h
        .routes
        .iter()
        .filter(|c| matches!(c, RouteChange::Set { .. }))
        .count();
    (sets, h.routes.len() - sets)
}

#[test]
fn kernel_traffic_over_the_cap_moves_an_allocation_to_the_sockets_until_it_calms_down() {
    let mut cfg = capped(100_000, 0);
    cfg.channel_routes = true;
    let mut h = H::with(cfg);
    let mut a = alice("203.0.113.5:1000");
    ready(&mut h, &mut a);
    assert_eq!(sets_and_clears(&h), (1, 0), "the channel is routed");

    // Within the bucket (65,535 bytes at this rate): the route stays.
    kernel(&mut h, &a, 50_000);
    assert_eq!(sets_and_clears(&h), (1, 0));
    // Over it: the route goes, and the allocation is held for 2 s.
    h.advance(Duration::from_millis(100));
    kernel(&mut h, &a, 400_000);
    assert_eq!(sets_and_clears(&h), (1, 1));
    assert_eq!(h.server.stats().kernel_holds, 1);
    assert_eq!(h.server.footprint().held, 1);
    // A ChannelBind refresh while held reports no route.
    assert!(is_success(&a.bind(&mut h, CH, addr(PEER))));
    assert_eq!(sets_and_clears(&h), (1, 1));
    // On the sockets, the debt is paid first: the data of the next second is dropped.
    h.advance(Duration::from_millis(400));
    assert_eq!(h.send(a.addr, &channel_data(CH, &[1; 100])).0, None);
    // At the hold's end it dropped something 1.5 s ago: held on for 0.5 s more.
    h.advance(Duration::from_millis(1500));
    assert_eq!(sets_and_clears(&h), (1, 1));
    // Under its cap from then on: nothing dropped, the route comes back at 2.5 s.
    h.advance(Duration::from_millis(400));
    assert!(h.send(a.addr, &channel_data(CH, &[1; 100])).0.is_some());
    assert_eq!(sets_and_clears(&h), (1, 1));
    h.advance(Duration::from_millis(200));
    assert_eq!(sets_and_clears(&h), (2, 1), "{:?}", h.routes);
    assert_eq!(h.server.footprint().held, 0);
    assert_eq!(
        h.server.footprint().timers,
        1,
        "the allocation's own deadline"
    );
}

#[test]
fn a_held_allocation_that_ends_leaves_no_deadline_behind() {
    let mut cfg = capped(100_000, 50_000);
    cfg.channel_routes = true;
    let mut h = H::with(cfg);
    let mut a = alice("203.0.113.5:1000");
    ready(&mut h, &mut a);
    kernel(&mut h, &a, 1_000_000);
    assert_eq!(h.server.footprint().held, 1);
    assert_eq!(h.server.footprint().timers, 2);
    assert!(is_success(&a.refresh(&mut h, Some(0))));
    assert_eq!(h.server.footprint().timers, 0);
    // Kernel reports for an allocation that is gone are ignored.
    kernel_for_gone(&mut h);
}

fn kernel_for_gone(h: &mut H) {
    let mut c = alice("203.0.113.9:1000");
    ready(h, &mut c);
    let id = h.server.allocation_of(&udp(c.addr)).unwrap();
    assert!(is_success(&c.refresh(h, Some(0))));
    let t = Traffic {
        to_peer: Counters {
            packets: 1_000,
            bytes: 10_000_000,
        },
        to_client: Counters::default(),
    };
    assert!(
        h.input(Input::KernelTraffic {
            relayed: &[(id, t)]
        })
        .is_empty()
    );
    assert_eq!(h.server.footprint().timers, 0);
}

#[test]
fn a_users_kernel_traffic_holds_the_allocation_that_carried_it() {
    let mut cfg = capped(0, 100_000);
    cfg.channel_routes = true;
    let mut h = H::with(cfg);
    let (mut a1, mut a2) = (alice("203.0.113.5:1000"), alice("203.0.113.5:1001"));
    ready(&mut h, &mut a1);
    ready(&mut h, &mut a2);
    kernel(&mut h, &a1, 40_000);
    kernel(&mut h, &a2, 40_000);
    assert_eq!(
        sets_and_clears(&h),
        (2, 1),
        "the second one took alice over"
    );
    let held = h.server.footprint().held;
    assert_eq!(held, 1);
}
