//! The generator against an echo whose behaviour is known: it drops a fixed, counted set of
//! messages and holds every answer back for a fixed time before sending it. The report must
//! show exactly that loss, and delays that match the injected delay on the leg that has it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::VecDeque;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use turn_load::clock::now_ns;
use turn_load::flows::{self, Target};
use turn_load::payload::{Probe, stamp_peer};
use turn_load::{Plan, drive};

/// An echo on `count` sockets that drops every message whose sequence number is
/// `≡ drop_at (mod drop_every)` and answers the rest `delay` after they arrived.
struct ImpairedEcho {
    socks: Vec<UdpSocket>,
    drop_every: u64,
    drop_at: u64,
    delay: Duration,
    dropped: AtomicU64,
}

impl ImpairedEcho {
    fn new(count: usize, drop_every: u64, drop_at: u64, delay: Duration) -> ImpairedEcho {
        let socks = (0..count)
            .map(|_| {
                let s = UdpSocket::bind("127.0.0.1:0").unwrap();
                s.set_nonblocking(true).unwrap();
                s
            })
            .collect();
        ImpairedEcho {
            socks,
            drop_every,
            drop_at,
            delay,
            dropped: AtomicU64::new(0),
        }
    }

    fn addrs(&self) -> Vec<SocketAddr> {
        self.socks.iter().map(|s| s.local_addr().unwrap()).collect()
    }

    /// Echoes until `stop`; stamps on arrival, sends after the delay.
    fn run(&self, stop: &AtomicBool) {
        let mut queue: VecDeque<(Instant, usize, SocketAddr, Vec<u8>)> = VecDeque::new();
        let mut buf = [0u8; 2048];
        while !stop.load(Ordering::Relaxed) {
            let mut idle = true;
            for (i, s) in self.socks.iter().enumerate() {
                while let Ok((n, from)) = s.recv_from(&mut buf) {
                    idle = false;
                    let mut d = buf[..n].to_vec();
                    let p = Probe::read(&d).expect("the generator's payload");
                    if p.seq % self.drop_every == self.drop_at {
                        self.dropped.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    assert!(stamp_peer(&mut d, now_ns()));
                    queue.push_back((Instant::now() + self.delay, i, from, d));
                }
            }
            while queue
                .front()
                .is_some_and(|(due, ..)| *due <= Instant::now())
            {
                let (_, i, to, d) = queue.pop_front().unwrap();
                self.socks[i].send_to(&d, to).unwrap();
                idle = false;
            }
            if idle {
                std::thread::sleep(Duration::from_micros(100));
            }
        }
    }
}

fn drive_through(echo: &ImpairedEcho, plan: &Plan) -> turn_load::Report {
    let flows = flows::open(&Target::Direct, "127.0.0.1".parse().unwrap(), &echo.addrs()).unwrap();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| echo.run(&stop));
        let r = drive::run(&flows, plan).unwrap();
        stop.store(true, Ordering::Relaxed);
        r
    })
}

fn plan(rate: f64, millis: u64) -> Plan {
    Plan {
        duration: Duration::from_millis(millis),
        drain: Duration::from_millis(400),
        ..Plan::at_rate(rate)
    }
}

#[test]
fn reports_exactly_the_injected_loss() {
    // Every 50th message of each flow (seq 7, 57, 107, ...): 2% loss.
    let echo = ImpairedEcho::new(8, 50, 7, Duration::ZERO);
    let r = drive_through(&echo, &plan(4_000.0, 1_000));
    let dropped = echo.dropped.load(Ordering::Relaxed);
    assert!(r.sent > 3_500, "sent only {}", r.sent);
    assert!(dropped > 0);
    assert_eq!(r.lost, dropped, "{}", r.summary());
    assert_eq!(r.received, r.sent - dropped);
    assert_eq!((r.duplicates, r.misrouted), (0, 0));
    // Exactly the messages at those sequence numbers went missing: 1 in 50 of each flow.
    let per_flow = r.sent / 8;
    let expected = 8 * (per_flow / 50) as i64;
    assert!(
        (dropped as i64 - expected).abs() <= 16,
        "dropped {dropped}, about {expected} expected"
    );
}

#[test]
fn measures_the_injected_delay_on_its_leg() {
    let delay = Duration::from_millis(20);
    let echo = ImpairedEcho::new(4, u64::MAX, u64::MAX - 1, delay);
    let r = drive_through(&echo, &plan(2_000.0, 800));
    assert_eq!(r.lost, 0, "{}", r.summary());
    assert_eq!(r.to_client.count, r.received);
    let injected_us = delay.as_secs_f64() * 1e6;
    // The way back carries the delay (plus scheduling); the way out does not.
    assert!(r.to_client.p50_us >= injected_us, "{:?}", r.to_client);
    assert!(
        r.to_client.p50_us < injected_us + 5_000.0,
        "{:?}",
        r.to_client
    );
    assert!(
        r.to_client.p99_us < injected_us + 15_000.0,
        "{:?}",
        r.to_client
    );
    assert!(r.to_peer.p50_us < 5_000.0, "{:?}", r.to_peer);
    assert!(r.round_trip.p50_us >= injected_us);
    assert!(r.round_trip.p50_us < r.to_peer.p50_us + r.to_client.p50_us + 2_000.0);
}

#[test]
fn a_silent_peer_loses_everything_and_nothing_is_invented() {
    // Drops every message.
    let echo = ImpairedEcho::new(3, 1, 0, Duration::ZERO);
    let r = drive_through(&echo, &plan(1_000.0, 300));
    assert!(r.sent > 0);
    assert_eq!((r.received, r.lost), (0, r.sent));
    assert_eq!(r.one_way.count, 0);
}

#[test]
fn the_echo_peer_answers_bursts_with_gso_and_loses_nothing() {
    let echo = turn_load::echo::Echo::bind("127.0.0.1".parse().unwrap(), 4, true).unwrap();
    let flows = flows::open(
        &Target::Direct,
        "127.0.0.1".parse().unwrap(),
        &echo.addrs().unwrap(),
    )
    .unwrap();
    let r = echo
        .serve(|| drive::run(&flows, &plan(4_000.0, 500)))
        .unwrap();
    let stats = echo.stats();
    assert!(r.sent > 1_500, "{}", r.summary());
    assert_eq!(
        (r.lost, r.duplicates, r.misrouted),
        (0, 0, 0),
        "{}",
        r.summary()
    );
    assert_eq!(stats.echoed, r.sent);
    // Bursts of 4 arrive together often enough that some go back as one GSO send.
    assert!(
        stats.gso_sends > 0 && stats.gso_datagrams >= 2 * stats.gso_sends,
        "{stats:?}"
    );
    assert_eq!(r.one_way.count, 2 * r.received);
}
