//! Rows as the worker loads them from D1 (column names = field names), and their checked
//! domain forms.

use serde::Deserialize;

use super::client::{ClientRecord, GrantType};
use super::error::OAuthError;
use super::scope::Scope;
use super::signing_keys::Alg;

/// A `clients` row.
#[derive(Clone, Debug, Deserialize)]
pub struct ClientRow {
    /// `client_id`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// PBKDF2 record, NULL for public clients.
    pub secret_hash: Option<String>,
    /// JSON array of strings.
    pub redirect_uris: String,
    /// Space-separated grant types.
    pub grant_types: String,
    /// Space-separated scope.
    pub scopes: String,
    /// Seconds, optional.
    pub access_token_ttl: Option<u32>,
    /// Seconds, optional.
    pub refresh_token_ttl: Option<u32>,
    /// Unix seconds.
    pub created_at: u64,
    /// JSON array of strings.
    #[serde(default = "empty_list")]
    pub post_logout_redirect_uris: String,
    /// `RS256` or `ES256`.
    #[serde(default = "rs256")]
    pub id_token_alg: String,
    /// `admin`, `self_service` or `dynamic`.
    #[serde(default = "admin")]
    pub registered_by: String,
    /// The person who registered it on `/create_client`.
    #[serde(default)]
    pub owner_id: Option<String>,
    /// hex SHA-256 of its RFC 7592 registration access token.
    #[serde(default)]
    pub registration_key: Option<String>,
}

fn empty_list() -> String {
    "[]".into()
}
fn rs256() -> String {
    "RS256".into()
}
fn admin() -> String {
    "admin".into()
}

impl ClientRow {
    /// The checked record; a row that does not parse is a server error, not the client's.
    pub fn into_record(self) -> Result<ClientRecord, OAuthError> {
        let corrupt = || OAuthError::server_error("a stored client record is malformed");
        let redirect_uris: Vec<String> =
            serde_json::from_str(&self.redirect_uris).map_err(|_| corrupt())?;
        let grant_types = self
            .grant_types
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(|g| GrantType::parse(g).ok_or_else(corrupt))
            .collect::<Result<Vec<_>, _>>()?;
        let scope = Scope::parse(&self.scopes).map_err(|_| corrupt())?;
        let post_logout_redirect_uris: Vec<String> =
            serde_json::from_str(&self.post_logout_redirect_uris).map_err(|_| corrupt())?;
        let id_token_alg = Alg::parse(&self.id_token_alg).ok_or_else(corrupt)?;
        Ok(ClientRecord {
            id: self.id,
            name: self.name,
            secret_hash: self.secret_hash,
            redirect_uris,
            grant_types,
            scope,
            access_token_ttl: self.access_token_ttl,
            refresh_token_ttl: self.refresh_token_ttl,
            post_logout_redirect_uris,
            id_token_alg,
            owner_id: self.owner_id,
            registration_key: self.registration_key,
            created_at: self.created_at,
        })
    }
}

/// A `users` row.
#[derive(Clone, Deserialize)]
pub struct UserRow {
    /// User id.
    pub id: String,
    /// Sign-in name.
    pub username: String,
    /// PBKDF2 record.
    pub password_hash: String,
    /// Display name.
    pub name: Option<String>,
    /// Email.
    #[serde(default)]
    pub email: Option<String>,
    /// Space-separated rights.
    #[serde(default)]
    pub rights: String,
}

/// What tokens may say about a person: the profile (OpenID Connect claims by scope) and the
/// rights (access tokens, by scope).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserProfile {
    /// User id (`sub`).
    pub id: String,
    /// Sign-in name (`preferred_username`).
    pub username: String,
    /// Display name.
    pub name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Space-separated rights.
    pub rights: String,
}

/// The profile of user `id` from a row's joined user columns (`None` when the user no
/// longer exists: the join left them NULL).
pub fn joined_profile(
    id: &str,
    username: &Option<String>,
    name: &Option<String>,
    email: &Option<String>,
    rights: &Option<String>,
) -> Option<UserProfile> {
    Some(UserProfile {
        id: id.to_string(),
        username: username.clone()?,
        name: name.clone(),
        email: email.clone(),
        rights: rights.clone().unwrap_or_default(),
    })
}

impl CodeRow {
    /// The person the code was issued for, while they exist.
    pub fn user(&self) -> Option<UserProfile> {
        joined_profile(
            &self.user_id,
            &self.username,
            &self.name,
            &self.email,
            &self.rights,
        )
    }
}

