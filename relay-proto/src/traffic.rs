//! What an allocation relayed: packets and payload bytes each way, without TURN's framing
//! (the ChannelData header, the Data or Send indication around the payload).
//!
//! The core counts what it forwards on the sockets path; a driver with a kernel fast path
//! adds what the kernel carried for the same allocation, so usage records and metrics see
//! one figure per allocation whichever path a datagram took.

use core::ops::{Add, AddAssign};

/// Packets and payload bytes one direction carried.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Counters {
    /// Datagrams.
    pub packets: u64,
    /// Payload bytes.
    pub bytes: u64,
}

impl Counters {
    /// One more datagram of `len` payload bytes.
    pub fn count(&mut self, len: usize) {
        self.packets += 1;
        self.bytes += len as u64;
    }
}

impl AddAssign for Counters {
    fn add_assign(&mut self, o: Counters) {
        self.packets += o.packets;
        self.bytes += o.bytes;
    }
}

/// Both directions of one allocation (or of many, summed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Traffic {
    /// Client to peer.
    pub to_peer: Counters,
    /// Peer to client.
    pub to_client: Counters,
}

impl AddAssign for Traffic {
    fn add_assign(&mut self, o: Traffic) {
        self.to_peer += o.to_peer;
        self.to_client += o.to_client;
    }
}

impl Add for Traffic {
    type Output = Traffic;
    fn add(mut self, o: Traffic) -> Traffic {
        self += o;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_sums() {
        let mut a = Traffic::default();
        a.to_peer.count(200);
        a.to_peer.count(100);
        a.to_client.count(50);
        let b = Traffic {
            to_peer: Counters {
                packets: 1,
                bytes: 10,
            },
            to_client: Counters::default(),
        };
        let t = a + b;
        assert_eq!(
            t.to_peer,
            Counters {
                packets: 3,
                bytes: 310
            }
        );
        assert_eq!(
            t.to_client,
            Counters {
                packets: 1,
                bytes: 50
            }
        );
    }
}
