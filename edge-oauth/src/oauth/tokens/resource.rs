//! Resource indicators (RFC 8707): which resource servers an access token is for.
//!
//! A client names the resource servers it wants a token for with `resource` (an absolute URI
//! without a fragment; RFC 8707 section 2, repeatable) on the authorization, device
//! authorization and token requests. It may name only resources registered for it
//! ([`crate::oauth::clients::client::ClientRecord::resources`]) or this server's issuer (the edge's own
//! resources: userinfo, `/turn/credentials`, introspection). The access token's `aud` is the
//! set asked for; a request that names none gets `aud` = the issuer, as before resource
//! indicators, so existing clients and the edge's own endpoints keep working, and no resource
//! server (which requires its own identifier in `aud`) accepts such a token.
//!
//! The authorization (a code, a device authorization, then its family of refresh tokens)
//! remembers the resources granted; each token request may narrow them, never widen them
//! (section 2.2). Anything else is `invalid_target`.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::params::Params;

/// The request parameter (RFC 8707 section 2).
pub const PARAM: &str = "resource";
/// Longest resource indicator accepted.
pub const MAX_LEN: usize = 512;
/// Most resource indicators in a request or a client registration.
pub const MAX_COUNT: usize = 16;

/// Why a string is not a resource indicator (RFC 8707 section 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UriError {
    /// Not an absolute URI (RFC 3986 section 4.3): no scheme, or nothing after it.
    NotAbsolute,
    /// It has a fragment, which section 2 forbids.
    Fragment,
    /// Whitespace, control characters, or longer than [`MAX_LEN`].
    BadCharacters,
}

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UriError::NotAbsolute => "a resource must be an absolute URI (RFC 8707 section 2)",
            UriError::Fragment => "a resource must not have a fragment (RFC 8707 section 2)",
            UriError::BadCharacters => "a resource has characters a URI may not hold",
        })
    }
}

