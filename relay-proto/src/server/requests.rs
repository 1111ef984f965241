//! STUN and TURN requests: 420 for what is not understood, authentication (RFC 8489 section
//! 9.2: MESSAGE-INTEGRITY or -SHA256, USERNAME or USERHASH, the password algorithm; RFC 7635),
//! then Binding here and the TURN methods in [`super::allocate`] and [`super::permissions`].

use std::time::Instant;

use stun_types::attribute::{Attribute, AttributeStaticType};
use stun_types::attribute::{
    AttributeType, Fingerprint, MessageIntegrity, MessageIntegritySha256, Nonce, PasswordAlgorithm,
    PasswordAlgorithms, Realm, Software, Userhash, Username, XorMappedAddress,
};
use stun_types::message::{BINDING, Message, MessageWriteExt, MessageWriteVec};
use turn_types::attribute::{
    AdditionalAddressFamily, ChannelNumber, Data, EvenPort, Lifetime, RequestedAddressFamily,
    RequestedTransport, XorPeerAddress, XorRelayedAddress,
};
use turn_types::message::{ALLOCATE, CHANNEL_BIND, CREATE_PERMISSION, REFRESH};

use super::Server;
use crate::allocation::{AllocId, Client, Transport};
use crate::auth::password::{self, PasswordAlgorithmValue};
use crate::auth::throttle::Attempt;
use crate::auth::{AuthFailure, Credential, Presented, Who};
use crate::error::TurnError;
use crate::nonce::{NonceError, SecurityFeatures};
use crate::output::Event;
use crate::wire::{self, ACCESS_TOKEN, ErrorReply};

/// Attributes this relay understands in requests. Any other comprehension-required
/// attribute gets 420 (DONT-FRAGMENT among them). EVEN-PORT, its reservation bit and
/// RESERVATION-TOKEN are honoured (RFC 8656 section 7.2, see `reserve`).
const UNDERSTOOD: &[AttributeType] = &[
    Username::TYPE,
    MessageIntegrity::TYPE,
    MessageIntegritySha256::TYPE,
    PasswordAlgorithm::TYPE,
    PasswordAlgorithms::TYPE,
    Userhash::TYPE,
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
    turn_types::attribute::ReservationToken::TYPE,
    wire::PADDING,
];

/// An authenticated request about the allocation `id` its client holds.
pub(super) struct Request<'m, 'a> {
    pub(super) now: Instant,
    pub(super) id: AllocId,
    pub(super) client: Client,
    pub(super) msg: &'m Message<'a>,
    pub(super) cred: Credential,
}

impl Server {
    pub(super) fn request(&mut self, now: Instant, client: Client, msg: &Message<'_>, raw: &[u8]) {
        let method = msg.method();
        if method == BINDING {
            let mut w = Message::builder_success(msg, MessageWriteVec::with_capacity(64));
            let _ = w.add_attribute(&XorMappedAddress::new(client.addr, msg.transaction_id()));
            let reply = wire::finish(w, self.software(), None, wire::has_fingerprint(msg));
            self.queue_unauthenticated(now, client, raw.len(), reply);
            return;
        }
        if ![ALLOCATE, REFRESH, CREATE_PERMISSION, CHANNEL_BIND].contains(&method) {
            self.unauthenticated_error(now, client, msg, ErrorReply::new(TurnError::BadRequest));
            return;
        }
        if self.unknown_attributes(now, client, msg) {
            return;
        }
        let Some(cred) = self.authenticate(now, client, msg, raw) else {
            return;
        };
        if method == ALLOCATE {
            return self.allocate(now, client, msg, cred);
        }
        let Some(id) = self.owned(client, msg, &cred) else {
            return;
        };
        let req = Request {
            now,
            id,
            client,
            msg,
            cred,
        };
        match method {
            REFRESH => self.refresh(req),
            CREATE_PERMISSION => self.create_permission(req),
            _ => self.channel_bind(req),
        }
    }

    /// Answers 420 when the request has comprehension-required attributes this relay does
    /// not understand (RFC 8489 section 6.3.1).
    fn unknown_attributes(&mut self, now: Instant, client: Client, msg: &Message<'_>) -> bool {
        let tokens = self.cfg.auth.tokens_enabled();
        let mut unknown = [AttributeType::new(0); 8];
        let mut n = 0;
        for (_, a) in msg.iter_attributes() {
            let t = a.get_type();
            let understood = UNDERSTOOD.contains(&t) || (t == ACCESS_TOKEN && tokens);
            let seen = unknown.get(..n).is_some_and(|u| u.contains(&t));
            if t.comprehension_required()
                && !understood
                && !seen
                && let Some(slot) = unknown.get_mut(n)
            {
                *slot = t;
                n += 1;
            }
        }
        let Some(unknown) = unknown.get(..n).filter(|u| !u.is_empty()) else {
            return false;
        };
        let e = ErrorReply {
            unknown,
            ..ErrorReply::new(TurnError::UnknownAttribute)
        };
        self.unauthenticated_error(now, client, msg, e);
        true
    }

