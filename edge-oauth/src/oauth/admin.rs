//! The admin API's rules: who may call it, and what a new client or user must look like.

use serde::Deserialize;
use serde_json::{Value, json};

use super::clients::client::{Backchannel, GrantType, redirect_uri_is_acceptable};
use super::clients::registration::{RegisteredBy, registered_resources};
use super::config::Config;
use super::effects::{AuditEvent, Claim, ClientWrite, Owner, UserWrite, Write, Writes, event};
use super::error::OAuthError;
use super::scope::Scope;
use super::tokens::resource::Resources;
use super::tokens::signing_keys::Alg;
use crate::store::reads::ClientRow;

/// Checks `Authorization: Bearer <ADMIN_SECRET>` (constant time).
pub fn authorize(config: &Config, authorization: Option<&str>) -> Result<(), OAuthError> {
    let token = super::tokens::bearer::from_header(authorization)?;
    if config.admin_secret.matches(token) {
        Ok(())
    } else {
        Err(OAuthError::invalid_token("the admin secret is wrong"))
    }
}

/// `POST /admin/clients`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    /// Chosen id; generated when absent.
    pub client_id: Option<String>,
    /// Display name (default: the id).
    pub name: Option<String>,
    /// A public client (no secret). Default false.
    #[serde(default)]
    pub public: bool,
    /// A chosen secret for a confidential client; generated when absent.
    pub client_secret: Option<String>,
    /// Redirect URIs.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Grant types (default: authorization_code and refresh_token).
    pub grant_types: Option<Vec<String>>,
    /// Scopes the client may have (default: `openid`).
    pub scopes: Option<Vec<String>>,
    /// Shorter access-token lifetime.
    pub access_token_ttl: Option<u32>,
    /// Shorter refresh-token lifetime.
    pub refresh_token_ttl: Option<u32>,
    /// Where RP-initiated logout may send people back.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// `RS256` (default) or `ES256`.
    pub id_token_signed_response_alg: Option<String>,
    /// OpenID Connect Back-Channel Logout's `backchannel_logout_uri`.
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    /// `backchannel_logout_session_required`.
    #[serde(default)]
    pub backchannel_logout_session_required: Option<bool>,
    /// Must be true for a client with the reserved scope `introspection`
    /// ([`crate::oauth::scope::RESERVED`]); a relay client's own shape (below) is its opt-in.
    #[serde(default)]
    pub allow_reserved_scopes: bool,
    /// Resource servers (RFC 8707 resource indicators: absolute URIs without fragments) the
    /// client may ask tokens for, besides the edge's own.
    #[serde(default)]
    pub resources: Vec<String>,
}

/// How a confidential client's secret is made.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretPlan {
    /// Public client.
    None,
    /// Generate 256 random bits (hashed with the client-secret iteration count).
    Generate,
    /// Use the admin's (hashed with the password iteration count: it may be low-entropy).
    Given(String),
}

impl std::fmt::Debug for SecretPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SecretPlan::None => "None",
            SecretPlan::Generate => "Generate",
            SecretPlan::Given(_) => "Given([redacted])",
        })
    }
}

/// A checked new client.
#[derive(Clone, Debug)]
pub struct ValidClient {
    /// The id, if chosen.
    pub client_id: Option<String>,
    /// Display name, if chosen.
    pub name: Option<String>,
    /// The secret plan.
    pub secret: SecretPlan,
    /// Redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Grant types.
    pub grant_types: Vec<GrantType>,
    /// Scope.
    pub scope: Scope,
    /// Lifetimes.
    pub access_token_ttl: Option<u32>,
    /// Lifetimes.
    pub refresh_token_ttl: Option<u32>,
    /// Where RP-initiated logout may send people back.
    pub post_logout_redirect_uris: Vec<String>,
    /// The ID token algorithm.
    pub id_token_alg: Alg,
    /// RFC 8707 resources it may ask tokens for.
    pub resources: Resources,
    /// Where logout tokens go.
    pub backchannel: Option<Backchannel>,
}

