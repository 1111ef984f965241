//! An administrator's "revoke everything of user X": every token family of the user (their
//! refresh tokens and the access tokens issued with them), every access token issued to them
//! until now (`users.revoked_before`, checked with each token's standing), codes not yet
//! redeemed, and every TURN token issued to them, which enters the relays' revocation feed;
//! in one batch with its audit row. The user stays (deleting the user does all this too, and
//! removes them).

use super::feed::{self, Source};
use super::sql::Statement;
use crate::oauth::effects::event;

/// Why, in the families and the feed.
pub const REASON: &str = "admin_revoked";

/// The statements, in order; the first two report what they changed.
pub fn everything_of_user(user_id: &str, now: u64) -> Vec<Statement> {
    vec![
        Statement::new(
            "UPDATE families SET revoked_at = ?, revoked_reason = ? WHERE user_id = ? AND revoked_at IS NULL",
            vec![now.into(), REASON.into(), user_id.into()],
        ),
        feed::revoke(&Source::User(user_id.to_string()), REASON, now),
        Statement::new(
            "UPDATE users SET revoked_before = ? WHERE id = ?",
            vec![now.into(), user_id.into()],
        ),
        Statement::new(
            "UPDATE auth_codes SET used_at = ? WHERE user_id = ? AND used_at IS NULL",
            vec![now.into(), user_id.into()],
        ),
        Statement::new(
            "INSERT INTO audit (at, event, user_id, detail) VALUES (?, ?, ?, ?)",
            vec![
                now.into(),
                event::FAMILY_REVOKED.into(),
                user_id.into(),
                REASON.into(),
            ],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::control::sql::tests::well_formed;

    #[test]
    fn statements() {
        let s = everything_of_user("u_1", 5);
        well_formed(&s);
        assert!(s[1].sql.contains("turn_revocations") && s[1].sql.ends_with("user_id = ?"));
    }
}
