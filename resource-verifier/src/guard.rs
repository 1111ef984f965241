//! The endpoint "decorator": an HTTP request's `Authorization` header in, either the verified
//! token or the RFC 6750 answer out.

use crate::claims::Verified;
use crate::verify::Rejection;

/// An RFC 6750 refusal, ready to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// 401 or 403.
    pub status: u16,
    /// The `WWW-Authenticate` header value.
    pub www_authenticate: String,
    /// The JSON body (`error`, `error_description`).
    pub body: String,
}

impl Refusal {
    /// The refusal for `r`, in `realm`.
    pub fn new(realm: &str, r: Rejection) -> Refusal {
        let description = r.to_string();
        Refusal {
            status: r.status(),
            www_authenticate: format!(
                "Bearer realm=\"{realm}\", error=\"{}\", error_description=\"{description}\"",
                r.error_code()
            ),
            body: serde_json::json!({ "error": r.error_code(), "error_description": description })
                .to_string(),
        }
    }

    /// The answer to a request without a bearer token (RFC 6750 section 3.1: no error code).
    pub fn missing(realm: &str) -> Refusal {
        Refusal {
            status: 401,
            www_authenticate: format!("Bearer realm=\"{realm}\""),
            body: serde_json::json!({ "error": "invalid_token", "error_description": "a bearer token is required" })
                .to_string(),
        }
    }
}

/// The token from `Authorization: Bearer <token>` (header only: RFC 6750 section 2.1).
pub fn bearer(authorization: Option<&str>) -> Option<&str> {
    let (scheme, token) = authorization?.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Guards an endpoint: the header's token must verify (`check` runs the verifier, e.g. a
/// [`crate::JwksCache`]) and hold `scope` and every right in `rights`.
pub fn guard(
    realm: &str,
    authorization: Option<&str>,
    scope: &str,
    rights: &[&str],
    check: impl FnOnce(&str) -> Result<Verified, Rejection>,
) -> Result<Verified, Refusal> {
    let token = bearer(authorization).ok_or_else(|| Refusal::missing(realm))?;
    let v = check(token).map_err(|r| Refusal::new(realm, r))?;
    v.require_scope(scope).map_err(|r| Refusal::new(realm, r))?;
    for right in rights {
        v.require_right(right).map_err(|r| Refusal::new(realm, r))?;
    }
    Ok(v)
}
