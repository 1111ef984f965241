//! Registering apps without the admin: Dynamic Client Registration (RFC 7591) and its
//! management protocol (RFC 7592) at `registration_endpoint`, and the `/create_client` page.
//! Both produce a [`Registration`], checked here with the same rules: redirect URIs as for
//! admin clients, only the code flow (never implicit or hybrid: RFC 9700 section 2.1.2),
//! scopes within `REGISTRATION_SCOPES`, no password grant.

use serde::Deserialize;
use serde_json::{Value, json};

use super::client::{Backchannel, ClientRecord, GrantType, redirect_uri_is_acceptable};
use crate::oauth::effects::{AuditEvent, Claim, ClientWrite, Write, Writes, event};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::params::Params;
use crate::oauth::scope::Scope;
use crate::oauth::tokens::resource::{self, Resources};
use crate::oauth::tokens::signing_keys::Alg;

/// Prefix of RFC 7592 registration access tokens.
pub const REGISTRATION_TOKEN_PREFIX: &str = "rat1.";
/// Prefix of initial access tokens (from the admin API).
pub const INITIAL_TOKEN_PREFIX: &str = "iat1.";
/// Most redirect URIs per client.
pub const MAX_URIS: usize = 16;

/// Who registered a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegisteredBy {
    /// The admin API.
    Admin,
    /// A signed-in person on `/create_client`.
    SelfService,
    /// RFC 7591.
    Dynamic,
}

impl RegisteredBy {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            RegisteredBy::Admin => "admin",
            RegisteredBy::SelfService => "self_service",
            RegisteredBy::Dynamic => "dynamic",
        }
    }
}

/// A checked registration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    /// Display name.
    pub name: String,
    /// Redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may send people back.
    pub post_logout_redirect_uris: Vec<String>,
    /// No secret (`token_endpoint_auth_method: none`).
    pub public: bool,
    /// Grant types.
    pub grant_types: Vec<GrantType>,
    /// Scope.
    pub scope: Scope,
    /// `id_token_signed_response_alg`.
    pub id_token_alg: Alg,
    /// RFC 8707 resources it may ask tokens for (the `resources` member).
    pub resources: Resources,
    /// OpenID Connect Back-Channel Logout.
    pub backchannel: Option<Backchannel>,
}

/// The resource servers a registration lists: at most [`resource::MAX_COUNT`] RFC 8707
/// resource indicators.
pub fn registered_resources(list: &[String]) -> Result<Resources, resource::UriError> {
    if list.len() > resource::MAX_COUNT {
        return Err(resource::UriError::BadCharacters);
    }
    Resources::from_list(list.iter().map(String::as_str))
}

fn metadata_error(d: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClientMetadata, d)
}

fn uri_error(d: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRedirectUri, d)
}

/// The grant types a registration may ask for.
const REGISTRABLE: [GrantType; 4] = [
    GrantType::AuthorizationCode,
    GrantType::RefreshToken,
    GrantType::ClientCredentials,
    GrantType::DeviceCode,
];

