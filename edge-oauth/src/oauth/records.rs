//! The checked domain forms of rows the worker loads from D1 (the rows themselves, column
//! names = field names, are in [`crate::store::reads`]).

use super::clients::client::{ClientRecord, GrantType};
use super::error::OAuthError;
use super::scope::Scope;
use super::tokens::resource::Resources;
use super::tokens::signing_keys::Alg;
use crate::store::reads::{ClientRow, CodeRow, RefreshRow};

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
        let resources = Resources::from_stored(self.resources.as_deref())?;
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
            backchannel: self.backchannel_logout_uri.map(|uri| {
                super::clients::client::Backchannel {
                    uri,
                    session_required: self.backchannel_logout_session_required == Some(1),
                }
            }),
            id_token_alg,
            owner_id: self.owner_id,
            registration_key: self.registration_key,
            created_at: self.created_at,
            resources,
        })
    }
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
    /// True once the person followed the verification link sent to it.
    pub email_verified: bool,
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
    email_verified: Option<u8>,
    rights: &Option<String>,
) -> Option<UserProfile> {
    Some(UserProfile {
        id: id.to_string(),
        username: username.clone()?,
        name: name.clone(),
        email: email.clone(),
        email_verified: email_verified == Some(1),
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
            self.email_verified,
            &self.rights,
        )
    }
}

impl RefreshRow {
    /// The person the token acts for, while they exist.
    pub fn user(&self) -> Option<UserProfile> {
        let id = self.user_id.as_deref()?;
        joined_profile(
            id,
            &self.username,
            &self.name,
            &self.email,
            self.email_verified,
            &self.rights,
        )
    }
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
            resources: Some("https://api.example/".into()),
            backchannel_logout_uri: None,
            backchannel_logout_session_required: None,
        };
        let r = row.clone().into_record().unwrap();
        assert!(
            r.is_public() && r.allows(GrantType::RefreshToken) && !r.allows(GrantType::Password)
        );
        assert!(r.resources.contains("https://api.example/"));
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
            resources: Some("not-a-uri".into()),
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