pub use super::ids::id_is_acceptable;

impl NewClient {
    /// Checks the request.
    pub fn validate(self) -> Result<ValidClient, OAuthError> {
        if let Some(id) = &self.client_id
            && !id_is_acceptable(id)
        {
            return Err(OAuthError::invalid_request(
                "client_id must be 1 to 64 of A-Z a-z 0-9 . _ - @",
            ));
        }
        if self
            .name
            .as_ref()
            .is_some_and(|n| n.is_empty() || n.len() > 100)
        {
            return Err(OAuthError::invalid_request(
                "name must be 1 to 100 characters",
            ));
        }
        let grant_types = match self.grant_types {
            None => vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            Some(list) => list
                .iter()
                .map(|g| {
                    GrantType::parse(g)
                        .ok_or_else(|| OAuthError::invalid_request("unknown grant type"))
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        let scope = match self.scopes {
            None => Scope::parse("openid")?,
            Some(list) => Scope::from_tokens(list)?,
        };
        if self.redirect_uris.len() > 16
            || !self
                .redirect_uris
                .iter()
                .all(|u| redirect_uri_is_acceptable(u))
        {
            return Err(OAuthError::invalid_request(
                "redirect_uris must be absolute https URIs (http only for loopback hosts), without fragments",
            ));
        }
        if self.post_logout_redirect_uris.len() > 16
            || !self
                .post_logout_redirect_uris
                .iter()
                .all(|u| redirect_uri_is_acceptable(u))
        {
            return Err(OAuthError::invalid_request(
                "post_logout_redirect_uris must be absolute https URIs (http only for loopback hosts)",
            ));
        }
        let id_token_alg = match self.id_token_signed_response_alg.as_deref() {
            None => Alg::Rs256,
            Some(a) => Alg::parse(a).ok_or_else(|| {
                OAuthError::invalid_request("id_token_signed_response_alg must be RS256 or ES256")
            })?,
        };
        if grant_types.contains(&GrantType::AuthorizationCode) && self.redirect_uris.is_empty() {
            return Err(OAuthError::invalid_request(
                "authorization_code needs at least one redirect URI",
            ));
        }
        let secret = match (self.public, self.client_secret) {
            (true, Some(_)) => {
                return Err(OAuthError::invalid_request("a public client has no secret"));
            }
            (true, None) => SecretPlan::None,
            (false, None) => SecretPlan::Generate,
            (false, Some(s)) if s.len() < 16 || s.len() > 256 => {
                return Err(OAuthError::invalid_request(
                    "client_secret must be 16 to 256 characters",
                ));
            }
            (false, Some(s)) => SecretPlan::Given(s),
        };
        if secret == SecretPlan::None && grant_types.contains(&GrantType::ClientCredentials) {
            return Err(OAuthError::invalid_request(
                "client_credentials needs a confidential client",
            ));
        }
        if scope.contains(super::control::RELAY_SCOPE)
            && (secret == SecretPlan::None
                || grant_types != [GrantType::ClientCredentials]
                || scope.iter().count() != 1
                || !self.redirect_uris.is_empty())
        {
            return Err(OAuthError::invalid_request(
                "the relay scope is for relays only: a confidential client with the one grant client_credentials and the one scope relay",
            ));
        }
        if scope.contains(crate::oauth::scope::INTROSPECTION) && !self.allow_reserved_scopes {
            return Err(OAuthError::invalid_request(
                "introspection is a reserved scope (it reads every client's tokens): send \"allow_reserved_scopes\": true to give it",
            ));
        }
        let resources = registered_resources(&self.resources)
            .map_err(|e| OAuthError::invalid_request(e.to_string()))?;
        if self.access_token_ttl == Some(0) || self.refresh_token_ttl == Some(0) {
            return Err(OAuthError::invalid_request(
                "lifetimes must be at least one second",
            ));
        }
        let backchannel = Backchannel::from_metadata(
            self.backchannel_logout_uri,
            self.backchannel_logout_session_required,
        )
        .map_err(OAuthError::invalid_request)?;
        Ok(ValidClient {
            backchannel,
            client_id: self.client_id,
            name: self.name,
            secret,
            redirect_uris: self.redirect_uris,
            grant_types,
            scope,
            access_token_ttl: self.access_token_ttl,
            refresh_token_ttl: self.refresh_token_ttl,
            post_logout_redirect_uris: self.post_logout_redirect_uris,
            id_token_alg,
            resources,
        })
    }
}

impl ValidClient {
    /// Space-separated grant types as stored.
    pub fn grant_types_text(&self) -> String {
        self.grant_types
            .iter()
            .map(|g| g.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// `revoked_reason` of the families of a deleted client.
pub const CLIENT_DELETED: &str = "client_deleted";
/// `revoked_reason` of the families of a deleted user.
pub const USER_DELETED: &str = "user_deleted";

impl ValidClient {
    /// The writes that register the client as `id` (the insert is the claim: it fails, and
    /// nothing is written, when the id is taken), with its audit row.
    pub fn writes(&self, id: &str, secret_hash: Option<String>, now: u64) -> Writes {
        let row = ClientWrite {
            id: id.to_string(),
            name: self.display_name(id),
            secret_hash,
            redirect_uris: serde_json::to_string(&self.redirect_uris).unwrap_or_default(),
            grant_types: self.grant_types_text(),
            scopes: self.scope.to_string(),
            access_token_ttl: self.access_token_ttl,
            refresh_token_ttl: self.refresh_token_ttl,
            post_logout_redirect_uris: serde_json::to_string(&self.post_logout_redirect_uris)
                .unwrap_or_default(),
            id_token_alg: self.id_token_alg.as_str().to_string(),
            owner_id: None,
            registered_by: RegisteredBy::Admin.as_str(),
            registration_key: None,
            backchannel: self.backchannel.clone(),
            created_at: now,
            resources: self.resources.to_column(),
        };
        Writes::new(Claim::InsertClient(row)).with(Write::Audit(AuditEvent {
            client_id: Some(id.to_string()),
            ..AuditEvent::new(now, event::CLIENT_CREATED)
        }))
    }

    /// The name shown on the consent page (the id when none was given).
    pub fn display_name(&self, id: &str) -> String {
        self.name.clone().unwrap_or_else(|| id.to_string())
    }

    /// The answer to a registration; a generated `secret` is shown here once and never again.
    pub fn created_json(&self, id: &str, secret: Option<String>, public: bool) -> Value {
        let mut v = json!({
            "client_id": id,
            "name": self.display_name(id),
            "public": public,
            "redirect_uris": self.redirect_uris,
            "grant_types": self.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
            "scopes": self.scope.iter().collect::<Vec<_>>(),
            "resources": self.resources,
        });
        if let (Some(s), Some(obj)) = (secret, v.as_object_mut()) {
            obj.insert("client_secret".into(), Value::String(s));
        }
        v
    }
}

/// Deleting a client: the row (the claim: it must exist, and with `owner`, have been
/// registered by that person), its families (so its refresh tokens die even if the id is
/// registered again; its access tokens already fail their standing check once the client is
/// gone), and the audit row.
pub fn delete_client(id: &str, owner: Option<&str>, now: u64) -> Writes {
    Writes::new(Claim::DeleteClient {
        id: id.to_string(),
        owner: owner.map(str::to_string),
    })
    .with(Write::RevokeFamiliesOf {
        owner: Owner::Client(id.to_string()),
        reason: CLIENT_DELETED,
        at: now,
    })
    .with(Write::Audit(AuditEvent {
        client_id: Some(id.to_string()),
        ..AuditEvent::new(now, event::CLIENT_DELETED)
    }))
}

/// Creating a user `id` with a PBKDF2 record (the insert is the claim: it fails when the
/// username is taken), with its audit row.
pub fn create_user(u: &NewUser, id: &str, password_hash: String, now: u64) -> Writes {
    Writes::new(Claim::InsertUser(UserWrite {
        id: id.to_string(),
        username: u.username.clone(),
        password_hash,
        name: u.name.clone(),
        email: u.email.clone(),
        created_at: now,
    }))
    .with(Write::Audit(AuditEvent {
        user_id: Some(id.to_string()),
        ..AuditEvent::new(now, event::USER_CREATED)
    }))
}

/// Deleting a user: the row (it must exist), every family of the user, the apps they
/// registered on `/create_client` with those apps' families, the audit row.
pub fn delete_user(id: &str, now: u64) -> Writes {
    Writes::new(Claim::DeleteUser { id: id.to_string() })
        .with(Write::RevokeFamiliesOf {
            owner: Owner::User(id.to_string()),
            reason: USER_DELETED,
            at: now,
        })
        .with(Write::RevokeFamiliesOf {
            owner: Owner::ClientsOwnedBy(id.to_string()),
            reason: USER_DELETED,
            at: now,
        })
        .with(Write::DeleteClientsOwnedBy(id.to_string()))
        .with(Write::Audit(AuditEvent {
            user_id: Some(id.to_string()),
            ..AuditEvent::new(now, event::USER_DELETED)
        }))
}

/// A client as the admin API lists it (never its hash).
pub fn client_json(row: &ClientRow) -> Value {
    json!({
        "client_id": row.id,
        "name": row.name,
        "public": row.secret_hash.is_none(),
        "redirect_uris": serde_json::from_str::<Value>(&row.redirect_uris).unwrap_or(Value::Null),
        "grant_types": row.grant_types.split(' ').filter(|s| !s.is_empty()).collect::<Vec<_>>(),
        "scopes": row.scopes.split(' ').filter(|s| !s.is_empty()).collect::<Vec<_>>(),
        "access_token_ttl": row.access_token_ttl,
        "refresh_token_ttl": row.refresh_token_ttl,
        "post_logout_redirect_uris": serde_json::from_str::<Value>(&row.post_logout_redirect_uris).unwrap_or(Value::Null),
        "id_token_signed_response_alg": row.id_token_alg,
        "resources": row.resources.as_deref().unwrap_or_default().split(' ').filter(|s| !s.is_empty()).collect::<Vec<_>>(),
        "backchannel_logout_uri": row.backchannel_logout_uri,
        "backchannel_logout_session_required": row.backchannel_logout_session_required == Some(1),
        "registered_by": row.registered_by,
        "owner_id": row.owner_id,
        "created_at": row.created_at,
    })
}

/// `POST /admin/users`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Sign-in name.
    pub username: String,
    /// Password (8 to 1024 characters).
    pub password: String,
    /// Display name.
    pub name: Option<String>,
    /// Email (not verified).
    pub email: Option<String>,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl NewUser {
    /// Checks the request.
    pub fn validate(self) -> Result<NewUser, OAuthError> {
        if !id_is_acceptable(&self.username) {
            return Err(OAuthError::invalid_request(
                "username must be 1 to 64 of A-Z a-z 0-9 . _ - @",
            ));
        }
        if !(8..=1024).contains(&self.password.len()) {
            return Err(OAuthError::invalid_request(
                "password must be 8 to 1024 characters",
            ));
        }
        if self
            .name
            .as_ref()
            .is_some_and(|n| n.chars().count() > 100 || n.chars().any(char::is_control))
        {
            return Err(OAuthError::invalid_request(
                "name must be at most 100 characters",
            ));
        }
        if self
            .email
            .as_deref()
            .is_some_and(|e| !email_is_acceptable(e))
        {
            return Err(OAuthError::invalid_request("email is not an address"));
        }
        Ok(self)
    }
}

/// A plausible address: one `@` with text on both sides, no spaces or controls, at most
/// 254 bytes. (Nothing is sent to it: the claim says `email_verified: false`.)
pub fn email_is_acceptable(e: &str) -> bool {
    e.len() <= 254
        && !e
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"'))
        && e.split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.contains('@'))
}

/// `PUT /admin/users/{id}/rights`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetRights {
    /// The rights, `SCOPE:NAME` each (replaces the user's set).
    pub rights: Vec<String>,
}

/// Setting a user's rights (the user must exist), with the audit row.
pub fn set_rights(user_id: &str, body: &SetRights, now: u64) -> Result<Writes, OAuthError> {
    let rights = super::people::rights::normalise(&body.rights)?;
    Ok(Writes::new(Claim::SetRights {
        user_id: user_id.to_string(),
        rights,
    })
    .with(Write::Audit(AuditEvent {
        user_id: Some(user_id.to_string()),
        ..AuditEvent::new(now, event::USER_RIGHTS_SET)
    })))
}

/// `POST /admin/initial-access-tokens`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewInitialToken {
    /// Seconds it may be used (default a day, at most 30 days).
    pub expires_in: Option<u32>,
}

/// An initial access token for dynamic registration: its row (by lookup key) and audit row.
pub fn initial_token(
    key: String,
    token_id: String,
    req: &NewInitialToken,
    now: u64,
) -> Result<(u64, Writes), OAuthError> {
    let ttl = req.expires_in.unwrap_or(24 * 3600);
    if !(60..=30 * 24 * 3600).contains(&ttl) {
        return Err(OAuthError::invalid_request(
            "expires_in must be 60 seconds to 30 days",
        ));
    }
    let expires_at = now.saturating_add(u64::from(ttl));
    let w = Writes::none()
        .with(Write::InitialToken {
            key,
            expires_at,
            created_at: now,
        })
        .with(Write::Audit(AuditEvent {
            token_id: Some(token_id),
            ..AuditEvent::new(now, event::INITIAL_TOKEN_CREATED)
        }));
    Ok((expires_at, w))
}

/// Parses an admin JSON body into `T` (`invalid_request` on any mismatch).
pub fn parse_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, OAuthError> {
    serde_json::from_slice(body).map_err(|_| {
        OAuthError::invalid_request("the JSON body does not match the expected fields")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nc(json: &str) -> Result<ValidClient, OAuthError> {
        parse_body::<NewClient>(json.as_bytes())?.validate()
    }

    #[test]
    fn defaults_and_rules() {
        let c = nc(r#"{"client_id":"web","public":true,"redirect_uris":["http://127.0.0.1:8787/callback.html"],"scopes":["openid","turn"]}"#).unwrap();
        assert_eq!(c.secret, SecretPlan::None);
        assert_eq!(c.grant_types_text(), "authorization_code refresh_token");
        let c = nc(r#"{"grant_types":["client_credentials"],"scopes":["turn"]}"#).unwrap();
        assert_eq!(c.secret, SecretPlan::Generate);
        let relay = nc(r#"{"grant_types":["client_credentials"],"scopes":["relay"]}"#).unwrap();
        assert_eq!(relay.scope.to_string(), "relay");
        let rs = nc(r#"{"grant_types":["client_credentials"],"scopes":["introspection"],"allow_reserved_scopes":true}"#).unwrap();
        assert_eq!(rs.scope.to_string(), "introspection");
        let api = nc(r#"{"grant_types":["client_credentials"],"scopes":["api"],"resources":["https://api.example/v1"]}"#).unwrap();
        assert!(api.resources.contains("https://api.example/v1"));
        assert_eq!(
            api.writes("svc", None, 1).rows.len(),
            1,
            "the audit row; the client is the claim"
        );
        for bad in [
            r#"{"grant_types":["client_credentials"],"resources":["not a uri"]}"#,
            r#"{"grant_types":["client_credentials"],"resources":["https://api.example/#x"]}"#,
            r#"{"public":true,"client_secret":"0123456789abcdef"}"#,
            r#"{"public":true,"grant_types":["client_credentials"]}"#,
            r#"{"grant_types":["authorization_code"]}"#,
            r#"{"grant_types":["implicit"]}"#,
            r#"{"redirect_uris":["http://evil.example/cb"]}"#,
            r#"{"client_secret":"short","grant_types":["client_credentials"]}"#,
            r#"{"client_id":"has space","grant_types":["client_credentials"]}"#,
            r#"{"unknown":1}"#,
            r#"{"scopes":["a b"]}"#,
            r#"{"grant_types":["client_credentials"],"scopes":["relay","turn"]}"#,
            r#"{"public":true,"grant_types":["password"],"scopes":["relay"]}"#,
            r#"{"grant_types":["client_credentials","password"],"scopes":["relay"]}"#,
            r#"{"grant_types":["client_credentials"],"post_logout_redirect_uris":["http://evil.example/"]}"#,
            r#"{"grant_types":["client_credentials"],"id_token_signed_response_alg":"none"}"#,
            r#"{"grant_types":["client_credentials"],"scopes":["introspection"]}"#,
            r#"{"grant_types":["client_credentials"],"scopes":["api","introspection"],"allow_reserved_scopes":false}"#,
            r#"{"grant_types":["client_credentials"],"scopes":["relay","turn"],"allow_reserved_scopes":true}"#,
        ] {
            assert!(nc(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn client_writes_claim_the_id_and_audit() {
        let c =
            nc(r#"{"name":"Web","public":true,"redirect_uris":["https://a.example/cb"]}"#).unwrap();
        let w = c.writes("web", None, 9);
        let Claim::InsertClient(row) = &w.claim else {
            panic!("{w:?}")
        };
        assert_eq!(
            (
                row.id.as_str(),
                row.name.as_str(),
                row.redirect_uris.as_str()
            ),
            ("web", "Web", r#"["https://a.example/cb"]"#)
        );
        assert_eq!(w.audits().next().unwrap().event, event::CLIENT_CREATED);
        let shown = c.created_json("web", Some("s3cret".into()), false);
        assert_eq!(shown["client_secret"], "s3cret");
        assert!(!format!("{w:?}").contains("s3cret"));
    }

    #[test]
    fn deletions_revoke_families_in_the_same_writes() {
        assert_eq!(
            delete_user("u1", 5).rows[2],
            Write::DeleteClientsOwnedBy("u1".into())
        );
        for (w, owner, reason) in [
            (
                delete_client("c1", None, 5),
                Owner::Client("c1".into()),
                CLIENT_DELETED,
            ),
            (delete_user("u1", 5), Owner::User("u1".into()), USER_DELETED),
        ] {
            assert!(matches!(
                w.claim,
                Claim::DeleteClient { .. } | Claim::DeleteUser { .. }
            ));
            assert_eq!(
                w.rows[0],
                Write::RevokeFamiliesOf {
                    owner,
                    reason,
                    at: 5
                }
            );
            assert_eq!(w.audits().count(), 1);
        }
    }

    #[test]
    fn users() {
        let ok = parse_body::<NewUser>(br#"{"username":"alice","password":"correct horse"}"#)
            .unwrap()
            .validate();
        assert!(ok.is_ok());
        assert!(!format!("{:?}", ok.unwrap()).contains("horse"));
        assert!(
            parse_body::<NewUser>(br#"{"username":"alice","password":"short"}"#)
                .unwrap()
                .validate()
                .is_err()
        );
        assert!(
            parse_body::<NewUser>(br#"{"username":"","password":"longenough"}"#)
                .unwrap()
                .validate()
                .is_err()
        );
        for bad in ["no-at", "a@b", "a b@c.d", "@c.d", "a@@c.d"] {
            assert!(!email_is_acceptable(bad), "{bad}");
        }
        assert!(email_is_acceptable("alice@example.com"));
        let w = set_rights(
            "u1",
            &SetRights {
                rights: vec!["api:write".into()],
            },
            7,
        )
        .unwrap();
        assert_eq!(
            w.claim,
            Claim::SetRights {
                user_id: "u1".into(),
                rights: "api:write".into()
            }
        );
        assert!(
            set_rights(
                "u1",
                &SetRights {
                    rights: vec!["bad".into()]
                },
                7
            )
            .is_err()
        );
    }
}
