//! The authorization endpoint (RFC 6749 section 4.1.1), its sign-in and consent steps, and
//! the state those forms carry.
//!
//! The worker keeps no session: the validated authorization request travels through the
//! sign-in and consent forms as a value signed with the server's key ([`FormState`], sealed
//! as [`super::sealed`] describes), bound to a random CSRF cookie (double submit: the cookie,
//! a hidden field equal to it, and the cookie's hash inside the signed state must all
//! agree). The cookie is `HttpOnly`, `SameSite=Strict` and scoped to this endpoint. Whether
//! the person must sign in or consent at all is [`crate::oauth::people::session::decide`]'s answer.

use serde::{Deserialize, Serialize};

use super::pkce;
use super::sealed::{self, csrf_binding};
use crate::oauth::clients::client::{ClientRecord, GrantType};
use crate::oauth::effects::{AuditEvent, NewCode, Write, Writes, event};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::ids;
use crate::oauth::keys::{Purpose, SigningKey};
use crate::oauth::params::Params;
use crate::oauth::people::session::{Authn, Prompt};
use crate::oauth::scope::Scope;
use crate::oauth::tokens::resource::{self, Resources};

use super::sealed::FormError;

/// Name of the CSRF cookie.
pub const CSRF_COOKIE: &str = "edge_oauth_csrf";
/// Seconds the sign-in form stays valid.
pub const LOGIN_TTL: u64 = 600;
/// Seconds the consent form stays valid.
pub const CONSENT_TTL: u64 = 300;
/// Longest `state` echoed back.
pub const MAX_STATE: usize = 1024;
/// Longest `nonce` carried into the ID token.
pub const MAX_NONCE: usize = 512;

/// A validated authorization request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    /// Client.
    pub client_id: String,
    /// A registered redirect URI, exactly as sent.
    pub redirect_uri: String,
    /// Normalised scope.
    pub scope: String,
    /// Echoed back.
    pub state: Option<String>,
    /// S256 challenge.
    pub code_challenge: String,
    /// OpenID Connect `nonce`, carried into the ID token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// `prompt` and `max_age`.
    #[serde(default)]
    pub prompt: Prompt,
    /// The RFC 8707 resources asked for (each registered for the client, or the issuer).
    #[serde(default, skip_serializing_if = "Resources::is_empty")]
    pub resources: Resources,
}

/// Why an authorization request is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Shown to the user: the client or redirect URI cannot be trusted, so nothing is sent to
    /// it (RFC 6749 section 4.1.2.1).
    Page(OAuthError),
    /// Sent back to the client: the `Location` to redirect to.
    Redirect(String),
}

/// Appends query parameters to a redirect URI.
pub fn redirect_with(redirect_uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        ser.append_pair(k, v);
    }
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    format!("{redirect_uri}{sep}{}", ser.finish())
}

/// The error redirect (with `state` and RFC 9207's `iss`).
pub fn error_redirect(
    redirect_uri: &str,
    err: &OAuthError,
    state: Option<&str>,
    issuer: &str,
) -> String {
    let mut pairs = vec![
        ("error", err.code.as_str()),
        ("error_description", err.description.as_ref()),
    ];
    if let Some(s) = state {
        pairs.push(("state", s));
    }
    pairs.push(("iss", issuer));
    redirect_with(redirect_uri, &pairs)
}

/// The success redirect carrying the code.
pub fn code_redirect(redirect_uri: &str, code: &str, state: Option<&str>, issuer: &str) -> String {
    let mut pairs = vec![("code", code)];
    if let Some(s) = state {
        pairs.push(("state", s));
    }
    pairs.push(("iss", issuer));
    redirect_with(redirect_uri, &pairs)
}

/// The `client_id` to load (an error page when missing).
pub fn client_id(params: &Params) -> Result<&str, Refusal> {
    params
        .get("client_id")
        .ok_or_else(|| Refusal::Page(OAuthError::invalid_request("client_id is missing")))
}

