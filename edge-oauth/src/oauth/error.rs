//! Wire error codes with their RFC sections, and the error every endpoint answers with.

use std::borrow::Cow;
use std::fmt;

/// An error code on the wire. Each variant names the RFC section that defines it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// RFC 6749 section 5.2: a required parameter is missing, repeated or malformed, or the
    /// request is otherwise unreadable (wrong content type, not UTF-8).
    InvalidRequest,
    /// RFC 6749 section 5.2: client authentication failed (unknown client, wrong secret, none
    /// given, unsupported method). HTTP 401 with `WWW-Authenticate`.
    InvalidClient,
    /// RFC 6749 section 5.2: the code, refresh token or resource-owner credentials are
    /// invalid, expired, revoked, already used, or bound to another client or redirect URI;
    /// or the PKCE verifier does not match (RFC 7636 section 4.6).
    InvalidGrant,
    /// RFC 6749 section 5.2: the authenticated client may not use this grant type.
    UnauthorizedClient,
    /// RFC 6749 section 5.2: the grant type is not supported by this server.
    UnsupportedGrantType,
    /// RFC 6749 section 5.2: the scope is malformed or exceeds what the client (or the grant
    /// being refreshed) may have.
    InvalidScope,
    /// RFC 6749 section 4.1.2.1: the resource owner denied the request.
    AccessDenied,
    /// RFC 6749 section 4.1.2.1: `response_type` other than `code`.
    UnsupportedResponseType,
    /// RFC 6749 sections 4.1.2.1 and 5.2 (by extension): the server failed; also missing or
    /// invalid configuration.
    ServerError,
    /// RFC 6749 section 4.1.2.1: the server cannot answer now (e.g. the database is down).
    TemporarilyUnavailable,
    /// RFC 7009 section 2.2.1: revocation of this token type is not supported.
    UnsupportedTokenType,
    /// RFC 6750 section 3.1: the bearer token is missing, malformed, expired or revoked.
    /// HTTP 401 with `WWW-Authenticate: Bearer`.
    InvalidToken,
    /// RFC 6750 section 3.1: the bearer token lacks the scope the resource needs. HTTP 403.
    InsufficientScope,
    /// RFC 8707 section 2: the requested audience (`aud`) is not a resource this server
    /// issues tokens for.
    InvalidTarget,
    /// RFC 9449 section 5: the DPoP proof is missing what it must say, or says it wrongly.
    InvalidDpopProof,
    /// RFC 9449 section 8: the DPoP proof must carry the nonce sent in `DPoP-Nonce`.
    UseDpopNonce,
    /// RFC 8628 section 3.5: the person has not answered the device authorization yet.
    AuthorizationPending,
    /// RFC 8628 section 3.5: the device polls too often; wait 5 seconds more.
    SlowDown,
    /// RFC 8628 section 3.5: the device code expired.
    ExpiredToken,
    /// OpenID Connect Core section 3.1.2.6: `prompt=none`, but the person must sign in (no
    /// live session, or its sign-in is older than `max_age`).
    LoginRequired,
    /// OpenID Connect Core section 3.1.2.6: `prompt=none`, but the person has not consented to
    /// this app and scope.
    ConsentRequired,
    /// OpenID Connect Core section 3.1.2.6: a `request` object was sent; this server takes
    /// none (discovery says `request_parameter_supported: false`).
    RequestNotSupported,
    /// OpenID Connect Core section 3.1.2.6: a `request_uri` was sent; not supported.
    RequestUriNotSupported,
    /// RFC 7591 section 3.2.2: a redirect URI is missing or not acceptable.
    InvalidRedirectUri,
    /// RFC 7591 section 3.2.2: other client metadata is not acceptable.
    InvalidClientMetadata,
    /// Not an OAuth code: no such endpoint (HTTP 404).
    NotFound,
    /// Not an OAuth code: the endpoint exists but not for this method (HTTP 405).
    MethodNotAllowed,
}

