//! The OAuth messages the helper sends and reads (RFC 6749, RFC 7636), as plain data.

use crate::error::{ErrorCode, HelperError};

/// What the app passes to `new EdgeTurn({...})`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// The edge's base URL, e.g. `https://auth.example.com` (no trailing path).
    pub edge: String,
    /// The public client registered at the edge.
    pub client_id: String,
    /// Where the edge sends the code; a page that posts it back (www/public/callback.html).
    pub redirect_uri: String,
    /// Scopes; must include `turn` for ICE servers.
    pub scope: String,
}

/// The scope asked for when the app gives none.
pub const DEFAULT_SCOPE: &str = "openid turn";

impl Options {
    /// Checks the options and normalises the edge URL.
    pub fn validated(mut self) -> Result<Options, HelperError> {
        while self.edge.ends_with('/') {
            self.edge.pop();
        }
        let url_ok = |u: &str| u.starts_with("https://") || u.starts_with("http://");
        if !url_ok(&self.edge) {
            return Err(HelperError::new(
                ErrorCode::BadOptions,
                "edge must be an http(s) URL",
            ));
        }
        if !url_ok(&self.redirect_uri) {
            return Err(HelperError::new(
                ErrorCode::BadOptions,
                "redirectUri must be an http(s) URL",
            ));
        }
        if self.client_id.is_empty() {
            return Err(HelperError::new(
                ErrorCode::BadOptions,
                "clientId is required",
            ));
        }
        Ok(self)
    }

    /// The authorization request URL (code flow, PKCE S256).
    pub fn authorize_url(&self, state: &str, challenge: &str) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("scope", &self.scope)
            .append_pair("state", state)
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256")
            .finish();
        format!("{}/oauth2/authorize?{query}", self.edge)
    }

    /// The edge's discovery document (RFC 8414).
    pub fn metadata_url(&self) -> String {
        format!("{}/.well-known/oauth-authorization-server", self.edge)
    }

    /// The token endpoint URL.
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/token", self.edge)
    }

    /// The TURN credentials URL.
    pub fn credentials_url(&self) -> String {
        format!("{}/turn/credentials", self.edge)
    }

    /// The signed-in person's relay usage.
    pub fn usage_url(&self) -> String {
        format!("{}/turn/usage", self.edge)
    }

    /// Form body exchanging a code (public client: client_id in the body, no secret).
    pub fn code_exchange_body(&self, code: &str, verifier: &str) -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("client_id", &self.client_id)
            .append_pair("code_verifier", verifier)
            .finish()
    }

    /// The edge's RP-initiated logout as a form to POST (OpenID Connect RP-Initiated Logout
    /// 1.0 section 2 allows POST): the action, and the fields. The edge revokes this app's
    /// tokens for the person named by `id_token`, then sends the browser to
    /// `post_logout_redirect_uri` (which the app registered). A form post keeps the ID token
    /// out of URLs, so out of the browser's history and of logs.
    pub fn end_session_form(
        &self,
        id_token: &str,
        post_logout_redirect_uri: &str,
    ) -> (String, [(&'static str, String); 3]) {
        (
            format!("{}/oauth2/logout", self.edge),
            [
                ("id_token_hint", id_token.to_string()),
                ("client_id", self.client_id.clone()),
                (
                    "post_logout_redirect_uri",
                    post_logout_redirect_uri.to_string(),
                ),
            ],
        )
    }

    /// Form body for a refresh.
    pub fn refresh_body(&self, refresh_token: &str) -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "refresh_token")
            .append_pair("refresh_token", refresh_token)
            .append_pair("client_id", &self.client_id)
            .finish()
    }
}

/// A successful token response (RFC 6749 section 5.1).
#[derive(Clone)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// `Bearer`, or `DPoP` when the edge bound the tokens to the helper's key (RFC 9449
    /// section 5).
    pub token_type: Option<String>,
    /// Seconds until the access token expires.
    pub expires_in: Option<f64>,
    /// Rotated on every refresh.
    pub refresh_token: Option<String>,
    /// The OpenID Connect ID token (scope `openid`), kept for signing out.
    pub id_token: Option<String>,
}

/// An error response (RFC 6749 section 5.2).
#[derive(Clone, Debug)]
pub struct ErrorResponse {
    /// The RFC 6749 error code.
    pub error: String,
    /// Text for people.
    pub error_description: Option<String>,
}

impl ErrorResponse {
    /// What a failed token request means for the app.
    pub fn into_helper_error(self, during_refresh: bool) -> HelperError {
        let text = match &self.error_description {
            Some(d) => format!("{} ({d})", self.error),
            None => self.error.clone(),
        };
        let code = match self.error.as_str() {
            "invalid_grant" if during_refresh => ErrorCode::SessionExpired,
            "invalid_token" => ErrorCode::SessionExpired,
            _ if during_refresh => ErrorCode::BadResponse,
            _ => ErrorCode::SignInFailed,
        };
        HelperError::new(code, format!("the edge refused: {text}"))
    }
}

