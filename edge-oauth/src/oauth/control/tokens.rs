//! The TURN tokens the edge issued, by id, with whom they were issued to: what lets a
//! revocation of a family, a user or a client reach the relays ([`super::feed`]), and what
//! usage reports are joined to ([`super::usage`]). Rows are kept a while past expiry (usage
//! may arrive late from a relay that was cut off) and then deleted by housekeeping.

/// How long a token's row outlives the token: usage spooled by a relay during an outage is
/// still joined to its client and user when it arrives within this time.
pub const KEEP_AFTER_EXPIRY: u64 = 7 * 86_400;

/// Token rows housekeeping looks at per run.
pub const HOUSEKEEPING_ROWS: u64 = 20_000;

pub use super::rows::Issued;
