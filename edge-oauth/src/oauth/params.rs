//! Request parameters: `application/x-www-form-urlencoded` bodies and query strings
//! (RFC 6749 appendix B), and the seed's JSON body, read into one type.

use super::error::OAuthError;

/// Largest body any endpoint reads (the worker refuses larger ones with 413 before parsing).
pub const MAX_BODY: usize = 16 * 1024;
/// Largest admin API body.
pub const MAX_ADMIN_BODY: usize = 64 * 1024;
/// Most parameters a request may carry.
pub const MAX_PARAMS: usize = 64;
/// Longest single parameter value.
pub const MAX_VALUE_LEN: usize = 4096;
/// Parameters a request may repeat: RFC 8707's `resource` (section 2).
pub const REPEATABLE: [&str; 1] = ["resource"];

/// The parameters of a request. Each name appears at most once (RFC 6749 section 3.1:
/// "Request and response parameters MUST NOT be included more than once"), except those in
/// [`REPEATABLE`], and a parameter sent without a value is treated as omitted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parses a form body or a query string.
    pub fn from_form(input: &[u8]) -> Result<Params, OAuthError> {
        if std::str::from_utf8(input).is_err() {
            return Err(OAuthError::invalid_request("the body is not UTF-8"));
        }
        let mut params = Params::default();
        for (name, value) in form_urlencoded::parse(input) {
            params.push(name.into_owned(), value.into_owned())?;
        }
        Ok(params)
    }

    /// Parses a JSON object whose members are strings (numbers and booleans are taken as
    /// their text; nested values are refused). The seed's `POST /token` sends this shape.
    pub fn from_json(input: &[u8]) -> Result<Params, OAuthError> {
        let value: serde_json::Value = serde_json::from_slice(input)
            .map_err(|_| OAuthError::invalid_request("the body is not valid JSON"))?;
        let serde_json::Value::Object(map) = value else {
            return Err(OAuthError::invalid_request(
                "the JSON body must be an object",
            ));
        };
        let mut params = Params::default();
        for (name, value) in map {
            let text = match value {
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Null => continue,
                _ => return Err(OAuthError::invalid_request("JSON members must be strings")),
            };
            params.push(name, text)?;
        }
        Ok(params)
    }

    fn push(&mut self, name: String, value: String) -> Result<(), OAuthError> {
        if !REPEATABLE.contains(&name.as_str()) && self.pairs.iter().any(|(n, _)| *n == name) {
            return Err(OAuthError::invalid_request("a parameter is repeated"));
        }
        if self.pairs.len() >= MAX_PARAMS {
            return Err(OAuthError::invalid_request("too many parameters"));
        }
        if value.len() > MAX_VALUE_LEN || name.len() > 128 {
            return Err(OAuthError::invalid_request("a parameter is too long"));
        }
        self.pairs.push((name, value));
        Ok(())
    }

    /// The value of `name`, or `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// Every non-empty value of a [`REPEATABLE`] parameter, in order.
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The value of `name`, or `invalid_request` naming the missing parameter.
    pub fn require(&self, name: &'static str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("missing parameter `{name}`")))
    }

    /// Adds a parameter (used to fill defaults); replaces nothing.
    pub fn with(mut self, name: &str, value: &str) -> Params {
        if self.get(name).is_none() {
            self.pairs.retain(|(n, _)| n != name);
            self.pairs.push((name.to_string(), value.to_string()));
        }
        self
    }
}

/// What a `Content-Type` header says the body is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    /// `application/x-www-form-urlencoded`.
    Form,
    /// `application/json`.
    Json,
    /// Anything else, or no header.
    Other,
}

/// Classifies a `Content-Type` value (media type only; parameters such as charset ignored).
pub fn body_kind(content_type: Option<&str>) -> BodyKind {
    let Some(ct) = content_type else {
        return BodyKind::Other;
    };
    let media = ct.split(';').next().unwrap_or("").trim();
    if media.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        BodyKind::Form
    } else if media.eq_ignore_ascii_case("application/json") {
        BodyKind::Json
    } else {
        BodyKind::Other
    }
}

/// Parses a body that must be a form (the OAuth endpoints).
pub fn form_body(content_type: Option<&str>, body: &[u8]) -> Result<Params, OAuthError> {
    match body_kind(content_type) {
        BodyKind::Form => Params::from_form(body),
        _ => Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        )),
    }
}

/// Parses the body of the seed-compatible `POST /token`: JSON or a form.
pub fn form_or_json_body(content_type: Option<&str>, body: &[u8]) -> Result<Params, OAuthError> {
    match body_kind(content_type) {
        BodyKind::Form => Params::from_form(body),
        BodyKind::Json => Params::from_json(body),
        BodyKind::Other => Err(OAuthError::invalid_request(
            "the body must be application/json or application/x-www-form-urlencoded",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::error::ErrorCode;

    #[test]
    fn form_values_are_decoded_and_empty_means_absent() {
        let p = Params::from_form(b"grant_type=client_credentials&scope=a+b%20c&state=").unwrap();
        assert_eq!(p.get("grant_type"), Some("client_credentials"));
        assert_eq!(p.get("scope"), Some("a b c"));
        assert_eq!(p.get("state"), None);
        assert_eq!(
            p.require("state").unwrap_err().code,
            ErrorCode::InvalidRequest
        );
    }

    #[test]
    fn repeated_parameters_are_refused() {
        let e = Params::from_form(b"scope=a&scope=b").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        // RFC 8707 section 2: `resource` may repeat.
        let p = Params::from_form(b"resource=a%3Ab&resource=c%3Ad&resource=").unwrap();
        assert_eq!(p.get_all("resource"), ["a:b", "c:d"]);
    }

    #[test]
    fn json_objects_of_strings() {
        let p = Params::from_json(
            br#"{"grant_type":"password","username":"alice","password":"pw","n":3}"#,
        )
        .unwrap();
        assert_eq!(p.get("username"), Some("alice"));
        assert_eq!(p.get("n"), Some("3"));
        for bad in [&b"[1]"[..], b"{", br#"{"a":{"b":1}}"#, b"\xff"] {
            assert_eq!(
                Params::from_json(bad).unwrap_err().code,
                ErrorCode::InvalidRequest
            );
        }
    }

    #[test]
    fn content_types() {
        assert_eq!(
            body_kind(Some("application/x-www-form-urlencoded; charset=UTF-8")),
            BodyKind::Form
        );
        assert_eq!(body_kind(Some("Application/JSON")), BodyKind::Json);
        assert_eq!(body_kind(Some("text/plain")), BodyKind::Other);
        assert_eq!(body_kind(None), BodyKind::Other);
        assert!(form_body(Some("application/json"), b"{}").is_err());
        assert!(form_or_json_body(Some("text/plain"), b"a=b").is_err());
    }

    #[test]
    fn limits() {
        let many: String = (0..70).map(|i| format!("p{i}=1&")).collect();
        assert!(Params::from_form(many.as_bytes()).is_err());
        let long = format!("a={}", "x".repeat(MAX_VALUE_LEN + 1));
        assert!(Params::from_form(long.as_bytes()).is_err());
        assert!(Params::from_form(b"a=\xff").is_err());
    }

    #[test]
    fn with_fills_only_missing_values() {
        let p = Params::from_form(b"scope=&aud=x")
            .unwrap()
            .with("scope", "turn")
            .with("aud", "y");
        assert_eq!(p.get("scope"), Some("turn"));
        assert_eq!(p.get("aud"), Some("x"));
    }
}
