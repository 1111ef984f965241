//! Authorization server metadata (RFC 8414) and OpenID Provider metadata (OpenID Connect
//! Discovery 1.0 section 3): one document, served at both well-known paths, stating what this
//! server does and nothing it does not.

use serde_json::{Value, json};

use super::clients::client::GrantType;
use super::config::Config;

/// The claims this server may put in ID tokens and userinfo.
pub const CLAIMS: [&str; 17] = [
    "iss",
    "sub",
    "aud",
    "azp",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
    "preferred_username",
    "name",
    "email",
    "email_verified",
    "rights",
    "sid",
    "amr",
    "acr",
];

/// The metadata document.
pub fn metadata(config: &Config) -> Value {
    let i = &config.issuer;
    let algs: Vec<&str> = config
        .signing_keys
        .algs()
        .iter()
        .map(|a| a.as_str())
        .collect();
    let auth_methods = ["client_secret_basic", "client_secret_post", "none"];
    json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/oauth2/authorize"),
        "token_endpoint": format!("{i}/oauth2/token"),
        "userinfo_endpoint": format!("{i}/oauth2/userinfo"),
        "jwks_uri": format!("{i}/.well-known/jwks.json"),
        "registration_endpoint": format!("{i}/oauth2/register"),
        "introspection_endpoint": format!("{i}/oauth2/introspect"),
        "revocation_endpoint": format!("{i}/oauth2/revoke"),
        "end_session_endpoint": format!("{i}/oauth2/logout"),
        "device_authorization_endpoint": format!("{i}/oauth2/device_authorization"),
        "scopes_supported": ["openid", "profile", "email", "turn"],
        // Only the code flow: implicit and hybrid response types put tokens in URLs (RFC 9700).
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": GrantType::ALL.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "userinfo_signing_alg_values_supported": ["none"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": CLAIMS,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "acr_values_supported": [
            crate::oauth::people::session::ACR_SESSION,
            crate::oauth::people::session::ACR_SIGNED_IN,
        ],
        "authorization_response_iss_parameter_supported": true,
        "frontchannel_logout_supported": false,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "access_token_signing_alg": config.access_token_alg.as_str(),
        "turn_credentials_endpoint": format!("{i}/turn/credentials"),
        "turn_server_name": config.turn_server_name,
        // RFC 8707 `resource` on authorize, device authorization and token requests (not an
        // IANA-registered member; docs/edge-oauth.md, "Resource servers and agents").
        "resource_indicators_supported": true,
        // RFC 9449 section 5.1.
        "dpop_signing_alg_values_supported": super::tokens::dpop::ALGS,
        // draft-ietf-oauth-client-id-metadata-document: a URL client_id names its metadata.
        "client_id_metadata_document_supported":
            config.client_metadata != super::clients::metadata_document::Mode::Off,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::config::tests::config;

    #[test]
    fn a_complete_openid_provider_document() {
        let m = metadata(&config());
        assert_eq!(m["issuer"], "https://auth.example");
        assert_eq!(m["token_endpoint"], "https://auth.example/oauth2/token");
        assert_eq!(m["jwks_uri"], "https://auth.example/.well-known/jwks.json");
        assert_eq!(m["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(m["response_types_supported"], json!(["code"]));
        assert_eq!(m["resource_indicators_supported"], true);
        assert_eq!(m["dpop_signing_alg_values_supported"], json!(["ES256"]));
        assert_eq!(
            m["client_id_metadata_document_supported"], false,
            "off by default"
        );
        assert_eq!(m["authorization_response_iss_parameter_supported"], true);
        assert_eq!(
            m["id_token_signing_alg_values_supported"],
            json!(["RS256", "ES256"])
        );
        // OpenID Connect Discovery section 3's REQUIRED members.
        for k in [
            "issuer",
            "authorization_endpoint",
            "jwks_uri",
            "response_types_supported",
            "subject_types_supported",
            "id_token_signing_alg_values_supported",
        ] {
            assert!(m.get(k).is_some(), "{k}");
        }
        assert!(
            m["grant_types_supported"]
                .as_array()
                .unwrap()
                .contains(&json!("urn:ietf:params:oauth:grant-type:device_code"))
        );
    }
}
