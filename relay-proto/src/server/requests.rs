//! STUN and TURN requests: authentication, then Binding, Allocate, Refresh,
//! CreatePermission and ChannelBind (RFC 8489, RFC 8656, RFC 7635).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use stun_types::attribute::{Attribute, AttributeStaticType};
use stun_types::attribute::{
    AttributeType, Fingerprint, MessageIntegrity, Nonce, Realm, Software, Username,
    XorMappedAddress,
};
use stun_types::message::{
    BINDING, Message, MessageClass, MessageType, MessageWriteExt, MessageWriteVec, TransactionId,
};
use tracing::{debug, info};
use turn_types::attribute::{
    AdditionalAddressFamily, ChannelNumber, Data, EvenPort, Lifetime, RequestedAddressFamily,
    RequestedTransport, XorPeerAddress, XorRelayedAddress,
};
use turn_types::message::{ALLOCATE, CHANNEL_BIND, CREATE_PERMISSION, REFRESH};

use crate::allocation::{AllocId, Allocation, Channel, Client};
use crate::auth::{Credential, Mechanism, Presented};
use crate::nonce::NonceError;
use crate::wire::{self, ACCESS_TOKEN, ErrorReply};
use super::{Event, Server, key_of, peer_address};

/// Attributes this relay understands in requests. Any other comprehension-required
/// attribute gets 420 (DONT-FRAGMENT and RESERVATION-TOKEN among them). EVEN-PORT is
/// honoured for parity; its reservation bit gets 508, since ports are not reserved.
const UNDERSTOOD: &[AttributeType] = &[
    Username::TYPE,
    MessageIntegrity::TYPE,
    stun_types::attribute::MessageIntegritySha256::TYPE,
    stun_types::attribute::ErrorCode::TYPE,
    Realm::TYPE,
    Nonce::TYPE,
    XorMappedAddress::TYPE,
    Fingerprint::TYPE,
    Software::TYPE,
    ChannelNumber::TYPE,
    Lifetime::TYPE,
    XorPeerAddress::TYPE,
    Data::TYPE,
    XorRelayedAddress::TYPE,
    RequestedAddressFamily::TYPE,
    RequestedTransport::TYPE,
    AdditionalAddressFamily::TYPE,
    EvenPort::TYPE,
];

/// UDP, the only relayed transport (RFC 8656 REQUESTED-TRANSPORT value).
const UDP: u8 = 17;

impl Server {
    pub(super) fn request(&mut self, now: Instant, client: Client, msg: &Message<'_>, raw: &[u8]) {
        let fingerprint = wire::has_fingerprint(msg);
        let method = msg.method();
        if method == BINDING {
            let mut w = Message::builder_success(msg, MessageWriteVec::with_capacity(64));
            let _ = w.add_attribute(&XorMappedAddress::new(client.addr, msg.transaction_id()));
            let reply = wire::finish(w, None, fingerprint);
            self.queue(client, reply);
            return;
        }
        if ![ALLOCATE, REFRESH, CREATE_PERMISSION, CHANNEL_BIND].contains(&method) {
            self.reply(client, msg, ErrorReply::code(400));
            return;
        }

        let mut unknown = [AttributeType::new(0); 8];
        let mut n = 0;
        for (_, a) in msg.iter_attributes() {
            let t = a.get_type();
            let understood =
                UNDERSTOOD.contains(&t) || (t == ACCESS_TOKEN && self.cfg.auth.tokens_enabled());
            if t.comprehension_required()
                && !understood
                && n < unknown.len()
                && !unknown[..n].contains(&t)
            {
                unknown[n] = t;
                n += 1;
            }
        }
        if n > 0 {
            debug!(target: "request", client = %client.addr, method = %method, unknown = ?&unknown[..n], "420 unknown comprehension-required attributes");
            self.reply(
                client,
                msg,
                ErrorReply {
                    unknown: &unknown[..n],
                    ..ErrorReply::code(420)
                },
            );
            return;
        }

        let Some(cred) = self.authenticate(now, client, msg, raw) else {
            return;
        };
        match method {
            ALLOCATE => self.allocate(now, client, msg, cred),
            REFRESH => self.refresh(now, client, msg, cred),
            CREATE_PERMISSION => self.create_permission(now, client, msg, cred),
            _ => self.channel_bind(now, client, msg, cred),
        }
    }