/// Checks one resource indicator: an absolute URI (`scheme ":" hier-part [ "?" query ]`,
/// RFC 3986 section 4.3) without a fragment.
pub fn check_uri(s: &str) -> Result<(), UriError> {
    if s.is_empty()
        || s.len() > MAX_LEN
        || s.bytes()
            .any(|b| b <= b' ' || b >= 0x7f || b == b'"' || b == b'\\')
    {
        return Err(UriError::BadCharacters);
    }
    if s.contains('#') {
        return Err(UriError::Fragment);
    }
    let (scheme, rest) = s.split_once(':').ok_or(UriError::NotAbsolute)?;
    let mut chars = scheme.bytes();
    let scheme_ok = chars.next().is_some_and(|b| b.is_ascii_alphabetic())
        && chars.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !scheme_ok || rest.is_empty() {
        return Err(UriError::NotAbsolute);
    }
    // `https:` or `http:` without an authority names no server.
    if (scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http"))
        && rest
            .strip_prefix("//")
            .is_none_or(|a| a.split(['/', '?']).next().unwrap_or_default().is_empty())
    {
        return Err(UriError::NotAbsolute);
    }
    Ok(())
}

/// A set of resource indicators (order-free; stored space-separated, as URIs hold no spaces).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Resources(BTreeSet<String>);

fn invalid_target(d: impl Into<std::borrow::Cow<'static, str>>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidTarget, d)
}

impl Resources {
    /// The empty set: no resource named.
    pub fn none() -> Resources {
        Resources::default()
    }

    /// Builds a set from indicators, checking each.
    pub fn from_list<'a>(list: impl IntoIterator<Item = &'a str>) -> Result<Resources, UriError> {
        let mut set = BTreeSet::new();
        for r in list {
            check_uri(r)?;
            set.insert(r.to_string());
        }
        Ok(Resources(set))
    }

    /// The `resource` parameters of a request (`invalid_target` for one that is not an
    /// absolute URI without a fragment, or too many).
    pub fn from_request(params: &Params) -> Result<Resources, OAuthError> {
        let values = params.get_all(PARAM);
        if values.len() > MAX_COUNT {
            return Err(invalid_target("too many resource parameters"));
        }
        Resources::from_list(values).map_err(|e| invalid_target(e.to_string()))
    }

    /// A stored set (space-separated, `None` or empty for none). A stored value that does not
    /// parse is a server error, not the client's.
    pub fn from_stored(s: Option<&str>) -> Result<Resources, OAuthError> {
        Resources::from_list(s.unwrap_or_default().split(' ').filter(|r| !r.is_empty()))
            .map_err(|_| OAuthError::server_error("a stored resource list is malformed"))
    }

    /// As stored: space-separated.
    pub fn to_stored(&self) -> String {
        self.0
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// As a nullable column: `None` when empty.
    pub fn to_column(&self) -> Option<String> {
        (!self.is_empty()).then(|| self.to_stored())
    }

    /// True when none is named.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when `r` is in the set.
    pub fn contains(&self, r: &str) -> bool {
        self.0.contains(r)
    }

    /// The indicators, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

/// True when `client_resources` (what the client registered) or the issuer covers `r`.
fn allowed(r: &str, client_resources: &Resources, issuer: &str) -> bool {
    r == issuer || client_resources.contains(r)
}

/// The resources an authorization (or device authorization) request asks for: each must be
/// the issuer or registered for the client (`invalid_target`, RFC 8707 section 2).
pub fn requested(
    params: &Params,
    client_resources: &Resources,
    issuer: &str,
) -> Result<Resources, OAuthError> {
    let asked = Resources::from_request(params)?;
    if let Some(r) = asked.iter().find(|r| !allowed(r, client_resources, issuer)) {
        return Err(invalid_target(format!(
            "{r} is not a resource this client may ask for"
        )));
    }
    Ok(asked)
}

/// The resources of an access token from a token request on an authorization that granted
/// `granted` (empty: none named, which means this server's own resources). The request may
/// narrow them, never widen them (RFC 8707 section 2.2), and each must still be allowed for
/// the client (an administrator may have removed one since).
pub fn narrowed(
    params: &Params,
    granted: &Resources,
    client_resources: &Resources,
    issuer: &str,
) -> Result<Resources, OAuthError> {
    let asked = Resources::from_request(params)?;
    let chosen = if asked.is_empty() {
        granted.clone()
    } else {
        asked
    };
    for r in chosen.iter() {
        let in_grant = if granted.is_empty() {
            r == issuer
        } else {
            granted.contains(r)
        };
        if !in_grant {
            return Err(invalid_target(format!(
                "{r} was not granted by this authorization"
            )));
        }
        if !allowed(r, client_resources, issuer) {
            return Err(invalid_target(format!(
                "{r} is no longer a resource this client may ask for"
            )));
        }
    }
    Ok(chosen)
}

/// `aud` of an access token (RFC 7519 section 4.1.3: one string or several).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// One.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl Audience {
    /// The audience of a token for `resources`: the issuer when none is named.
    pub fn of(resources: &Resources, issuer: &str) -> Audience {
        let mut list: Vec<String> = resources.iter().map(str::to_string).collect();
        match list.len() {
            0 => Audience::One(issuer.to_string()),
            1 => Audience::One(list.pop().unwrap_or_default()),
            _ => Audience::Many(list),
        }
    }

    /// True when `aud` names `who`.
    pub fn contains(&self, who: &str) -> bool {
        match self {
            Audience::One(a) => a == who,
            Audience::Many(list) => list.iter().any(|a| a == who),
        }
    }

    /// As a list.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            Audience::One(a) => vec![a.clone()],
            Audience::Many(list) => list.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISS: &str = "https://auth.example";
    const API: &str = "https://api.example/mcp";
    const OTHER: &str = "https://other.example/";

    fn p(s: &str) -> Params {
        Params::from_form(s.as_bytes()).unwrap()
    }

    fn set(list: &[&str]) -> Resources {
        Resources::from_list(list.iter().copied()).unwrap()
    }

    #[test]
    fn resource_indicators_are_absolute_uris_without_fragments() {
        for ok in [
            API,
            "https://api.example",
            "urn:example:api",
            "https://h:8443/p?q=1",
        ] {
            assert_eq!(check_uri(ok), Ok(()), "{ok}");
        }
        assert_eq!(check_uri("/relative"), Err(UriError::NotAbsolute));
        assert_eq!(check_uri("api.example"), Err(UriError::NotAbsolute));
        assert_eq!(check_uri("https:"), Err(UriError::NotAbsolute));
        assert_eq!(check_uri("https:///p"), Err(UriError::NotAbsolute));
        assert_eq!(check_uri("1http://x"), Err(UriError::NotAbsolute));
        assert_eq!(check_uri("https://a.example/#f"), Err(UriError::Fragment));
        assert_eq!(
            check_uri("https://a.example/ x"),
            Err(UriError::BadCharacters)
        );
        assert_eq!(check_uri(""), Err(UriError::BadCharacters));
        assert_eq!(
            check_uri(&format!("https://a.example/{}", "a".repeat(MAX_LEN))),
            Err(UriError::BadCharacters)
        );
    }

    #[test]
    fn requests_repeat_the_parameter_and_may_name_only_registered_resources() {
        let client = set(&[API, OTHER]);
        let r = requested(
            &p("resource=https%3A%2F%2Fapi.example%2Fmcp&resource=https%3A%2F%2Fother.example%2F"),
            &client,
            ISS,
        )
        .unwrap();
        assert_eq!(r, client);
        assert_eq!(r.to_stored(), format!("{API} {OTHER}"));
        assert_eq!(Resources::from_stored(Some(&r.to_stored())).unwrap(), r);
        assert!(requested(&p(""), &client, ISS).unwrap().is_empty());
        assert_eq!(
            requested(
                &p("resource=https%3A%2F%2Fauth.example"),
                &Resources::none(),
                ISS
            )
            .unwrap(),
            set(&[ISS]),
            "the issuer names the edge's own resources"
        );
        let e = requested(&p("resource=https%3A%2F%2Fevil.example"), &client, ISS).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidTarget);
        let e = requested(
            &p("resource=https%3A%2F%2Fapi.example%2F%23x"),
            &client,
            ISS,
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidTarget);
        assert_eq!(
            Resources::from_stored(Some("nope")).unwrap_err().status,
            500
        );
    }

    #[test]
    fn token_requests_narrow_never_widen() {
        let client = set(&[API, OTHER]);
        let granted = set(&[API, OTHER]);
        // None named: everything granted.
        assert_eq!(narrowed(&p(""), &granted, &client, ISS).unwrap(), granted);
        // Narrowed to one.
        let one = narrowed(
            &p("resource=https%3A%2F%2Fapi.example%2Fmcp"),
            &granted,
            &client,
            ISS,
        )
        .unwrap();
        assert_eq!(one, set(&[API]));
        // Widened beyond the grant.
        let only_api = set(&[API]);
        let e = narrowed(
            &p("resource=https%3A%2F%2Fother.example%2F"),
            &only_api,
            &client,
            ISS,
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidTarget);
        // An authorization that named none grants only the issuer's own resources.
        let none = Resources::none();
        assert!(narrowed(&p(""), &none, &client, ISS).unwrap().is_empty());
        assert_eq!(
            narrowed(
                &p("resource=https%3A%2F%2Fauth.example"),
                &none,
                &client,
                ISS
            )
            .unwrap(),
            set(&[ISS])
        );
        let e = narrowed(
            &p("resource=https%3A%2F%2Fapi.example%2Fmcp"),
            &none,
            &client,
            ISS,
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidTarget);
        // A resource removed from the client since the grant.
        let e = narrowed(&p(""), &granted, &set(&[API]), ISS).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidTarget);
    }

    #[test]
    fn the_audience_is_the_resources_or_the_issuer() {
        assert_eq!(
            Audience::of(&Resources::none(), ISS),
            Audience::One(ISS.into())
        );
        assert_eq!(Audience::of(&set(&[API]), ISS), Audience::One(API.into()));
        let both = Audience::of(&set(&[OTHER, API]), ISS);
        assert_eq!(both, Audience::Many(vec![API.into(), OTHER.into()]));
        assert!(both.contains(OTHER) && !both.contains(ISS));
        assert_eq!(
            serde_json::to_string(&both).unwrap(),
            format!("[\"{API}\",\"{OTHER}\"]")
        );
        let one: Audience = serde_json::from_str("\"x\"").unwrap();
        assert_eq!(one, Audience::One("x".into()));
    }
}
