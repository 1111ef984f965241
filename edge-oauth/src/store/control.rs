//! The control plane's statements that are not a decision's [`crate::oauth::effects::Writes`]:
//! the revocation feed's rows (which follow the server's own revocations in a batch, see
//! [`super::writes`]) and housekeeping.

use super::value::Statement;
use crate::oauth::control::feed::{Reason, Source};
use crate::oauth::control::tokens::{HOUSEKEEPING_ROWS, KEEP_AFTER_EXPIRY};

/// The statement that puts `source`'s tokens into the feed at `now`. It ends in a `WHERE`
/// condition, so a caller may AND a guard to it.
pub fn feed_revoke(source: &Source, reason: Reason, now: u64) -> Statement {
    const FROM_TOKENS: &str = "INSERT OR IGNORE INTO turn_revocations (token_id, expires_at, revoked_at, reason) \
         SELECT token_id, expires_at, ?, ? FROM turn_tokens WHERE expires_at > ? AND";
    match source {
        Source::Token {
            token_id,
            expires_at,
        } => Statement::new(
            "INSERT OR IGNORE INTO turn_revocations (token_id, expires_at, revoked_at, reason) \
             SELECT ?, ?, ?, ? WHERE ? > ?",
            vec![
                token_id.into(),
                (*expires_at).into(),
                now.into(),
                reason.into(),
                (*expires_at).into(),
                now.into(),
            ],
        ),
        Source::Family(id) => Statement::new(
            format!("{FROM_TOKENS} family_id = ?"),
            vec![now.into(), reason.into(), now.into(), id.into()],
        ),
        Source::User(id) => Statement::new(
            format!("{FROM_TOKENS} user_id = ?"),
            vec![now.into(), reason.into(), now.into(), id.into()],
        ),
        Source::Client(id) => Statement::new(
            format!("{FROM_TOKENS} client_id = ?"),
            vec![now.into(), reason.into(), now.into(), id.into()],
        ),
        Source::ClientUser { client_id, user_id } => Statement::new(
            format!("{FROM_TOKENS} client_id = ? AND user_id = ?"),
            vec![
                now.into(),
                reason.into(),
                now.into(),
                client_id.into(),
                user_id.into(),
            ],
        ),
        Source::ClientsOwnedBy(user) => Statement::new(
            format!("{FROM_TOKENS} client_id IN (SELECT id FROM clients WHERE owner_id = ?)"),
            vec![now.into(), reason.into(), now.into(), user.into()],
        ),
    }
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
        // Sign-in sessions past their absolute or idle end, email links and WebAuthn
        // challenges past theirs, and the local outbox after a week.
        Statement::new(
            "DELETE FROM sessions WHERE expires_at <= ? OR last_seen_at <= ?",
            vec![
                now.into(),
                now.saturating_sub(crate::oauth::people::session::IDLE_TTL)
                    .into(),
            ],
        ),
        Statement::new(
            "DELETE FROM email_tokens WHERE expires_at <= ?",
            vec![now.into()],
        ),
        Statement::new(
            "DELETE FROM webauthn_used WHERE expires_at <= ?",
            vec![now.into()],
        ),
        Statement::new(
            "DELETE FROM outbox WHERE created_at < ?",
            vec![now.saturating_sub(7 * 86_400).into()],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::writes::tests::well_formed;

    #[test]
    fn statements() {
        let all = [
            crate::store::reads::feed_page(1, 2, 10).statement,
            crate::store::reads::feed_head().statement,
            feed_revoke(
                &Source::Token {
                    token_id: "t".into(),
                    expires_at: 9,
                },
                "revoked",
                5,
            ),
            feed_revoke(&Source::Family("f".into()), "refresh_reuse", 5),
            feed_revoke(&Source::User("u".into()), "user_deleted", 5),
            feed_revoke(&Source::Client("c".into()), "client_deleted", 5),
        ];
        well_formed(&all);
        assert!(all[3].sql.ends_with("family_id = ?"));
    }

    #[test]
    fn housekeeping_binds_its_values() {
        well_formed(&housekeeping(10));
    }
}