    fn reply(&mut self, client: Client, msg: &Message<'_>, e: ErrorReply<'_>) {
        let bytes = e.build(msg);
        self.queue(client, bytes);
    }

    /// The 401/438 challenge: REALM, a fresh NONCE, and THIRD-PARTY-AUTHORIZATION when
    /// tokens are on.
    fn challenge(&mut self, now: Instant, client: Client, msg: &Message<'_>, code: u16) {
        let nonce = self.nonces.issue(client.addr, self.clock.unix(now));
        let cfg = self.cfg.clone();
        let third_party = cfg
            .auth
            .tokens_enabled()
            .then_some(cfg.auth.server_name.as_str());
        let e = ErrorReply {
            challenge: Some((&cfg.auth.realm, &nonce)),
            third_party,
            ..ErrorReply::code(code)
        };
        self.reply(client, msg, e);
    }

    fn authenticate(
        &mut self,
        now: Instant,
        client: Client,
        msg: &Message<'_>,
        raw: &[u8],
    ) -> Option<Credential> {
        let Some(integrity) = wire::integrity(msg) else {
            if msg.has_attribute(stun_types::attribute::MessageIntegritySha256::TYPE) {
                // Only HMAC-SHA1 is offered (what browsers and coturn use).
                self.reply(client, msg, ErrorReply::code(400));
                return None;
            }
            if !self.limit.allow(client.addr.ip(), now) {
                self.stats.rate_limited += 1;
                return None;
            }
            self.challenge(now, client, msg, 401);
            return None;
        };
        let (Ok(username), Ok(realm), Ok(nonce)) = (
            msg.attribute::<Username>(),
            msg.attribute::<Realm>(),
            msg.attribute::<Nonce>(),
        ) else {
            self.reply(client, msg, ErrorReply::code(400));
            return None;
        };
        if realm.realm() != self.cfg.auth.realm {
            self.fail(now, client, msg, "wrong realm");
            return None;
        }
        match self
            .nonces
            .check(nonce.nonce(), client.addr, self.clock.unix(now))
        {
            Ok(()) => {}
            Err(NonceError::Stale) => {
                self.challenge(now, client, msg, 438);
                return None;
            }
            Err(NonceError::Invalid) => {
                self.fail(now, client, msg, "nonce not ours");
                return None;
            }
        }
        let access_token = msg.raw_attribute(ACCESS_TOKEN).map(|a| a.value.to_vec());
        let current = self
            .table
            .find(&client)
            .and_then(|id| self.table.get(id))
            .map(|a| a.credential.clone());
        let presented = Presented {
            username: username.username(),
            access_token: access_token.as_deref(),
            raw,
            integrity: &integrity,
        };
        match self
            .cfg
            .clone()
            .auth
            .authenticate(&presented, current.as_ref(), self.clock.unix(now))
        {
            Ok(c) => Some(c),
            Err(why) => {
                self.fail(now, client, msg, &why.to_string());
                None
            }
        }
    }

    fn fail(&mut self, now: Instant, client: Client, msg: &Message<'_>, why: &str) {
        self.stats.auth_failures += 1;
        debug!(target: "auth", client = %client.addr, method = %msg.method(), "authentication failed: {why}");
        if !self.limit.allow(client.addr.ip(), now) {
            self.stats.rate_limited += 1;
            return;
        }
        self.challenge(now, client, msg, 401);
    }

