//! The feed of revoked TURN tokens that relays poll.
//!
//! Every revocation that reaches a TURN token becomes a row of `turn_revocations`: RFC 7009
//! revocation of the token itself, and the revocation of anything it was issued under (its
//! token family, its user, its client; see [`Source`]). A row's `seq` is an AUTOINCREMENT
//! key, so it only grows, and a relay reads the rows past its cursor, in order. A row
//! leaves the feed once its token would have expired anyway: the page query skips it at once,
//! and housekeeping deletes it later. A token id is in the feed once (a unique index;
//! revoking it again is ignored).
//!
//! A cursor that is ahead of the feed (the database was recreated) is taken back to the
//! feed's head, so the relay keeps up instead of waiting for sequence numbers it has seen.

use serde_json::{Value, json};

use crate::oauth::error::OAuthError;
use crate::oauth::params::Params;
use crate::store::reads::FeedRow as Row;

/// Entries per page.
pub const PAGE: u64 = 1000;

/// A relay's poll: `?cursor=N&wait=S`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Poll {
    /// The last sequence number the relay has.
    pub cursor: u64,
    /// Seconds it is willing to wait for something new.
    pub wait: u64,
}

impl Poll {
    /// Parses the query; `wait` is capped at `wait_max`.
    pub fn parse(query: &str, wait_max: u64) -> Result<Poll, OAuthError> {
        let p = Params::from_form(query.as_bytes())?;
        let num = |name: &str| -> Result<u64, OAuthError> {
            match p.get(name) {
                None => Ok(0),
                Some(v) if v.len() <= 16 && v.bytes().all(|b| b.is_ascii_digit()) => v
                    .parse()
                    .map_err(|_| OAuthError::invalid_request("cursor and wait are whole numbers")),
                Some(_) => Err(OAuthError::invalid_request(
                    "cursor and wait are whole numbers",
                )),
            }
        };
        Ok(Poll {
            cursor: num("cursor")?,
            wait: num("wait")?.min(wait_max),
        })
    }
}

/// The answer to a poll: the rows, the cursor to send next, whether more are waiting.
/// `head` is the feed's head when it was asked for (the page was empty).
pub fn page(poll: Poll, rows: &[Row], head: Option<u64>) -> Value {
    let cursor = match (rows.last(), head) {
        (Some(last), _) => last.seq,
        (None, Some(h)) if h < poll.cursor => h,
        (None, _) => poll.cursor,
    };
    let entries: Vec<Value> = rows
        .iter()
        .map(|r| json!({ "token_id": r.token_id, "expires_at": r.expires_at }))
        .collect();
    json!({
        "cursor": cursor,
        "revocations": entries,
        "more": rows.len() as u64 >= PAGE,
    })
}

/// What a revocation reaches: the TURN tokens that go into the feed with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// One token (RFC 7009 revocation of a TURN token), until it expires.
    Token {
        /// Its id.
        token_id: String,
        /// Unix second it expires.
        expires_at: u64,
    },
    /// Every unexpired TURN token issued under a token family.
    Family(String),
    /// Every unexpired TURN token issued to a user.
    User(String),
    /// Every unexpired TURN token issued to a client.
    Client(String),
    /// Every unexpired TURN token issued to a user at a client (RP-initiated logout).
    ClientUser {
        /// Client.
        client_id: String,
        /// User.
        user_id: String,
    },
    /// Every unexpired TURN token issued to the clients a person registered.
    ClientsOwnedBy(String),
}

/// Why, as the feed row records it (never sent to relays).
pub type Reason = &'static str;

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: u64) -> Row {
        Row {
            seq,
            token_id: format!("t{seq}"),
            expires_at: 2000,
        }
    }

    #[test]
    fn polls() {
        assert_eq!(
            Poll::parse("cursor=42&wait=60", 25).unwrap(),
            Poll {
                cursor: 42,
                wait: 25
            }
        );
        assert_eq!(Poll::parse("", 25).unwrap(), Poll { cursor: 0, wait: 0 });
        for bad in [
            "cursor=-1",
            "cursor=x",
            "wait=1e3",
            "cursor=1&cursor=2",
            "cursor=99999999999999999",
        ] {
            assert!(Poll::parse(bad, 25).is_err(), "{bad}");
        }
    }

    #[test]
    fn pages_move_the_cursor() {
        let p = Poll { cursor: 5, wait: 0 };
        let v = page(p, &[row(6), row(9)], None);
        assert_eq!(
            (v["cursor"].as_u64(), v["more"].as_bool()),
            (Some(9), Some(false))
        );
        assert_eq!(v["revocations"][1]["token_id"], "t9");
        // Nothing new: the cursor stays.
        assert_eq!(page(p, &[], Some(7))["cursor"], 5);
        // A cursor ahead of the feed comes back to its head.
        assert_eq!(
            page(
                Poll {
                    cursor: 50,
                    wait: 0
                },
                &[],
                Some(7)
            )["cursor"],
            7
        );
        let full: Vec<Row> = (1..=PAGE).map(row).collect();
        assert_eq!(page(Poll { cursor: 0, wait: 0 }, &full, None)["more"], true);
    }
}
