//! Registered clients: what each may do.

use std::fmt;

use crate::oauth::scope::Scope;
use crate::oauth::tokens::resource::Resources;
use crate::oauth::tokens::signing_keys::Alg;

/// The grant types this server implements (RFC 6749 section 4 and 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GrantType {
    /// `authorization_code`, always with PKCE S256.
    AuthorizationCode,
    /// `client_credentials`, confidential clients only.
    ClientCredentials,
    /// `refresh_token`, with rotation and reuse detection.
    RefreshToken,
    /// `password` (resource owner password credentials): legacy, dropped by OAuth 2.1; only
    /// for clients that opt in.
    Password,
    /// `urn:ietf:params:oauth:grant-type:device_code` (RFC 8628).
    DeviceCode,
}

impl GrantType {
    /// All of them, in the order discovery lists them.
    pub const ALL: [GrantType; 5] = [
        GrantType::AuthorizationCode,
        GrantType::ClientCredentials,
        GrantType::RefreshToken,
        GrantType::Password,
        GrantType::DeviceCode,
    ];

    /// The `grant_type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::ClientCredentials => "client_credentials",
            GrantType::RefreshToken => "refresh_token",
            GrantType::Password => "password",
            GrantType::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
        }
    }

    /// Parses a `grant_type` value.
    pub fn parse(s: &str) -> Option<GrantType> {
        GrantType::ALL.into_iter().find(|g| g.as_str() == s)
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A client as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientRecord {
    /// `client_id`.
    pub id: String,
    /// Display name for the consent page.
    pub name: String,
    /// The PBKDF2 record of the secret; `None` for a public client.
    pub secret_hash: Option<String>,
    /// Registered redirect URIs, compared by exact string match.
    pub redirect_uris: Vec<String>,
    /// Grants the client may use.
    pub grant_types: Vec<GrantType>,
    /// The most it may be given; also the default when a request names no scope.
    pub scope: Scope,
    /// Access-token lifetime for this client, if shorter than the server's.
    pub access_token_ttl: Option<u32>,
    /// Refresh-token lifetime for this client, if shorter than the server's.
    pub refresh_token_ttl: Option<u32>,
    /// Where RP-initiated logout may send people back (exact match).
    pub post_logout_redirect_uris: Vec<String>,
    /// `id_token_signed_response_alg`.
    pub id_token_alg: Alg,
    /// The person who registered it on `/create_client`, if one did.
    pub owner_id: Option<String>,
    /// hex SHA-256 of its RFC 7592 registration access token (dynamic registrations).
    pub registration_key: Option<String>,
    /// OpenID Connect Back-Channel Logout.
    pub backchannel: Option<Backchannel>,
    /// Unix seconds.
    pub created_at: u64,
    /// The resource servers it may ask tokens for (RFC 8707), besides the edge's own.
    pub resources: Resources,
}

/// Where a client receives OpenID Connect Back-Channel Logout tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backchannel {
    /// `backchannel_logout_uri`: https, or http on a loopback host, without a fragment.
    pub uri: String,
    /// `backchannel_logout_session_required`: its logout tokens must carry `sid`.
    pub session_required: bool,
}

impl Backchannel {
    /// From registration metadata: `None` without a URI; an error for an unacceptable one.
    pub fn from_metadata(
        uri: Option<String>,
        session_required: Option<bool>,
    ) -> Result<Option<Backchannel>, &'static str> {
        let Some(uri) = uri else {
            return Ok(None);
        };
        if !redirect_uri_is_acceptable(&uri) {
            return Err(
                "backchannel_logout_uri must be an absolute https URI (http only for loopback hosts), without a fragment",
            );
        }
        Ok(Some(Backchannel {
            uri,
            session_required: session_required.unwrap_or(false),
        }))
    }
}