impl RefreshRow {
    /// The person the token acts for, while they exist.
    pub fn user(&self) -> Option<UserProfile> {
        let id = self.user_id.as_deref()?;
        joined_profile(id, &self.username, &self.name, &self.email, &self.rights)
    }
}

impl std::fmt::Debug for UserRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRow")
            .field("id", &self.id)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// An `auth_codes` row.
#[derive(Clone, Debug, Deserialize)]
pub struct CodeRow {
    /// Client.
    pub client_id: String,
    /// User.
    pub user_id: String,
    /// Exact redirect URI of the request.
    pub redirect_uri: String,
    /// Scope.
    pub scope: String,
    /// S256 challenge.
    pub code_challenge: String,
    /// Unix seconds.
    pub expires_at: u64,
    /// Set when redeemed.
    pub used_at: Option<u64>,
    /// The family the redemption produced.
    pub family_id: Option<String>,
    /// The OpenID Connect nonce of the request.
    #[serde(default)]
    pub nonce: Option<String>,
    /// When the person signed in.
    #[serde(default)]
    pub auth_time: Option<u64>,
    /// The person's sign-in name (NULL once deleted).
    #[serde(default)]
    pub username: Option<String>,
    /// Their display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Their email.
    #[serde(default)]
    pub email: Option<String>,
    /// Their rights.
    #[serde(default)]
    pub rights: Option<String>,
}

/// A `refresh_tokens` row joined with its family's revocation.
#[derive(Clone, Debug, Deserialize)]
pub struct RefreshRow {
    /// Family.
    pub family_id: String,
    /// Client.
    pub client_id: String,
    /// User.
    pub user_id: Option<String>,
    /// Scope.
    pub scope: String,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds.
    pub expires_at: u64,
    /// Set when rotated.
    pub used_at: Option<u64>,
    /// Set when the family was revoked.
    pub family_revoked_at: Option<u64>,
    /// When the person signed in for the family's authorization (code and device flows).
    #[serde(default)]
    pub auth_time: Option<u64>,
    /// The person's sign-in name (NULL once deleted).
    #[serde(default)]
    pub username: Option<String>,
    /// Their display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Their email.
    #[serde(default)]
    pub email: Option<String>,
    /// Their rights.
    #[serde(default)]
    pub rights: Option<String>,
}

/// What D1 says about an access token's standing, loaded in one query.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct BearerStatus {
    /// 1 when the jti is revoked.
    pub revoked: Option<u8>,
    /// Set when its family is revoked.
    pub family_revoked_at: Option<u64>,
    /// 1 while the client exists.
    pub client_exists: Option<u8>,
    /// The user's name, while the user exists.
    pub username: Option<String>,
    /// The user's display name.
    pub name: Option<String>,
    /// The user's email.
    #[serde(default)]
    pub email: Option<String>,
}

/// What D1 says about a TURN token: revoked, and who it was issued to (from the audit trail).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct TurnStatus {
    /// 1 when revoked.
    pub revoked: Option<u8>,
    /// The client it was issued to, if this server issued it.
    pub client_id: Option<String>,
    /// The user it was issued for.
    pub user_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_rows_parse_or_are_server_errors() {
        let row = ClientRow {
            id: "c".into(),
            name: "C".into(),
            secret_hash: None,
            redirect_uris: r#"["https://a.example/cb"]"#.into(),
            grant_types: "authorization_code refresh_token".into(),
            scopes: "openid turn".into(),
            access_token_ttl: Some(60),
            refresh_token_ttl: None,
            created_at: 1,
            post_logout_redirect_uris: "[]".into(),
            id_token_alg: "RS256".into(),
            registered_by: "admin".into(),
            owner_id: None,
            registration_key: None,
        };
        let r = row.clone().into_record().unwrap();
        assert!(
            r.is_public() && r.allows(GrantType::RefreshToken) && !r.allows(GrantType::Password)
        );
        let bad = ClientRow {
            grant_types: "implicit".into(),
            ..row.clone()
        };
        assert_eq!(bad.into_record().unwrap_err().status, 500);
        let bad = ClientRow {
            redirect_uris: "nope".into(),
            ..row.clone()
        };
        assert_eq!(bad.into_record().unwrap_err().status, 500);
        let bad = ClientRow {
            id_token_alg: "HS256".into(),
            ..row
        };
        assert_eq!(bad.into_record().unwrap_err().status, 500);
    }
}
