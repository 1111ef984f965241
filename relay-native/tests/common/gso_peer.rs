//! An echo peer that answers with UDP GSO, as coturn 4.17's `turnutils_peer`, QUIC stacks and
//! media servers do: it holds what arrives from one source until it has a batch (sizes
//! cycling from 1 to 16 datagrams) or a few milliseconds pass, then sends the batch back in
//! one `sendmsg` with a UDP_SEGMENT segment size. The kernel keeps such a send as one skb
//! with several datagrams behind one header until it reaches a socket.

use std::collections::HashMap;
use std::io::IoSliceMut;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use quinn_udp::{RecvMeta, Transmit, UdpSocketState};

/// Batch sizes, in turn per source. Small ones fit the fast path's 1472-byte limit when
/// merged (so a fast path that ignores GSO would rewrite them as one message).
const BATCHES: [usize; 9] = [1, 2, 3, 4, 5, 6, 7, 8, 16];
const HOLD: Duration = Duration::from_millis(8);

/// What the peer echoed.
#[derive(Default, Debug)]
pub struct Echoed {
    /// Datagrams sent back, in all.
    pub datagrams: AtomicU64,
    /// Datagrams sent back alone (one per sendmsg, no segment size).
    pub alone: AtomicU64,
    /// Sends that carried two or more datagrams.
    pub gso_sends: AtomicU64,
}

/// A running GSO echo peer; stops on drop.
pub struct GsoPeer {
    pub addr: SocketAddr,
    pub echoed: Arc<Echoed>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

struct Pending {
    bufs: Vec<Vec<u8>>,
    since: Instant,
    want: usize,
}

impl GsoPeer {
    /// Binds `bind` (port 0 for any), inside network namespace `netns` if given (the
    /// peer's thread enters it; the rest of the test stays where it is).
    pub fn start(bind: SocketAddr, netns: Option<&str>) -> GsoPeer {
        let stop = Arc::new(AtomicBool::new(false));
        let echoed = Arc::new(Echoed::default());
        let (tx, rx) = std::sync::mpsc::channel();
        let netns = netns.map(|n| format!("/var/run/netns/{n}"));
        let (stop2, echoed2) = (stop.clone(), echoed.clone());
        let thread = std::thread::spawn(move || {
            if let Some(path) = netns {
                let f = std::fs::File::open(&path).unwrap();
                rustix::thread::move_into_link_name_space(
                    std::os::fd::AsFd::as_fd(&f),
                    Some(rustix::thread::LinkNameSpaceType::Network),
                )
                .unwrap();
            }
            let socket = UdpSocket::bind(bind).unwrap();
            socket
                .set_read_timeout(Some(Duration::from_millis(1)))
                .unwrap();
            // One socket takes every allocation's traffic: room for a scheduling hiccup of
            // the test process, as a real media server would have.
            socket2::SockRef::from(&socket)
                .set_recv_buffer_size(4 << 20)
                .unwrap();
            tx.send(socket.local_addr().unwrap()).unwrap();
            echo(&socket, &stop2, &echoed2);
        });
        let addr = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        GsoPeer {
            addr,
            echoed,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for GsoPeer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn echo(socket: &UdpSocket, stop: &AtomicBool, echoed: &Echoed) {
    let state = UdpSocketState::new(socket.into()).unwrap();
    assert!(
        state.max_gso_segments() > 1,
        "this kernel cannot send with UDP GSO"
    );
    let mut pending: HashMap<SocketAddr, Pending> = HashMap::new();
    let mut turn = 0usize;
    let mut buf = vec![0u8; 65_536];
    let mut meta = [RecvMeta::default()];
    while !stop.load(Ordering::Relaxed) {
        // quinn-udp turned UDP_GRO on: one receive may hold several datagrams of one size
        // (`stride` apart) that a sender's GSO or the kernel's GRO kept together.
        let got = state
            .recv(socket.into(), &mut [IoSliceMut::new(&mut buf)], &mut meta)
            .is_ok_and(|n| n == 1);
        let datagrams: Vec<(SocketAddr, Vec<u8>)> = if got {
            let (len, stride, from) = (meta[0].len, meta[0].stride.max(1), meta[0].addr);
            buf[..len]
                .chunks(stride)
                .map(|d| (from, d.to_vec()))
                .collect()
        } else {
            Vec::new()
        };
        for (from, d) in datagrams {
            let n = d.len();
            // GSO segments share one size (the last may be shorter): a datagram of another
            // size ends the batch before it.
            if pending
                .get(&from)
                .is_some_and(|p| p.bufs.first().is_some_and(|b| b.len() != n))
            {
                let p = pending.remove(&from).unwrap();
                send(socket, &state, from, &p.bufs, echoed);
            }
            let p = pending.entry(from).or_insert_with(|| {
                turn += 1;
                Pending {
                    bufs: Vec::new(),
                    since: Instant::now(),
                    want: BATCHES[turn % BATCHES.len()],
                }
            });
            p.bufs.push(d);
            if p.bufs.len() >= p.want {
                let p = pending.remove(&from).unwrap();
                send(socket, &state, from, &p.bufs, echoed);
            }
        }
        let due: Vec<SocketAddr> = pending
            .iter()
            .filter(|(_, p)| p.since.elapsed() >= HOLD)
            .map(|(a, _)| *a)
            .collect();
        for a in due {
            let p = pending.remove(&a).unwrap();
            send(socket, &state, a, &p.bufs, echoed);
        }
    }
}

fn send(socket: &UdpSocket, state: &UdpSocketState, to: SocketAddr, bufs: &[Vec<u8>], e: &Echoed) {
    let Some(first) = bufs.first() else { return };
    let contents = bufs.concat();
    let segment_size = (bufs.len() > 1).then_some(first.len());
    let t = Transmit {
        destination: to,
        ecn: None,
        contents: &contents,
        segment_size,
        src_ip: None,
    };
    // The socket is blocking (with a read timeout), so a full buffer waits rather than drops.
    state.try_send(socket.into(), &t).unwrap();
    let n = bufs.len() as u64;
    e.datagrams.fetch_add(n, Ordering::Relaxed);
    if n == 1 {
        e.alone.fetch_add(1, Ordering::Relaxed);
    } else {
        e.gso_sends.fetch_add(1, Ordering::Relaxed);
    }
}
