//! Authorization server metadata (RFC 8414), also served as `openid-configuration`.

use serde_json::{Value, json};

use super::client::GrantType;
use super::config::Config;

/// The metadata document. With `openid`, the OpenID Connect Discovery members this server
/// can honestly state are added (it serves userinfo; it issues no ID tokens).
pub fn metadata(config: &Config, openid: bool) -> Value {
    let i = &config.issuer;
    let mut v = json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/oauth2/authorize"),
        "token_endpoint": format!("{i}/oauth2/token"),
        "introspection_endpoint": format!("{i}/oauth2/introspect"),
        "revocation_endpoint": format!("{i}/oauth2/revoke"),
        "userinfo_endpoint": format!("{i}/oauth2/userinfo"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": GrantType::ALL.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "scopes_supported": ["openid", "turn"],
        "authorization_response_iss_parameter_supported": true,
        "turn_credentials_endpoint": format!("{i}/turn/credentials"),
        "turn_server_name": config.turn_server_name,
    });
    if openid && let Some(obj) = v.as_object_mut() {
        obj.insert("subject_types_supported".into(), json!(["public"]));
        obj.insert(
            "claims_supported".into(),
            json!(["sub", "preferred_username", "name"]),
        );
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::config::tests::config;

    #[test]
    fn endpoints_derive_from_the_issuer() {
        let m = metadata(&config(), false);
        assert_eq!(m["issuer"], "https://auth.example");
        assert_eq!(m["token_endpoint"], "https://auth.example/oauth2/token");
        assert_eq!(m["code_challenge_methods_supported"], json!(["S256"]));
        assert!(m.get("subject_types_supported").is_none());
        assert_eq!(
            metadata(&config(), true)["subject_types_supported"],
            json!(["public"])
        );
    }
}
