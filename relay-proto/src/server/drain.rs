//! Draining (`Input::Drain`): a relay on its way out refuses new allocations so that clients
//! go elsewhere, while the allocations it holds keep relaying, refreshing and changing their
//! permissions and channels until they end.
//!
//! The refusal follows the request's authentication, as every Allocate error does here, and
//! is signed with the request's key: 300 Try Alternate with ALTERNATE-SERVER when an
//! alternate of the client's address family is configured (RFC 8489 section 10: only after
//! a request that authenticated, and integrity-protected, so no one else can redirect the
//! client), otherwise 508 Insufficient Capacity (RFC 8656 section 7.2: the server cannot
//! take the allocation now). Either way the client's allocation attempt fails at once and
//! ICE moves on to its other TURN servers; a 5xx class code is not one clients read as "your
//! request was wrong". Why: docs/relay.md.

use stun_types::message::Message;

use super::Server;
use crate::allocation::Client;
use crate::auth::Credential;
use crate::error::TurnError;
use crate::wire::ErrorReply;

impl Server {
    /// While draining, refuses an Allocate for a new allocation; true when it did.
    pub(super) fn refused_while_draining(
        &mut self,
        client: Client,
        msg: &Message<'_>,
        cred: &Credential,
    ) -> bool {
        if !self.draining {
            return false;
        }
        self.stats.refused_draining += 1;
        let alternate = self
            .cfg
            .alternate_servers
            .iter()
            .find(|a| a.is_ipv4() == client.addr.is_ipv4())
            .copied();
        let error = match alternate {
            Some(_) => TurnError::TryAlternate,
            None => TurnError::InsufficientCapacity,
        };
        let e = ErrorReply {
            sign: Some(cred.signing()),
            alternate,
            ..ErrorReply::new(error)
        };
        self.reply(client, msg, e, Some(cred));
        true
    }
}