impl fmt::Debug for ClientRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientRecord")
            .field("id", &self.id)
            .field("public", &self.is_public())
            .field("grant_types", &self.grant_types)
            .field("scope", &self.scope.to_string())
            .finish_non_exhaustive()
    }
}

impl ClientRecord {
    /// True for a public client (no secret; RFC 6749 section 2.1).
    pub fn is_public(&self) -> bool {
        self.secret_hash.is_none()
    }

    /// True when the client may use `grant`.
    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// True for an app registered by a person (`/create_client`) or through RFC 7591, whose
    /// redirect URIs no administrator checked ([`crate::oauth::flows::leaving`]).
    pub fn is_self_registered(&self) -> bool {
        self.owner_id.is_some() || self.registration_key.is_some()
    }

    /// True when `uri` is registered, by exact string comparison (RFC 9700 section 2.1).
    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| r == uri)
    }

    /// [`ClientRecord::has_redirect_uri`], where a registered path (`/console/callback`, only
    /// the migrations register one: the console's first-party client) stands for that path
    /// on the edge's own origin, `issuer`.
    pub fn has_redirect_uri_at(&self, uri: &str, issuer: &str) -> bool {
        self.has_redirect_uri(uri)
            || self.redirect_uris.iter().any(|r| {
                r.starts_with('/') && uri.strip_prefix(issuer.trim_end_matches('/')) == Some(r)
            })
    }
}

/// The parts of a redirect URI the server checks at registration: an absolute `https` URI,
/// or `http` on a loopback host (RFC 8252 section 7.3), without a fragment.
pub fn redirect_uri_is_acceptable(uri: &str) -> bool {
    if uri.len() > 512
        || uri.contains('#')
        || uri.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return false;
    }
    let rest = if let Some(r) = uri.strip_prefix("https://") {
        r
    } else if let Some(r) = uri.strip_prefix("http://") {
        let host = authority_host(r);
        if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
            return false;
        }
        r
    } else {
        return false;
    };
    !authority_host(rest).is_empty()
}

fn authority_host(after_scheme: &str) -> &str {
    let authority = after_scheme.split(['/', '?']).next().unwrap_or("");
    if authority.contains('@') {
        return "";
    }
    if authority.starts_with('[') {
        return authority.split_inclusive(']').next().unwrap_or("");
    }
    authority.split(':').next().unwrap_or("")
}

/// The origin (`scheme://host[:port]`) of an acceptable redirect URI, for the consent page's
/// Content-Security-Policy `form-action`.
pub fn origin_of(uri: &str) -> Option<&str> {
    let scheme_end = uri.find("://")? + 3;
    let rest = uri.get(scheme_end..)?;
    let end = rest.find(['/', '?']).map_or(uri.len(), |i| scheme_end + i);
    uri.get(..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_type_names() {
        for g in GrantType::ALL {
            assert_eq!(GrantType::parse(g.as_str()), Some(g));
        }
        assert_eq!(GrantType::parse("implicit"), None);
    }

    #[test]
    fn redirect_uri_rules() {
        for ok in [
            "https://app.example/cb",
            "http://127.0.0.1:8787/callback.html",
            "http://localhost/cb?x=1",
            "http://[::1]:80/cb",
        ] {
            assert!(redirect_uri_is_acceptable(ok), "{ok}");
        }
        for bad in [
            "http://app.example/cb",
            "https://app.example/cb#frag",
            "ftp://x/",
            "https://",
            "https://user@evil.example/",
            "http://127.0.0.1.evil.example/",
            "javascript:alert(1)",
        ] {
            assert!(!redirect_uri_is_acceptable(bad), "{bad}");
        }
    }

    #[test]
    fn origins() {
        assert_eq!(
            origin_of("https://app.example/cb?x"),
            Some("https://app.example")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:8787/callback.html"),
            Some("http://127.0.0.1:8787")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:8787"),
            Some("http://127.0.0.1:8787")
        );
        assert_eq!(origin_of("nope"), None);
    }
}
