//! Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document, which the MCP
//! authorization spec of 2025-11-25 prefers to dynamic registration): a `client_id` that is an
//! https URL names a JSON document, published by the client, whose metadata is the client's
//! registration. The edge fetches it when the client shows up (the worker does the I/O: this
//! module decides which URLs may be fetched, what a document must say, and how long to keep
//! it).
//!
//! The rules: the URL is `https` with a host and a path, no fragment, no credentials, no dot
//! segments, and not a loopback or private address (`CLIENT_METADATA_DOCUMENTS=local` also
//! allows `http` on loopback, for local runs and tests); the response is a 200 of at most
//! [`MAX_BYTES`], within [`TIMEOUT_MS`], redirects not followed; the document's `client_id`
//! equals the URL; the client is public (`token_endpoint_auth_method: none`, or absent), and
//! otherwise its metadata passes the same checks as an RFC 7591 registration (redirect URIs,
//! grant types, scopes within `REGISTRATION_SCOPES`, `resources`). The record is kept as long
//! as its `Cache-Control: max-age` says, bounded to [`MIN_TTL`, `MAX_TTL`].

use crate::oauth::clients::client::ClientRecord;
use crate::oauth::clients::registration::Metadata;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::scope::Scope;
use crate::oauth::tokens::signing_keys::Alg;

/// Largest document read.
pub const MAX_BYTES: usize = 5 * 1024;
/// How long the fetch may take.
pub const TIMEOUT_MS: u64 = 5_000;
/// Shortest time a document is kept (also for `no-store`/`no-cache`: at most one fetch a
/// minute per isolate).
pub const MIN_TTL: u32 = 60;
/// Longest time a document is kept.
pub const MAX_TTL: u32 = 24 * 3600;
/// Kept this long without a `max-age`.
pub const DEFAULT_TTL: u32 = 300;
/// Longest URL accepted.
pub const MAX_URL: usize = 512;

/// Whether client ID metadata documents are resolved (`CLIENT_METADATA_DOCUMENTS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `off` (the default): a URL client id is an unknown client.
    Off,
    /// `on`: https URLs on public addresses.
    On,
    /// `local`: also `http` on loopback (local runs and tests only).
    Local,
}

impl Mode {
    /// From the variable's value.
    pub fn parse(v: Option<&str>) -> Option<Mode> {
        match v {
            None | Some("off") => Some(Mode::Off),
            Some("on") => Some(Mode::On),
            Some("local") => Some(Mode::Local),
            Some(_) => None,
        }
    }
}

fn invalid_client(d: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClient, d)
}

/// True when `client_id` looks like a metadata document URL (then it is resolved by fetching,
/// never looked up in the clients table, whose ids have no `:` or `/`).
pub fn is_document_id(client_id: &str) -> bool {
    client_id.starts_with("https://") || client_id.starts_with("http://")
}

fn host_is_local(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    if h.eq_ignore_ascii_case("localhost") || h.to_ascii_lowercase().ends_with(".localhost") {
        return true;
    }
    if let Ok(ip) = h.parse::<std::net::IpAddr>() {
        return match ip {
            std::net::IpAddr::V4(v4) => {
                v4.is_loopback()
                    || v4.is_private()
                    || v4.is_link_local()
                    || v4.is_unspecified()
                    || v4.is_broadcast()
                    || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64 // 100.64/10
            }
            std::net::IpAddr::V6(v6) => {
                v6.is_loopback()
                    || v6.is_unspecified()
                    || (v6.segments()[0] & 0xfe00) == 0xfc00 // unique local
                    || (v6.segments()[0] & 0xffc0) == 0xfe80 // link local
                    || v6.to_ipv4_mapped().is_some()
            }
        };
    }
    false
}

