//! Sign-in sessions (docs/edge-oauth.md, "Sessions"): a sign-in creates a server-side session
//! whose cookie holds a 256-bit random value (only its SHA-256 is stored), with an absolute and
//! an idle lifetime; a new session, under a new value, at every sign-in. With a live session and
//! an earlier consent covering the request, the authorization endpoint answers without a page
//! ([`decide`], OpenID Connect Core section 3.1.2.6 for `prompt=none`).
//!
//! How the person was authenticated travels as [`Authn`] through the code and the family into
//! every ID token: `sid`, `amr` (RFC 8176) and `acr`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::oauth::effects::{AuditEvent, Write, Writes, event};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::https;
use crate::oauth::ids;
use crate::oauth::scope::Scope;
use crate::store::reads::SessionRow;

/// The cookie's base name (`__Host-edge_session` under an https issuer).
pub const COOKIE: &str = "edge_session";
/// A session ends this long after its sign-in, used or not (7 days).
pub const ABSOLUTE_TTL: u64 = 7 * 24 * 3600;
/// A session ends when unused this long (24 hours).
pub const IDLE_TTL: u64 = 24 * 3600;
/// `last_seen_at` is written again only when older than this, so a burst of authorizations
/// costs one write.
pub const SEEN_GRANULARITY: u64 = 60;
/// Longest `User-Agent` kept for the account page.
pub const MAX_USER_AGENT: usize = 200;
/// RFC 8176 `pwd`: a password.
pub const AMR_PASSWORD: &str = "pwd";
/// `acr` when the person authenticated during this authorization.
pub const ACR_SIGNED_IN: &str = "1";
/// `acr` when the authorization was answered from the session cookie alone (OpenID Connect
/// Core section 2: "authentication using a long-lived browser cookie ... level 0").
pub const ACR_SESSION: &str = "0";
/// `sid` prefix.
pub const SID_PREFIX: &str = "s_";

/// How the person was authenticated for an authorization: what its ID tokens say.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authn {
    /// The session's public id (ID token `sid`), when there is a session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Space-separated RFC 8176 methods.
    pub amr: String,
    /// [`ACR_SIGNED_IN`] or [`ACR_SESSION`].
    pub acr: String,
}

impl Authn {
    /// The methods as a list (ID token `amr`).
    pub fn amr_list(&self) -> Vec<String> {
        self.amr
            .split(' ')
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// From stored columns (a code or family row); `None` for rows written before sessions.
    pub fn from_columns(sid: Option<&str>, amr: Option<&str>, acr: Option<&str>) -> Option<Authn> {
        Some(Authn {
            sid: sid.map(str::to_string),
            amr: amr?.to_string(),
            acr: acr?.to_string(),
        })
    }
}

/// The cookie value: a secret, so `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionSecret(String);

impl SessionSecret {
    /// Wraps a cookie value read from a request.
    pub fn new(value: String) -> SessionSecret {
        SessionSecret(value)
    }
    /// The value, for the `Set-Cookie` header.
    pub fn secret(&self) -> &str {
        &self.0
    }
    /// The row's key: hex SHA-256 of the value.
    pub fn key(&self) -> String {
        ids::lookup_key(&self.0)
    }
}

impl fmt::Debug for SessionSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionSecret([redacted])")
    }
}

/// A session row to insert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSession {
    /// hex SHA-256 of the cookie value.
    pub key: String,
    /// Public id.
    pub sid: String,
    /// The person.
    pub user_id: String,
    /// Space-separated RFC 8176 methods.
    pub amr: String,
    /// Unix seconds.
    pub auth_time: u64,
    /// Unix seconds: the absolute end.
    pub expires_at: u64,
    /// Truncated `User-Agent`.
    pub user_agent: Option<String>,
}

/// A new session for `user_id`, who just authenticated with `amr`: the cookie value and the
/// writes (the row, the end of the session the browser held before, if any: a new id at every
/// sign-in).
pub fn start(
    user_id: &str,
    amr: &str,
    user_agent: Option<&str>,
    previous: Option<&SessionSecret>,
    now: u64,
) -> Result<(SessionSecret, NewSession, Writes), OAuthError> {
    let secret = SessionSecret(ids::new_opaque("")?);
    let row = NewSession {
        key: secret.key(),
        sid: ids::new_id(SID_PREFIX)?,
        user_id: user_id.to_string(),
        amr: amr.to_string(),
        auth_time: now,
        expires_at: now.saturating_add(ABSOLUTE_TTL),
        user_agent: user_agent.map(truncate_agent),
    };
    let mut w = Writes::none();
    if let Some(old) = previous {
        w.push(Write::EndSession { key: old.key() });
    }
    w.push(Write::Session(row.clone()));
    Ok((secret, row, w))
}