    /// The allocation lifetime for a requested one (RFC 8656 section 7.2), capped at the
    /// credential's expiry. Zero when the credential has no time left.
    fn lifetime(&self, now: Instant, requested: Option<u32>, cred: &Credential) -> u32 {
        let wanted = requested.unwrap_or(self.cfg.default_lifetime).clamp(
            self.cfg.default_lifetime.min(self.cfg.max_lifetime),
            self.cfg.max_lifetime,
        );
        match cred.expires_at {
            Some(e) => wanted.min(
                e.saturating_sub(self.clock.unix(now))
                    .min(u64::from(u32::MAX)) as u32,
            ),
            None => wanted,
        }
    }

    fn success(
        &mut self,
        client: Client,
        msg: &Message<'_>,
        key: &Credential,
        add: impl FnOnce(&mut MessageWriteVec),
    ) {
        let mut w = Message::builder_success(msg, MessageWriteVec::with_capacity(128));
        add(&mut w);
        let bytes = wire::finish(w, Some(&key.key), wire::has_fingerprint(msg));
        self.queue(client, bytes);
    }

    fn signed_error(&mut self, client: Client, msg: &Message<'_>, cred: &Credential, code: u16) {
        debug!(target: "request", client = %client.addr, method = %msg.method(), code, "error response");
        self.reply(
            client,
            msg,
            ErrorReply {
                key: Some(&cred.key),
                ..ErrorReply::code(code)
            },
        );
    }

    fn allocate(&mut self, now: Instant, client: Client, msg: &Message<'_>, cred: Credential) {
        let txid = msg.transaction_id();
        if let Some(id) = self.table.find(&client) {
            let resend = self
                .table
                .get(id)
                .filter(|a| a.allocate_txid == txid)
                .map(|a| a.allocate_response.clone());
            match resend {
                Some(Some(bytes)) => self.queue(client, bytes),
                Some(None) => {} // still binding its relay socket; the answer is coming
                None => self.signed_error(client, msg, &cred, 437),
            }
            return;
        }
        match msg.attribute::<RequestedTransport>() {
            Err(_) => return self.signed_error(client, msg, &cred, 400),
            Ok(t) if t.protocol() != UDP => return self.signed_error(client, msg, &cred, 442),
            Ok(_) => {}
        }
        if let Ok(f) = msg.attribute::<RequestedAddressFamily>() {
            let wanted_v4 = f.family() == stun_types::AddressFamily::IPV4;
            if wanted_v4 != self.cfg.relay_ip.is_ipv4() {
                return self.signed_error(client, msg, &cred, 440);
            }
        }
        let even = match msg.attribute::<EvenPort>() {
            Ok(e) if e.requested() => return self.signed_error(client, msg, &cred, 508),
            Ok(_) => true,
            Err(_) => false,
        };
        let requested = msg.attribute::<Lifetime>().ok().map(|l| l.seconds());
        let lifetime = self.lifetime(now, requested, &cred);
        if lifetime == 0 {
            return self.fail(now, client, msg, "credential has no time left");
        }
        if !self.cfg.quotas.acquire(&cred.user) {
            info!(target: "allocation", user = %cred.user, client = %client.addr, "allocation refused: quota");
            return self.signed_error(client, msg, &cred, 486);
        }
        let alloc = Allocation {
            client,
            relay: None,
            expires: now + Duration::from_secs(u64::from(lifetime)),
            credential: cred,
            permissions: Vec::new(),
            channels: Vec::new(),
            allocate_txid: txid,
            allocate_response: None,
            requested_lifetime: lifetime,
            fingerprint: wire::has_fingerprint(msg),
            routes: Vec::new(),
        };
        let id = self.table.insert(alloc);
        self.timers.push(std::cmp::Reverse((
            now + Duration::from_secs(u64::from(lifetime)),
            key_of(id),
        )));
        self.events.push_back(Event::BindRelay {
            alloc: id,
            ip: self.cfg.relay_ip,
            even,
        });
    }

