//! Address families (RFC 8656 sections 7.2, 8.2, 10.2 and 12.2): which relayed addresses an
//! Allocate gets (REQUESTED-ADDRESS-FAMILY, ADDITIONAL-ADDRESS-FAMILY, the default), what a
//! Refresh may name, and which peers an allocation can reach (443 for the other family).

use std::net::SocketAddr;

use stun_types::AddressFamily;
use stun_types::attribute::{AttributeFromRaw, AttributeStaticType, AttributeType};
use stun_types::message::Message;
use turn_types::attribute::{AdditionalAddressFamily, RequestedAddressFamily};

use super::Server;
use crate::allocation::{Allocation, Client, RelaySlot, Relays, other};
use crate::config::DefaultFamily;
use crate::error::TurnError;
use crate::family::family_of;

/// An attribute the request may carry: absent, or present and well-formed (a malformed one
/// is 400).
fn optional<'a, A>(msg: &'a Message<'_>) -> Result<Option<A>, TurnError>
where
    A: AttributeFromRaw<'a> + AttributeStaticType,
{
    if !msg.has_attribute(A::TYPE) {
        return Ok(None);
    }
    msg.attribute::<A>()
        .map(Some)
        .map_err(|_| TurnError::BadRequest)
}

/// ADDITIONAL-ADDRESS-FAMILY under the codepoint of the drafts before RFC 8656 assigned
/// 0x8000: coturn 4.6 sends it (`turnutils_uclient -Z`), same value layout. Honoured when the
/// RFC attribute is absent.
pub const LEGACY_ADDITIONAL_ADDRESS_FAMILY: AttributeType = AttributeType::new(0x8032);

fn legacy_additional(msg: &Message<'_>) -> Result<Option<AddressFamily>, TurnError> {
    let Some(raw) = msg.raw_attribute(LEGACY_ADDITIONAL_ADDRESS_FAMILY) else {
        return Ok(None);
    };
    match *raw.value {
        [2, 0, 0, 0] => Ok(Some(AddressFamily::IPV6)),
        _ => Err(TurnError::BadRequest),
    }
}

impl Server {
    /// The relayed addresses an Allocate asks for (RFC 8656 section 7.2):
    /// - REQUESTED-ADDRESS-FAMILY names one family; 440 when the relay does not relay it;
    /// - ADDITIONAL-ADDRESS-FAMILY (IPv6 only; IPv4 is 400) asks for IPv4 and IPv6; without
    ///   IPv4 it is 440, without IPv6 the success says so in ADDRESS-ERROR-CODE 440;
    /// - both together are 400;
    /// - neither: [`DefaultFamily`], and the other family when the relay does not relay the
    ///   default one (a client is better served by a relayed address than by 440).
    pub(super) fn requested_relays(
        &self,
        client: Client,
        msg: &Message<'_>,
    ) -> Result<Relays, TurnError> {
        let requested = optional::<RequestedAddressFamily>(msg)?.map(|r| r.family());
        let additional = match optional::<AdditionalAddressFamily>(msg)? {
            Some(a) => Some(a.family()),
            None => legacy_additional(msg)?,
        };
        let ips = &self.cfg.relay_ips;
        match (requested, additional) {
            (Some(_), Some(_)) | (None, Some(AddressFamily::IPV4)) => Err(TurnError::BadRequest),
            (None, Some(_)) => {
                ips.of(AddressFamily::IPV4)
                    .ok_or(TurnError::AddressFamilyNotSupported)?;
                let v6 = match ips.of(AddressFamily::IPV6) {
                    Some(_) => RelaySlot::Binding,
                    None => RelaySlot::Unsupported,
                };
                Ok(Relays::binding(AddressFamily::IPV4, Some(v6)))
            }
            (Some(family), None) => {
                ips.of(family).ok_or(TurnError::AddressFamilyNotSupported)?;
                Ok(Relays::binding(family, None))
            }
            (None, None) => {
                let preferred = match self.cfg.default_family {
                    DefaultFamily::Client => family_of(client.addr.ip().to_canonical()),
                    DefaultFamily::Ipv4 => AddressFamily::IPV4,
                    DefaultFamily::Ipv6 => AddressFamily::IPV6,
                };
                let family = match ips.of(preferred) {
                    Some(_) => preferred,
                    None => other(preferred),
                };
                ips.of(family).ok_or(TurnError::AddressFamilyNotSupported)?;
                Ok(Relays::binding(family, None))
            }
        }
    }

    /// A Refresh may name one of the allocation's families in REQUESTED-ADDRESS-FAMILY; any
    /// other is 443 (RFC 8656 section 8.2).
    pub(super) fn refresh_family(a: &Allocation, msg: &Message<'_>) -> Result<(), TurnError> {
        match optional::<RequestedAddressFamily>(msg)? {
            Some(r) if a.relays.of(r.family()).is_none() => {
                Err(TurnError::PeerAddressFamilyMismatch)
            }
            _ => Ok(()),
        }
    }

    /// Checks a peer address for an allocation: a relayed address of its family (443) and
    /// the policy (403).
    /// The relay's own addresses pass at a port of its relay range only
    /// ([`PeerPolicy::permits_peer`](crate::PeerPolicy::permits_peer)).
    pub(super) fn check_peer(&self, relays: &Relays, peer: SocketAddr) -> Result<(), TurnError> {
        if relays.for_peer(peer.ip()).is_none() {
            return Err(TurnError::PeerAddressFamilyMismatch);
        }
        if !self.cfg.policy.permits_peer(peer) {
            return Err(TurnError::Forbidden);
        }
        Ok(())
    }
}