fn host_is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Checks a client id as a URL this server may fetch (`invalid_client` otherwise).
pub fn check_url(client_id: &str, mode: Mode) -> Result<(), OAuthError> {
    if mode == Mode::Off {
        return Err(invalid_client(
            "client ID metadata documents are not enabled on this server",
        ));
    }
    if client_id.len() > MAX_URL
        || client_id.contains(['#', '\\'])
        || client_id
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid_client("the client_id URL is not acceptable"));
    }
    let (rest, https) = match client_id.strip_prefix("https://") {
        Some(r) => (r, true),
        None => (
            client_id
                .strip_prefix("http://")
                .ok_or_else(|| invalid_client("the client_id URL must be https"))?,
            false,
        ),
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = path.split('?').next().unwrap_or_default();
    let host = match authority.rsplit_once(':') {
        Some((h, port)) if !h.ends_with(']') || authority.starts_with('[') => {
            if port.chars().all(|c| c.is_ascii_digit()) {
                h
            } else {
                authority
            }
        }
        _ => authority,
    };
    if host.is_empty() || authority.contains('@') {
        return Err(invalid_client(
            "the client_id URL has no host, or credentials",
        ));
    }
    if path.len() <= 1 || path.split('/').any(|s| s == "." || s == "..") {
        return Err(invalid_client(
            "the client_id URL must have a path, without dot segments",
        ));
    }
    let local_ok = mode == Mode::Local && host_is_loopback(host);
    if !https && !local_ok {
        return Err(invalid_client("the client_id URL must be https"));
    }
    if host_is_local(host) && !local_ok {
        return Err(invalid_client(
            "the client_id URL names a loopback or private address",
        ));
    }
    Ok(())
}

/// How long to keep a document: its `max-age`, bounded; [`DEFAULT_TTL`] without one.
pub fn ttl(cache_control: Option<&str>) -> u32 {
    let Some(cc) = cache_control else {
        return DEFAULT_TTL;
    };
    let mut ttl = None;
    for d in cc.split(',').map(str::trim) {
        let lower = d.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return MIN_TTL;
        }
        if let Some(v) = lower.strip_prefix("max-age=") {
            ttl = v.trim_matches('"').parse::<u32>().ok();
        }
    }
    ttl.unwrap_or(DEFAULT_TTL).clamp(MIN_TTL, MAX_TTL)
}