/// Validates the request against the loaded client.
pub fn validate(
    params: &Params,
    client: Option<&ClientRecord>,
    issuer: &str,
) -> Result<AuthorizationRequest, Refusal> {
    let client =
        client.ok_or_else(|| Refusal::Page(OAuthError::invalid_request("unknown client")))?;
    let redirect_uri = params
        .get("redirect_uri")
        .ok_or_else(|| Refusal::Page(OAuthError::invalid_request("redirect_uri is missing")))?;
    if !client.has_redirect_uri_at(redirect_uri, issuer) {
        return Err(Refusal::Page(OAuthError::invalid_request(
            "redirect_uri is not registered for this client",
        )));
    }
    let state = params.get("state").filter(|s| s.len() <= MAX_STATE);
    let back = |e: OAuthError| Refusal::Redirect(error_redirect(redirect_uri, &e, state, issuer));
    if params.get("state").is_some_and(|s| s.len() > MAX_STATE) {
        return Err(back(OAuthError::invalid_request("state is too long")));
    }
    match params.get("response_type") {
        None => {
            return Err(back(OAuthError::invalid_request(
                "response_type is missing",
            )));
        }
        Some("code") => {}
        // `token`, `id_token` and every hybrid combination put tokens in the redirect URI's
        // fragment, where browsers, logs and referrers leak them and no PKCE binds them to
        // the client: the OAuth 2.0 Security BCP (RFC 9700 section 2.1.2) says not to use them.
        Some(_) => {
            return Err(back(OAuthError::new(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported (no implicit or hybrid flows: RFC 9700)",
            )));
        }
    }
    // Request objects would carry parameters this server does not read: refuse rather than
    // silently ignore what they say.
    if params.get("request").is_some() {
        return Err(back(OAuthError::new(
            ErrorCode::RequestNotSupported,
            "request objects are not supported",
        )));
    }
    if params.get("request_uri").is_some() {
        return Err(back(OAuthError::new(
            ErrorCode::RequestUriNotSupported,
            "request_uri is not supported",
        )));
    }
    let prompt: Vec<&str> = params
        .get("prompt")
        .unwrap_or("")
        .split(' ')
        .filter(|p| !p.is_empty())
        .collect();
    if prompt
        .iter()
        .any(|p| !matches!(*p, "none" | "login" | "consent" | "select_account"))
        || (prompt.contains(&"none") && prompt.len() > 1)
    {
        return Err(back(OAuthError::invalid_request("prompt is not valid")));
    }
    let max_age = match params.get("max_age") {
        None => None,
        Some(m) => Some(m.parse::<u64>().map_err(|_| {
            back(OAuthError::invalid_request(
                "max_age must be a number of seconds",
            ))
        })?),
    };
    let nonce = params.get("nonce");
    if nonce.is_some_and(|n| n.len() > MAX_NONCE) {
        return Err(back(OAuthError::invalid_request("nonce is too long")));
    }
    if !client.allows(GrantType::AuthorizationCode) {
        return Err(back(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client may not use the code flow",
        )));
    }
    pkce::check_challenge(
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    )
    .map_err(back)?;
    let scope = Scope::grant(params.get("scope"), &client.scope).map_err(back)?;
    let resources = resource::requested(params, &client.resources, issuer).map_err(back)?;
    Ok(AuthorizationRequest {
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.to_string(),
        scope: scope.to_string(),
        state: state.map(str::to_string),
        code_challenge: params.get("code_challenge").unwrap_or_default().to_string(),
        nonce: nonce.map(str::to_string),
        prompt: Prompt {
            none: prompt.contains(&"none"),
            login: prompt.contains(&"login"),
            consent: prompt.contains(&"consent"),
            max_age,
        },
        resources,
    })
}

/// Which form a state belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// The sign-in form.
    Login,
    /// The consent form.
    Consent,
}