impl Registration {
    /// Checks the parts every registration shares.
    #[allow(clippy::too_many_arguments)]
    fn check(
        name: Option<String>,
        redirect_uris: Vec<String>,
        post_logout_redirect_uris: Vec<String>,
        public: bool,
        grant_types: Vec<GrantType>,
        scope: Scope,
        id_token_alg: Alg,
        allowed_scope: &Scope,
        algs: &[Alg],
    ) -> Result<Registration, OAuthError> {
        let name = name.unwrap_or_else(|| "Unnamed app".to_string());
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(metadata_error("client_name must be 1 to 100 characters"));
        }
        if grant_types.is_empty() || grant_types.iter().any(|g| !REGISTRABLE.contains(g)) {
            return Err(metadata_error(
                "grant_types may list authorization_code, refresh_token, client_credentials and the device code grant",
            ));
        }
        for list in [&redirect_uris, &post_logout_redirect_uris] {
            if list.len() > MAX_URIS || !list.iter().all(|u| redirect_uri_is_acceptable(u)) {
                return Err(uri_error(
                    "redirect URIs must be absolute https URIs (http only for loopback hosts), without fragments",
                ));
            }
        }
        if grant_types.contains(&GrantType::AuthorizationCode) && redirect_uris.is_empty() {
            return Err(uri_error(
                "authorization_code needs at least one redirect URI",
            ));
        }
        if public && grant_types.contains(&GrantType::ClientCredentials) {
            return Err(metadata_error(
                "client_credentials needs a confidential client",
            ));
        }
        if !scope.is_subset(allowed_scope) || scope.is_empty() {
            return Err(metadata_error(
                "scope must be within what registered apps may ask for",
            ));
        }
        if !algs.contains(&id_token_alg) {
            return Err(metadata_error(
                "id_token_signed_response_alg is not one this server signs with",
            ));
        }
        Ok(Registration {
            name,
            redirect_uris,
            post_logout_redirect_uris,
            public,
            grant_types,
            scope,
            id_token_alg,
            resources: Resources::none(),
            backchannel: None,
        })
    }

    /// The row for client `id`.
    pub fn row(
        &self,
        id: &str,
        secret_hash: Option<String>,
        by: RegisteredBy,
        owner_id: Option<&str>,
        registration_key: Option<String>,
        now: u64,
    ) -> ClientWrite {
        ClientWrite {
            id: id.to_string(),
            name: self.name.clone(),
            secret_hash,
            redirect_uris: serde_json::to_string(&self.redirect_uris).unwrap_or_default(),
            post_logout_redirect_uris: serde_json::to_string(&self.post_logout_redirect_uris)
                .unwrap_or_default(),
            grant_types: self
                .grant_types
                .iter()
                .map(|g| g.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            scopes: self.scope.to_string(),
            access_token_ttl: None,
            refresh_token_ttl: None,
            id_token_alg: self.id_token_alg.as_str().to_string(),
            owner_id: owner_id.map(str::to_string),
            registered_by: by.as_str(),
            registration_key,
            backchannel: self.backchannel.clone(),
            created_at: now,
            resources: self.resources.to_column(),
        }
    }

    /// Registering it: the insert (the claim: the id must be free) and the audit row.
    pub fn create(&self, row: ClientWrite, now: u64) -> Writes {
        let id = row.id.clone();
        let detail = Some(row.registered_by);
        Writes::new(Claim::InsertClient(row)).with(Write::Audit(AuditEvent {
            client_id: Some(id),
            detail,
            ..AuditEvent::new(now, event::CLIENT_CREATED)
        }))
    }

    /// RFC 7592 update: the replacement (the client must still exist) and the audit row.
    pub fn update(&self, row: ClientWrite, now: u64) -> Writes {
        let id = row.id.clone();
        Writes::new(Claim::UpdateClient(row)).with(Write::Audit(AuditEvent {
            client_id: Some(id),
            ..AuditEvent::new(now, event::CLIENT_UPDATED)
        }))
    }
}

/// RFC 7591 section 2 client metadata (members this server does not use are ignored, as
/// section 2 requires).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Metadata {
    /// `redirect_uris`.
    pub redirect_uris: Option<Vec<String>>,
    /// `token_endpoint_auth_method`: `none`, `client_secret_basic` (default) or
    /// `client_secret_post`.
    pub token_endpoint_auth_method: Option<String>,
    /// `grant_types` (default `["authorization_code"]`).
    pub grant_types: Option<Vec<String>>,
    /// `response_types` (default `["code"]`; anything else is implicit or hybrid: refused).
    pub response_types: Option<Vec<String>>,
    /// `client_name`.
    pub client_name: Option<String>,
    /// `scope`, space-separated.
    pub scope: Option<String>,
    /// OpenID Connect RP-Initiated Logout's `post_logout_redirect_uris`.
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// OpenID Connect Registration's `id_token_signed_response_alg` (default RS256).
    pub id_token_signed_response_alg: Option<String>,
    /// OpenID Connect Back-Channel Logout's `backchannel_logout_uri`.
    pub backchannel_logout_uri: Option<String>,
    /// `backchannel_logout_session_required`.
    pub backchannel_logout_session_required: Option<bool>,
    /// RFC 7592 update: must equal the client's id.
    pub client_id: Option<String>,
    /// The resource servers (RFC 8707 resource indicators) the client will ask tokens for.
    /// Not an IANA-registered member: this server's extension, documented in
    /// docs/edge-oauth.md.
    pub resources: Option<Vec<String>>,
}

impl Metadata {
    /// Parses a JSON body (`invalid_client_metadata` when it is not a metadata object).
    pub fn parse(body: &[u8]) -> Result<Metadata, OAuthError> {
        serde_json::from_slice(body)
            .map_err(|_| metadata_error("the body is not a JSON client metadata object"))
    }

