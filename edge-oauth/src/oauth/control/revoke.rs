//! An administrator's "revoke everything of user X": every token family of the user (their
//! refresh tokens and the access tokens issued with them), every access token issued to them
//! until now (`users.revoked_before`, checked with each token's standing), codes not yet
//! redeemed, and every TURN token issued to them, which enters the relays' revocation feed
//! (`store/writes.rs` adds it to the family revocation); and the apps the user registered on
//! `/create_client`, as deleting the user removes them: their families (with their TURN
//! tokens), then the apps themselves, so their access tokens stop standing and their client
//! authentication fails (other isolates may still hold a cached copy of such an app for up to
//! `CLIENT_CACHE_TTL`). In one batch with its audit row. The user stays and may register apps
//! again (deleting the user does all this too, and removes them).

use super::Write as ControlWrite;
use crate::oauth::effects::{AuditEvent, Owner, Write, Writes, event};

/// Why, in the families, the feed and the audit trail.
pub const REASON: &str = "admin_revoked";

/// What revoking everything of `user_id` at `now` writes.
pub fn everything_of_user(user_id: &str, now: u64) -> Writes {
    let user = user_id.to_string();
    Writes::none()
        .with(Write::RevokeFamiliesOf {
            owner: Owner::User(user.clone()),
            reason: REASON,
            at: now,
        })
        .with(Write::Control(ControlWrite::UserRevokedBefore {
            user_id: user.clone(),
            at: now,
        }))
        .with(Write::Control(ControlWrite::SpendCodesOf {
            user_id: user.clone(),
            at: now,
        }))
        .with(Write::RevokeFamiliesOf {
            owner: Owner::ClientsOwnedBy(user.clone()),
            reason: REASON,
            at: now,
        })
        .with(Write::DeleteClientsOwnedBy(user.clone()))
        .with(Write::Audit(AuditEvent {
            user_id: Some(user),
            detail: Some(REASON),
            ..AuditEvent::new(now, event::FAMILIES_REVOKED)
        }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::writes as sql;

    #[test]
    fn one_batch_with_the_feed_after_the_families() {
        let b = sql::batch(&everything_of_user("u_1", 5));
        assert_eq!(b.claim, None);
        let s: Vec<&str> = b.statements.iter().map(|s| s.sql.as_str()).collect();
        assert!(s[0].starts_with("UPDATE families"), "{s:?}");
        assert!(
            s[1].contains("turn_revocations") && s[1].contains("user_id = ?"),
            "{s:?}"
        );
        assert!(s[2].starts_with("UPDATE users SET revoked_before"), "{s:?}");
        assert!(s[3].starts_with("UPDATE auth_codes"), "{s:?}");
        // The apps the user registered: their families and TURN tokens, then the apps.
        assert!(
            s[4].starts_with("UPDATE families") && s[4].contains("owner_id = ?"),
            "{s:?}"
        );
        assert!(
            s[5].contains("turn_revocations") && s[5].contains("owner_id = ?"),
            "{s:?}"
        );
        assert!(
            s[6].starts_with("DELETE FROM clients WHERE owner_id = ?"),
            "{s:?}"
        );
        assert!(s[7].starts_with("INSERT INTO audit"), "{s:?}");
    }
}
