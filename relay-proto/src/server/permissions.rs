//! CreatePermission and ChannelBind (RFC 8656 sections 10 and 12): peers checked against the
//! family and the policy, at most `max_permissions` of each per allocation.

use std::net::{IpAddr, SocketAddr};

use stun_types::message::{Message, StunParseError};
use turn_types::attribute::{ChannelNumber, XorPeerAddress};

use super::Server;
use super::client::peer_address;
use super::requests::Request;
use crate::allocation::{CHANNEL_NUMBERS, Channel, Relays};
use crate::error::TurnError;

/// Most XOR-PEER-ADDRESS attributes one CreatePermission may carry.
const MAX_PEERS_PER_REQUEST: usize = 64;

impl Server {
    /// The peer IPs of a CreatePermission: one to [`MAX_PEERS_PER_REQUEST`] XOR-PEER-ADDRESS
    /// attributes, each allowed.
    fn permission_peers(
        &self,
        relays: &Relays,
        msg: &Message<'_>,
    ) -> Result<Vec<IpAddr>, TurnError> {
        let mut peers: Vec<SocketAddr> = Vec::new();
        loop {
            match msg.nth_attribute::<XorPeerAddress>(peers.len()) {
                Ok(p) if peers.len() < MAX_PEERS_PER_REQUEST => {
                    peers.push(p.addr(msg.transaction_id()));
                }
                Err(StunParseError::MissingAttribute(_)) if !peers.is_empty() => break,
                Ok(_) | Err(_) => return Err(TurnError::BadRequest),
            }
        }
        peers
            .iter()
            .try_for_each(|peer| self.check_peer(relays, *peer))?;
        Ok(peers.iter().map(|p| p.ip()).collect())
    }

    pub(super) fn create_permission(
        &mut self,
        Request {
            now,
            id,
            client,
            msg,
            cred,
        }: Request<'_, '_>,
    ) {
        let Some(relays) = self.table.get(id).map(|a| a.relays) else {
            return;
        };
        let peers = match self.permission_peers(&relays, msg) {
            Ok(peers) => peers,
            Err(e) => return self.signed_error(client, msg, &cred, e),
        };
        let lifetime = self.cfg.permission_lifetime;
        let max = self.cfg.max_permissions;
        let Some(a) = self.table.get_mut(id) else {
            return;
        };
        a.prune(now);
        let new = peers.iter().filter(|ip| !a.permits(**ip, now)).count();
        if a.permissions.len() + new > max {
            return self.signed_error(client, msg, &cred, TurnError::InsufficientCapacity);
        }
        for ip in peers {
            a.permit(ip, now + lifetime, now);
        }
        self.sync_routes(id, now);
        self.success(client, msg, &cred, |_| {});
    }

    pub(super) fn channel_bind(
        &mut self,
        Request {
            now,
            id,
            client,
            msg,
            cred,
        }: Request<'_, '_>,
    ) {
        let (Ok(number), Some(peer)) = (msg.attribute::<ChannelNumber>(), peer_address(msg)) else {
            return self.signed_error(client, msg, &cred, TurnError::BadRequest);
        };
        let number = number.channel();
        if !CHANNEL_NUMBERS.contains(&number) {
            return self.signed_error(client, msg, &cred, TurnError::BadRequest);
        }
        let Some(relays) = self.table.get(id).map(|a| a.relays) else {
            return;
        };
        if let Err(e) = self.check_peer(&relays, peer) {
            return self.signed_error(client, msg, &cred, e);
        }
        let (ch_life, perm_life, max) = (
            self.cfg.channel_lifetime,
            self.cfg.permission_lifetime,
            self.cfg.max_permissions,
        );
        let Some(a) = self.table.get_mut(id) else {
            return;
        };
        a.prune(now);
        let by_number = a.channel(number, now).map(|c| c.peer);
        let by_peer = a.channel_for(peer, now).map(|c| c.number);
        let full = match (by_number, by_peer) {
            (Some(p), _) if p != peer => Some(TurnError::BadRequest),
            (_, Some(n)) if n != number => Some(TurnError::BadRequest),
            (None, None) if a.channels.len() >= max => Some(TurnError::InsufficientCapacity),
            // The binding installs a permission too; it must fit like any other.
            _ if !a.permits(peer.ip(), now) && a.permissions.len() >= max => {
                Some(TurnError::InsufficientCapacity)
            }
            _ => None,
        };
        if let Some(e) = full {
            return self.signed_error(client, msg, &cred, e);
        }
        match a.channels.iter_mut().find(|c| c.number == number) {
            Some(c) => c.expires = now + ch_life,
            None => a.channels.push(Channel {
                number,
                peer,
                expires: now + ch_life,
            }),
        }
        a.permit(peer.ip(), now + perm_life, now);
        self.sync_routes(id, now);
        self.success(client, msg, &cred, |_| {});
    }
}
