//! Driving the flows at a set rate: a paced sender on this thread (each allocation's burst in
//! one `sendmmsg`) and a receiver thread (`recvmmsg` on whatever epoll says is readable).

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::sys::resource::{UsageWho, getrusage};

use crate::clock::now_ns;
use crate::flows::Flow;
use crate::payload::{MIN_LEN, Probe};
use crate::report::Report;
use crate::tally::Tally;
use crate::udp::{BATCH, MAX_DATAGRAM, Readiness, RecvBatch, SendBatch};

/// The sender wakes this often and sends what is due.
const TICK: Duration = Duration::from_micros(500);

/// One fixed-rate run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Messages per second from the clients (all flows together).
    pub rate: f64,
    /// How long to send.
    pub duration: Duration,
    /// Payload bytes (at least `payload::MIN_LEN`).
    pub payload: usize,
    /// Messages an allocation sends back to back (a media frame's packets), at most `BATCH`.
    pub burst: usize,
    /// How long to wait for echoes after the last send; later ones count as lost.
    pub drain: Duration,
    /// Run number written into every payload (late packets of other runs are not counted).
    pub run: u32,
}

impl Plan {
    /// 5 s at `rate` messages/s, 200-byte payloads in bursts of 4, 500 ms to drain.
    pub fn at_rate(rate: f64) -> Plan {
        Plan {
            rate,
            duration: Duration::from_secs(5),
            payload: 200,
            burst: 4,
            drain: Duration::from_millis(500),
            run: 1,
        }
    }
}

/// Drives `flows` as `plan` says; the report counts every message.
pub fn run(flows: &[Flow], plan: &Plan) -> io::Result<Report> {
    if flows.is_empty() || plan.rate.is_nan() || plan.rate <= 0.0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no flows or no rate",
        ));
    }
    let payload = plan.payload.clamp(MIN_LEN, MAX_DATAGRAM - 4);
    let burst = plan.burst.clamp(1, BATCH);
    let mut ready = Readiness::new(flows.iter().map(|f| &f.sock))?;
    let cpu0 = cpu_seconds();
    let stop = AtomicBool::new(false);
    let (sent, tally) = std::thread::scope(|scope| {
        let receiver = scope.spawn(|| receive(flows, &mut ready, plan.run, &stop));
        let sent = send(flows, plan, payload, burst);
        std::thread::sleep(plan.drain);
        stop.store(true, Ordering::Relaxed);
        let tally = receiver
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("receiver panicked")));
        (sent, tally)
    });
    let (sent, failures, seconds) = sent;
    let mut report = Report::new(plan.rate, seconds, sent, failures, tally?);
    report.flows = flows.len();
    report.cpu_seconds = cpu_seconds() - cpu0;
    Ok(report)
}

/// Paced sending: (messages sent, messages refused, seconds spent sending).
fn send(flows: &[Flow], plan: &Plan, payload: usize, burst: usize) -> (u64, u64, f64) {
    let mut frames = vec![vec![0u8; 4 + payload]; burst];
    let mut batch = SendBatch::default();
    let mut seq = vec![0u64; flows.len()];
    let (mut attempted, mut sent, mut refused) = (0u64, 0u64, 0u64);
    let mut cursor = 0usize;
    let start = Instant::now();
    let mut tick = start;
    while tick < start + plan.duration {
        let due = (plan.rate * tick.duration_since(start).as_secs_f64()) as u64;
        while attempted < due {
            let Some(flow) = flows.get(cursor) else {
                cursor = 0;
                continue;
            };
            let k = burst.min((due - attempted) as usize);
            let next = seq.get(cursor).copied().unwrap_or(0);
            let len = flow.header_len() + payload;
            for (j, frame) in frames.iter_mut().take(k).enumerate() {
                flow.write_header(frame, payload as u16);
                let probe = Probe {
                    run: plan.run,
                    flow: cursor as u32,
                    seq: next + j as u64,
                    sent_ns: now_ns(),
                    peer_ns: 0,
                };
                probe.write(frame.get_mut(flow.header_len()..).unwrap_or_default());
            }
            let out: [&[u8]; BATCH] = std::array::from_fn(|j| {
                frames.get(j).and_then(|f| f.get(..len)).unwrap_or_default()
            });
            let n = batch
                .send(&flow.sock, out.get(..k).unwrap_or_default())
                .unwrap_or(0) as u64;
            if let Some(s) = seq.get_mut(cursor) {
                *s += n;
            }
            attempted += k as u64;
            sent += n;
            refused += k as u64 - n;
            cursor = (cursor + 1) % flows.len();
        }
        tick += TICK;
        if let Some(wait) = tick.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    (sent, refused, start.elapsed().as_secs_f64())
}

/// Receives until `stop`, counting into a tally.
fn receive(
    flows: &[Flow],
    ready: &mut Readiness,
    run: u32,
    stop: &AtomicBool,
) -> io::Result<Tally> {
    let mut tally = Tally::new(run, flows.len());
    let mut batch = RecvBatch::default();
    let mut readable = Vec::with_capacity(flows.len());
    while !stop.load(Ordering::Relaxed) {
        readable.clear();
        readable.extend(ready.wait(Duration::from_millis(5))?);
        for &i in &readable {
            let Some(flow) = flows.get(i) else { continue };
            loop {
                // An error here is an ICMP error for an earlier send (nothing listening yet).
                let n = batch.recv(&flow.sock).unwrap_or(0);
                let now = now_ns();
                for j in 0..n {
                    tally.record(i, batch.get(j).and_then(|(d, _)| flow.payload(d)), now);
                }
                if n < BATCH {
                    break;
                }
            }
        }
    }
    Ok(tally)
}

/// User + system CPU of this process so far.
fn cpu_seconds() -> f64 {
    getrusage(UsageWho::RUSAGE_SELF).map_or(0.0, |u| {
        let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
        t(u.user_time()) + t(u.system_time())
    })
}
