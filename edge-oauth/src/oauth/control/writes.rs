//! The control plane's rows among a decision's writes ([`crate::oauth::effects::Write`]), and
//! the revocation feed rows that follow the server's own revocations. `store/writes.rs`
//! renders both into the request's one batch, under the request's guard.

use super::feed::{Reason, Source};
use crate::oauth::effects::{Owner, Write as Row};

/// The feed row a server row implies: revoking a TURN token, or anything TURN tokens are
/// issued under (a family, a user, a client, a user at a client, a person's clients), puts
/// those tokens into the relays' revocation feed.
pub fn feed_following(row: &Row) -> Option<(Source, Reason, u64)> {
    let (source, reason, at) = match row {
        Row::RevokeToken(r) if r.kind == "turn" => (
            Source::Token {
                token_id: r.token_id.clone(),
                expires_at: r.expires_at,
            },
            "revoked",
            r.revoked_at,
        ),
        Row::RevokeFamily { id, reason, at } => (Source::Family(id.clone()), *reason, *at),
        Row::RevokeFamiliesOf { owner, reason, at } => {
            let source = match owner {
                Owner::Client(c) => Source::Client(c.clone()),
                Owner::User(u) => Source::User(u.clone()),
                Owner::ClientUser { client_id, user_id } => Source::ClientUser {
                    client_id: client_id.clone(),
                    user_id: user_id.clone(),
                },
                Owner::ClientsOwnedBy(u) => Source::ClientsOwnedBy(u.clone()),
            };
            (source, *reason, *at)
        }
        _ => return None,
    };
    Some((source, reason, at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::effects::{AuditEvent, Revocation, event};
    use crate::store::Statement;
    use crate::store::writes::tests::well_formed;

    #[test]
    fn revocations_of_what_tokens_are_issued_under_feed_the_relays() {
        let rows = [
            Row::RevokeToken(Revocation {
                token_id: "t".into(),
                kind: "turn",
                expires_at: 9,
                revoked_at: 5,
            }),
            Row::RevokeFamily {
                id: "f".into(),
                reason: "refresh_reuse",
                at: 5,
            },
            Row::RevokeFamiliesOf {
                owner: Owner::Client("c".into()),
                reason: "client_deleted",
                at: 5,
            },
            Row::RevokeFamiliesOf {
                owner: Owner::User("u".into()),
                reason: "user_deleted",
                at: 5,
            },
            Row::RevokeFamiliesOf {
                owner: Owner::ClientUser {
                    client_id: "c".into(),
                    user_id: "u".into(),
                },
                reason: "logout",
                at: 5,
            },
            Row::RevokeFamiliesOf {
                owner: Owner::ClientsOwnedBy("u".into()),
                reason: "user_deleted",
                at: 5,
            },
        ];
        let feed: Vec<Statement> = rows
            .iter()
            .filter_map(feed_following)
            .map(|(source, reason, at)| crate::store::control::feed_revoke(&source, reason, at))
            .collect();
        assert_eq!(feed.len(), rows.len());
        well_formed(&feed);
        assert!(feed.iter().all(|s| s.sql.contains("turn_revocations")));
        // Access tokens and audit rows are not TURN tokens.
        let access = Row::RevokeToken(Revocation {
            token_id: "j".into(),
            kind: "access",
            expires_at: 9,
            revoked_at: 5,
        });
        assert!(feed_following(&access).is_none());
        assert!(feed_following(&Row::Audit(AuditEvent::new(1, event::TOKEN_REVOKED))).is_none());
    }
}
