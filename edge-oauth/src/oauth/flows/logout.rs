//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) at `end_session_endpoint`.
//!
//! This server keeps no sign-in session, so signing out means ending what an app holds: the
//! refresh-token families of that client and user are revoked (and with them every access
//! token issued in them). The user and client come from `id_token_hint`, whose signature the
//! worker verified (its expiry is not checked: apps send hints after they expire). Without a
//! hint nothing can be revoked and nothing is. `post_logout_redirect_uri` must equal one the
//! client registered; otherwise the person gets a page and is sent nowhere.
//!
//! An expired hint proves less: it may have leaked (from a history, a log, a shared device)
//! long after the session it named. With one, nothing is revoked until the person confirms on
//! a page whose form posts back with a CSRF token bound to a `SameSite=Strict` cookie
//! ([`super::logout_confirm`]); a valid hint signs out at once, as the specification allows.

use super::authorize::{MAX_STATE, redirect_with};
use crate::oauth::clients::client::ClientRecord;
use crate::oauth::effects::{AuditEvent, Owner, Write, Writes, event};
use crate::oauth::error::OAuthError;
use crate::oauth::params::Params;
use crate::oauth::tokens::id_token::Hint;

/// `revoked_reason` of families revoked by a logout.
pub const LOGOUT: &str = "logout";

/// The request's parameters (query or form).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogoutRequest {
    /// `id_token_hint`.
    pub id_token_hint: Option<String>,
    /// `client_id`.
    pub client_id: Option<String>,
    /// `post_logout_redirect_uri`.
    pub post_logout_redirect_uri: Option<String>,
    /// `state`, echoed to the redirect.
    pub state: Option<String>,
}

impl LogoutRequest {
    /// Reads the parameters.
    pub fn from_params(p: &Params) -> LogoutRequest {
        let s = |k| p.get(k).map(str::to_string);
        LogoutRequest {
            id_token_hint: s("id_token_hint"),
            client_id: s("client_id"),
            post_logout_redirect_uri: s("post_logout_redirect_uri"),
            state: s("state").filter(|v| v.len() <= MAX_STATE),
        }
    }

    /// The client to load: the hint's audience, or `client_id`.
    pub fn client_id<'a>(&'a self, hint: Option<&'a Hint>) -> Option<&'a str> {
        hint.map(|h| h.aud.as_str()).or(self.client_id.as_deref())
    }
}

/// What a logout does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logout {
    /// The revocation and its audit row (empty without a hint).
    pub writes: Writes,
    /// Where to send the person (with `state`), or `None` for the signed-out page.
    pub redirect: Option<String>,
    /// The hint has expired and the person has not confirmed: show the confirmation page
    /// (`writes` is empty).
    pub confirm: bool,
}

