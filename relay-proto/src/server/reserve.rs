//! EVEN-PORT and RESERVATION-TOKEN on Allocate (RFC 8656 sections 7.2, 14.6 and 14.9): which
//! port an allocation asks the driver for, the reservation its R bit makes once the even port
//! is bound, and the token that claims the reserved port later.

use std::net::SocketAddr;
use std::time::Instant;

use stun_types::attribute::AttributeStaticType;
use stun_types::message::Message;
use turn_types::attribute::{
    AdditionalAddressFamily, EvenPort, RequestedAddressFamily, ReservationToken as TokenAttr,
};

use super::Server;
use crate::allocation::AllocId;
use crate::error::TurnError;
use crate::nonce::Nonces;
use crate::ports::{PortRequest, ReservationToken, Reservations};

/// What an Allocate asks about its port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PortAsk {
    /// A port of the range: any, or an even one (EVEN-PORT), reserving the next (R bit).
    Pick(PortRequest),
    /// The port reserved under this token (RESERVATION-TOKEN).
    Reserved(ReservationToken),
}

/// Allocations whose R bit asks for a reservation once their even port is bound, and the
/// count that keys the next token.
pub(super) struct Pending {
    asked: Vec<AllocId>,
    counter: u64,
}

impl Pending {
    /// Nothing pending; tokens counted from `seed` (random per core).
    pub(super) fn new(seed: u64) -> Pending {
        Pending {
            asked: Vec::new(),
            counter: seed.rotate_left(29),
        }
    }

    /// `alloc` asked for a reservation (EVEN-PORT with R=1).
    pub(super) fn ask(&mut self, alloc: AllocId) {
        self.asked.push(alloc);
    }

    /// Forgets `alloc`'s request (it ended, or failed to bind); true when it had one.
    pub(super) fn forget(&mut self, alloc: AllocId) -> bool {
        let before = self.asked.len();
        self.asked.retain(|a| *a != alloc);
        self.asked.len() != before
    }

    /// Reserves the port after `bound` for `alloc` if it asked for it: `Ok(None)` when it did
    /// not ask, `Err` when the reservation cannot be made (508).
    pub(super) fn reserve(
        &mut self,
        alloc: AllocId,
        bound: SocketAddr,
        nonces: &Nonces,
        table: &Reservations,
        now: Instant,
    ) -> Result<Option<ReservationToken>, TurnError> {
        if !self.forget(alloc) {
            return Ok(None);
        }
        let next = bound
            .port()
            .checked_add(1)
            .ok_or(TurnError::InsufficientCapacity)?;
        let addr = SocketAddr::new(bound.ip(), next);
        // Two tries: a token that collides with a held one (1 in 2^64) just takes the next.
        for _ in 0..2 {
            self.counter = self.counter.wrapping_add(1);
            let token = ReservationToken(nonces.reservation_token(self.counter, addr));
            if table.reserve(token, addr, now).is_ok() {
                return Ok(Some(token));
            }
        }
        Err(TurnError::InsufficientCapacity)
    }
}

impl Server {
    /// EVEN-PORT and RESERVATION-TOKEN of an Allocate. RESERVATION-TOKEN with EVEN-PORT, or with
    /// a requested or additional address family (the reservation fixes the family), is 400
    /// (RFC 8656 section 7.2); so is an attribute that does not parse.
    pub(super) fn port_ask(msg: &Message<'_>) -> Result<PortAsk, TurnError> {
        if msg.has_attribute(TokenAttr::TYPE) {
            let conflicting = [
                EvenPort::TYPE,
                RequestedAddressFamily::TYPE,
                AdditionalAddressFamily::TYPE,
            ];
            if conflicting.iter().any(|t| msg.has_attribute(*t)) {
                return Err(TurnError::BadRequest);
            }
            let token = msg
                .attribute::<TokenAttr>()
                .map_err(|_| TurnError::BadRequest)?;
            return Ok(PortAsk::Reserved(ReservationToken(token.token())));
        }
        if !msg.has_attribute(EvenPort::TYPE) {
            return Ok(PortAsk::Pick(PortRequest::Any));
        }
        let even = msg
            .attribute::<EvenPort>()
            .map_err(|_| TurnError::BadRequest)?;
        Ok(PortAsk::Pick(PortRequest::Even {
            reserve_next: even.requested(),
        }))
    }
}