impl ErrorCode {
    /// The code as it appears in the `error` member.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::UnsupportedTokenType => "unsupported_token_type",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InsufficientScope => "insufficient_scope",
            ErrorCode::InvalidTarget => "invalid_target",
            ErrorCode::InvalidDpopProof => "invalid_dpop_proof",
            ErrorCode::UseDpopNonce => "use_dpop_nonce",
            ErrorCode::AuthorizationPending => "authorization_pending",
            ErrorCode::SlowDown => "slow_down",
            ErrorCode::ExpiredToken => "expired_token",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::ConsentRequired => "consent_required",
            ErrorCode::RequestNotSupported => "request_not_supported",
            ErrorCode::RequestUriNotSupported => "request_uri_not_supported",
            ErrorCode::InvalidRedirectUri => "invalid_redirect_uri",
            ErrorCode::InvalidClientMetadata => "invalid_client_metadata",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
        }
    }

    /// The HTTP status that goes with the code: 400 for everything RFC 6749 section 5.2 lists
    /// except `invalid_client` (401); RFC 6750's 401 and 403; 500 and 503 for server failures.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::InvalidClient | ErrorCode::InvalidToken => 401,
            ErrorCode::InsufficientScope | ErrorCode::AccessDenied => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::ServerError => 500,
            ErrorCode::TemporarilyUnavailable => 503,
            ErrorCode::InvalidRequest
            | ErrorCode::InvalidGrant
            | ErrorCode::UnauthorizedClient
            | ErrorCode::UnsupportedGrantType
            | ErrorCode::InvalidScope
            | ErrorCode::UnsupportedResponseType
            | ErrorCode::UnsupportedTokenType
            | ErrorCode::InvalidTarget
            | ErrorCode::InvalidDpopProof
            | ErrorCode::UseDpopNonce
            | ErrorCode::AuthorizationPending
            | ErrorCode::SlowDown
            | ErrorCode::ExpiredToken
            | ErrorCode::LoginRequired
            | ErrorCode::ConsentRequired
            | ErrorCode::RequestNotSupported
            | ErrorCode::RequestUriNotSupported
            | ErrorCode::InvalidRedirectUri
            | ErrorCode::InvalidClientMetadata => 400,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which `WWW-Authenticate` challenge goes with a 401 or 403.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Challenge {
    /// `Basic realm="..."`: client authentication at the token, introspection and revocation
    /// endpoints (RFC 6749 section 5.2).
    Basic,
    /// `Bearer realm="...", error="..."`: a protected resource (RFC 6750 section 3).
    Bearer,
    /// `DPoP realm="...", algs="ES256", error="..."`: a protected resource refusing a
    /// DPoP-bound token or its proof (RFC 9449 section 7.1).
    Dpop,
}

/// An error response: code, a description for people, the status, and the challenge.
///
/// Descriptions are fixed text written here; they never echo request input, so no secret a
/// client sent can reach a response or a log line through an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthError {
    /// The code.
    pub code: ErrorCode,
    /// `error_description`.
    pub description: Cow<'static, str>,
    /// The HTTP status (the code's own unless overridden, e.g. 413 for an oversized body).
    pub status: u16,
    /// The challenge for `WWW-Authenticate`, if any.
    pub challenge: Option<Challenge>,
    /// Seconds for `Retry-After` (a rate limit's 429).
    pub retry_after: Option<u32>,
    /// A server nonce for `DPoP-Nonce` (RFC 9449 section 8), with `use_dpop_nonce`.
    pub dpop_nonce: Option<String>,
}

impl OAuthError {
    /// An error with the code's status and, for `invalid_client`, a Basic challenge; for
    /// `invalid_token` and `insufficient_scope`, a Bearer challenge.
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> OAuthError {
        let challenge = match code {
            ErrorCode::InvalidClient => Some(Challenge::Basic),
            ErrorCode::InvalidToken | ErrorCode::InsufficientScope => Some(Challenge::Bearer),
            _ => None,
        };
        OAuthError {
            code,
            description: description.into(),
            status: code.status(),
            challenge,
            retry_after: None,
            dpop_nonce: None,
        }
    }

    /// Answers with a `DPoP` challenge (RFC 9449 section 7.1), 401.
    pub fn with_dpop_challenge(mut self) -> OAuthError {
        self.challenge = Some(Challenge::Dpop);
        self.status = 401;
        self
    }