fn truncate_agent(ua: &str) -> String {
    ua.chars()
        .filter(|c| !c.is_control())
        .take(MAX_USER_AGENT)
        .collect()
}

/// True while `row` has not passed its absolute or its idle end.
pub fn is_live(row: &SessionRow, now: u64) -> bool {
    now < row.expires_at && now < row.last_seen_at.saturating_add(IDLE_TTL)
}

/// The write that records a use of a live session, when the last one is older than
/// [`SEEN_GRANULARITY`].
pub fn seen(row: &SessionRow, now: u64) -> Option<Write> {
    (now >= row.last_seen_at.saturating_add(SEEN_GRANULARITY)).then(|| Write::SessionSeen {
        key: row.id.clone(),
        at: now,
    })
}

/// What the authorization request asks of the sign-in (OpenID Connect Core section 3.1.2.1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    /// `prompt=none`: answer without any page, or with an error.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub none: bool,
    /// `prompt=login`: sign in again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub login: bool,
    /// `prompt=consent`: ask for consent again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub consent: bool,
    /// `max_age` seconds (0: sign in again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u64>,
}

/// What the authorization endpoint does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// Show the sign-in page.
    SignIn,
    /// The session's person is signed in; show the consent page.
    Consent,
    /// Answer with a code at once.
    Code,
    /// `prompt=none` cannot be met: redirect with this error (`login_required`,
    /// `consent_required`).
    Refuse(OAuthError),
}

/// Whether the session's sign-in is fresh enough for `prompt` (`prompt=login` and `max_age=0`
/// never are; otherwise no older than `max_age`).
pub fn fresh_enough(prompt: &Prompt, auth_time: u64, now: u64) -> bool {
    if prompt.login {
        return false;
    }
    match prompt.max_age {
        None => true,
        Some(0) => false,
        Some(m) => now.saturating_sub(auth_time) <= m,
    }
}

/// Whether an earlier consent (`consented`, the scope stored for this person and client)
/// covers `requested`, and `prompt=consent` does not ask again.
pub fn consented(prompt: &Prompt, consented: Option<&str>, requested: &str) -> bool {
    if prompt.consent {
        return false;
    }
    let (Some(have), Ok(want)) = (consented, Scope::parse(requested)) else {
        return false;
    };
    Scope::parse(have).is_ok_and(|have| want.is_subset(&have))
}

/// Decides an authorization request given the browser's session (already checked live, with
/// its person) and the consent stored for that person and the client (OpenID Connect Core
/// section 3.1.2.6 for `prompt=none`).
pub fn decide(
    prompt: &Prompt,
    session: Option<&SessionRow>,
    consent: Option<&str>,
    requested_scope: &str,
    now: u64,
) -> Next {
    let signed_in =
        session.is_some_and(|s| is_live(s, now) && fresh_enough(prompt, s.auth_time, now));
    let agreed = signed_in && consented(prompt, consent, requested_scope);
    match (prompt.none, signed_in, agreed) {
        (true, false, _) => Next::Refuse(OAuthError::new(
            ErrorCode::LoginRequired,
            "the person is not signed in (or not recently enough)",
        )),
        (true, true, false) => Next::Refuse(OAuthError::new(
            ErrorCode::ConsentRequired,
            "the person has not consented to this app and scope",
        )),
        (_, false, _) => Next::SignIn,
        (_, true, false) => Next::Consent,
        (_, true, true) => Next::Code,
    }
}

/// The consent row after a person allowed `scope` for `client_id`: the union with what they
/// allowed before.
pub fn record_consent(
    user_id: &str,
    client_id: &str,
    before: Option<&str>,
    scope: &str,
    now: u64,
) -> Write {
    let mut all: Vec<&str> = before
        .unwrap_or("")
        .split(' ')
        .chain(scope.split(' '))
        .filter(|s| !s.is_empty())
        .collect();
    all.sort_unstable();
    all.dedup();
    Write::Consent {
        user_id: user_id.to_string(),
        client_id: client_id.to_string(),
        scope: all.join(" "),
        at: now,
    }
}

