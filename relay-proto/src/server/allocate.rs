//! Allocate and Refresh (RFC 8656 sections 7 and 8): lifetimes capped at the credential's
//! expiry, quotas, the relay sockets the driver binds (one per family), retransmitted
//! Allocates answered alike.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use stun_types::AddressFamily;
use stun_types::attribute::{ErrorCode, XorMappedAddress};
use stun_types::message::{Message, MessageClass, MessageType, MessageWriteExt, MessageWriteVec};
use turn_types::attribute::{
    AddressErrorCode, Lifetime, RequestedTransport, ReservationToken, XorRelayedAddress,
};
use turn_types::message::ALLOCATE;

use super::Server;
use super::requests::Request;
use super::reserve::PortAsk;
use crate::allocation::{AllocId, Allocation, Client, RelaySlot, Relays, other};
use crate::auth::{AuthFailure, Credential, Mechanism};
use crate::bandwidth::Meters;
use crate::error::TurnError;
use crate::family::family_of;
use crate::input::BindFailed;
use crate::output::{AllocationInfo, EndReason, Event, Output};
use crate::ports::PortRequest;
use crate::timers::TimerKey;
use crate::traffic::Traffic;
use crate::wire::{self, ErrorReply};

impl Server {
    pub(super) fn allocate(
        &mut self,
        now: Instant,
        client: Client,
        msg: &Message<'_>,
        cred: Credential,
    ) {
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
                None => self.signed_error(client, msg, &cred, TurnError::AllocationMismatch),
            }
            return;
        }
        if self.refused_while_draining(client, msg, &cred) {
            return;
        }
        match msg.attribute::<RequestedTransport>() {
            Err(_) => return self.signed_error(client, msg, &cred, TurnError::BadRequest),
            Ok(t) if t.protocol() != RequestedTransport::UDP => {
                return self.signed_error(
                    client,
                    msg,
                    &cred,
                    TurnError::UnsupportedTransportProtocol,
                );
            }
            Ok(_) => {}
        }
        let ask = match Self::port_ask(msg) {
            Ok(a) => a,
            Err(e) => return self.signed_error(client, msg, &cred, e),
        };
        let relays = match ask {
            // The reservation's family, which must be the client's (checked on redeeming).
            PortAsk::Reserved(_) => {
                Relays::binding(family_of(client.addr.ip().to_canonical()), None)
            }
            PortAsk::Pick(_) => match self.requested_relays(client, msg) {
                Ok(r) => r,
                Err(e) => return self.signed_error(client, msg, &cred, e),
            },
        };
        let dual = relays.slot(other(relays.primary)) != RelaySlot::Unused;
        // A reservation is for one family's port pair: not with a second family.
        if dual && ask == PortAsk::Pick(PortRequest::Even { reserve_next: true }) {
            return self.signed_error(client, msg, &cred, TurnError::BadRequest);
        }
        let requested = msg.attribute::<Lifetime>().ok().map(|l| l.seconds());
        let lifetime = self.lifetime(now, requested, &cred);
        if lifetime == 0 {
            return self.fail(now, client, msg, AuthFailure::NoTimeLeft);
        }
        if self.quota.acquire(&cred.account).is_err() {
            self.stats.refused_quota += 1;
            return self.signed_error(client, msg, &cred, TurnError::AllocationQuotaReached);
        }
        let port = match ask {
            PortAsk::Pick(p) => p,
            PortAsk::Reserved(token) => {
                match self.cfg.reservations.redeem(token, relays.primary, now) {
                    Ok(addr) => PortRequest::Exact(addr.port()),
                    // Unknown, expired, used, or of another family: 508 (RFC 8656 section 7.2).
                    Err(_) => {
                        self.quota.release(&cred.account);
                        self.stats.refused_reservations += 1;
                        return self.signed_error(
                            client,
                            msg,
                            &cred,
                            TurnError::InsufficientCapacity,
                        );
                    }
                }
            }
        };
        let expires = now + Duration::from_secs(u64::from(lifetime));
        let owner = cred.account.clone();
        let meters = Meters::new(&self.cfg.bandwidth, &owner, now);
        let id = self.table.insert(Allocation {
            client,
            relays,
            expires,
            credential: cred,
            permissions: Vec::new(),
            channels: Vec::new(),
            allocate_txid: txid,
            allocate_response: None,
            fingerprint: wire::has_fingerprint(msg),
            routes: Vec::new(),
            traffic: Traffic::default(),
            owner,
            meters,
        });
        self.timers.insert(expires, TimerKey::Allocation(id));
        if port == (PortRequest::Even { reserve_next: true }) {
            self.reservations.ask(id);
        }
        for family in [relays.primary, other(relays.primary)] {
            if let (RelaySlot::Binding, Some(ip)) =
                (relays.slot(family), self.cfg.relay_ips.of(family))
            {
                self.out.push_back(Output::BindRelay {
                    alloc: id,
                    ip,
                    port,
                });
            }
        }
    }

    /// The driver bound (or failed to bind) a relay socket of `alloc`: once every family it
    /// asked for is answered, answer the Allocate.
    pub(super) fn relay_bound(
        &mut self,
        now: Instant,
        alloc: AllocId,
        result: Result<SocketAddr, BindFailed>,
    ) {
        let Some(a) = self.table.get_mut(alloc) else {
            // Ended while binding: give the socket back.
            self.reservations.forget(alloc);
            if result.is_ok() {
                self.out.push_back(Output::ReleaseRelay { alloc });
            }
            return;
        };
        let (family, outcome) = match result {
            Ok(addr) => (family_of(addr.ip()), RelaySlot::Bound(addr)),
            Err(BindFailed { ip }) => (family_of(ip), RelaySlot::Failed),
        };
        let slot = a.relays.slot_mut(family);
        if *slot != RelaySlot::Binding {
            return; // not asked for (a driver answering twice): nothing to change
        }
        *slot = outcome;
        if a.relays.pending() {
            return;
        }
        let Some(relay) = a.relays.primary() else {
            return self.relay_unavailable(now, alloc);
        };
        let reserved =
            self.reservations
                .reserve(alloc, relay, &self.nonces, &self.cfg.reservations, now);
        let Ok(reserved) = reserved else {
            return self.relay_unavailable(now, alloc);
        };
        // Clients are told the public address behind a 1:1 NAT; everything else keeps the
        // bound one, which is what packets carry past the NAT.
        let public = |addr| self.cfg.address_map.public(addr);
        let txid = a.allocate_txid;
        let client = a.client;
        let remaining = a.expires.saturating_duration_since(now).as_secs() as u32;
        let mut w = Message::builder(
            MessageType::from_class_method(MessageClass::Success, ALLOCATE),
            txid,
            MessageWriteVec::with_capacity(160),
        );
        let _ = w.add_attribute(&XorRelayedAddress::new(public(relay), txid));
        let second = other(a.relays.primary);
        match a.relays.slot(second) {
            RelaySlot::Bound(addr) => {
                let _ = w.add_attribute(&XorRelayedAddress::new(public(addr), txid));
            }
            RelaySlot::Unsupported => {
                address_error(&mut w, second, TurnError::AddressFamilyNotSupported)
            }
            RelaySlot::Failed => address_error(&mut w, second, TurnError::InsufficientCapacity),
            RelaySlot::Unused | RelaySlot::Binding => {}
        }
        let _ = w.add_attribute(&XorMappedAddress::new(client.addr, txid));
        let _ = w.add_attribute(&Lifetime::new(remaining));
        if let Some(token) = reserved {
            let _ = w.add_attribute(&ReservationToken::new(token.0));
        }
        let bytes = wire::finish(
            w,
            self.cfg.software.as_deref(),
            Some(a.credential.signing()),
            a.fingerprint,
        );
        a.allocate_response = Some(bytes.clone());
        let info = AllocationInfo::of(alloc, a);
        self.stats.allocations += 1;
        self.queue(client, bytes);
        self.event(Event::AllocationCreated {
            info,
            lifetime: remaining,
        });
    }

    /// No relay socket of the first family for `alloc`: 508 to the Allocate, and the
    /// allocation is forgotten.
    fn relay_unavailable(&mut self, now: Instant, alloc: AllocId) {
        self.reservations.forget(alloc);
        let Some(mut a) = self.table.remove(alloc) else {
            return;
        };
        self.timers.remove(a.expires, TimerKey::Allocation(alloc));
        self.quota.release(&a.owner);
        a.meters.release(&self.cfg.bandwidth);
        self.stats.relay_bind_failures += 1;
        if a.relays.bound().next().is_some() {
            self.out.push_back(Output::ReleaseRelay { alloc }); // the other family's
        }
        let error = TurnError::InsufficientCapacity;
        let mut w = Message::builder(
            MessageType::from_class_method(MessageClass::Error, ALLOCATE),
            a.allocate_txid,
            MessageWriteVec::with_capacity(64),
        );
        ErrorReply::new(error).add_code(&mut w);
        self.queue(
            a.client,
            wire::finish(
                w,
                self.cfg.software.as_deref(),
                Some(a.credential.signing()),
                a.fingerprint,
            ),
        );
        self.refused(a.client, ALLOCATE, error, Some(a.credential.account));
        self.connection_idle(now, a.client);
    }

    /// The allocation this request is about, or 437; and the credential must be the one
    /// the allocation holds (441), except that an RFC 7635 client may present a new token.
    pub(super) fn owned(
        &mut self,
        client: Client,
        msg: &Message<'_>,
        cred: &Credential,
    ) -> Option<AllocId> {
        let Some(id) = self.table.find(&client) else {
            self.signed_error(client, msg, cred, TurnError::AllocationMismatch);
            return None;
        };
        let same = self.table.get(id).is_some_and(|a| {
            a.credential.username == cred.username
                || (a.credential.mechanism == Mechanism::Token
                    && cred.mechanism == Mechanism::Token)
        });
        if !same {
            self.signed_error(client, msg, cred, TurnError::WrongCredentials);
            return None;
        }
        Some(id)
    }

    pub(super) fn refresh(
        &mut self,
        Request {
            now,
            id,
            client,
            msg,
            cred,
        }: Request<'_, '_>,
    ) {
        let named = self.table.get(id).map(|a| Self::refresh_family(a, msg));
        if let Some(Err(e)) = named {
            return self.signed_error(client, msg, &cred, e);
        }
        let requested = msg.attribute::<Lifetime>().ok().map(|l| l.seconds());
        if requested == Some(0) {
            self.end(now, id, EndReason::Deleted);
            self.success(client, msg, &cred, |w| {
                let _ = w.add_attribute(&Lifetime::new(0));
            });
            return;
        }
        let lifetime = self.lifetime(now, requested, &cred);
        if lifetime == 0 {
            return self.fail(now, client, msg, AuthFailure::NoTimeLeft);
        }
        self.set_expiry(id, now + Duration::from_secs(u64::from(lifetime)));
        let Some(a) = self.table.get_mut(id) else {
            return;
        };
        a.credential = cred.clone();
        a.prune(now);
        let info = AllocationInfo::of(id, a);
        self.sync_routes(id, now);
        self.success(client, msg, &cred, |w| {
            let _ = w.add_attribute(&Lifetime::new(lifetime));
        });
        self.event(Event::AllocationRefreshed { info, lifetime });
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
}

/// ADDRESS-ERROR-CODE (RFC 8656 section 18.12): why a dual allocation has no address of
/// `family`.
fn address_error(w: &mut MessageWriteVec, family: AddressFamily, error: TurnError) {
    if let Ok(code) = ErrorCode::builder(error.code()).build() {
        let _ = w.add_attribute(&AddressErrorCode::new(family, code));
    }
}