    /// The driver bound (or failed to bind) the relay socket of `alloc`: answer the Allocate.
    pub fn relay_bound(&mut self, now: Instant, alloc: AllocId, result: Result<SocketAddr, ()>) {
        let Some(a) = self.table.get_mut(alloc) else {
            // Ended while binding: give the socket back.
            if result.is_ok() {
                self.events.push_back(Event::ReleaseRelay { alloc });
            }
            return;
        };
        let txid = a.allocate_txid;
        let client = a.client;
        let Ok(relay) = result else {
            let reply = raw_error(ALLOCATE, txid, 508, &a.credential, a.fingerprint);
            self.queue(client, reply);
            self.table
                .remove(alloc)
                .map(|a| self.cfg.quotas.release(&a.credential.user));
            return;
        };
        a.relay = Some(relay);
        let remaining = a.expires.saturating_duration_since(now).as_secs() as u32;
        let mut w = Message::builder(
            MessageType::from_class_method(MessageClass::Success, ALLOCATE),
            txid,
            MessageWriteVec::with_capacity(128),
        );
        let _ = w.add_attribute(&XorRelayedAddress::new(relay, txid));
        let _ = w.add_attribute(&XorMappedAddress::new(client.addr, txid));
        let _ = w.add_attribute(&Lifetime::new(remaining));
        let bytes = wire::finish(w, Some(&a.credential.key), a.fingerprint);
        a.allocate_response = Some(bytes.clone());
        self.stats.allocations += 1;
        info!(
            target: "allocation",
            event = "created",
            user = %a.credential.user,
            mechanism = %a.credential.mechanism,
            token_id = a.credential.token_id.map(|t| t.to_string()).unwrap_or_default(),
            client = %client.addr,
            relay = %relay,
            lifetime = remaining,
            "allocation created"
        );
        self.queue(client, bytes);
    }

    /// The allocation this request is about, or 437; and the credential must be the one
    /// the allocation holds (441), except that an RFC 7635 client may present a new token.
    fn owned(&mut self, client: Client, msg: &Message<'_>, cred: &Credential) -> Option<AllocId> {
        let Some(id) = self.table.find(&client) else {
            self.signed_error(client, msg, cred, 437);
            return None;
        };
        let same = self.table.get(id).is_some_and(|a| {
            a.credential.username == cred.username
                || (a.credential.mechanism == Mechanism::Token
                    && cred.mechanism == Mechanism::Token)
        });
        if !same {
            self.signed_error(client, msg, cred, 441);
            return None;
        }
        Some(id)
    }

    fn refresh(&mut self, now: Instant, client: Client, msg: &Message<'_>, cred: Credential) {
        let Some(id) = self.owned(client, msg, &cred) else {
            return;
        };
        let requested = msg.attribute::<Lifetime>().ok().map(|l| l.seconds());
        if requested == Some(0) {
            self.success(client, msg, &cred, |w| {
                let _ = w.add_attribute(&Lifetime::new(0));
            });
            self.end(id, "deleted", "refresh with lifetime 0");
            return;
        }
        let lifetime = self.lifetime(now, requested, &cred);
        if lifetime == 0 {
            return self.fail(now, client, msg, "credential has no time left");
        }
        let Some(a) = self.table.get_mut(id) else {
            return;
        };
        a.expires = now + Duration::from_secs(u64::from(lifetime));
        a.credential = cred.clone();
        a.prune(now);
        info!(
            target: "allocation",
            event = "refreshed",
            user = %cred.user,
            token_id = cred.token_id.map(|t| t.to_string()).unwrap_or_default(),
            client = %client.addr,
            lifetime,
            "allocation refreshed"
        );
        self.timers.push(std::cmp::Reverse((
            now + Duration::from_secs(u64::from(lifetime)),
            key_of(id),
        )));
        self.sync_routes(id, now);
        self.success(client, msg, &cred, |w| {
            let _ = w.add_attribute(&Lifetime::new(lifetime));
        });
    }

