//! Who may use the console, and the cookies that say so.
//!
//! Signing in: `GET /console` without a session seals a [`Pending`] sign-in (the `state`, the
//! PKCE verifier) into a short cookie and redirects to the edge's own authorization endpoint
//! as [`super::CLIENT_ID`]. `/console/callback` checks the `state` against that cookie,
//! redeems the code with the verifier, verifies the access token it got, and [`admit`]s its
//! person only with [`super::ADMIN_RIGHT`]: then a session row (by the hex SHA-256 of a
//! 256-bit random cookie value) and the session cookie: `HttpOnly`, `SameSite=Strict`, short
//! ([`super::SESSION_TTL`]), and with an https issuer `__Host-` and `Secure`.
//!
//! Every request reloads the session with its person, so removing the right, disabling the
//! person or deleting them ends the session at once. Forms carry a CSRF token: an HMAC of the
//! session's lookup key under the console subkey of `TOKEN_SIGNING_KEY`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::{ADMIN_RIGHT, CALLBACK, CLIENT_ID, SESSION_TTL, SIGNIN_TTL};
use crate::oauth::effects::{AuditEvent, Write, Writes};
use crate::oauth::https::{self, cookie_name};
use crate::oauth::keys::{Purpose, SigningKey};
use crate::oauth::{flows::pkce, flows::sealed};
use crate::store::console::SessionRow;

/// The session cookie's base name.
pub const SESSION_COOKIE: &str = "edge_console";
/// The sign-in cookie's base name.
pub const SIGNIN_COOKIE: &str = "edge_console_signin";

/// `Set-Cookie` for the console's cookie `base` ([`https::set_cookie`]; `Path=/console` with a
/// plain-http issuer).
pub(super) fn set_cookie(
    issuer: &str,
    base: &str,
    value: &str,
    max_age: u64,
    same_site: &str,
) -> String {
    let name = cookie_name(issuer, base);
    https::set_cookie(issuer, &name, value, "/console", same_site, max_age)
}

/// The session cookie.
pub fn session_cookie(issuer: &str, value: &str) -> String {
    set_cookie(issuer, SESSION_COOKIE, value, SESSION_TTL, "Strict")
}

/// The session cookie, removed.
pub fn session_cookie_removed(issuer: &str) -> String {
    set_cookie(issuer, SESSION_COOKIE, "", 0, "Strict")
}

/// The sign-in cookie. `Lax`: it must come back on the redirect from the authorization
/// endpoint (a same-site navigation either way, but the cookie holds nothing a cross-site
/// request could use: the `state` inside must also match the callback's).
pub fn signin_cookie(issuer: &str, sealed: &str) -> String {
    set_cookie(issuer, SIGNIN_COOKIE, sealed, SIGNIN_TTL, "Lax")
}

/// A sign-in under way, sealed into [`SIGNIN_COOKIE`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The `state` sent to the authorization endpoint.
    pub state: String,
    /// The PKCE code verifier (RFC 7636 section 4.1).
    pub verifier: String,
    /// Unix seconds.
    pub exp: u64,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("exp", &self.exp)
            .finish_non_exhaustive()
    }
}

impl Pending {
    /// A sign-in from fresh random `state` and `verifier` (43 or more URL-safe characters).
    pub fn new(state: String, verifier: String, now: u64) -> Pending {
        Pending {
            state,
            verifier,
            exp: now + SIGNIN_TTL,
        }
    }

    /// Sealed for the cookie.
    pub fn seal(&self, key: &SigningKey) -> String {
        sealed::seal(key, Purpose::Console, self)
    }

    /// The sign-in in the cookie, when it verifies, has not expired and its `state` is the
    /// callback's.
    pub fn open(
        key: &SigningKey,
        cookie: Option<&str>,
        state: Option<&str>,
        now: u64,
    ) -> Option<Pending> {
        let p: Pending = sealed::open(key, Purpose::Console, cookie?)?;
        let same = state.is_some_and(|s| shared_token::ct_eq(s.as_bytes(), p.state.as_bytes()));
        (same && now < p.exp && pkce::verifier_is_well_formed(&p.verifier)).then_some(p)
    }