    /// Queues an error response, and says so in an event.
    pub(super) fn reply(
        &mut self,
        client: Client,
        msg: &Message<'_>,
        e: ErrorReply<'_>,
        user: Option<&Credential>,
    ) {
        let bytes = e.build(msg, self.software());
        self.queue(client, bytes);
        self.refused(
            client,
            msg.method(),
            e.error,
            user.map(|c| c.account.clone()),
        );
    }

    /// Queues an error response to a request that did not authenticate (400, 420), subject
    /// to the unauthenticated reply limits, and says so in an event.
    fn unauthenticated_error(
        &mut self,
        now: Instant,
        client: Client,
        msg: &Message<'_>,
        e: ErrorReply<'_>,
    ) {
        let bytes = e.build(msg, self.software());
        self.refused(client, msg.method(), e.error, None);
        self.queue_unauthenticated(now, client, msg.as_bytes().len(), bytes);
    }

    /// SOFTWARE for responses, when configured.
    pub(super) fn software(&self) -> Option<&str> {
        self.cfg.software.as_deref()
    }

    /// Queues `reply` to an unauthenticated request of `request_len` bytes, unless over UDP
    /// the source's prefix is over its reply rate, or (with
    /// [`Config::no_amplification`](crate::Config::no_amplification)) the reply is larger
    /// than the request. Over a stream the handshake proved the address, a dropped reply
    /// would never be asked for again (RFC 8489 section 6.2.2: the client just times out),
    /// and many clients behind one NAT open a connection each, so streams are not limited
    /// here (the connection limits bound them). True when queued.
    pub(super) fn queue_unauthenticated(
        &mut self,
        now: Instant,
        client: Client,
        request_len: usize,
        reply: Vec<u8>,
    ) -> bool {
        if client.transport == Transport::Udp {
            if self.cfg.no_amplification && reply.len() > request_len {
                self.stats.oversized_replies += 1;
                return false;
            }
            if !self.limit.allow(client.addr.ip(), now) {
                self.stats.rate_limited += 1;
                return false;
            }
        }
        self.queue(client, reply);
        true
    }

    /// An error response signed with the key that authenticated the request.
    pub(super) fn signed_error(
        &mut self,
        client: Client,
        msg: &Message<'_>,
        cred: &Credential,
        error: TurnError,
    ) {
        let e = ErrorReply {
            sign: Some(cred.signing()),
            ..ErrorReply::new(error)
        };
        self.reply(client, msg, e, Some(cred));
    }

    /// The 401/438 challenge: REALM, a fresh NONCE (with the nonce cookie), the password
    /// algorithms offered, and THIRD-PARTY-AUTHORIZATION when tokens are on.
    fn challenge(&mut self, now: Instant, client: Client, msg: &Message<'_>, error: TurnError) {
        let nonce = self.nonces.issue(client.addr, self.clock.unix(now));
        let cfg = self.cfg.clone();
        let advertised = cfg
            .third_party_authorization
            .as_deref()
            .unwrap_or(cfg.auth.server_name.as_str());
        let third_party = cfg.auth.tokens_enabled().then_some(advertised);
        let e = ErrorReply {
            challenge: Some((&cfg.auth.realm, &nonce)),
            password_algorithms: &password::OFFERED,
            third_party,
            ..ErrorReply::new(error)
        };
        let bytes = e.build(msg, cfg.software.as_deref());
        if !self.queue_unauthenticated(now, client, msg.as_bytes().len(), bytes) {
            return;
        }
        match error {
            TurnError::StaleNonce => self.stats.stale_nonces += 1,
            _ => self.stats.challenges += 1,
        }
    }