/// The signed state carried by the forms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormState {
    /// Which form.
    pub stage: Stage,
    /// The request.
    pub req: AuthorizationRequest,
    /// The signed-in user (consent stage).
    pub user_id: Option<String>,
    /// The user's sign-in name, shown on the consent page.
    pub username: Option<String>,
    /// When the user signed in (consent stage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<u64>,
    /// How they were authenticated (consent stage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authn: Option<Authn>,
    /// Binding to the CSRF cookie: base64url of the first 16 bytes of its SHA-256.
    pub csrf: String,
    /// Unix seconds.
    pub exp: u64,
}

impl FormState {
    /// The sign-in form's state.
    pub fn login(req: AuthorizationRequest, csrf_cookie: &str, now: u64) -> FormState {
        FormState {
            stage: Stage::Login,
            req,
            user_id: None,
            username: None,
            auth_time: None,
            authn: None,
            csrf: csrf_binding(csrf_cookie),
            exp: now + LOGIN_TTL,
        }
    }

    /// The consent form's state, after sign-in.
    pub fn consent(self, user_id: &str, username: &str, now: u64) -> FormState {
        FormState {
            stage: Stage::Consent,
            user_id: Some(user_id.to_string()),
            username: Some(username.to_string()),
            auth_time: Some(now),
            exp: now + CONSENT_TTL,
            ..self
        }
    }

    /// The same, for a person authenticated as `authn` at `auth_time` (a session's sign-in,
    /// or the one just done).
    pub fn authenticated(self, auth_time: u64, authn: Authn) -> FormState {
        FormState {
            auth_time: Some(auth_time),
            authn: Some(authn),
            ..self
        }
    }

    /// Sealed for the form's hidden field ([`sealed`]).
    pub fn seal(&self, key: &SigningKey) -> String {
        sealed::seal(key, Purpose::Form, self)
    }

    /// Verifies a sealed state for `stage` against the CSRF cookie and hidden field.
    pub fn open(
        key: &SigningKey,
        sealed_state: Option<&str>,
        stage: Stage,
        cookie: Option<&str>,
        field: Option<&str>,
        now: u64,
    ) -> Result<FormState, FormError> {
        let cookie = sealed::cookie_matches_field(cookie, field)?;
        let state: FormState =
            sealed::open(key, Purpose::Form, sealed_state.ok_or(FormError::Tampered)?)
                .ok_or(FormError::Tampered)?;
        if state.stage != stage {
            return Err(FormError::Tampered);
        }
        sealed::bound_to(&state.csrf, cookie)?;
        if now >= state.exp {
            return Err(FormError::Expired);
        }
        Ok(state)
    }
}

