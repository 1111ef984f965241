//! The control plane's rows as a decision's writes carry them ([`crate::oauth::effects`]):
//! plain data, below the decisions that make them and the store that writes them.

use serde::Deserialize;

/// A row of the control plane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Write {
    /// A TURN token issued (so revoking what it was issued under reaches relays, and usage
    /// joins to its client and user).
    TurnToken(Issued),
    /// Every access token of the user issued at or before `at` stands no more.
    UserRevokedBefore {
        /// User.
        user_id: String,
        /// Unix seconds.
        at: u64,
    },
    /// The user's codes not yet redeemed are spent (redeeming one is then a replay).
    SpendCodesOf {
        /// User.
        user_id: String,
        /// Unix seconds.
        at: u64,
    },
    /// The user's password hash is replaced, if it is still `old` ([`crate::oauth::people::rehash`]).
    PasswordHash {
        /// User.
        user_id: String,
        /// The record the sign-in verified against.
        old: String,
        /// The new record.
        new: String,
    },
    /// What a usage batch adds to one (day, token, transport), under the batch's cursor claim
    /// ([`crate::oauth::effects::Claim::UsageCursor`]).
    Usage(Group),
}

/// A TURN token just minted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    /// shared-token's token id.
    pub token_id: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The user, if any.
    pub user_id: Option<String>,
    /// The token family it was issued under, if any.
    pub family_id: Option<String>,
    /// Unix seconds.
    pub issued_at: u64,
    /// Unix seconds.
    pub expires_at: u64,
}

/// Per (day, token, transport): what a batch adds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sum {
    /// Allocations that began (first records).
    pub allocations: u64,
    /// Client to peer.
    pub to_peer_packets: u64,
    /// Payload bytes.
    pub to_peer_bytes: u64,
    /// Peer to client.
    pub to_client_packets: u64,
    /// Payload bytes.
    pub to_client_bytes: u64,
    /// Earliest start.
    pub first_start: u64,
    /// Latest end.
    pub last_end: Option<u64>,
}

/// What one (day, token, transport) of a usage batch adds, written under the batch's claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// The token.
    pub token_id: String,
    /// `udp`, `tcp` or `tls`.
    pub transport: String,
    /// What it adds.
    pub sum: Sum,
    /// Unix seconds.
    pub now: u64,
}

/// A heartbeat as sent. Fields a newer relay adds are ignored.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Heartbeat {
    /// The relay's name.
    pub relay_id: String,
    /// `turn:`/`turns:` URLs clients reach it by.
    pub urls: Vec<String>,
    /// A region name.
    #[serde(default)]
    pub region: Option<String>,
    /// Degrees.
    #[serde(default)]
    pub latitude: Option<f64>,
    /// Degrees.
    #[serde(default)]
    pub longitude: Option<f64>,
    /// Allocations now.
    pub allocations: u64,
    /// Allocations it is sized for.
    pub capacity: u64,
    /// Allocations / capacity.
    pub load: f64,
    /// True once it takes no new allocations.
    #[serde(default)]
    pub draining: bool,
    /// Its software version.
    #[serde(default)]
    pub version: Option<String>,
    /// Where it is in the revocation feed.
    #[serde(default)]
    pub revocation_cursor: Option<u64>,
    /// Usage records waiting in its spool.
    #[serde(default)]
    pub usage_backlog: Option<u64>,
    /// Usage records it had to drop.
    #[serde(default)]
    pub usage_dropped: Option<u64>,
}

// Its reals come from JSON numbers, which are never NaN: equality is reflexive.
impl Eq for Heartbeat {}
