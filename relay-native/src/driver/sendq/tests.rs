//! The queue against real loopback sockets: every datagram arrives whole, once, in the order
//! it was queued, whatever runs GSO made of them.

use std::net::{SocketAddr, UdpSocket as StdUdp};
use std::rc::Rc;
use std::time::Duration;

use super::{CAPACITY, GSO_MAX_SEGMENT, SendQueue, UdpSock};

fn bound() -> StdUdp {
    let s = StdUdp::bind("127.0.0.1:0").expect("bind");
    s.set_nonblocking(true).expect("nonblocking");
    s
}

/// A receiver without UDP_GRO: it sees each datagram on its own, as a client would.
fn receiver() -> (StdUdp, SocketAddr) {
    let r = StdUdp::bind("127.0.0.1:0").expect("bind");
    r.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let addr = r.local_addr().expect("addr");
    (r, addr)
}

fn receive(r: &StdUdp, n: usize) -> Vec<Vec<u8>> {
    let mut buf = vec![0u8; 70_000];
    (0..n)
        .map(|_| {
            let (len, _) = r.recv_from(&mut buf).expect("a datagram");
            buf[..len].to_vec()
        })
        .collect()
}

/// `len` bytes that say which datagram they are.
fn datagram(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| (i * 31 + j) as u8).collect()
}

#[tokio::test(flavor = "current_thread")]
async fn equal_datagrams_to_one_destination_become_one_message() {
    let via = UdpSock::new(bound()).expect("socket");
    let (r, to) = receiver();
    let mut q = SendQueue::new();
    let sent: Vec<_> = (0..4).map(|i| datagram(i, 204)).collect();
    for d in &sent {
        q.push(&via, to, d);
    }
    // A shorter one may end the run; nothing may follow it.
    let last = datagram(9, 100);
    q.push(&via, to, &last);
    q.push(&via, to, &datagram(10, 100));
    let gso = via.state.max_gso_segments() > 1;
    assert_eq!(q.messages.len(), if gso { 2 } else { 6 });
    q.send();
    let mut want = sent.clone();
    want.push(last);
    want.push(datagram(10, 100));
    assert_eq!(receive(&r, 6), want);
}

#[tokio::test(flavor = "current_thread")]
async fn order_is_kept_across_destinations_sockets_and_sizes() {
    let a = UdpSock::new(bound()).expect("socket");
    let b = UdpSock::new(bound()).expect("socket");
    let (r1, to1) = receiver();
    let (r2, to2) = receiver();
    let mut q = SendQueue::new();
    let mut want1 = Vec::new();
    let mut want2 = Vec::new();
    // Interleaved destinations and sockets, runs broken by a larger datagram, datagrams too
    // large to join a run, and an empty one.
    let plan: Vec<(usize, &Rc<UdpSock>, usize)> = vec![
        (1, &a, 300),
        (1, &a, 300),
        (2, &a, 300),
        (1, &a, 300),
        (1, &b, 300),
        (1, &a, 400),
        (1, &a, GSO_MAX_SEGMENT + 1),
        (1, &a, GSO_MAX_SEGMENT + 1),
        (2, &b, 0),
        (2, &b, 50),
        (2, &b, 50),
    ];
    for (i, (dest, via, len)) in plan.into_iter().enumerate() {
        let d = datagram(i, len);
        let (to, want) = if dest == 1 {
            (to1, &mut want1)
        } else {
            (to2, &mut want2)
        };
        q.push(via, to, &d);
        want.push(d);
    }
    q.send();
    assert_eq!(receive(&r1, want1.len()), want1);
    assert_eq!(receive(&r2, want2.len()), want2);
}

#[tokio::test(flavor = "current_thread")]
async fn more_messages_than_the_queue_holds_go_in_order() {
    let via = UdpSock::new(bound()).expect("socket");
    let (r1, to1) = receiver();
    let (r2, to2) = receiver();
    let mut q = SendQueue::with_limits(CAPACITY, 8);
    // Alternating destinations: every datagram is a message of its own.
    let all: Vec<_> = (0..30).map(|i| datagram(i, 100)).collect();
    for (i, d) in all.iter().enumerate() {
        q.push(&via, if i % 2 == 0 { to1 } else { to2 }, d);
        assert!(q.messages.len() <= 8);
    }
    q.send();
    let (even, odd): (Vec<_>, Vec<_>) = all.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
    let strip = |v: Vec<(usize, Vec<u8>)>| v.into_iter().map(|(_, d)| d).collect::<Vec<_>>();
    assert_eq!(receive(&r1, 15), strip(even));
    assert_eq!(receive(&r2, 15), strip(odd));
}

#[tokio::test(flavor = "current_thread")]
async fn more_bytes_than_the_queue_holds_are_sent_first_without_growing_it() {
    let via = UdpSock::new(bound()).expect("socket");
    let (r, to) = receiver();
    let mut q = SendQueue::with_limits(4_096, 64);
    // Runs of 1,000-byte datagrams: four fit, the fifth sends them first.
    let all: Vec<_> = (0..9).map(|i| datagram(i, 1_000)).collect();
    for (i, d) in all.iter().enumerate() {
        q.push(&via, to, d);
        assert!(q.bytes.len() <= 4_096);
        if i == 4 {
            assert_eq!(receive(&r, 4), all[..4].to_vec());
        }
    }
    // Larger than the whole queue: sent on its own, after what was queued.
    let huge = datagram(99, 5_000);
    q.push(&via, to, &huge);
    assert!(q.messages.is_empty());
    let mut rest = all[4..].to_vec();
    rest.push(huge);
    assert_eq!(receive(&r, 6), rest);
    assert_eq!(q.bytes.capacity(), 4_096);
}
