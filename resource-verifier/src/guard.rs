//! The endpoint "decorator": an HTTP request's `Authorization` header in, either the verified
//! token or the RFC 6750 answer out, whose challenge names this resource server's metadata
//! (RFC 9728 section 5.1) so a refused client can find where to get a token.

use crate::claims::Verified;
use crate::verify::Rejection;

/// What this resource server's `WWW-Authenticate` challenges say about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    realm: String,
    resource_metadata: Option<String>,
}

impl Challenge {
    /// Challenges in `realm`.
    pub fn new(realm: &str) -> Challenge {
        Challenge {
            realm: realm.to_string(),
            resource_metadata: None,
        }
    }

    /// Adds `resource_metadata="url"` (RFC 9728 section 5.1): the URL of this resource's
    /// protected resource metadata ([`crate::ResourceMetadata::url`]).
    pub fn with_resource_metadata(mut self, url: &str) -> Challenge {
        self.resource_metadata = Some(url.to_string());
        self
    }

    /// The challenge for `scheme` (`Bearer` or `DPoP`) with an optional error and its
    /// description.
    pub fn header(&self, scheme: &str, error: Option<(&str, &str)>) -> String {
        let mut h = format!("{scheme} realm=\"{}\"", quoted(&self.realm));
        if let Some(url) = &self.resource_metadata {
            h.push_str(&format!(", resource_metadata=\"{}\"", quoted(url)));
        }
        if let Some((code, description)) = error {
            h.push_str(&format!(
                ", error=\"{code}\", error_description=\"{}\"",
                quoted(description)
            ));
        }
        h
    }
}

/// A quoted-string's content: no `"` or `\` (RFC 9110 section 5.6.4), no controls.
fn quoted(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .collect()
}

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
    /// The refusal for `r`.
    pub fn new(challenge: &Challenge, r: Rejection) -> Refusal {
        let description = r.to_string();
        Refusal {
            status: r.status(),
            www_authenticate: challenge
                .header(r.scheme(), Some((r.error_code(), description.as_str()))),
            body: serde_json::json!({ "error": r.error_code(), "error_description": description })
                .to_string(),
        }
    }

    /// The answer to a request without a token (RFC 6750 section 3.1: no error code).
    pub fn missing(challenge: &Challenge) -> Refusal {
        Refusal {
            status: 401,
            www_authenticate: challenge.header("Bearer", None),
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
    challenge: &Challenge,
    authorization: Option<&str>,
    scope: &str,
    rights: &[&str],
    check: impl FnOnce(&str) -> Result<Verified, Rejection>,
) -> Result<Verified, Refusal> {
    let token = bearer(authorization).ok_or_else(|| Refusal::missing(challenge))?;
    let v = check(token).map_err(|r| Refusal::new(challenge, r))?;
    permits(challenge, &v, scope, rights)?;
    Ok(v)
}

/// What an HTTP request presents, for [`guard_request`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Presented<'a> {
    /// The `Authorization` header.
    pub authorization: Option<&'a str>,
    /// The `DPoP` header.
    pub dpop: Option<&'a str>,
    /// The method.
    pub method: &'a str,
    /// The URL the request was sent to, as the client named it (`htu`).
    pub url: &'a str,
}

/// Guards an endpoint that takes bearer and DPoP-bound tokens (RFC 9449 section 7): a bound
/// token only as `Authorization: DPoP` with a valid proof from its key for this request; an
/// unbound one only as `Bearer`. Then `scope` and `rights`, as [`guard`].
pub fn guard_request(
    challenge: &Challenge,
    req: &Presented<'_>,
    scope: &str,
    rights: &[&str],
    now: u64,
    replay: &mut crate::ReplayCache,
    check: impl FnOnce(&str) -> Result<Verified, Rejection>,
) -> Result<Verified, Refusal> {
    let refuse = |r| Refusal::new(challenge, r);
    let (scheme, token) = req
        .authorization
        .and_then(|a| a.trim().split_once(' '))
        .map(|(s, t)| (s, t.trim()))
        .filter(|(_, t)| !t.is_empty())
        .ok_or_else(|| Refusal::missing(challenge))?;
    let dpop_scheme = scheme.eq_ignore_ascii_case("dpop");
    if !dpop_scheme && !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Refusal::missing(challenge));
    }
    let v = check(token).map_err(refuse)?;
    match (&v.claims().cnf, dpop_scheme) {
        (Some(_), false) => return Err(refuse(Rejection::BoundTokenAsBearer)),
        (None, true) => return Err(refuse(Rejection::NotBound)),
        (None, false) => {}
        (Some(cnf), true) => {
            let proof = req
                .dpop
                .ok_or(Rejection::InvalidDpopProof)
                .map_err(refuse)?;
            let r = crate::dpop::ProofRequest {
                proof,
                method: req.method,
                url: req.url,
                access_token: token,
                jkt: &cnf.jkt,
            };
            crate::dpop::check_proof(&r, now, replay).map_err(refuse)?;
        }
    }
    permits(challenge, &v, scope, rights)?;
    Ok(v)
}

/// A verified token must hold `scope` and every right in `rights`.
pub fn permits(
    challenge: &Challenge,
    v: &Verified,
    scope: &str,
    rights: &[&str],
) -> Result<(), Refusal> {
    v.require_scope(scope)
        .map_err(|r| Refusal::new(challenge, r))?;
    for right in rights {
        v.require_right(right)
            .map_err(|r| Refusal::new(challenge, r))?;
    }
    Ok(())
}