    /// Adds `DPoP-Nonce` (RFC 9449 section 8).
    pub fn with_dpop_nonce(mut self, nonce: String) -> OAuthError {
        self.dpop_nonce = Some(nonce);
        self
    }

    /// Adds `Retry-After` (RFC 9110 section 10.2.3).
    pub fn with_retry_after(mut self, seconds: u32) -> OAuthError {
        self.retry_after = Some(seconds);
        self
    }

    /// Overrides the status (413 for an oversized body; 409 for a conflict at the admin API).
    pub fn with_status(mut self, status: u16) -> OAuthError {
        self.status = status;
        self
    }

    /// `invalid_request`.
    pub fn invalid_request(d: impl Into<Cow<'static, str>>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidRequest, d)
    }
    /// `invalid_client` (401, Basic challenge).
    pub fn invalid_client(d: impl Into<Cow<'static, str>>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidClient, d)
    }
    /// `invalid_grant`.
    pub fn invalid_grant(d: impl Into<Cow<'static, str>>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidGrant, d)
    }
    /// `invalid_scope`.
    pub fn invalid_scope(d: impl Into<Cow<'static, str>>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidScope, d)
    }
    /// `invalid_token` (401, Bearer challenge).
    pub fn invalid_token(d: impl Into<Cow<'static, str>>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidToken, d)
    }
    /// `server_error` (500).
    pub fn server_error(d: impl Into<Cow<'static, str>>) -> OAuthError {
        OAuthError::new(ErrorCode::ServerError, d)
    }

    /// The `WWW-Authenticate` header value, if this error carries a challenge.
    pub fn www_authenticate(&self, realm: &str) -> Option<String> {
        match self.challenge? {
            Challenge::Basic => Some(format!("Basic realm=\"{realm}\", charset=\"UTF-8\"")),
            Challenge::Bearer => Some(format!(
                "Bearer realm=\"{realm}\", error=\"{}\", error_description=\"{}\"",
                self.code.as_str(),
                self.description.replace(['"', '\\'], "'")
            )),
            Challenge::Dpop => Some(format!(
                "DPoP realm=\"{realm}\", algs=\"ES256\", error=\"{}\", error_description=\"{}\"",
                self.code.as_str(),
                self.description.replace(['"', '\\'], "'")
            )),
        }
    }

    /// The JSON body (RFC 6749 section 5.2).
    pub fn to_json(&self) -> String {
        serde_json::json!({ "error": self.code.as_str(), "error_description": self.description })
            .to_string()
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

impl std::error::Error for OAuthError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_rfc_6749_and_6750() {
        assert_eq!(ErrorCode::InvalidClient.status(), 401);
        assert_eq!(ErrorCode::InvalidGrant.status(), 400);
        assert_eq!(ErrorCode::UnsupportedGrantType.status(), 400);
        assert_eq!(ErrorCode::InvalidToken.status(), 401);
        assert_eq!(ErrorCode::InsufficientScope.status(), 403);
        assert_eq!(ErrorCode::ServerError.status(), 500);
    }

    #[test]
    fn invalid_client_carries_a_basic_challenge() {
        let e = OAuthError::invalid_client("unknown client");
        assert_eq!(e.status, 401);
        assert_eq!(
            e.www_authenticate("edge").as_deref(),
            Some("Basic realm=\"edge\", charset=\"UTF-8\"")
        );
        assert!(
            OAuthError::invalid_grant("x")
                .www_authenticate("edge")
                .is_none()
        );
        let b = OAuthError::invalid_token("token \"expired\"")
            .www_authenticate("edge")
            .unwrap();
        assert!(
            b.starts_with("Bearer realm=\"edge\", error=\"invalid_token\""),
            "{b}"
        );
        assert!(!b.contains("\"expired\""));
    }

    #[test]
    fn json_body_has_error_and_description() {
        let v: serde_json::Value = serde_json::from_str(
            &OAuthError::invalid_scope("too wide")
                .with_status(400)
                .to_json(),
        )
        .unwrap();
        assert_eq!(v["error"], "invalid_scope");
        assert_eq!(v["error_description"], "too wide");
    }
}
