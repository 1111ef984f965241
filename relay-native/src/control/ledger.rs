//! What each token's allocations relayed, turned into usage records.
//!
//! The shards tell the ledger when an allocation with a token starts and ends, and hand it
//! each live allocation's running total (sockets and kernel fast path together) every usage
//! interval. The ledger keeps what it already reported per allocation and emits the
//! difference as a [`Record`], so a long allocation is reported in pieces and a short one in
//! one record at its end. Records are counted exactly once here; the spool and the edge's
//! cursor keep them counted once on the way (docs/control-plane.md).
//!
//! Only allocations made with a token are recorded: usage is joined to the client and user the
//! edge issued the token to. Static and REST users have nothing to join to.

use std::collections::HashMap;

use relay_proto::{Account, AllocationInfo, Traffic, Transport};
use serde::{Deserialize, Serialize};
use shared_token::{AccountKey, TokenId};

/// One piece of one allocation's usage, as spooled and sent to the edge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Position in this relay's spool: the edge applies each sequence number once.
    pub seq: u64,
    /// The token the allocation was made with.
    pub token_id: String,
    /// The account the token is charged to (16 base64url characters), when it names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// How the client reached the relay: `udp` or `tcp`.
    pub transport: String,
    /// Unix second the allocation was made.
    pub start: u64,
    /// Unix second it ended, in its last record.
    pub end: Option<u64>,
    /// Unix second this piece was measured (the edge files it under that UTC day).
    pub at: u64,
    /// True in the allocation's first record: the edge counts one allocation for it.
    pub first: bool,
    /// Client to peer, datagrams.
    pub to_peer_packets: u64,
    /// Client to peer, payload bytes.
    pub to_peer_bytes: u64,
    /// Peer to client, datagrams.
    pub to_client_packets: u64,
    /// Peer to client, payload bytes.
    pub to_client_bytes: u64,
}

/// Which allocation: the shard that holds it and its id there.
pub type Key = crate::link::AllocKey;

/// What the ledger needs to know of an allocation: its token and its transport.
#[derive(Clone, Copy, Debug)]
pub struct Holder {
    /// The token, for token mechanisms.
    pub token_id: Option<TokenId>,
    /// The account its token is charged to, when the token names one.
    pub account: Option<AccountKey>,
    /// How the client reaches the relay.
    pub transport: Transport,
}

impl From<&AllocationInfo> for Holder {
    fn from(i: &AllocationInfo) -> Holder {
        Holder {
            token_id: i.token_id,
            account: match i.account {
                Account::Key(k) => Some(k),
                _ => None,
            },
            transport: i.client.transport,
        }
    }
}

#[derive(Debug)]
struct Live {
    token_id: TokenId,
    account: Option<AccountKey>,
    transport: &'static str,
    start: u64,
    reported: Traffic,
    first_sent: bool,
}

/// Usage not yet handed to the spool, and what each live allocation reported so far.
#[derive(Debug)]
pub struct Ledger {
    live: HashMap<Key, Live>,
    pending: Vec<Record>,
    max_pending: usize,
    dropped: u64,
}

/// The transport's name in records.
pub fn transport_name(t: Transport) -> &'static str {
    match t {
        Transport::Udp => "udp",
        Transport::Tcp(_) => "tcp",
    }
}

fn minus(a: Traffic, b: Traffic) -> Traffic {
    let mut d = a;
    d.to_peer.packets = a.to_peer.packets.saturating_sub(b.to_peer.packets);
    d.to_peer.bytes = a.to_peer.bytes.saturating_sub(b.to_peer.bytes);
    d.to_client.packets = a.to_client.packets.saturating_sub(b.to_client.packets);
    d.to_client.bytes = a.to_client.bytes.saturating_sub(b.to_client.bytes);
    d
}

impl Ledger {
    /// An empty ledger holding at most `max_pending` records between two hand-overs to the
    /// spool (more are dropped and counted: the spool is drained every second).
    pub fn new(max_pending: usize) -> Ledger {
        Ledger {
            live: HashMap::new(),
            pending: Vec::new(),
            max_pending,
            dropped: 0,
        }
    }

    /// An allocation was made at Unix second `at`.
    pub fn created(&mut self, key: Key, info: Holder, at: u64) {
        if let Some(token_id) = info.token_id {
            self.live.insert(
                key,
                Live {
                    token_id,
                    account: info.account,
                    transport: transport_name(info.transport),
                    start: at,
                    reported: Traffic::default(),
                    first_sent: false,
                },
            );
        }
    }

    /// A live allocation's running total at `at`: records what it relayed since the last
    /// record, if anything.
    pub fn snapshot(&mut self, key: Key, total: Traffic, at: u64) {
        let Some(live) = self.live.get_mut(&key) else {
            return;
        };
        let delta = minus(total, live.reported);
        if delta == Traffic::default() {
            return;
        }
        let record = piece(live, delta, at, None);
        live.reported = total;
        live.first_sent = true;
        self.push(record);
    }