    /// Checks it against what registered apps may ask for.
    pub fn validate(self, allowed: &Scope, algs: &[Alg]) -> Result<Registration, OAuthError> {
        let public = match self.token_endpoint_auth_method.as_deref() {
            None | Some("client_secret_basic" | "client_secret_post") => false,
            Some("none") => true,
            Some(_) => {
                return Err(metadata_error(
                    "token_endpoint_auth_method must be none, client_secret_basic or client_secret_post",
                ));
            }
        };
        let grant_types = match self.grant_types {
            None => vec![GrantType::AuthorizationCode],
            Some(list) => list
                .iter()
                .map(|g| GrantType::parse(g).ok_or_else(|| metadata_error("unknown grant type")))
                .collect::<Result<Vec<_>, _>>()?,
        };
        let wants_code = grant_types.contains(&GrantType::AuthorizationCode);
        match self.response_types.as_deref() {
            None => {}
            Some([one]) if one == "code" && wants_code => {}
            Some([]) if !wants_code => {}
            Some(_) => {
                return Err(metadata_error(
                    "response_types must be [\"code\"] with authorization_code: implicit and hybrid flows are not offered (RFC 9700)",
                ));
            }
        }
        let scope = match self.scope {
            Some(s) => Scope::parse(&s).map_err(|_| metadata_error("scope is malformed"))?,
            None => allowed.clone(),
        };
        let alg = match self.id_token_signed_response_alg.as_deref() {
            None => Alg::Rs256,
            Some(a) => Alg::parse(a).ok_or_else(|| {
                metadata_error("id_token_signed_response_alg must be RS256 or ES256")
            })?,
        };
        let resources =
            registered_resources(&self.resources.unwrap_or_default()).map_err(|_| {
                metadata_error(
                    "resources must be absolute URIs without fragments (RFC 8707), at most 16",
                )
            })?;
        let backchannel = Backchannel::from_metadata(
            self.backchannel_logout_uri,
            self.backchannel_logout_session_required,
        )
        .map_err(uri_error)?;
        let mut r = Registration::check(
            self.client_name,
            self.redirect_uris.unwrap_or_default(),
            self.post_logout_redirect_uris.unwrap_or_default(),
            public,
            grant_types,
            scope,
            alg,
            allowed,
            algs,
        )?;
        r.resources = resources;
        r.backchannel = backchannel;
        Ok(r)
    }
}