    /// Checks a peer address for this relay: family (443) and policy (403).
    fn check_peer(&self, peer: SocketAddr) -> Result<(), u16> {
        if peer.is_ipv4() != self.cfg.relay_ip.is_ipv4() {
            return Err(443);
        }
        if !self.cfg.policy.permits(peer.ip()) {
            return Err(403);
        }
        Ok(())
    }

    fn create_permission(
        &mut self,
        now: Instant,
        client: Client,
        msg: &Message<'_>,
        cred: Credential,
    ) {
        let Some(id) = self.owned(client, msg, &cred) else {
            return;
        };
        let mut peers: Vec<IpAddr> = Vec::new();
        for n in 0.. {
            match msg.nth_attribute::<XorPeerAddress>(n) {
                Ok(p) => peers.push(p.addr(msg.transaction_id()).ip()),
                Err(stun_types::message::StunParseError::MissingAttribute(_)) => break,
                Err(_) => return self.signed_error(client, msg, &cred, 400),
            }
            if n > 64 {
                return self.signed_error(client, msg, &cred, 400);
            }
        }
        if peers.is_empty() {
            return self.signed_error(client, msg, &cred, 400);
        }
        for ip in &peers {
            if let Err(code) = self.check_peer(SocketAddr::new(*ip, 0)) {
                return self.signed_error(client, msg, &cred, code);
            }
        }
        let lifetime = self.cfg.permission_lifetime;
        let max = self.cfg.max_permissions;
        let Some(a) = self.table.get_mut(id) else {
            return;
        };
        a.prune(now);
        let new = peers.iter().filter(|ip| !a.permits(**ip, now)).count();
        if a.permissions.len() + new > max {
            return self.signed_error(client, msg, &cred, 508);
        }
        for ip in peers {
            a.permit(ip, now + lifetime, now);
        }
        self.sync_routes(id, now);
        self.success(client, msg, &cred, |_| {});
    }

    fn channel_bind(&mut self, now: Instant, client: Client, msg: &Message<'_>, cred: Credential) {
        let Some(id) = self.owned(client, msg, &cred) else {
            return;
        };
        let (Ok(number), Some(peer)) = (msg.attribute::<ChannelNumber>(), peer_address(msg)) else {
            return self.signed_error(client, msg, &cred, 400);
        };
        let number = number.channel();
        // RFC 8656 narrowed the range to 0x4000-0x4FFF; RFC 5766 clients (coturn's among
        // them) still use up to 0x7FFF, and ChannelData framing accepts both.
        if !(0x4000..=0x7FFF).contains(&number) {
            return self.signed_error(client, msg, &cred, 400);
        }
        if let Err(code) = self.check_peer(peer) {
            return self.signed_error(client, msg, &cred, code);
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
        match (by_number, by_peer) {
            (Some(p), _) if p != peer => return self.signed_error(client, msg, &cred, 400),
            (_, Some(n)) if n != number => return self.signed_error(client, msg, &cred, 400),
            (None, None) if a.channels.len() >= max => {
                return self.signed_error(client, msg, &cred, 508);
            }
            _ => {}
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

/// An error response built from a method and transaction (the request is gone by then).
fn raw_error(
    method: stun_types::message::Method,
    txid: TransactionId,
    code: u16,
    cred: &Credential,
    fingerprint: bool,
) -> Vec<u8> {
    let mut w = Message::builder(
        MessageType::from_class_method(MessageClass::Error, method),
        txid,
        MessageWriteVec::with_capacity(64),
    );
    if let Ok(e) = stun_types::attribute::ErrorCode::builder(code).build() {
        let _ = w.add_attribute(&e);
    }
    wire::finish(w, Some(&cred.key), fingerprint)
}
