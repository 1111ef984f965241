//! Account recovery by email (docs/edge-oauth.md, "Account recovery"): a link to verify the
//! address given at sign-up, and "forgot password" links that set a new password once and end
//! every session and token family of the person. A link carries 256 random bits; D1 keeps only
//! their SHA-256, the purpose, the address it went to and a deadline; using it is a claim
//! (single use, even under races), and the writes it allows run under that claim.
//!
//! "Forgot password" answers the same, in the same time, whether the address has an account
//! or not: the worker reads one row either way and sends (or not) after answering.

use std::fmt;

use super::session;
use crate::oauth::effects::{AuditEvent, Claim, Owner, Write, Writes, event};
use crate::oauth::error::OAuthError;
use crate::oauth::ids;
pub use crate::store::reads::EmailTokenRow;

/// `purpose` of a verification link.
pub const VERIFY: &str = "verify";
/// `purpose` of a password-reset link.
pub const RESET: &str = "reset";
/// A verification link lives a day.
pub const VERIFY_TTL: u64 = 24 * 3600;
/// A reset link lives 30 minutes.
pub const RESET_TTL: u64 = 30 * 60;
/// The verification page.
pub const VERIFY_PATH: &str = "/verify_email";
/// The "forgot password" page.
pub const FORGOT_PATH: &str = "/forgot_password";
/// The page a reset link opens.
pub const RESET_PATH: &str = "/reset_password";
/// `revoked_reason` of the families of a person who reset their password.
pub const PASSWORD_RESET: &str = "password_reset";

/// A link's token: a secret, so `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct LinkToken(String);

impl LinkToken {
    /// Wraps a token read from a request.
    pub fn new(value: &str) -> LinkToken {
        LinkToken(value.to_string())
    }
    /// The row's key.
    pub fn key(&self) -> String {
        ids::lookup_key(&self.0)
    }
    /// The value (for the link).
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for LinkToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkToken([redacted])")
    }
}

/// An email to send.
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    /// Recipient.
    pub to: String,
    /// Subject.
    pub subject: String,
    /// Plain-text body (holds the link: never logged).
    pub body: String,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// A link row to insert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEmailToken {
    /// hex SHA-256 of the token.
    pub key: String,
    /// The person.
    pub user_id: String,
    /// [`VERIFY`] or [`RESET`].
    pub purpose: &'static str,
    /// The address it goes to.
    pub email: String,
    /// Unix seconds.
    pub expires_at: u64,
    /// Unix seconds.
    pub created_at: u64,
}

fn link(
    issuer: &str,
    path: &str,
    purpose: &'static str,
    user_id: &str,
    email: &str,
    ttl: u64,
    now: u64,
) -> Result<(String, Write), OAuthError> {
    let token = LinkToken(ids::new_opaque("")?);
    let base = format!("{issuer}{path}?");
    let start = base.len();
    let mut url = form_urlencoded::Serializer::for_suffix(base, start);
    url.append_pair("token", token.secret());
    Ok((
        url.finish(),
        Write::EmailToken(NewEmailToken {
            key: token.key(),
            user_id: user_id.to_string(),
            purpose,
            email: email.to_string(),
            expires_at: now.saturating_add(ttl),
            created_at: now,
        }),
    ))
}

/// The verification email for a new account's address, and its link row.
pub fn verification(
    issuer: &str,
    user_id: &str,
    username: &str,
    email: &str,
    now: u64,
) -> Result<(Message, Writes), OAuthError> {
    let (url, row) = link(issuer, VERIFY_PATH, VERIFY, user_id, email, VERIFY_TTL, now)?;
    let msg = Message {
        to: email.to_string(),
        subject: "Confirm your email address".into(),
        body: format!(
            "Someone created the account {username} at {issuer} with this address.\n\n\
             To confirm it is yours, open this link within 24 hours:\n\n{url}\n\n\
             If this was not you, ignore this message.\n"
        ),
    };
    Ok((msg, Writes::none().with(row)))
}

/// The reset email for an account, and its link row.
pub fn reset_link(
    issuer: &str,
    user_id: &str,
    username: &str,
    email: &str,
    now: u64,
) -> Result<(Message, Writes), OAuthError> {
    let (url, row) = link(issuer, RESET_PATH, RESET, user_id, email, RESET_TTL, now)?;
    let msg = Message {
        to: email.to_string(),
        subject: "Reset your password".into(),
        body: format!(
            "Someone asked to reset the password of the account {username} at {issuer}.\n\n\
             To choose a new password, open this link within 30 minutes (it works once):\n\n{url}\n\n\
             Setting a new password signs the account out everywhere. If this was not you, \
             ignore this message: your password stays as it is.\n"
        ),
    };
    Ok((msg, Writes::none().with(row)))
}

/// Why a link does not work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkError {
    /// Unknown, for another purpose, or already used.
    Invalid,
    /// Past its deadline.
    Expired,
}

impl LinkError {
    /// Text for the page.
    pub fn message(self) -> &'static str {
        match self {
            LinkError::Invalid => "This link is not valid, or it was already used.",
            LinkError::Expired => "This link has expired. Ask for a new one.",
        }
    }
}

/// The loaded link, checked for `purpose`.
pub fn check(
    row: Option<EmailTokenRow>,
    purpose: &str,
    now: u64,
) -> Result<EmailTokenRow, LinkError> {
    let row = row
        .filter(|r| r.purpose == purpose && r.used_at.is_none())
        .ok_or(LinkError::Invalid)?;
    if now >= row.expires_at {
        return Err(LinkError::Expired);
    }
    Ok(row)
}