    /// An allocation ended at `at` with `total` relayed over its life: records the rest (and
    /// always something for an allocation never reported, so it is counted).
    pub fn ended(&mut self, key: Key, total: Traffic, at: u64) {
        // Not seen starting: it ended while its relay socket was being bound, and never
        // relayed anything.
        let Some(live) = self.live.remove(&key) else {
            return;
        };
        let delta = minus(total, live.reported);
        if delta == Traffic::default() && live.first_sent {
            return; // the last snapshot said it all
        }
        let record = piece(&live, delta, at, Some(at));
        self.push(record);
    }

    fn push(&mut self, r: Record) {
        if self.pending.len() >= self.max_pending {
            self.dropped += 1;
            return;
        }
        self.pending.push(r);
    }

    /// Takes the records made since the last call (their `seq` is the spool's to set).
    pub fn take(&mut self) -> Vec<Record> {
        std::mem::take(&mut self.pending)
    }

    /// Allocations with a token now.
    pub fn live(&self) -> usize {
        self.live.len()
    }

    /// Records dropped because the spool was not draining.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

fn piece(live: &Live, d: Traffic, at: u64, end: Option<u64>) -> Record {
    Record {
        seq: 0,
        token_id: live.token_id.to_string(),
        account: live.account.map(|k| k.to_string()),
        transport: live.transport.to_string(),
        start: live.start,
        end,
        at,
        first: !live.first_sent,
        to_peer_packets: d.to_peer.packets,
        to_peer_bytes: d.to_peer.bytes,
        to_client_packets: d.to_client.packets,
        to_client_bytes: d.to_client.bytes,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use relay_proto::Counters;

    fn info(token: Option<&[u8]>) -> Holder {
        Holder {
            token_id: token.map(TokenId::of),
            account: None,
            transport: Transport::Udp,
        }
    }

    fn t(up: u64, down: u64) -> Traffic {
        Traffic {
            to_peer: Counters {
                packets: up,
                bytes: up * 100,
            },
            to_client: Counters {
                packets: down,
                bytes: down * 100,
            },
        }
    }

    #[test]
    fn a_short_allocation_is_one_record_at_its_end() {
        let mut l = Ledger::new(100);
        let i = info(Some(b"tok"));
        l.created((0, 1), i, 1000);
        l.ended((0, 1), t(3, 2), 1010);
        let r = l.take();
        assert_eq!(r.len(), 1);
        assert_eq!(
            (
                r[0].start,
                r[0].end,
                r[0].first,
                r[0].to_peer_bytes,
                r[0].to_client_packets
            ),
            (1000, Some(1010), true, 300, 2)
        );
        assert_eq!(r[0].token_id, TokenId::of(b"tok").to_string());
        assert_eq!(l.live(), 0);
    }

    #[test]
    fn a_long_allocation_is_reported_in_pieces_that_add_up() {
        let mut l = Ledger::new(100);
        let i = info(Some(b"tok"));
        l.created((1, 7), i, 1000);
        l.snapshot((1, 7), t(5, 5), 1060);
        l.snapshot((1, 7), t(5, 5), 1120); // nothing new: no record
        l.snapshot((1, 7), t(9, 6), 1180);
        l.ended((1, 7), t(9, 6), 1200); // nothing since: no record
        let r = l.take();
        assert_eq!(r.len(), 2);
        assert!(r[0].first && !r[1].first);
        assert_eq!(r.iter().map(|x| x.to_peer_packets).sum::<u64>(), 9);
        assert_eq!(r.iter().map(|x| x.to_client_bytes).sum::<u64>(), 600);
        assert_eq!(r[1].end, None, "the end came with nothing new");
    }

    #[test]
    fn an_idle_allocation_is_still_counted_and_others_are_ignored() {
        let mut l = Ledger::new(100);
        let i = info(Some(b"tok"));
        l.created((0, 1), i, 1000);
        l.ended((0, 1), Traffic::default(), 1005);
        let static_user = info(None);
        l.created((0, 2), static_user, 1000);
        l.snapshot((0, 2), t(1, 1), 1001);
        l.ended((0, 2), t(1, 1), 1002);
        let r = l.take();
        assert_eq!(r.len(), 1);
        assert!(r[0].first && r[0].to_peer_packets == 0);
    }

    #[test]
    fn pending_records_are_bounded() {
        let mut l = Ledger::new(2);
        let i = info(Some(b"tok"));
        for k in 0..4 {
            l.created((0, k), i, 1);
            l.ended((0, k), t(1, 0), 2);
        }
        assert_eq!((l.take().len(), l.dropped()), (2, 2));
    }
}
