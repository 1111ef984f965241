//! What relaying one datagram costs in the core, with and without bandwidth caps, in both
//! directions (a client's ChannelData to its peer; a peer's datagram framed for the client).
//! The variants take turns round after round (so a busy machine slows them alike) and the
//! table gives each one's median and fastest round (interference only adds time, so on a
//! shared machine the fastest round is the steadier figure), and their difference to the
//! core without caps. Metrics add
//! nothing here: a scrape reads the per-allocation counters this path keeps anyway.
//!
//! `cargo bench -p relay-proto --bench forward`; figures in docs/relay.md.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    dead_code,
    clippy::wrong_self_convention
)] // test code: a panic is a failure report

#[path = "../tests/core/harness.rs"]
mod harness;

use std::hint::black_box;
use std::time::{Duration, Instant};

use harness::*;
use relay_proto::{AllocId, Client, Forward, HEADROOM, Input, Rate, TAILROOM, Transport};

const PEER: &str = "127.0.0.1:40000";
const CH: u16 = 0x4001;
const PAYLOAD: usize = 200;
/// A cap no load here reaches: every check runs, nothing is dropped.
const HIGH: u64 = 1_000_000_000_000;
const ROUNDS: usize = 41;
const PER_ROUND: u32 = 100_000;

/// One core with one allocation and a bound channel.
struct Setup {
    name: &'static str,
    h: H,
    client: Client,
    alloc: AllocId,
    peer: std::net::SocketAddr,
    frame: Vec<u8>,
    buf: Vec<u8>,
}

impl Setup {
    fn new(name: &'static str, per_allocation: u64, per_user: u64) -> Setup {
        let mut cfg = config();
        cfg.bandwidth.per_allocation = Rate::new(per_allocation);
        cfg.bandwidth.per_user = Rate::new(per_user);
        let mut h = H::with(cfg);
        let mut a = C::new(
            "203.0.113.5:1000",
            Creds::LongTerm("alice".into(), "secret".into()),
        );
        assert!(is_success(&a.allocate(&mut h, Some(3600))));
        assert!(is_success(&a.bind(&mut h, CH, addr(PEER))));
        let client = Client {
            transport: Transport::Udp,
            addr: a.addr,
        };
        let alloc = h.server.allocation_of(&client).unwrap();
        Setup {
            name,
            h,
            client,
            alloc,
            peer: addr(PEER),
            frame: channel_data(CH, &[7; PAYLOAD]),
            buf: vec![7u8; HEADROOM + PAYLOAD + TAILROOM],
        }
    }

    fn to_peer(&mut self) -> bool {
        let input = Input::FromClient {
            client: self.client,
            data: black_box(&self.frame),
        };
        matches!(
            self.h.server.handle_input(self.h.now, input),
            Some(Forward::ToPeer { .. })
        )
    }

    fn to_client(&mut self) -> bool {
        let input = Input::FromPeer {
            alloc: self.alloc,
            peer: self.peer,
            buf: black_box(&mut self.buf),
            start: HEADROOM,
            len: PAYLOAD,
        };
        matches!(
            self.h.server.handle_input(self.h.now, input),
            Some(Forward::ToClient { .. })
        )
    }
}

/// One direction of relaying: true when the datagram was relayed.
type Relay = fn(&mut Setup) -> bool;

/// Nanoseconds per call of `f`, over one round.
fn round(s: &mut Setup, f: Relay) -> f64 {
    let start = Instant::now();
    let mut ok = 0u32;
    for _ in 0..PER_ROUND {
        ok += u32::from(f(s));
    }
    assert_eq!(ok, PER_ROUND, "{}: a datagram was not relayed", s.name);
    start.elapsed().as_nanos() as f64 / f64::from(PER_ROUND)
}

/// Median and minimum.
fn stats(v: &mut [f64]) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0])
}

fn main() {
    let mut setups = [
        Setup::new("no caps", 0, 0),
        Setup::new("allocation cap", HIGH, 0),
        Setup::new("allocation and user caps", HIGH, HIGH),
    ];
    let directions: [(&str, Relay); 2] = [
        ("client to peer", Setup::to_peer),
        ("peer to client", Setup::to_client),
    ];
    let mut samples = vec![vec![]; setups.len() * directions.len()];
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_millis(500) {
        for s in &mut setups {
            round(s, Setup::to_peer);
        }
    }
    for _ in 0..ROUNDS {
        for (i, s) in setups.iter_mut().enumerate() {
            for (j, (_, f)) in directions.iter().enumerate() {
                samples[i * directions.len() + j].push(round(s, *f));
            }
        }
    }
    for s in &setups {
        let st = s.h.server.stats();
        assert_eq!(st.dropped_allocation_cap, Default::default(), "{}", s.name);
        assert_eq!(st.dropped_user_cap, Default::default(), "{}", s.name);
    }
    println!(
        "relay-proto: one {PAYLOAD}-byte datagram through the core, {ROUNDS} interleaved rounds of {PER_ROUND}"
    );
    println!(
        "{:<16} {:<26} {:>12} {:>14} {:>10} {:>14}",
        "direction", "caps", "median ns", "vs no caps", "fastest", "vs no caps"
    );
    for (j, (dir, _)) in directions.iter().enumerate() {
        let (base, base_min) = stats(&mut samples[j]);
        for (i, s) in setups.iter().enumerate() {
            let (m, min) = stats(&mut samples[i * directions.len() + j]);
            println!(
                "{:<16} {:<26} {:>12.1} {:>+11.1} ns {:>10.1} {:>+11.1} ns",
                dir,
                s.name,
                m,
                m - base,
                min,
                min - base_min
            );
        }
    }
}
