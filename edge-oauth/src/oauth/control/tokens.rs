//! The TURN tokens the edge issued, by id, with whom they were issued to: what lets a
//! revocation of a family, a user or a client reach the relays ([`super::feed`]), and what
//! usage reports are joined to ([`super::usage`]). Rows are kept a while past expiry (usage
//! may arrive late from a relay that was cut off) and then deleted by housekeeping.

use super::sql::Statement;

/// How long a token's row outlives the token: usage spooled by a relay during an outage is
/// still joined to its client and user when it arrives within this time.
pub const KEEP_AFTER_EXPIRY: u64 = 7 * 86_400;

/// Token rows housekeeping looks at per run.
pub const HOUSEKEEPING_ROWS: u64 = 20_000;

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

/// The row of a minted token. Ends in a `WHERE` condition (a guard may be ANDed to it).
pub fn insert(t: &Issued) -> Statement {
    Statement::new(
        "INSERT OR IGNORE INTO turn_tokens (token_id, client_id, user_id, family_id, issued_at, expires_at) \
         SELECT ?, ?, ?, ?, ?, ? WHERE 1",
        vec![
            (&t.token_id).into(),
            (&t.client_id).into(),
            (&t.user_id).into(),
            (&t.family_id).into(),
            t.issued_at.into(),
            t.expires_at.into(),
        ],
    )
}

/// Housekeeping at `now`: rows of the feed, of tokens and of relays that outlived their use
/// (bounded work per run: the oldest first).
pub fn housekeeping(now: u64) -> Vec<Statement> {
    vec![
        Statement::new(
            "DELETE FROM turn_revocations WHERE expires_at <= ?",
            vec![now.into()],
        ),
        // The oldest rows by issuance only, so a run reads a bounded number of rows even when
        // none is due.
        Statement::new(
            "DELETE FROM turn_tokens WHERE rowid IN \
             (SELECT rowid FROM turn_tokens ORDER BY rowid LIMIT ?) AND expires_at < ?",
            vec![
                HOUSEKEEPING_ROWS.into(),
                now.saturating_sub(KEEP_AFTER_EXPIRY).into(),
            ],
        ),
        Statement::new(
            "DELETE FROM relays WHERE last_seen < ?",
            vec![now.saturating_sub(7 * 86_400).into()],
        ),
        Statement::new(
            "DELETE FROM usage_cursors WHERE updated_at < ?",
            vec![now.saturating_sub(90 * 86_400).into()],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::control::sql::tests::well_formed;

    #[test]
    fn statements() {
        let t = Issued {
            token_id: "t".into(),
            client_id: "c".into(),
            user_id: None,
            family_id: Some("f".into()),
            issued_at: 1,
            expires_at: 2,
        };
        well_formed(&[insert(&t)]);
        well_formed(&housekeeping(10));
    }
}
