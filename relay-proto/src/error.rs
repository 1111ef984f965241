//! The error responses the relay sends, by name. Each variant says which RFC text calls for
//! it; [`TurnError::code`] maps it to the number stun-types names (RFC 8489 section 14.8,
//! RFC 8656's registrations).

use core::fmt;

use stun_types::attribute::ErrorCode;

/// Why a request was refused: the ERROR-CODE of its error response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TurnError {
    /// 300 Try Alternate: this relay takes no new allocation (it is draining); the response
    /// carries ALTERNATE-SERVER and is signed with the request's key (RFC 8489 section 10).
    TryAlternate,
    /// 400 Bad Request: malformed, or a required attribute missing or out of range
    /// (RFC 8489 section 6.3.1; RFC 8656 sections 7.2, 10.2 and 12.2).
    BadRequest,
    /// 401 Unauthorized: no credentials, or credentials that do not verify; the response is a
    /// challenge with REALM and NONCE (RFC 8489 section 9.2.4).
    Unauthorized,
    /// 403 Forbidden: the peer address is refused by the relay's policy (RFC 8656 sections
    /// 10.2 and 12.2).
    Forbidden,
    /// 420 Unknown Attribute: a comprehension-required attribute the relay does not
    /// understand, listed in UNKNOWN-ATTRIBUTES (RFC 8489 section 6.3.1).
    UnknownAttribute,
    /// 437 Allocation Mismatch: an Allocate on a 5-tuple that has an allocation, or another
    /// request on one that has none (RFC 8656 sections 7.2 and 5).
    AllocationMismatch,
    /// 438 Stale Nonce: the nonce has expired; the response carries a fresh one (RFC 8489
    /// section 9.2.4).
    StaleNonce,
    /// 440 Address Family not Supported: REQUESTED-ADDRESS-FAMILY names a family the relay
    /// does not relay (RFC 8656 section 7.2).
    AddressFamilyNotSupported,
    /// 441 Wrong Credentials: the request's credentials are not the allocation's (RFC 8656
    /// section 5).
    WrongCredentials,
    /// 442 Unsupported Transport Protocol: REQUESTED-TRANSPORT other than UDP (RFC 8656
    /// section 7.2).
    UnsupportedTransportProtocol,
    /// 443 Peer Address Family Mismatch: a peer address of the other family than the
    /// relayed address (RFC 8656 sections 10.2 and 12.2).
    PeerAddressFamilyMismatch,
    /// 486 Allocation Quota Reached: the user's or the relay's quota of allocations is used
    /// up (RFC 8656 section 7.2).
    AllocationQuotaReached,
    /// 508 Insufficient Capacity: no relay socket, a port reservation asked for, no room
    /// for another permission or channel (RFC 8656 sections 7.2, 10.2 and 12.2), or a
    /// draining relay without an alternate server.
    InsufficientCapacity,
}

impl TurnError {
    /// The ERROR-CODE number.
    pub fn code(self) -> u16 {
        match self {
            TurnError::TryAlternate => ErrorCode::TRY_ALTERNATE,
            TurnError::BadRequest => ErrorCode::BAD_REQUEST,
            TurnError::Unauthorized => ErrorCode::UNAUTHORIZED,
            TurnError::Forbidden => ErrorCode::FORBIDDEN,
            TurnError::UnknownAttribute => ErrorCode::UNKNOWN_ATTRIBUTE,
            TurnError::AllocationMismatch => ErrorCode::ALLOCATION_MISMATCH,
            TurnError::StaleNonce => ErrorCode::STALE_NONCE,
            TurnError::AddressFamilyNotSupported => ErrorCode::ADDRESS_FAMILY_NOT_SUPPORTED,
            TurnError::WrongCredentials => ErrorCode::WRONG_CREDENTIALS,
            TurnError::UnsupportedTransportProtocol => ErrorCode::UNSUPPORTED_TRANSPORT_PROTOCOL,
            TurnError::PeerAddressFamilyMismatch => ErrorCode::PEER_ADDRESS_FAMILY_MISMATCH,
            TurnError::AllocationQuotaReached => ErrorCode::ALLOCATION_QUOTA_REACHED,
            TurnError::InsufficientCapacity => ErrorCode::INSUFFICIENT_CAPACITY,
        }
    }
}

impl fmt::Display for TurnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {self:?}", self.code())
    }
}
