//! What a client sends: ChannelData and Send indications (the hot path, forwarded as a slice
//! of the client's datagram), and STUN requests (answered through the queue).

use std::net::SocketAddr;
use std::time::Instant;

use stun_types::attribute::{Attribute, AttributeStaticType};
use stun_types::message::{
    Message, MessageClass, MessageHeader, MessageType, MessageWriteExt, MessageWriteVec,
};
use turn_types::message::SEND;

use super::Server;
use crate::allocation::Client;
use crate::bandwidth::Direction;
use crate::error::TurnError;
use crate::output::Forward;
use crate::wire;

impl Server {
    /// A datagram (or one stream frame) from a client.
    pub(super) fn client_datagram<'a>(
        &mut self,
        now: Instant,
        client: Client,
        data: &'a [u8],
    ) -> Option<Forward<'a>> {
        match data.first() {
            Some(0x40..=0x7f) => self.channel_data(now, client, data),
            Some(0x00..=0x03) => self.stun(now, client, data),
            _ => {
                self.stats.malformed += 1;
                None
            }
        }
    }

    /// ChannelData (RFC 8656 section 12.4): forwarded when the channel, its permission and
    /// the allocation are live. Bytes after the data (stream padding) are ignored.
    fn channel_data<'a>(
        &mut self,
        now: Instant,
        client: Client,
        data: &'a [u8],
    ) -> Option<Forward<'a>> {
        let (Some(&[n0, n1, l0, l1]), Some(rest)) = (data.get(..4), data.get(4..)) else {
            self.stats.malformed += 1;
            return None;
        };
        let number = u16::from_be_bytes([n0, n1]);
        let Some(payload) = rest.get(..usize::from(u16::from_be_bytes([l0, l1]))) else {
            self.stats.malformed += 1;
            return None;
        };
        let id = self.table.find(&client)?;
        let a = self.table.get_mut(id)?;
        let ch = a.channel(number, now)?;
        let peer = ch.peer;
        if !(a.permits(peer.ip(), now) && a.expires > now) {
            return None;
        }
        let dir = Direction::ToPeer;
        if let Err(cap) = a.meters.admit(&self.cfg.bandwidth, dir, payload.len(), now) {
            self.stats.capped(cap, dir, payload.len());
            return None;
        }
        a.traffic.to_peer.count(payload.len());
        Some(Forward::ToPeer {
            alloc: id,
            peer,
            data: payload,
        })
    }

    fn stun<'a>(&mut self, now: Instant, client: Client, data: &'a [u8]) -> Option<Forward<'a>> {
        let Ok(header) = MessageHeader::from_bytes(data) else {
            self.stats.malformed += 1;
            return None;
        };
        // A datagram is exactly one message; trailing bytes make it malformed.
        if usize::from(header.data_length()) + MessageHeader::LENGTH != data.len() {
            self.stats.malformed += 1;
            return None;
        }
        let Ok(msg) = Message::from_bytes(data) else {
            self.stats.malformed += 1;
            if header.get_type().class() == MessageClass::Request {
                // The header is a request but an attribute is broken: 400, unsigned.
                self.bad_request_from_header(now, client, &header, data.len());
            }
            return None;
        };
        match msg.class() {
            MessageClass::Request => {
                self.request(now, client, &msg, data);
                None
            }
            MessageClass::Indication if msg.method() == SEND => {
                self.send_indication(now, client, &msg, data)
            }
            _ => None,
        }
    }

    /// A Send indication (RFC 8656 section 11.2): DATA forwarded to XOR-PEER-ADDRESS when
    /// the allocation and a permission for the peer are live.
    fn send_indication<'a>(
        &mut self,
        now: Instant,
        client: Client,
        msg: &Message<'_>,
        raw: &'a [u8],
    ) -> Option<Forward<'a>> {
        let id = self.table.find(&client)?;
        let a = self.table.get_mut(id)?;
        let peer = peer_address(msg)?;
        let data = data_attribute(raw)?;
        if !(a.expires > now && a.permits(peer.ip(), now)) {
            return None;
        }
        // A permission is per IP: at the relay's own address it covers the relay ports only.
        let policy = &self.cfg.policy;
        if policy.is_own(peer.ip()) && !policy.permits_peer(peer) {
            return None;
        }
        let dir = Direction::ToPeer;
        if let Err(cap) = a.meters.admit(&self.cfg.bandwidth, dir, data.len(), now) {
            self.stats.capped(cap, dir, data.len());
            return None;
        }
        a.traffic.to_peer.count(data.len());
        Some(Forward::ToPeer {
            alloc: id,
            peer,
            data,
        })
    }

    /// A minimal 400 echoing the transaction of a request whose attributes do not parse.
    fn bad_request_from_header(
        &mut self,
        now: Instant,
        client: Client,
        header: &MessageHeader,
        request_len: usize,
    ) {
        let method = header.get_type().method();
        let mut w = Message::builder(
            MessageType::from_class_method(MessageClass::Error, method),
            header.transaction_id(),
            MessageWriteVec::with_capacity(64),
        );
        let Ok(e) = stun_types::attribute::ErrorCode::builder(TurnError::BadRequest.code()).build()
        else {
            return;
        };
        if w.add_attribute(&e).is_ok() {
            let reply = wire::finish(w, self.software(), None, false);
            self.refused(client, method, TurnError::BadRequest, None);
            self.queue_unauthenticated(now, client, request_len, reply);
        }
    }
}

/// XOR-PEER-ADDRESS of a message.
pub(super) fn peer_address(msg: &Message<'_>) -> Option<SocketAddr> {
    msg.attribute::<turn_types::attribute::XorPeerAddress>()
        .ok()
        .map(|a| a.addr(msg.transaction_id()))
}

/// The DATA attribute's value, borrowed from the datagram itself.
fn data_attribute(data: &[u8]) -> Option<&[u8]> {
    let (offset, raw) = stun_types::message::MessageAttributesIter::new(data)
        .find(|(_, a)| a.get_type() == turn_types::attribute::Data::TYPE)?;
    data.get(offset + 4..offset + 4 + raw.value.len())
}