/// Decides a logout. `hint` is the verified hint (`Err` when one was sent and does not
/// verify); `client` is the loaded client of [`LogoutRequest::client_id`]; `confirmed` is true
/// when the person confirmed on the page ([`super::logout_confirm::confirmed`]).
pub fn decide(
    req: &LogoutRequest,
    hint: Result<Option<Hint>, OAuthError>,
    client: Option<&ClientRecord>,
    issuer: &str,
    now: u64,
    confirmed: bool,
) -> Result<Logout, OAuthError> {
    let hint = hint?;
    if let Some(h) = &hint {
        if h.iss != issuer {
            return Err(OAuthError::invalid_request(
                "id_token_hint is from another issuer",
            ));
        }
        if req.client_id.as_deref().is_some_and(|c| c != h.aud) {
            return Err(OAuthError::invalid_request(
                "client_id does not match the id_token_hint",
            ));
        }
    }
    let redirect = match &req.post_logout_redirect_uri {
        None => None,
        Some(uri) => {
            let client = client.ok_or_else(|| {
                OAuthError::invalid_request(
                    "post_logout_redirect_uri needs id_token_hint or client_id",
                )
            })?;
            if !client.post_logout_redirect_uris.iter().any(|u| u == uri) {
                return Err(OAuthError::invalid_request(
                    "post_logout_redirect_uri is not registered for this client",
                ));
            }
            Some(match &req.state {
                Some(s) => redirect_with(uri, &[("state", s)]),
                None => uri.clone(),
            })
        }
    };
    let mut writes = Writes::none();
    if let Some(h) = hint {
        if client.is_none() {
            return Err(OAuthError::invalid_request(
                "the id_token_hint names an unknown client",
            ));
        }
        if h.exp <= now && !confirmed {
            return Ok(Logout {
                writes,
                redirect,
                confirm: true,
            });
        }
        writes.push(Write::RevokeFamiliesOf {
            owner: Owner::ClientUser {
                client_id: h.aud.clone(),
                user_id: h.sub.clone(),
            },
            reason: LOGOUT,
            at: now,
        });
        writes.audit(AuditEvent {
            client_id: Some(h.aud),
            user_id: Some(h.sub),
            detail: Some(LOGOUT),
            ..AuditEvent::new(now, event::FAMILIES_REVOKED)
        });
    }
    Ok(Logout {
        writes,
        redirect,
        confirm: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::clients::client::GrantType;
    use crate::oauth::flows::grants::tests::client;

    fn hint() -> Hint {
        Hint {
            iss: "https://i".into(),
            sub: "u_1".into(),
            aud: "c1".into(),
            exp: 100,
        }
    }

    fn req(q: &str) -> LogoutRequest {
        LogoutRequest::from_params(&Params::from_form(q.as_bytes()).unwrap())
    }

    fn registered() -> ClientRecord {
        let mut c = client(&[GrantType::AuthorizationCode], "openid", true);
        c.post_logout_redirect_uris = vec!["https://app.example/bye".into()];
        c
    }

    #[test]
    fn a_hint_revokes_that_client_and_user_and_redirects_only_to_registered_uris() {
        let c = registered();
        let r = req("post_logout_redirect_uri=https%3A%2F%2Fapp.example%2Fbye&state=s1");
        let out = decide(&r, Ok(Some(hint())), Some(&c), "https://i", 9, false).unwrap();
        assert_eq!(
            out.redirect.as_deref(),
            Some("https://app.example/bye?state=s1")
        );
        assert_eq!(
            out.writes.rows[0],
            Write::RevokeFamiliesOf {
                owner: Owner::ClientUser {
                    client_id: "c1".into(),
                    user_id: "u_1".into()
                },
                reason: LOGOUT,
                at: 9
            }
        );
        let bad = req("post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F");
        assert!(decide(&bad, Ok(Some(hint())), Some(&c), "https://i", 9, false).is_err());
    }

    #[test]
    fn an_expired_hint_revokes_only_once_confirmed() {
        let c = registered();
        let r = req("post_logout_redirect_uri=https%3A%2F%2Fapp.example%2Fbye");
        let expired = Hint { exp: 9, ..hint() };
        let ask = decide(
            &r,
            Ok(Some(expired.clone())),
            Some(&c),
            "https://i",
            9,
            false,
        )
        .unwrap();
        assert!(ask.confirm && ask.writes.is_empty());
        assert_eq!(ask.redirect.as_deref(), Some("https://app.example/bye"));
        let done = decide(
            &r,
            Ok(Some(expired.clone())),
            Some(&c),
            "https://i",
            9,
            true,
        )
        .unwrap();
        assert!(!done.confirm && !done.writes.is_empty());
        // An expired hint still has to be right about everything else.
        let bad = req("post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F");
        assert!(decide(&bad, Ok(Some(expired)), Some(&c), "https://i", 9, false).is_err());
        // A valid hint needs no confirmation.
        let now = decide(&r, Ok(Some(hint())), Some(&c), "https://i", 9, false).unwrap();
        assert!(!now.confirm && !now.writes.is_empty());
    }

    #[test]
    fn refusals_and_the_no_hint_case() {
        let c = registered();
        let none = decide(&req(""), Ok(None), None, "https://i", 9, false).unwrap();
        assert!(none.writes.is_empty() && none.redirect.is_none());
        let other_iss = Hint {
            iss: "https://evil".into(),
            ..hint()
        };
        assert!(
            decide(
                &req(""),
                Ok(Some(other_iss)),
                Some(&c),
                "https://i",
                9,
                false
            )
            .is_err()
        );
        assert!(
            decide(
                &req("client_id=c2"),
                Ok(Some(hint())),
                Some(&c),
                "https://i",
                9,
                false
            )
            .is_err()
        );
        assert!(decide(&req(""), Ok(Some(hint())), None, "https://i", 9, false).is_err());
        let uri_without_client = req("post_logout_redirect_uri=https%3A%2F%2Fapp.example%2Fbye");
        assert!(decide(&uri_without_client, Ok(None), None, "https://i", 9, false).is_err());
        assert!(
            decide(
                &req(""),
                Err(OAuthError::invalid_request("x")),
                Some(&c),
                "https://i",
                9,
                false
            )
            .is_err()
        );
        // client_id alone may name the client for the redirect, but revokes nothing.
        let by_id = req("client_id=c1&post_logout_redirect_uri=https%3A%2F%2Fapp.example%2Fbye");
        let out = decide(&by_id, Ok(None), Some(&c), "https://i", 9, false).unwrap();
        assert!(out.writes.is_empty() && out.redirect.is_some());
    }
}