    /// The authorization request: `issuer`'s endpoint, the console's client and callback,
    /// scope `openid`, S256 (RFC 7636 section 4.3).
    pub fn authorize_url(&self, issuer: &str) -> String {
        let issuer = issuer.trim_end_matches('/');
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", CLIENT_ID)
            .append_pair("redirect_uri", &callback_uri(issuer))
            .append_pair("scope", "openid")
            .append_pair("state", &self.state)
            .append_pair("code_challenge", &pkce::s256(&self.verifier))
            .append_pair("code_challenge_method", "S256")
            .finish();
        format!("{issuer}/oauth2/authorize?{query}")
    }
}

/// The callback's absolute URI on `issuer`.
pub fn callback_uri(issuer: &str) -> String {
    format!("{}{CALLBACK}", issuer.trim_end_matches('/'))
}

/// True when the stored rights hold [`ADMIN_RIGHT`].
pub fn is_admin(rights: &str) -> bool {
    rights.split(' ').any(|r| r == ADMIN_RIGHT)
}

/// Why a person gets no console.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No live session: sign in.
    SignIn,
    /// Signed in, but without [`ADMIN_RIGHT`] or disabled: 403.
    Forbidden,
}

/// The person a live session acts for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admin {
    /// User id (the audit rows' actor).
    pub user_id: String,
    /// Sign-in name.
    pub username: String,
    /// The session's lookup key.
    pub key: String,
}

/// Admits a person: the session row (`None` when there is none, it expired or its person is
/// gone) must be for a person who has the right, is not disabled, and of whom everything was
/// not revoked since the session began.
pub fn admit(key: &str, row: Option<SessionRow>, now: u64) -> Result<Admin, Refusal> {
    let row = row.ok_or(Refusal::SignIn)?;
    // "Revoke everything" of the person ends their console sessions too.
    if now >= row.expires_at || row.revoked_before.is_some_and(|at| at >= row.created_at) {
        return Err(Refusal::SignIn);
    }
    if row.disabled_at.is_some() || !is_admin(&row.rights) {
        return Err(Refusal::Forbidden);
    }
    Ok(Admin {
        user_id: row.user_id,
        username: row.username,
        key: key.to_string(),
    })
}

/// A new session for `user_id` (who was [`admit`]ted by their rights) under lookup key `key`;
/// expired sessions go in the same batch, with the audit row.
pub fn start(key: &str, user_id: &str, now: u64) -> Writes {
    Writes::none()
        .with(Write::EndConsoleSession {
            key: String::new(),
            now,
        })
        .with(Write::ConsoleSession {
            key: key.to_string(),
            user_id: user_id.to_string(),
            created_at: now,
            expires_at: now + SESSION_TTL,
        })
        .with(Write::Audit(AuditEvent {
            user_id: Some(user_id.to_string()),
            client_id: Some(CLIENT_ID.to_string()),
            ..AuditEvent::new(now, super::event::SIGNED_IN)
        }))
        .by(user_id)
}

/// Signing out: the session and every expired one.
pub fn end(key: &str, now: u64) -> Writes {
    Writes::none().with(Write::EndConsoleSession {
        key: key.to_string(),
        now,
    })
}

/// The CSRF token of the session with lookup key `key`.
pub fn csrf_token(signing: &SigningKey, key: &str) -> String {
    URL_SAFE_NO_PAD.encode(signing.sign(Purpose::Console, csrf_input(key).as_bytes()))
}

fn csrf_input(key: &str) -> String {
    format!("console csrf\0{key}")
}