/// Issues a code for a consented request: the code, its row and an audit row.
pub fn issue_code(
    state: &FormState,
    code_ttl: u32,
    now: u64,
) -> Result<(String, Writes), OAuthError> {
    let (Some(user_id), Some(auth_time)) = (state.user_id.clone(), state.auth_time) else {
        return Err(OAuthError::server_error("consent without a signed-in user"));
    };
    let code = ids::new_opaque(ids::CODE_PREFIX)?;
    let mut w = Writes::none();
    w.push(Write::Code(NewCode {
        key: ids::lookup_key(&code),
        client_id: state.req.client_id.clone(),
        user_id: user_id.clone(),
        redirect_uri: state.req.redirect_uri.clone(),
        scope: state.req.scope.clone(),
        code_challenge: state.req.code_challenge.clone(),
        nonce: state.req.nonce.clone(),
        auth_time,
        authn: state.authn.clone(),
        expires_at: now.saturating_add(u64::from(code_ttl)),
        created_at: now,
        resource: state.req.resources.to_column(),
    }));
    w.audit(AuditEvent {
        token_id: Some(ids::token_id(code.as_bytes())),
        client_id: Some(state.req.client_id.clone()),
        user_id: Some(user_id),
        ..AuditEvent::new(now, event::CODE_ISSUED)
    });
    Ok((code, w))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::flows::grants::tests::client;

    const CH: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn p(s: &str) -> Params {
        Params::from_form(s.as_bytes()).unwrap()
    }

    fn good() -> String {
        format!(
            "response_type=code&client_id=c1&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&scope=openid&state=xyz&code_challenge={CH}&code_challenge_method=S256"
        )
    }

    #[test]
    fn valid_request() {
        let c = client(&[GrantType::AuthorizationCode], "openid turn", true);
        let r = validate(&p(&good()), Some(&c), "https://i").unwrap();
        assert_eq!(
            (r.scope.as_str(), r.state.as_deref()),
            ("openid", Some("xyz"))
        );
        // prompt=login and max_age are met by signing in afresh; the nonce is carried.
        let oidc = good() + "&prompt=login&max_age=0&nonce=n-0S6";
        let r = validate(&p(&oidc), Some(&c), "https://i").unwrap();
        assert_eq!(r.nonce.as_deref(), Some("n-0S6"));
        assert!(r.resources.is_empty());
    }

    #[test]
    fn resources_must_be_registered_and_travel_to_the_code() {
        let mut c = client(&[GrantType::AuthorizationCode], "openid turn", true);
        c.resources = Resources::from_list(["https://api.example/mcp"]).unwrap();
        let q = good() + "&resource=https%3A%2F%2Fapi.example%2Fmcp&resource=https%3A%2F%2Fi";
        let r = validate(&p(&q), Some(&c), "https://i").unwrap();
        assert_eq!(r.resources.to_stored(), "https://api.example/mcp https://i");
        let state = FormState::login(r, "cookie", 0).consent("u_1", "alice", 1);
        let (_, w) = issue_code(&state, 60, 1).unwrap();
        let code = w.find(|x| match x {
            Write::Code(c) => Some(c),
            _ => None,
        });
        assert_eq!(
            code.and_then(|c| c.resource.as_deref()),
            Some("https://api.example/mcp https://i")
        );
        // Unregistered, or with a fragment: invalid_target, sent back to the client.
        for bad in [
            "https%3A%2F%2Fevil.example",
            "https%3A%2F%2Fapi.example%2Fmcp%23f",
        ] {
            let q = good() + "&resource=" + bad;
            match validate(&p(&q), Some(&c), "https://i") {
                Err(Refusal::Redirect(l)) => assert!(l.contains("error=invalid_target"), "{l}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn untrusted_redirects_get_a_page_others_redirect() {
        let c = client(&[GrantType::AuthorizationCode], "openid turn", true);
        assert!(matches!(
            validate(&p(&good()), None, "https://i"),
            Err(Refusal::Page(_))
        ));
        let bad_uri = good().replace("app.example", "evil.example");
        assert!(matches!(
            validate(&p(&bad_uri), Some(&c), "https://i"),
            Err(Refusal::Page(_))
        ));
        let cases = [
            (
                good().replace("response_type=code", "response_type=token"),
                "unsupported_response_type",
            ),
            (good().replace("S256", "plain"), "invalid_request"),
            (
                good().replace(&format!("code_challenge={CH}&"), ""),
                "invalid_request",
            ),
            (
                good().replace("scope=openid", "scope=admin"),
                "invalid_scope",
            ),
            (
                good().replace("response_type=code", "response_type=id_token"),
                "unsupported_response_type",
            ),
            (
                good().replace("response_type=code", "response_type=code+id_token"),
                "unsupported_response_type",
            ),
            (good() + "&request=eyJ.e30.", "request_not_supported"),
            (
                good() + "&request_uri=https%3A%2F%2Fapp.example%2Fr",
                "request_uri_not_supported",
            ),
            (good() + "&prompt=none+login", "invalid_request"),
            (good() + "&prompt=sometimes", "invalid_request"),
            (good() + "&max_age=soon", "invalid_request"),
            (
                good() + &format!("&nonce={}", "n".repeat(513)),
                "invalid_request",
            ),
        ];
        for (q, want) in cases {
            match validate(&p(&q), Some(&c), "https://i") {
                Err(Refusal::Redirect(loc)) => {
                    assert!(loc.starts_with("https://app.example/cb?error="), "{loc}");
                    assert!(loc.contains(&format!("error={want}")), "{loc}");
                    assert!(
                        loc.contains("state=xyz") && loc.contains("iss=https%3A%2F%2Fi"),
                        "{loc}"
                    );
                }
                other => panic!("{q}: {other:?}"),
            }
        }
        let no_code = client(&[GrantType::ClientCredentials], "openid", false);
        assert!(
            matches!(validate(&p(&good()), Some(&no_code), "https://i"), Err(Refusal::Redirect(l)) if l.contains("unauthorized_client"))
        );
    }

    #[test]
    fn form_state_binds_cookie_stage_and_time() {
        let k = SigningKey::new(&[4; 32]).unwrap();
        let c = client(&[GrantType::AuthorizationCode], "openid", true);
        let req = validate(&p(&good()), Some(&c), "https://i").unwrap();
        let login = FormState::login(req, "cookie-1", 100);
        let sealed = login.seal(&k);
        let open = |s: &str, stage, cookie, field, now| {
            FormState::open(&k, Some(s), stage, cookie, field, now)
        };
        assert_eq!(
            open(
                &sealed,
                Stage::Login,
                Some("cookie-1"),
                Some("cookie-1"),
                101
            )
            .unwrap(),
            login
        );
        assert_eq!(
            open(&sealed, Stage::Login, None, Some("cookie-1"), 101),
            Err(FormError::Csrf)
        );
        assert_eq!(
            open(
                &sealed,
                Stage::Login,
                Some("cookie-1"),
                Some("cookie-2"),
                101
            ),
            Err(FormError::Csrf)
        );
        assert_eq!(
            open(
                &sealed,
                Stage::Login,
                Some("cookie-2"),
                Some("cookie-2"),
                101
            ),
            Err(FormError::Csrf)
        );
        assert_eq!(
            open(
                &sealed,
                Stage::Consent,
                Some("cookie-1"),
                Some("cookie-1"),
                101
            ),
            Err(FormError::Tampered)
        );
        assert_eq!(
            open(
                &sealed,
                Stage::Login,
                Some("cookie-1"),
                Some("cookie-1"),
                100 + LOGIN_TTL
            ),
            Err(FormError::Expired)
        );
        let tampered = format!("A{sealed}");
        assert_eq!(
            open(
                &tampered,
                Stage::Login,
                Some("cookie-1"),
                Some("cookie-1"),
                101
            ),
            Err(FormError::Tampered)
        );
        let consent = login.consent("u_1", "alice", 200).seal(&k);
        assert!(
            open(
                &consent,
                Stage::Consent,
                Some("cookie-1"),
                Some("cookie-1"),
                201
            )
            .is_ok()
        );
    }

    #[test]
    fn codes() {
        let c = client(&[GrantType::AuthorizationCode], "openid", true);
        let req = validate(&p(&good()), Some(&c), "https://i").unwrap();
        let st = FormState::login(req, "ck", 0).consent("u_1", "alice", 0);
        let (code, w) = issue_code(&st, 60, 1000).unwrap();
        assert!(
            issue_code(&FormState::login(st.req.clone(), "ck", 0), 60, 1000).is_err(),
            "no code without a signed-in user"
        );
        assert!(code.starts_with("ac1."));
        let Some(Write::Code(row)) = w.rows.first().cloned() else {
            panic!("{w:?}")
        };
        assert_eq!((row.expires_at, row.key), (1060, ids::lookup_key(&code)));
        let loc = code_redirect(
            "https://app.example/cb?a=1",
            &code,
            Some("s t"),
            "https://i",
        );
        assert!(
            loc.starts_with("https://app.example/cb?a=1&code=ac1."),
            "{loc}"
        );
        assert!(loc.ends_with("&state=s+t&iss=https%3A%2F%2Fi"), "{loc}");
    }
}
