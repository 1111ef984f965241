//! Protected resource metadata (RFC 9728): the document a resource server publishes at
//! `/.well-known/oauth-protected-resource` so a client (an MCP client, an agent) that was
//! refused learns which authorization server issues tokens for it and which resource
//! identifier to ask for (RFC 8707 `resource`).

use serde_json::{Value, json};

/// The well-known path suffix (RFC 9728 section 3).
pub const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// What a resource server says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceMetadata {
    resource: String,
    authorization_servers: Vec<String>,
    scopes_supported: Vec<String>,
    dpop_algs: Vec<String>,
    dpop_bound_access_tokens_required: bool,
}

impl ResourceMetadata {
    /// The resource `resource` (its identifier: the value tokens carry in `aud`) whose tokens
    /// `authorization_server` (an issuer) issues.
    pub fn new(resource: &str, authorization_server: &str) -> ResourceMetadata {
        ResourceMetadata {
            resource: resource.to_string(),
            authorization_servers: vec![authorization_server.trim_end_matches('/').to_string()],
            scopes_supported: Vec::new(),
            dpop_algs: Vec::new(),
            dpop_bound_access_tokens_required: false,
        }
    }

    /// The scopes a client may ask for to use this resource (`scopes_supported`).
    pub fn with_scopes<'a>(mut self, scopes: impl IntoIterator<Item = &'a str>) -> Self {
        self.scopes_supported = scopes.into_iter().map(str::to_string).collect();
        self
    }

    /// The DPoP proof algorithms accepted (`dpop_signing_alg_values_supported`), and whether
    /// every token must be DPoP-bound (`dpop_bound_access_tokens_required`).
    pub fn with_dpop<'a>(
        mut self,
        algs: impl IntoIterator<Item = &'a str>,
        required: bool,
    ) -> Self {
        self.dpop_algs = algs.into_iter().map(str::to_string).collect();
        self.dpop_bound_access_tokens_required = required;
        self
    }

    /// The resource identifier.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The JSON document (RFC 9728 section 2).
    pub fn document(&self) -> Value {
        let mut v = json!({
            "resource": self.resource,
            "authorization_servers": self.authorization_servers,
            // RFC 6750 section 2.1 only: no tokens in bodies or query strings.
            "bearer_methods_supported": ["header"],
        });
        if let Some(obj) = v.as_object_mut() {
            if !self.scopes_supported.is_empty() {
                obj.insert("scopes_supported".into(), json!(self.scopes_supported));
            }
            if !self.dpop_algs.is_empty() {
                obj.insert(
                    "dpop_signing_alg_values_supported".into(),
                    json!(self.dpop_algs),
                );
                obj.insert(
                    "dpop_bound_access_tokens_required".into(),
                    json!(self.dpop_bound_access_tokens_required),
                );
            }
        }
        v
    }

    /// The document's URL (RFC 9728 section 3.1): the well-known suffix inserted between the
    /// host and the path of the resource identifier. `None` when the identifier is not an
    /// `https`/`http` URL with a host.
    pub fn url(&self) -> Option<String> {
        let (origin, path) = split(&self.resource)?;
        Some(format!("{origin}{}", self.path_of(path)))
    }

    /// The path this server answers the document at (what [`ResourceMetadata::url`] names).
    pub fn path(&self) -> Option<String> {
        let (_, path) = split(&self.resource)?;
        Some(self.path_of(path))
    }

    fn path_of(&self, path: &str) -> String {
        let path = path.trim_end_matches('/');
        format!("{WELL_KNOWN}{path}")
    }
}

/// `(scheme://authority, /path)` of an http(s) URL without query or fragment.
fn split(url: &str) -> Option<(&str, &str)> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    if url.contains(['?', '#']) {
        return None;
    }
    let host_len = rest.find('/').unwrap_or(rest.len());
    if host_len == 0 {
        return None;
    }
    let cut = url.len() - rest.len() + host_len;
    Some((url.get(..cut)?, url.get(cut..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_and_where_it_lives() {
        let m = ResourceMetadata::new("https://api.example/mcp", "https://auth.example/")
            .with_scopes(["api"]);
        let d = m.document();
        assert_eq!(d["resource"], "https://api.example/mcp");
        assert_eq!(d["authorization_servers"], json!(["https://auth.example"]));
        assert_eq!(d["bearer_methods_supported"], json!(["header"]));
        assert_eq!(d["scopes_supported"], json!(["api"]));
        assert!(d.get("dpop_signing_alg_values_supported").is_none());
        // RFC 9728 section 3.1: between the host and the path.
        assert_eq!(
            m.url().as_deref(),
            Some("https://api.example/.well-known/oauth-protected-resource/mcp")
        );
        assert_eq!(
            m.path().as_deref(),
            Some("/.well-known/oauth-protected-resource/mcp")
        );
        let root = ResourceMetadata::new("https://api.example/", "https://auth.example");
        assert_eq!(
            root.url().as_deref(),
            Some("https://api.example/.well-known/oauth-protected-resource")
        );
        let d = root.with_dpop(["ES256"], true).document();
        assert_eq!(d["dpop_signing_alg_values_supported"], json!(["ES256"]));
        assert_eq!(d["dpop_bound_access_tokens_required"], true);
        for bad in ["urn:x:y", "https:///p", "https://a.example/?q=1"] {
            assert!(
                ResourceMetadata::new(bad, "https://a").url().is_none(),
                "{bad}"
            );
        }
    }
}