/// The `/create_client` form: `name`, `redirect_uris` and `post_logout_redirect_uris` (one per
/// line), `type` (`public` or `confidential`), and a checkbox per grant (`grant.NAME`) and per
/// scope (`scope.NAME`).
pub fn from_form(p: &Params, allowed: &Scope) -> Result<Registration, OAuthError> {
    let lines = |k| {
        p.get(k)
            .unwrap_or("")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let public = match p.get("type") {
        Some("public") => true,
        Some("confidential") => false,
        _ => return Err(metadata_error("choose a public or a confidential app")),
    };
    let grant_types: Vec<GrantType> = REGISTRABLE
        .into_iter()
        .filter(|g| p.get(&format!("grant.{}", g.as_str())).is_some())
        .collect();
    let scope = Scope::from_tokens(
        allowed
            .iter()
            .filter(|s| p.get(&format!("scope.{s}")).is_some()),
    )?;
    Registration::check(
        p.get("name").map(str::to_string),
        lines("redirect_uris"),
        lines("post_logout_redirect_uris"),
        public,
        grant_types,
        scope,
        Alg::Rs256,
        allowed,
        &[Alg::Rs256],
    )
}

/// The RFC 7591 section 3.2.1 / RFC 7592 section 3 answer for a stored client. A new
/// `client_secret` and `registration_access_token` are shown once, at registration.
pub fn response(
    c: &ClientRecord,
    issued_at: u64,
    secret: Option<&str>,
    registration_access_token: Option<&str>,
    registration_client_uri: &str,
) -> Value {
    let code = c.allows(GrantType::AuthorizationCode);
    let mut v = json!({
        "client_id": c.id,
        "client_id_issued_at": issued_at,
        "client_name": c.name,
        "redirect_uris": c.redirect_uris,
        "post_logout_redirect_uris": c.post_logout_redirect_uris,
        "grant_types": c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "response_types": if code { vec!["code"] } else { vec![] },
        "token_endpoint_auth_method": if c.is_public() { "none" } else { "client_secret_basic" },
        "scope": c.scope.to_string(),
        "id_token_signed_response_alg": c.id_token_alg.as_str(),
        "resources": c.resources,
        "registration_client_uri": registration_client_uri,
    });
    if let (Some(b), Some(obj)) = (&c.backchannel, v.as_object_mut()) {
        obj.insert("backchannel_logout_uri".into(), b.uri.clone().into());
        obj.insert(
            "backchannel_logout_session_required".into(),
            b.session_required.into(),
        );
    }
    if let Some(obj) = v.as_object_mut() {
        if let Some(s) = secret {
            obj.insert("client_secret".into(), s.into());
            obj.insert("client_secret_expires_at".into(), 0.into());
        }
        if let Some(t) = registration_access_token {
            obj.insert("registration_access_token".into(), t.into());
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Scope {
        Scope::parse("openid profile email turn").unwrap()
    }

    fn reg(json: &str) -> Result<Registration, OAuthError> {
        Metadata::parse(json.as_bytes())?.validate(&allowed(), &[Alg::Rs256, Alg::Es256])
    }

    #[test]
    fn defaults_follow_rfc_7591() {
        let r = reg(r#"{"redirect_uris":["https://app.example/cb"],"client_name":"App","logo_uri":"ignored"}"#).unwrap();
        assert_eq!(r.grant_types, [GrantType::AuthorizationCode]);
        assert!(!r.public);
        assert_eq!(r.scope, allowed());
        assert_eq!(r.id_token_alg, Alg::Rs256);
        assert!(r.resources.is_empty());
        let r = reg(r#"{"redirect_uris":["https://app.example/cb"],"resources":["https://api.example/mcp"]}"#).unwrap();
        assert!(r.resources.contains("https://api.example/mcp"));
        let row = r.row("c", None, RegisteredBy::Dynamic, None, None, 1);
        assert_eq!(row.resources.as_deref(), Some("https://api.example/mcp"));
    }

    #[test]
    fn refusals_carry_rfc_7591_codes() {
        let cases = [
            (
                r#"{"redirect_uris":["http://evil.example/cb"]}"#,
                ErrorCode::InvalidRedirectUri,
            ),
            (r#"{}"#, ErrorCode::InvalidRedirectUri),
            (
                r#"{"redirect_uris":["https://a.example/cb"],"response_types":["token"]}"#,
                ErrorCode::InvalidClientMetadata,
            ),
            (
                r#"{"redirect_uris":["https://a.example/cb"],"response_types":["code id_token"]}"#,
                ErrorCode::InvalidClientMetadata,
            ),
            (
                r#"{"redirect_uris":["https://a.example/cb"],"grant_types":["implicit"]}"#,
                ErrorCode::InvalidClientMetadata,
            ),
            (
                r#"{"redirect_uris":["https://a.example/cb"],"grant_types":["password"]}"#,
                ErrorCode::InvalidClientMetadata,
            ),
            (
                r#"{"grant_types":["client_credentials"],"token_endpoint_auth_method":"none"}"#,
                ErrorCode::InvalidClientMetadata,
            ),
            (
                r#"{"redirect_uris":["https://a.example/cb"],"scope":"openid admin"}"#,
                ErrorCode::InvalidClientMetadata,
            ),
            (
                r#"{"redirect_uris":["https://a.example/cb"],"id_token_signed_response_alg":"HS256"}"#,
                ErrorCode::InvalidClientMetadata,
            ),
            (
                r#"{"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"private_key_jwt"}"#,
                ErrorCode::InvalidClientMetadata,
            ),
            (r#"[1]"#, ErrorCode::InvalidClientMetadata),
            (
                r#"{"redirect_uris":["https://a.example/cb"],"resources":["/relative"]}"#,
                ErrorCode::InvalidClientMetadata,
            ),
            (
                r#"{"redirect_uris":["https://a.example/cb"],"resources":["https://a.example/#f"]}"#,
                ErrorCode::InvalidClientMetadata,
            ),
        ];
        for (json, want) in cases {
            assert_eq!(reg(json).unwrap_err().code, want, "{json}");
        }
    }

    #[test]
    fn the_form_uses_the_same_rules() {
        let p = Params::from_form(
            b"name=My+app&type=public&redirect_uris=https%3A%2F%2Fa.example%2Fcb%0D%0Ahttp%3A%2F%2F127.0.0.1%3A9%2Fcb&grant.authorization_code=on&grant.refresh_token=on&scope.openid=on&scope.admin=on",
        )
        .unwrap();
        let r = from_form(&p, &allowed()).unwrap();
        assert_eq!(r.redirect_uris.len(), 2);
        assert_eq!(
            r.scope.to_string(),
            "openid",
            "scopes outside the allowed set are not offered"
        );
        assert!(r.public);
        let no_type = Params::from_form(b"name=x&grant.authorization_code=on").unwrap();
        assert!(from_form(&no_type, &allowed()).is_err());
    }
}