/// `detail` of the audit row when RP-initiated logout ends a session.
pub const ENDED_BY_LOGOUT: &str = "logout";
/// `detail` of the audit row when the person signs out everywhere.
pub const ENDED_EVERYWHERE: &str = "everywhere";

/// RP-initiated logout for `signed_out` (the verified hint's subject, once the logout is
/// decided) ends the browser's session when it is that person's; any other person's session in
/// the browser is left alone (an app cannot sign out someone it did not sign in).
pub fn end_at_logout(
    session: Option<&SessionRow>,
    signed_out: Option<&str>,
    now: u64,
) -> Option<Writes> {
    let s = session?;
    (signed_out? == s.user_id).then(|| {
        let mut w = Writes::none().with(Write::EndSession { key: s.id.clone() });
        w.audit(AuditEvent {
            user_id: Some(s.user_id.clone()),
            detail: Some(ENDED_BY_LOGOUT),
            ..AuditEvent::new(now, event::SESSIONS_ENDED)
        });
        w
    })
}

/// "Sign out everywhere": every session of the person ends.
pub fn end_everywhere(user_id: &str, now: u64) -> Writes {
    let mut w = Writes::none().with(Write::EndSessionsOf {
        user_id: user_id.to_string(),
    });
    w.audit(AuditEvent {
        user_id: Some(user_id.to_string()),
        detail: Some(ENDED_EVERYWHERE),
        ..AuditEvent::new(now, event::SESSIONS_ENDED)
    });
    w
}

