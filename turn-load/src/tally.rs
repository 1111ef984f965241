//! Counting what came back: which sequence numbers of which flow (so loss is exact and
//! duplicates are not mistaken for deliveries) and each packet's delay on both legs.

use crate::payload::Probe;

/// Everything received during one run.
#[derive(Debug, Default)]
pub struct Tally {
    run: u32,
    /// Per flow, a bit per sequence number seen.
    seen: Vec<Vec<u64>>,
    /// Distinct payloads of this run that came back to the flow that sent them.
    pub received: u64,
    /// Payloads seen a second time.
    pub duplicates: u64,
    /// Payloads that came back to another flow's socket (a relay routing wrongly).
    pub misrouted: u64,
    /// Payloads of an earlier run (late arrivals).
    pub stale: u64,
    /// Datagrams that are not ours (or not on our channel).
    pub foreign: u64,
    /// Client send to echo peer receipt, per packet, in ns.
    pub to_peer: Vec<u64>,
    /// Echo peer receipt to client receipt, per packet, in ns.
    pub to_client: Vec<u64>,
    /// Client send to client receipt, per packet, in ns.
    pub round_trip: Vec<u64>,
}

impl Tally {
    /// An empty tally for run `run` over `flows` flows.
    pub fn new(run: u32, flows: usize) -> Tally {
        Tally {
            run,
            seen: vec![Vec::new(); flows],
            ..Tally::default()
        }
    }

    /// Counts `payload`, received by flow `flow` at `now_ns` (None: not ours).
    pub fn record(&mut self, flow: usize, payload: Option<&[u8]>, now_ns: u64) {
        let Some(p) = payload.and_then(Probe::read) else {
            self.foreign += 1;
            return;
        };
        if p.run != self.run {
            self.stale += 1;
            return;
        }
        if usize::try_from(p.flow).ok() != Some(flow) {
            self.misrouted += 1;
            return;
        }
        let Some(bits) = self.seen.get_mut(flow) else {
            self.foreign += 1;
            return;
        };
        let (word, bit) = ((p.seq / 64) as usize, p.seq % 64);
        if bits.len() <= word {
            bits.resize(word + 1, 0);
        }
        if let Some(w) = bits.get_mut(word) {
            if *w & (1 << bit) != 0 {
                self.duplicates += 1;
                return;
            }
            *w |= 1 << bit;
        }
        self.received += 1;
        self.round_trip.push(now_ns.saturating_sub(p.sent_ns));
        if p.peer_ns != 0 && p.sent_ns <= p.peer_ns && p.peer_ns <= now_ns {
            self.to_peer.push(p.peer_ns - p.sent_ns);
            self.to_client.push(now_ns - p.peer_ns);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(run: u32, flow: u32, seq: u64, sent: u64, peer: u64) -> Vec<u8> {
        let mut b = vec![0u8; 64];
        Probe {
            run,
            flow,
            seq,
            sent_ns: sent,
            peer_ns: peer,
        }
        .write(&mut b);
        b
    }

    #[test]
    fn counts_each_kind_once() {
        let mut t = Tally::new(2, 2);
        t.record(0, Some(&probe(2, 0, 0, 100, 150)), 300);
        t.record(0, Some(&probe(2, 0, 0, 100, 150)), 310); // duplicate
        t.record(0, Some(&probe(2, 0, 200, 100, 0)), 400); // unstamped, far seq
        t.record(1, Some(&probe(2, 0, 1, 100, 150)), 300); // wrong flow
        t.record(1, Some(&probe(1, 1, 0, 100, 150)), 300); // earlier run
        t.record(
            1,
            Some(b"not ours at all, but long enough to read........"),
            300,
        );
        t.record(1, None, 300);
        assert_eq!(
            (t.received, t.duplicates, t.misrouted, t.stale, t.foreign),
            (2, 1, 1, 1, 2)
        );
        assert_eq!(t.to_peer, vec![50]);
        assert_eq!(t.to_client, vec![150]);
        assert_eq!(t.round_trip, vec![200, 300]);
    }
}