fn claim(key: &str, purpose: &'static str, nonce: &str, now: u64) -> Claim {
    Claim::EmailToken {
        key: key.to_string(),
        purpose,
        nonce: nonce.to_string(),
        now,
    }
}

/// Following a verification link: the address is verified (if it is still the account's).
pub fn verify(key: &str, row: &EmailTokenRow, nonce: &str, now: u64) -> Writes {
    let mut w = Writes::new(claim(key, VERIFY, nonce, now)).with(Write::EmailVerified {
        user_id: row.user_id.clone(),
        email: row.email.clone(),
    });
    w.audit(AuditEvent {
        user_id: Some(row.user_id.clone()),
        ..AuditEvent::new(now, event::EMAIL_VERIFIED)
    });
    w
}

/// Using a reset link with a new password (its PBKDF2 record): the password is replaced, and
/// every session and token family of the person ends.
pub fn reset(key: &str, row: &EmailTokenRow, new_hash: &str, nonce: &str, now: u64) -> Writes {
    let mut w = Writes::new(claim(key, RESET, nonce, now))
        .with(Write::SetPassword {
            user_id: row.user_id.clone(),
            hash: new_hash.to_string(),
        })
        .with(Write::RevokeFamiliesOf {
            owner: Owner::User(row.user_id.clone()),
            reason: PASSWORD_RESET,
            at: now,
        });
    w.rows
        .extend(session::end_everywhere(&row.user_id, now).rows);
    w.audit(AuditEvent {
        user_id: Some(row.user_id.clone()),
        detail: Some(PASSWORD_RESET),
        ..AuditEvent::new(now, event::PASSWORD_RESET)
    });
    w
}

/// How messages leave this worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mailer {
    /// Cloudflare's `send_email` binding (`EMAIL`).
    Binding,
    /// The local outbox table: only for a local `http://` issuer without a binding.
    Outbox,
    /// Neither: an https issuer without a binding sends nothing (links are not offered).
    None,
}

/// The mailer for a worker with (or without) the binding, serving `issuer`.
pub fn mailer(has_binding: bool, issuer: &str) -> Mailer {
    match (has_binding, issuer.starts_with("http://")) {
        (true, _) => Mailer::Binding,
        (false, true) => Mailer::Outbox,
        (false, false) => Mailer::None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_outbox_is_only_for_a_local_issuer() {
        assert_eq!(mailer(true, "https://a"), Mailer::Binding);
        assert_eq!(mailer(false, "http://127.0.0.1:8787"), Mailer::Outbox);
        assert_eq!(mailer(false, "https://a"), Mailer::None);
    }

    use super::*;

    fn row(purpose: &str, used: Option<u64>) -> EmailTokenRow {
        EmailTokenRow {
            user_id: "u_1".into(),
            purpose: purpose.into(),
            email: "a@example.com".into(),
            expires_at: 1000 + RESET_TTL,
            used_at: used,
        }
    }

    #[test]
    fn links_are_single_use_short_lived_and_for_one_purpose() {
        assert_eq!(check(None, RESET, 1000), Err(LinkError::Invalid));
        assert_eq!(
            check(Some(row(VERIFY, None)), RESET, 1000),
            Err(LinkError::Invalid)
        );
        assert_eq!(
            check(Some(row(RESET, Some(5))), RESET, 1000),
            Err(LinkError::Invalid)
        );
        assert_eq!(
            check(Some(row(RESET, None)), RESET, 1000 + RESET_TTL),
            Err(LinkError::Expired)
        );
        assert!(check(Some(row(RESET, None)), RESET, 1000 + RESET_TTL - 1).is_ok());
    }

    #[test]
    fn messages_carry_a_link_stored_only_as_its_hash() {
        let (msg, w) = reset_link("https://i", "u_1", "alice", "a@example.com", 100).unwrap();
        let Some(Write::EmailToken(t)) = w.rows.first() else {
            panic!("{w:?}")
        };
        let url = msg
            .body
            .lines()
            .find(|l| l.starts_with("https://i/reset_password?token="))
            .unwrap();
        let token = url.split_once("token=").unwrap().1;
        assert_eq!(t.key, LinkToken::new(token).key());
        assert!(!format!("{w:?}").contains(token), "the row holds no token");
        assert!(!format!("{msg:?}").contains(token), "Debug hides the body");
        assert_eq!((t.purpose, t.expires_at), (RESET, 100 + RESET_TTL));
        let (v, w) = verification("https://i", "u_1", "alice", "a@example.com", 100).unwrap();
        assert!(v.body.contains("https://i/verify_email?token="));
        assert!(
            matches!(w.rows.first(), Some(Write::EmailToken(t)) if t.expires_at == 100 + VERIFY_TTL)
        );
    }

    #[test]
    fn a_reset_replaces_the_password_and_ends_everything_under_its_claim() {
        let w = reset("k", &row(RESET, None), "pbkdf2$new", "n1", 500);
        assert!(matches!(&w.claim, Claim::EmailToken { key, purpose: RESET, .. } if key == "k"));
        assert!(
            w.rows
                .iter()
                .any(|r| matches!(r, Write::SetPassword { hash, .. } if hash == "pbkdf2$new"))
        );
        assert!(
            w.rows
                .iter()
                .any(|r| matches!(r, Write::EndSessionsOf { user_id } if user_id == "u_1"))
        );
        assert!(w.rows.iter().any(|r| matches!(
            r,
            Write::RevokeFamiliesOf { owner: Owner::User(u), reason: PASSWORD_RESET, .. } if u == "u_1"
        )));
        let v = verify("k", &row(VERIFY, None), "n2", 500);
        assert!(
            v.rows.iter().any(
                |r| matches!(r, Write::EmailVerified { email, .. } if email == "a@example.com")
            )
        );
    }
}