/// The `Set-Cookie` value of the session cookie: `HttpOnly`, `SameSite=Lax` (so the top-level
/// navigation from an app to `/oauth2/authorize` carries it), `Path=/`, lasting as long as the
/// session can; under an https issuer `__Host-` and `Secure`.
pub fn set_cookie(issuer: &str, secret: &SessionSecret) -> String {
    cookie_with(issuer, secret.secret(), ABSOLUTE_TTL)
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie(issuer: &str) -> String {
    cookie_with(issuer, "", 0)
}

fn cookie_with(issuer: &str, value: &str, max_age: u64) -> String {
    https::set_cookie(issuer, &cookie_name(issuer), value, "/", "Lax", max_age)
}

/// The session cookie's name for `issuer`.
pub fn cookie_name(issuer: &str) -> String {
    https::cookie_name(issuer, COOKIE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(auth_time: u64, last_seen_at: u64) -> SessionRow {
        SessionRow {
            id: "k".into(),
            sid: "s_1".into(),
            user_id: "u_1".into(),
            username: Some("alice".into()),
            amr: "pwd".into(),
            auth_time,
            created_at: auth_time,
            last_seen_at,
            expires_at: auth_time + ABSOLUTE_TTL,
        }
    }

    #[test]
    fn sessions_end_at_their_absolute_and_idle_ends() {
        let r = row(1000, 1000);
        assert!(is_live(&r, 1000));
        assert!(is_live(&r, 1000 + IDLE_TTL - 1));
        assert!(!is_live(&r, 1000 + IDLE_TTL), "idle");
        let used = row(1000, 1000 + ABSOLUTE_TTL - 10);
        assert!(
            !is_live(&used, 1000 + ABSOLUTE_TTL),
            "absolute, however recently used"
        );
        assert_eq!(seen(&r, 1030), None);
        assert_eq!(
            seen(&r, 1060),
            Some(Write::SessionSeen {
                key: "k".into(),
                at: 1060
            })
        );
    }

    #[test]
    fn prompt_none_answers_or_says_why_not() {
        let none = Prompt {
            none: true,
            ..Prompt::default()
        };
        let s = row(1000, 1000);
        let code = |n: &Next| match n {
            Next::Refuse(e) => e.code.as_str().to_string(),
            other => format!("{other:?}"),
        };
        assert_eq!(
            code(&decide(&none, None, None, "openid", 1010)),
            "login_required"
        );
        assert_eq!(
            code(&decide(&none, Some(&s), None, "openid", 1010)),
            "consent_required"
        );
        assert_eq!(
            code(&decide(
                &none,
                Some(&s),
                Some("openid"),
                "openid profile",
                1010
            )),
            "consent_required",
            "consent to less than asked"
        );
        assert_eq!(
            decide(
                &none,
                Some(&s),
                Some("openid profile"),
                "profile openid",
                1010
            ),
            Next::Code
        );
        assert_eq!(
            code(&decide(
                &none,
                Some(&s),
                Some("openid"),
                "openid",
                1000 + IDLE_TTL
            )),
            "login_required",
            "an idle session is no session"
        );
        let old = Prompt {
            max_age: Some(5),
            ..none.clone()
        };
        assert_eq!(
            code(&decide(&old, Some(&s), Some("openid"), "openid", 1006)),
            "login_required"
        );
        assert_eq!(
            decide(&old, Some(&s), Some("openid"), "openid", 1005),
            Next::Code
        );
    }

    #[test]
    fn login_and_max_age_force_a_sign_in_and_consent_asks_again() {
        let s = row(1000, 1000);
        let p = |login, consent, max_age| Prompt {
            none: false,
            login,
            consent,
            max_age,
        };
        let ok = Some("openid");
        assert_eq!(
            decide(&p(false, false, None), Some(&s), ok, "openid", 1001),
            Next::Code
        );
        assert_eq!(
            decide(&p(false, false, None), None, ok, "openid", 1001),
            Next::SignIn
        );
        assert_eq!(
            decide(&p(true, false, None), Some(&s), ok, "openid", 1001),
            Next::SignIn
        );
        assert_eq!(
            decide(&p(false, false, Some(0)), Some(&s), ok, "openid", 1000),
            Next::SignIn
        );
        assert_eq!(
            decide(&p(false, false, Some(60)), Some(&s), ok, "openid", 1060),
            Next::Code
        );
        assert_eq!(
            decide(&p(false, false, Some(60)), Some(&s), ok, "openid", 1061),
            Next::SignIn
        );
        assert_eq!(
            decide(&p(false, true, None), Some(&s), ok, "openid", 1001),
            Next::Consent
        );
        assert_eq!(
            decide(&p(false, false, None), Some(&s), None, "openid", 1001),
            Next::Consent
        );
    }

    #[test]
    fn consent_grows_as_a_union() {
        let Write::Consent { scope, .. } =
            record_consent("u", "c", Some("openid turn"), "profile openid", 5)
        else {
            panic!()
        };
        assert_eq!(scope, "openid profile turn");
    }

    #[test]
    fn every_sign_in_is_a_new_session_and_ends_the_one_before() {
        let old = SessionSecret::new("old-value".into());
        let (a, row_a, w) = start("u_1", AMR_PASSWORD, Some("UA\n1"), Some(&old), 100).unwrap();
        let (b, row_b, _) = start("u_1", AMR_PASSWORD, None, None, 100).unwrap();
        assert_ne!(a, b);
        assert_ne!(row_a.sid, row_b.sid);
        assert_eq!(row_a.key, a.key());
        assert_ne!(row_a.key, a.secret(), "only the hash is stored");
        assert_eq!(row_a.user_agent.as_deref(), Some("UA1"));
        assert_eq!(row_a.expires_at, 100 + ABSOLUTE_TTL);
        assert_eq!(w.rows.first(), Some(&Write::EndSession { key: old.key() }));
        assert!(!format!("{a:?}").contains(a.secret()));
    }

    #[test]
    fn logout_ends_only_the_signed_out_persons_session() {
        let s = row(1000, 1000);
        let w = end_at_logout(Some(&s), Some("u_1"), 1100).unwrap();
        assert_eq!(w.rows.first(), Some(&Write::EndSession { key: "k".into() }));
        assert_eq!(
            w.audits().next().map(|a| a.detail),
            Some(Some(ENDED_BY_LOGOUT))
        );
        assert_eq!(end_at_logout(Some(&s), Some("u_2"), 1100), None);
        assert_eq!(end_at_logout(Some(&s), None, 1100), None, "no hint, no end");
        assert_eq!(end_at_logout(None, Some("u_1"), 1100), None);
        let all = end_everywhere("u_1", 1100);
        assert_eq!(
            all.rows.first(),
            Some(&Write::EndSessionsOf {
                user_id: "u_1".into()
            })
        );
    }

    #[test]
    fn cookies_are_host_prefixed_under_https() {
        let s = SessionSecret::new("v".into());
        assert_eq!(
            set_cookie("https://auth.example", &s),
            format!(
                "__Host-edge_session=v; Path=/; HttpOnly; SameSite=Lax; Max-Age={ABSOLUTE_TTL}; Secure"
            )
        );
        assert_eq!(
            set_cookie("http://127.0.0.1:8787", &s),
            format!("edge_session=v; Path=/; HttpOnly; SameSite=Lax; Max-Age={ABSOLUTE_TTL}")
        );
        assert!(clear_cookie("https://a").contains("Max-Age=0"));
    }
}