/// The client a fetched document describes (`invalid_client` when it is not an acceptable
/// document for `client_id`).
pub fn record(
    client_id: &str,
    body: &[u8],
    allowed_scope: &Scope,
    now: u64,
) -> Result<ClientRecord, OAuthError> {
    if body.len() > MAX_BYTES {
        return Err(invalid_client("the client metadata document is too large"));
    }
    let mut meta = Metadata::parse(body)
        .map_err(|_| invalid_client("the client metadata document is not JSON metadata"))?;
    if meta.client_id.as_deref() != Some(client_id) {
        return Err(invalid_client(
            "the client metadata document's client_id is not its URL",
        ));
    }
    match meta.token_endpoint_auth_method.as_deref() {
        None | Some("none") => meta.token_endpoint_auth_method = Some("none".into()),
        Some(_) => {
            return Err(invalid_client(
                "a client metadata document client must be public (token_endpoint_auth_method none)",
            ));
        }
    }
    let host = client_id
        .split("://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_default()
        .to_string();
    let r = meta
        .validate(allowed_scope, &[Alg::Rs256, Alg::Es256])
        .map_err(|e| OAuthError::new(ErrorCode::InvalidClient, e.description))?;
    Ok(ClientRecord {
        id: client_id.to_string(),
        // The consent page shows where the document lives: a name alone could be anyone's.
        name: format!("{} ({host})", r.name),
        secret_hash: None,
        redirect_uris: r.redirect_uris,
        grant_types: r.grant_types,
        scope: r.scope,
        access_token_ttl: None,
        refresh_token_ttl: None,
        post_logout_redirect_uris: r.post_logout_redirect_uris,
        id_token_alg: r.id_token_alg,
        owner_id: None,
        registration_key: None,
        created_at: now,
        resources: r.resources,
        backchannel: r.backchannel,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::clients::client::GrantType;

    const ID: &str = "https://agent.example/oauth/client.json";

    fn doc(v: serde_json::Value) -> Vec<u8> {
        v.to_string().into_bytes()
    }

    #[test]
    fn which_urls_may_be_fetched() {
        for ok in [
            ID,
            "https://agent.example:8443/c.json",
            "https://agent.example/c?v=1",
        ] {
            assert!(check_url(ok, Mode::On).is_ok(), "{ok}");
        }
        for bad in [
            "https://agent.example",
            "https://agent.example/",
            "http://agent.example/c.json",
            "https://agent.example/c.json#f",
            "https://u:p@agent.example/c.json",
            "https://agent.example/a/../c.json",
            "https://127.0.0.1/c.json",
            "https://10.1.2.3/c.json",
            "https://192.168.1.1/c.json",
            "https://169.254.169.254/latest",
            "https://[::1]/c.json",
            "https://[fd00::1]/c.json",
            "https://localhost/c.json",
            "https://x.localhost/c.json",
            "http://127.0.0.1:8080/c.json",
        ] {
            let e = check_url(bad, Mode::On).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidClient, "{bad}");
        }
        assert!(check_url(ID, Mode::Off).is_err());
        // Local runs: http on loopback, nothing else private.
        assert!(check_url("http://127.0.0.1:8080/c.json", Mode::Local).is_ok());
        assert!(check_url("http://[::1]:8080/c.json", Mode::Local).is_ok());
        assert!(check_url("http://10.0.0.1/c.json", Mode::Local).is_err());
        assert!(check_url("http://agent.example/c.json", Mode::Local).is_err());
        assert!(is_document_id(ID) && !is_document_id("web-1"));
        assert_eq!(Mode::parse(Some("maybe")), None);
    }

    #[test]
    fn cache_lifetimes_are_bounded() {
        assert_eq!(ttl(None), DEFAULT_TTL);
        assert_eq!(ttl(Some("public, max-age=3600")), 3600);
        assert_eq!(ttl(Some("max-age=5")), MIN_TTL);
        assert_eq!(ttl(Some("max-age=99999999")), MAX_TTL);
        assert_eq!(ttl(Some("no-store")), MIN_TTL);
        assert_eq!(ttl(Some("max-age=junk")), DEFAULT_TTL);
    }

    #[test]
    fn a_document_is_a_public_registration_named_by_its_url() {
        let allowed = Scope::parse("openid profile api").unwrap();
        let good = serde_json::json!({
            "client_id": ID, "client_name": "Agent", "redirect_uris": ["http://127.0.0.1:9/cb"],
            "grant_types": ["authorization_code", "refresh_token"], "scope": "openid api",
            "resources": ["https://api.example/mcp"],
        });
        let r = record(ID, &doc(good.clone()), &allowed, 7).unwrap();
        assert!(r.is_public() && r.allows(GrantType::RefreshToken));
        assert_eq!(r.name, "Agent (agent.example)");
        assert!(r.has_redirect_uri("http://127.0.0.1:9/cb"));
        assert!(r.resources.contains("https://api.example/mcp"));
        let bad = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut v = good.clone();
            f(&mut v);
            record(ID, &doc(v), &allowed, 7).unwrap_err().code
        };
        assert_eq!(
            bad(&|v| v["client_id"] = "https://evil.example/c.json".into()),
            ErrorCode::InvalidClient
        );
        assert_eq!(
            bad(&|v| v["token_endpoint_auth_method"] = "client_secret_basic".into()),
            ErrorCode::InvalidClient
        );
        assert_eq!(
            bad(&|v| v["redirect_uris"] = serde_json::json!(["http://evil.example/cb"])),
            ErrorCode::InvalidClient
        );
        assert_eq!(
            bad(&|v| v["scope"] = "admin".into()),
            ErrorCode::InvalidClient
        );
        assert_eq!(
            bad(&|v| v["grant_types"] = serde_json::json!(["password"])),
            ErrorCode::InvalidClient
        );
        assert!(record(ID, b"not json", &allowed, 7).is_err());
        let big = vec![b' '; MAX_BYTES + 1];
        assert!(record(ID, &big, &allowed, 7).is_err());
    }
}
