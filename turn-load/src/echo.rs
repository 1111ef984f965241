//! The echo peer: one socket per allocation (coturn's `--multiplex-peer` routes by the peer's
//! exact address, so allocations must not share one), each answering whatever reaches it to
//! where it came from, stamped with the time it arrived.
//!
//! Receives are batched (`recvmmsg`); a batch of equal-sized datagrams goes back in one UDP
//! GSO `sendmsg` when GSO is on (what coturn 4.17's peer, QUIC stacks and media servers do), or
//! in one `sendmmsg`. A socket connects to the first address it hears from, so its replies
//! need no per-datagram address and datagrams from anyone else are not answered.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::now_ns;
use crate::payload::stamp_peer;
use crate::udp::{self, BATCH, Readiness, RecvBatch, SendBatch};

/// What the echo peer did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EchoStats {
    /// Datagrams received.
    pub received: u64,
    /// Datagrams sent back.
    pub echoed: u64,
    /// GSO sends and the datagrams they carried.
    pub gso_sends: u64,
    /// Datagrams that went out in GSO sends.
    pub gso_datagrams: u64,
    /// Sends the kernel refused (counted in datagrams).
    pub send_failures: u64,
}

#[derive(Default)]
struct Counters {
    received: AtomicU64,
    echoed: AtomicU64,
    gso_sends: AtomicU64,
    gso_datagrams: AtomicU64,
    send_failures: AtomicU64,
}

/// An echo peer of `count` sockets.
pub struct Echo {
    socks: Vec<UdpSocket>,
    gso: bool,
    counters: Counters,
}

impl Echo {
    /// Binds `count` sockets on `ip` (ephemeral ports); `gso`: answer batches with UDP GSO.
    pub fn bind(ip: IpAddr, count: usize, gso: bool) -> io::Result<Echo> {
        Ok(Echo {
            socks: (0..count)
                .map(|_| udp::bind(ip))
                .collect::<io::Result<_>>()?,
            gso,
            counters: Counters::default(),
        })
    }

    /// The sockets' addresses, one per allocation.
    pub fn addrs(&self) -> io::Result<Vec<SocketAddr>> {
        self.socks.iter().map(UdpSocket::local_addr).collect()
    }

    /// Echoes on a thread of its own while `f` runs; returns what `f` returned.
    pub fn serve<T>(&self, f: impl FnOnce() -> T) -> T {
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let echo = scope.spawn(|| self.run(&stop));
            let out = f();
            stop.store(true, Ordering::Relaxed);
            if let Ok(Err(e)) = echo.join() {
                eprintln!("turn-load: echo peer stopped: {e}");
            }
            out
        })
    }

    /// What it did so far.
    pub fn stats(&self) -> EchoStats {
        let c = &self.counters;
        EchoStats {
            received: c.received.load(Ordering::Relaxed),
            echoed: c.echoed.load(Ordering::Relaxed),
            gso_sends: c.gso_sends.load(Ordering::Relaxed),
            gso_datagrams: c.gso_datagrams.load(Ordering::Relaxed),
            send_failures: c.send_failures.load(Ordering::Relaxed),
        }
    }

    fn run(&self, stop: &AtomicBool) -> io::Result<()> {
        let mut ready = Readiness::new(&self.socks)?;
        let mut batch = RecvBatch::default();
        let mut send = SendBatch::default();
        let mut connected = vec![false; self.socks.len()];
        let mut readable = Vec::with_capacity(self.socks.len());
        while !stop.load(Ordering::Relaxed) {
            readable.clear();
            readable.extend(ready.wait(Duration::from_millis(5))?);
            for &i in &readable {
                let (Some(sock), Some(conn)) = (self.socks.get(i), connected.get_mut(i)) else {
                    continue;
                };
                self.drain(sock, conn, &mut batch, &mut send);
            }
        }
        Ok(())
    }

    /// Answers everything waiting on `sock`.
    fn drain(
        &self,
        sock: &UdpSocket,
        connected: &mut bool,
        batch: &mut RecvBatch,
        send: &mut SendBatch,
    ) {
        loop {
            // An error is an ICMP error for an earlier reply (the client went away).
            let n = batch.recv(sock).unwrap_or_default();
            if n == 0 {
                return;
            }
            self.counters
                .received
                .fetch_add(n as u64, Ordering::Relaxed);
            let now = now_ns();
            for j in 0..n {
                if let Some((d, from)) = batch.get_mut(j) {
                    stamp_peer(d, now);
                    if !*connected && let Some(from) = from {
                        *connected = sock.connect(from).is_ok();
                    }
                }
            }
            self.reply(sock, batch, send);
            if n < BATCH {
                return;
            }
        }
    }

    /// Sends the batch back: runs of equal-sized datagrams with GSO, the rest with sendmmsg.
    fn reply(&self, sock: &UdpSocket, batch: &RecvBatch, send: &mut SendBatch) {
        let frames: [&[u8]; BATCH] =
            std::array::from_fn(|j| batch.get(j).map(|(d, _)| d).unwrap_or_default());
        let all = frames.get(..batch.len()).unwrap_or_default();
        let mut start = 0;
        while start < all.len() {
            let size = all.get(start).map_or(0, |f| f.len());
            let run = all
                .get(start..)
                .unwrap_or_default()
                .iter()
                .take_while(|f| f.len() == size)
                .count()
                .max(1);
            let part = all.get(start..start + run).unwrap_or_default();
            self.send(sock, part, send);
            start += run;
        }
    }

    fn send(&self, sock: &UdpSocket, part: &[&[u8]], send: &mut SendBatch) {
        let c = &self.counters;
        let n = part.len() as u64;
        if self.gso && part.len() > 1 {
            match udp::send_gso(sock, part) {
                Ok(()) => {
                    c.gso_sends.fetch_add(1, Ordering::Relaxed);
                    c.gso_datagrams.fetch_add(n, Ordering::Relaxed);
                    c.echoed.fetch_add(n, Ordering::Relaxed);
                }
                Err(_) => {
                    c.send_failures.fetch_add(n, Ordering::Relaxed);
                }
            }
            return;
        }
        let sent = send.send(sock, part).unwrap_or(0) as u64;
        c.echoed.fetch_add(sent, Ordering::Relaxed);
        c.send_failures.fetch_add(n - sent, Ordering::Relaxed);
    }
}