/// True when `presented` is the session's CSRF token (constant time).
pub fn csrf_ok(signing: &SigningKey, key: &str, presented: Option<&str>) -> bool {
    presented
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .is_some_and(|tag| signing.verify(Purpose::Console, csrf_input(key).as_bytes(), &tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::new(&[7; 32]).unwrap()
    }

    fn row(rights: &str, disabled: Option<u64>) -> SessionRow {
        SessionRow {
            user_id: "u1".into(),
            username: "ada".into(),
            rights: rights.into(),
            disabled_at: disabled,
            revoked_before: None,
            created_at: 10,
            expires_at: 100,
        }
    }

    #[test]
    fn only_live_sessions_of_enabled_admins_are_admitted() {
        let ok = admit("k", Some(row("api:x console:admin", None)), 50).unwrap();
        assert_eq!((ok.user_id.as_str(), ok.key.as_str()), ("u1", "k"));
        assert_eq!(admit("k", None, 50), Err(Refusal::SignIn));
        assert_eq!(
            admit("k", Some(row("console:admin", None)), 100),
            Err(Refusal::SignIn)
        );
        let mut revoked = row("console:admin", None);
        revoked.revoked_before = Some(10);
        assert_eq!(admit("k", Some(revoked.clone()), 50), Err(Refusal::SignIn));
        revoked.revoked_before = Some(9);
        assert!(
            admit("k", Some(revoked), 50).is_ok(),
            "revoked before it began"
        );
        for (rights, disabled) in [
            ("api:admin", None),
            ("", None),
            ("console:admins", None),
            ("console:admin", Some(1)),
        ] {
            assert_eq!(
                admit("k", Some(row(rights, disabled)), 50),
                Err(Refusal::Forbidden),
                "{rights}"
            );
        }
    }

    #[test]
    fn the_signin_cookie_must_match_the_callbacks_state_and_time() {
        let k = key();
        let v = "v".repeat(43);
        let sealed = Pending::new("st".into(), v.clone(), 10).seal(&k);
        assert!(Pending::open(&k, Some(&sealed), Some("st"), 11).is_some());
        assert!(Pending::open(&k, Some(&sealed), Some("other"), 11).is_none());
        assert!(Pending::open(&k, Some(&sealed), None, 11).is_none());
        assert!(Pending::open(&k, None, Some("st"), 11).is_none());
        assert!(Pending::open(&k, Some(&sealed), Some("st"), 10 + SIGNIN_TTL).is_none());
        let other = SigningKey::new(&[8; 32]).unwrap();
        assert!(Pending::open(&other, Some(&sealed), Some("st"), 11).is_none());
        // A page state sealed for another purpose does not open here.
        let page = sealed::seal(&k, Purpose::Page, &Pending::new("st".into(), v, 10));
        assert!(Pending::open(&k, Some(&page), Some("st"), 11).is_none());
        assert!(!format!("{:?}", Pending::new("s".into(), "secret".into(), 1)).contains("secret"));
    }

    #[test]
    fn the_authorization_request_is_code_with_pkce_for_the_console_client() {
        let p = Pending::new("st".into(), "v".repeat(43), 10);
        let url = p.authorize_url("http://127.0.0.1:8787/");
        assert!(url.starts_with("http://127.0.0.1:8787/oauth2/authorize?response_type=code&client_id=edge-console&redirect_uri=http%3A%2F%2F127.0.0.1%3A8787%2Fconsole%2Fcallback"), "{url}");
        assert!(url.contains(&format!("code_challenge={}", pkce::s256(&"v".repeat(43)))));
        assert!(url.contains("code_challenge_method=S256") && url.contains("state=st"));
        assert!(!url.contains(&"v".repeat(43)), "the verifier stays home");
    }

    #[test]
    fn cookies_are_strict_httponly_and_host_prefixed_on_https() {
        let c = session_cookie("https://auth.example", "abc");
        assert_eq!(
            c,
            "__Host-edge_console=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=1800; Secure"
        );
        let c = session_cookie("http://127.0.0.1:1", "abc");
        assert_eq!(
            c,
            "edge_console=abc; Path=/console; HttpOnly; SameSite=Strict; Max-Age=1800"
        );
        assert!(session_cookie_removed("https://a").contains("Max-Age=0"));
        assert!(signin_cookie("https://a", "s").starts_with("__Host-edge_console_signin=s;"));
    }

    #[test]
    fn csrf_tokens_belong_to_one_session() {
        let k = key();
        let t = csrf_token(&k, "s1");
        assert!(csrf_ok(&k, "s1", Some(&t)));
        assert!(!csrf_ok(&k, "s2", Some(&t)));
        assert!(!csrf_ok(&k, "s1", None));
        assert!(!csrf_ok(&k, "s1", Some("not base64 !")));
    }

    #[test]
    fn a_session_start_writes_the_row_and_an_audit_row_by_the_person() {
        let w = start("key", "u1", 10);
        assert!(w.rows.iter().any(|r| matches!(r, Write::ConsoleSession { expires_at, .. } if *expires_at == 10 + SESSION_TTL)));
        let a = w.audits().next().unwrap();
        assert_eq!(a.actor.as_deref(), Some("u1"));
    }
}