    /// The credential whose key verifies the request's integrity attribute (RFC 8489 section
    /// 9.2.4), or `None` once the request has been answered (400, or a challenge) or dropped
    /// (rate limit).
    fn authenticate(
        &mut self,
        now: Instant,
        client: Client,
        msg: &Message<'_>,
        raw: &[u8],
    ) -> Option<Credential> {
        let Some(integrity) = wire::integrity(msg) else {
            if msg.has_attribute(MessageIntegrity::TYPE)
                || msg.has_attribute(MessageIntegritySha256::TYPE)
            {
                // One of the wrong length (TURN allows no truncated MESSAGE-INTEGRITY-SHA256).
                self.unauthenticated_error(
                    now,
                    client,
                    msg,
                    ErrorReply::new(TurnError::BadRequest),
                );
                return None;
            }
            self.challenge(now, client, msg, TurnError::Unauthorized);
            return None;
        };
        let username = msg.attribute::<Username>().ok();
        let user = match (&username, msg.attribute::<Userhash>()) {
            (Some(u), _) => Some(Who::Name(u.username())),
            (None, Ok(h)) => Some(Who::Hash(*h.hash())),
            (None, Err(_)) => None,
        };
        let (Some(user), Ok(realm), Ok(nonce)) =
            (user, msg.attribute::<Realm>(), msg.attribute::<Nonce>())
        else {
            self.unauthenticated_error(now, client, msg, ErrorReply::new(TurnError::BadRequest));
            return None;
        };
        // The password algorithm is negotiated under a nonce that announces it; the relay's
        // nonces all do (one that does not is refused as not ours just below).
        let announced = SecurityFeatures::of_nonce(nonce.nonce())
            .is_some_and(|f| f.contains(SecurityFeatures::PASSWORD_ALGORITHMS));
        let password_algorithm = match password::negotiated(msg) {
            Ok(a) => a,
            Err(_) if announced => {
                self.unauthenticated_error(
                    now,
                    client,
                    msg,
                    ErrorReply::new(TurnError::BadRequest),
                );
                return None;
            }
            Err(_) => PasswordAlgorithmValue::MD5,
        };
        if realm.realm() != self.cfg.auth.realm {
            self.fail(now, client, msg, AuthFailure::WrongRealm);
            return None;
        }
        match self
            .nonces
            .check(nonce.nonce(), client.addr, self.clock.unix(now))
        {
            Ok(()) => {}
            Err(NonceError::Stale) => {
                self.challenge(now, client, msg, TurnError::StaleNonce);
                return None;
            }
            Err(NonceError::Invalid) => {
                self.fail(now, client, msg, AuthFailure::NotOurNonce);
                return None;
            }
        }
        let current = self
            .table
            .find(&client)
            .and_then(|id| self.table.get(id))
            .map(|a| a.credential.clone());
        let access_token = msg.raw_attribute(ACCESS_TOKEN).map(|a| a.value.to_vec());
        let cfg = self.cfg.clone();
        let hashed;
        let attempt = Attempt {
            source: client.addr.ip(),
            username: match user {
                Who::Name(name) => name.as_bytes(),
                Who::Hash(hash) => {
                    hashed = hash;
                    cfg.auth
                        .users
                        .by_hash(&hashed)
                        .map_or(&hashed[..], str::as_bytes)
                }
            },
            per_user: access_token.is_none(),
        };
        // A request on the allocation this 5-tuple holds, under its credential, is the
        // owner's: a guesser elsewhere cannot lock it out of its own allocation.
        let owner = current.as_ref().is_some_and(|c| match user {
            Who::Name(name) => c.username == name,
            Who::Hash(hash) => password::userhash(&c.username, &cfg.auth.realm) == hash,
        });
        if !owner && cfg.auth_throttle.locked(&attempt, now) {
            self.stats.auth_throttled += 1;
            self.fail(now, client, msg, AuthFailure::Throttled);
            return None;
        }
        let presented = Presented {
            user,
            access_token: access_token.as_deref(),
            raw,
            integrity: &integrity,
            password_algorithm,
        };
        match cfg
            .auth
            .authenticate(&presented, current.as_ref(), self.clock.unix(now))
        {
            Ok(c) if self.is_revoked(now, c.token_id) => {
                self.fail(now, client, msg, AuthFailure::Revoked);
                None
            }
            Ok(c) => Some(c),
            Err(why) => {
                if why.is_guess() {
                    cfg.auth_throttle.failed(&attempt, now);
                }
                self.fail(now, client, msg, why);
                None
            }
        }
    }

    /// Authentication failed: counted, reported, and challenged (401) unless the source is
    /// over its rate limit.
    pub(super) fn fail(
        &mut self,
        now: Instant,
        client: Client,
        msg: &Message<'_>,
        why: AuthFailure,
    ) {
        self.stats.auth_failures += 1;
        self.event(Event::AuthFailed {
            client,
            method: msg.method(),
            why,
        });
        self.challenge(now, client, msg, TurnError::Unauthorized);
    }

    /// Queues a success response signed with the request's key; `add` adds the attributes.
    pub(super) fn success(
        &mut self,
        client: Client,
        msg: &Message<'_>,
        cred: &Credential,
        add: impl FnOnce(&mut MessageWriteVec),
    ) {
        let mut w = Message::builder_success(msg, MessageWriteVec::with_capacity(128));
        add(&mut w);
        let bytes = wire::finish(
            w,
            self.software(),
            Some(cred.signing()),
            wire::has_fingerprint(msg),
        );
        self.queue(client, bytes);
    }
}