/// What the sign-in window reports back: its redirect query string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Callback {
    /// The authorization code and the state it came with.
    Code {
        /// The code.
        code: String,
        /// Must equal the state the helper sent.
        state: String,
    },
    /// The edge redirected with an error (e.g. `access_denied`).
    Error {
        /// RFC 6749 section 4.1.2.1 error code.
        error: String,
        /// The state it came with.
        state: String,
    },
}

impl Callback {
    /// Parses `?code=...&state=...` or `?error=...&state=...`.
    pub fn parse(search: &str) -> Option<Callback> {
        let (mut code, mut state, mut error) = (None, None, None);
        for (k, v) in form_urlencoded::parse(search.trim_start_matches('?').as_bytes()) {
            match &*k {
                "code" => code = Some(v.into_owned()),
                "state" => state = Some(v.into_owned()),
                "error" => error = Some(v.into_owned()),
                _ => {}
            }
        }
        let state = state.unwrap_or_default();
        match (code, error) {
            (_, Some(error)) => Some(Callback::Error { error, state }),
            (Some(code), None) => Some(Callback::Code { code, state }),
            (None, None) => None,
        }
    }

    /// The code, if the state matches the one sent (constant-time is not needed: state is
    /// not a secret from the user, it binds the response to this request).
    pub fn code_for(self, expected_state: &str) -> Result<String, HelperError> {
        match self {
            Callback::Code { code, state } if state == expected_state => Ok(code),
            Callback::Code { .. } => Err(HelperError::new(
                ErrorCode::SignInFailed,
                "state mismatch: the response is not for this sign-in",
            )),
            Callback::Error { error, .. } => Err(HelperError::new(
                ErrorCode::SignInFailed,
                format!("the edge answered {error}"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> Options {
        Options {
            edge: "http://127.0.0.1:8787/".into(),
            client_id: "demo web".into(),
            redirect_uri: "http://127.0.0.1:8787/callback.html".into(),
            scope: "openid turn".into(),
        }
        .validated()
        .unwrap()
    }

    #[test]
    fn authorize_url_has_every_pkce_parameter_encoded() {
        let u = opts().authorize_url("st&1", "chal");
        assert_eq!(
            u,
            "http://127.0.0.1:8787/oauth2/authorize?response_type=code&client_id=demo+web\
             &redirect_uri=http%3A%2F%2F127.0.0.1%3A8787%2Fcallback.html&scope=openid+turn\
             &state=st%261&code_challenge=chal&code_challenge_method=S256"
        );
    }

    #[test]
    fn bodies() {
        let o = opts();
        assert_eq!(
            o.code_exchange_body("c/1", "v"),
            "grant_type=authorization_code&code=c%2F1&redirect_uri=http%3A%2F%2F127.0.0.1%3A8787%2Fcallback.html&client_id=demo+web&code_verifier=v"
        );
        assert_eq!(
            o.refresh_body("r"),
            "grant_type=refresh_token&refresh_token=r&client_id=demo+web"
        );
    }

    #[test]
    fn bad_options() {
        let mut o = opts();
        o.edge = "ftp://x".into();
        assert_eq!(o.validated().unwrap_err().code, ErrorCode::BadOptions);
        let mut o = opts();
        o.client_id.clear();
        assert_eq!(o.validated().unwrap_err().code, ErrorCode::BadOptions);
    }

    #[test]
    fn callbacks_and_state() {
        let cb = Callback::parse("?code=abc&state=s1").unwrap();
        assert_eq!(cb.clone().code_for("s1").unwrap(), "abc");
        assert_eq!(cb.code_for("s2").unwrap_err().code, ErrorCode::SignInFailed);
        let e = Callback::parse("?error=access_denied&state=s1").unwrap();
        assert!(
            e.code_for("s1")
                .unwrap_err()
                .message
                .contains("access_denied")
        );
        assert_eq!(Callback::parse("?x=1"), None);
    }

    #[test]
    fn refresh_refusal_means_session_expired() {
        let e = ErrorResponse {
            error: "invalid_grant".into(),
            error_description: Some("refresh token reused".into()),
        };
        assert_eq!(
            e.clone().into_helper_error(true).code,
            ErrorCode::SessionExpired
        );
        assert_eq!(e.into_helper_error(false).code, ErrorCode::SignInFailed);
    }

    #[test]
    fn end_session_form_posts_the_hint_client_and_return() {
        let o = Options {
            edge: "https://edge.example".into(),
            client_id: "web".into(),
            redirect_uri: "https://app.example/callback.html".into(),
            scope: DEFAULT_SCOPE.into(),
        };
        let (action, fields) = o.end_session_form("eyJ.a.b", "https://app.example/");
        assert_eq!(action, "https://edge.example/oauth2/logout");
        assert!(
            !action.contains("eyJ"),
            "the ID token never goes in the URL"
        );
        assert_eq!(
            fields,
            [
                ("id_token_hint", "eyJ.a.b".to_string()),
                ("client_id", "web".to_string()),
                (
                    "post_logout_redirect_uri",
                    "https://app.example/".to_string()
                ),
            ]
        );
    }
}
