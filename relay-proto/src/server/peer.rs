//! What a peer sends to a relay socket: framed for the client in place, in the caller's
//! buffer, as ChannelData when the peer has a channel and as a Data indication otherwise
//! (RFC 8656 sections 12.4 and 11.3). Nothing is allocated per packet.

use std::net::SocketAddr;
use std::ops::Range;
use std::time::Instant;

use stun_types::attribute::{Attribute, AttributeStaticType, AttributeWriteExt};
use stun_types::message::{MAGIC_COOKIE, MessageClass, MessageHeader, MessageType, TransactionId};
use turn_types::attribute::{Data, XorPeerAddress};
use turn_types::message::DATA;

use super::Server;
use crate::allocation::{AllocId, Transport};
use crate::bandwidth::Direction;
use crate::output::Forward;

/// Bytes [`Input::FromPeer`](crate::Input::FromPeer) needs in front of the payload for the
/// largest header written there: a Data indication to an IPv6 peer (20 + 24 + 4).
pub const HEADROOM: usize = 48;
/// Bytes it may need after the payload (padding to 4).
pub const TAILROOM: usize = 3;

impl Server {
    /// A datagram from `peer` on the relay socket of `alloc`, at `buf[start..start + len]`.
    pub(super) fn peer_datagram<'a>(
        &mut self,
        now: Instant,
        alloc: AllocId,
        peer: SocketAddr,
        buf: &'a mut [u8],
        start: usize,
        len: usize,
    ) -> Option<Forward<'a>> {
        let a = self.table.get(alloc)?;
        // Whatever the frame, its length fields must hold the payload and its header.
        if a.expires <= now || !a.permits(peer.ip(), now) || len > usize::from(u16::MAX) - HEADROOM
        {
            return None;
        }
        let client = a.client;
        let range = match a.channel_for(peer, now) {
            Some(ch) => channel_data(buf, start, len, ch.number, client.transport)?,
            None => data_indication(buf, start, len, peer, self.txids.next())?,
        };
        let a = self.table.get_mut(alloc)?;
        let dir = Direction::ToClient;
        if let Err(cap) = a.meters.admit(&self.cfg.bandwidth, dir, len, now) {
            self.stats.capped(cap, dir, len);
            return None;
        }
        a.traffic.to_client.count(len);
        let buf: &'a [u8] = buf;
        Some(Forward::ToClient {
            client,
            data: buf.get(range)?,
        })
    }
}

/// Writes the ChannelData header in front of the payload, and on a stream the padding to 4
/// behind it (RFC 8656 section 12.5). The frame's range in `buf`.
fn channel_data(
    buf: &mut [u8],
    start: usize,
    len: usize,
    number: u16,
    transport: Transport,
) -> Option<Range<usize>> {
    let pad = match transport {
        Transport::Tcp(_) => padding(len),
        Transport::Udp => 0,
    };
    let (range, frame) = around(buf, start, 4, len + pad)?;
    let (header, rest) = frame.split_first_chunk_mut::<4>()?;
    let ([n0, n1], [l0, l1]) = (number.to_be_bytes(), u16::try_from(len).ok()?.to_be_bytes());
    *header = [n0, n1, l0, l1];
    rest.get_mut(len..)?.fill(0);
    Some(range)
}

/// Writes a Data indication's header, XOR-PEER-ADDRESS and DATA attribute header in front
/// of the payload and DATA's padding behind it. The frame's range in `buf`.
fn data_indication(
    buf: &mut [u8],
    start: usize,
    len: usize,
    peer: SocketAddr,
    txid: TransactionId,
) -> Option<Range<usize>> {
    let address = XorPeerAddress::new(peer, txid);
    let address_len = 4 + usize::from(address.length());
    let pad = padding(len);
    let body_len = u16::try_from(address_len + 4 + len + pad).ok()?;
    let (range, frame) = around(
        buf,
        start,
        MessageHeader::LENGTH + address_len + 4,
        len + pad,
    )?;

    let mut kind = [0u8; 2];
    MessageType::from_class_method(MessageClass::Indication, DATA).write_into(&mut kind);
    let txid = u128::from(txid).to_be_bytes();
    let header = [
        &kind[..],
        &body_len.to_be_bytes(),
        &MAGIC_COOKIE.to_be_bytes(),
        txid.get(4..)?,
    ];
    let rest = put(frame, &header)?;
    let (attribute, rest) = rest.split_at_mut_checked(address_len)?;
    address.write_into(attribute).ok()?;
    let data_header = [
        &Data::TYPE.value().to_be_bytes()[..],
        &u16::try_from(len).ok()?.to_be_bytes(),
    ];
    let rest = put(rest, &data_header)?;
    rest.get_mut(len..)?.fill(0);
    Some(range)
}

/// The frame around the payload at `start`: `head` bytes before it, `body` from it on.
fn around(
    buf: &mut [u8],
    start: usize,
    head: usize,
    body: usize,
) -> Option<(Range<usize>, &mut [u8])> {
    let range = start.checked_sub(head)?..start.checked_add(body)?;
    let frame = buf.get_mut(range.clone())?;
    Some((range, frame))
}

/// Copies `parts` back to back to the start of `dest`; what follows them.
fn put<'b>(dest: &'b mut [u8], parts: &[&[u8]]) -> Option<&'b mut [u8]> {
    parts.iter().try_fold(dest, |dest, part| {
        let (head, rest) = dest.split_at_mut_checked(part.len())?;
        head.copy_from_slice(part);
        Some(rest)
    })
}

/// Bytes that pad `len` to a multiple of 4.
fn padding(len: usize) -> usize {
    (4 - len % 4) % 4
}

/// Transaction ids for Data indications: an xorshift generator seeded by the driver, so
/// they cost no system call per packet and tell a peer nothing about the nonce secret.
pub(super) struct TxIds(u64);

impl TxIds {
    pub(super) fn new(seed: u64) -> TxIds {
        TxIds(seed | 1) // xorshift never leaves zero
    }

    fn step(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// The next 96-bit id.
    pub(super) fn next(&mut self) -> TransactionId {
        let high = u128::from(self.step());
        let low = u128::from(self.step());
        TransactionId::from((high << 64) | low)
    }
}
