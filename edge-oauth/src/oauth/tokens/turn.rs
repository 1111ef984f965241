//! TURN credentials: RFC 7635 tokens sealed with shared-token, the token-endpoint response
//! that carries one, the `iceServers` document for browsers, and opening a presented token
//! for introspection.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use shared_token::{
    AccountKey, BrowserCredential, MacKeyProfile, MintRequest, Minted, TokenId, Validation, browser,
};

use crate::oauth::config::Config;
use crate::oauth::error::OAuthError;

/// RFC 7635 section 4.1 `alg`: the MESSAGE-INTEGRITY algorithm the mac_key is for. Tokens use
/// shared-token's coturn-compatible profile (20 bytes, last 4 zero), which keys HMAC-SHA1.
pub const MAC_ALG: &str = "HMAC-SHA-1";

/// Seals a fresh token for `lifetime` seconds with the active key, charged to `account`
/// ([`super::account`]).
pub fn mint(
    config: &Config,
    lifetime: u32,
    account: AccountKey,
    now: u64,
) -> Result<Minted, OAuthError> {
    let req = MintRequest {
        kid: None,
        server_name: &config.turn_server_name,
        lifetime,
        profile: MacKeyProfile::Sha1Coturn,
        now,
        account: Some(account),
    };
    config.keyring.mint(&req).map_err(|e| match e {
        shared_token::MintError::NoActiveKey => OAuthError::server_error("no TURN key is active"),
        _ => OAuthError::server_error("a TURN token could not be sealed"),
    })
}

/// The token-endpoint response for a TURN token: RFC 7635 section 4.1's fields (`access_token`,
/// `token_type: "pop"`, `expires_in`, `kid`, `key`, `alg`) plus the seed's (`username` = kid,
/// `mac_key` = key), and `refresh_token` when one was issued. docs/edge-oauth.md shows it.
pub fn token_response(minted: &Minted, refresh_token: Option<&str>) -> Value {
    let key = STANDARD.encode(minted.mac_key.secret());
    let mut v = json!({
        "access_token": STANDARD.encode(&minted.token),
        "token_type": "pop",
        "expires_in": minted.lifetime,
        "kid": minted.kid,
        "key": key,
        "alg": MAC_ALG,
        "username": minted.kid,
        "mac_key": key,
        "scope": crate::oauth::scope::TURN,
    });
    if let (Some(rt), Some(obj)) = (refresh_token, v.as_object_mut()) {
        obj.insert("refresh_token".into(), Value::String(rt.to_string()));
    }
    v
}

/// `{"iceServers": [...]}` in the shape of Cloudflare's TURN credential API, with the browser
/// credential (the token inside the username), plus `expiresAt`, `ttl`, `kid`, `tokenId`.
/// `relays`: the URLs of the relays picked for this caller, one entry each, nearest first
/// (docs/control-plane.md); none: one entry with the static `TURN_URLS`.
pub fn ice_servers(
    config: &Config,
    minted: &Minted,
    relays: &[Vec<String>],
) -> Result<Value, OAuthError> {
    let cred = BrowserCredential::new(&minted.kid, &minted.token, &minted.mac_key)
        .map_err(|_| OAuthError::server_error("the TURN token does not fit a browser username"))?;
    let mut servers = Vec::new();
    if !config.stun_urls.is_empty() {
        servers.push(json!({ "urls": config.stun_urls }));
    }
    let fallback = [config.turn_urls.clone()];
    let lists = if relays.is_empty() {
        &fallback[..]
    } else {
        relays
    };
    for urls in lists {
        servers.push(
            json!({ "urls": urls, "username": cred.username, "credential": cred.credential }),
        );
    }
    Ok(json!({
        "iceServers": servers,
        "expiresAt": minted.expires_at(),
        "ttl": minted.lifetime,
        "kid": minted.kid,
        "tokenId": minted.id.to_string(),
        "realm": config.turn_realm,
    }))
}

/// A presented token that opened and validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenedTurn {
    /// The kid it opened under.
    pub kid: String,
    /// Unix seconds.
    pub issued_at: u64,
    /// Unix seconds.
    pub expires_at: u64,
    /// shared-token's token id.
    pub token_id: String,
}

/// Opens a presented TURN token: a browser username (`et1.<kid>.<token>`), or the token's
/// base64 (standard or URL-safe) as the token endpoint returned it, tried under each key.
/// `None` when it does not open, or fails validation (expired, not yet valid) at `now`.
pub fn open(config: &Config, presented: &str, now: u64) -> Option<OpenedTurn> {
    let v = Validation::default();
    let aad = config.turn_server_name.as_bytes();
    let opened = |kid: &str, token: &[u8]| {
        config
            .keyring
            .open(kid, token, aad, now, &v)
            .ok()
            .map(|t| OpenedTurn {
                kid: t.key.kid().to_string(),
                issued_at: t.claims.timestamp.unix_secs(),
                expires_at: t.claims.expires_at().unwrap_or(u64::MAX),
                token_id: TokenId::of(token).to_string(),
            })
    };
    if browser::is_browser_username(presented) {
        let parsed = browser::parse_username(presented).ok()?;
        return opened(parsed.kid, &parsed.token);
    }
    let token = STANDARD
        .decode(presented)
        .or_else(|_| URL_SAFE_NO_PAD.decode(presented.trim_end_matches('=')))
        .ok()?;
    if token.len() > shared_token::token::MAX_TOKEN_LEN {
        return None;
    }
    config
        .keyring
        .keys()
        .iter()
        .find_map(|k| opened(k.kid(), &token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::config::tests::config;

    #[test]
    fn response_has_rfc_7635_and_seed_fields() {
        let c = config();
        let m = mint(
            &c,
            600,
            shared_token::AccountKey::from_bytes([1; 12]),
            1_800_000_000,
        )
        .unwrap();
        let v = token_response(&m, Some("rt1.x"));
        assert_eq!(v["token_type"], "pop");
        assert_eq!(v["kid"], "k1");
        assert_eq!(v["username"], "k1");
        assert_eq!(v["key"], v["mac_key"]);
        assert_eq!(v["alg"], "HMAC-SHA-1");
        assert_eq!(v["expires_in"], 600);
        assert_eq!(v["refresh_token"], "rt1.x");
        let key = STANDARD.decode(v["mac_key"].as_str().unwrap()).unwrap();
        assert_eq!(key.len(), 20);
        assert_eq!(&key[16..], &[0; 4]);
        // It opens with shared-token under the configured server name.
        let token = STANDARD
            .decode(v["access_token"].as_str().unwrap())
            .unwrap();
        let ring = shared_token::Keyring::from_json(crate::oauth::config::tests::KEYS).unwrap();
        let valid = ring
            .open(
                "k1",
                &token,
                b"turn.example",
                1_800_000_001,
                &Validation::default(),
            )
            .unwrap();
        assert_eq!(valid.claims.mac_key.secret(), key.as_slice());
    }

    #[test]
    fn ice_servers_shape() {
        let c = config();
        let m = mint(
            &c,
            600,
            shared_token::AccountKey::from_bytes([1; 12]),
            1_800_000_000,
        )
        .unwrap();
        let v = ice_servers(&c, &m, &[]).unwrap();
        let servers = v["iceServers"].as_array().unwrap();
        assert_eq!(servers.len(), 2);
        assert_eq!(servers[0]["urls"][0], "stun:turn.example:3478");
        assert!(servers[0].get("username").is_none());
        assert_eq!(servers[1]["urls"].as_array().unwrap().len(), 2);
        let user = servers[1]["username"].as_str().unwrap();
        assert!(user.starts_with("et1.k1."));
        assert_eq!(v["expiresAt"], 1_800_000_600u64);
        assert_eq!(v["tokenId"], m.id.to_string());
        // The username opens back to the same token.
        let opened = open(&c, user, 1_800_000_010).unwrap();
        assert_eq!(opened.token_id, m.id.to_string());
        // Relays picked for the caller replace the static list, one entry each, in order.
        let near = vec!["turn:near:3478?transport=udp".to_string()];
        let far = vec!["turn:far:3478?transport=udp".to_string()];
        let v = ice_servers(&c, &m, &[near.clone(), far]).unwrap();
        let servers = v["iceServers"].as_array().unwrap();
        assert_eq!(servers.len(), 3);
        assert_eq!(servers[1]["urls"][0], near[0].as_str());
        assert_eq!(servers[2]["username"], servers[1]["username"]);
    }

    #[test]
    fn open_accepts_both_encodings_and_refuses_junk_and_expired() {
        let c = config();
        let m = mint(
            &c,
            600,
            shared_token::AccountKey::from_bytes([1; 12]),
            1_800_000_000,
        )
        .unwrap();
        for s in [STANDARD.encode(&m.token), URL_SAFE_NO_PAD.encode(&m.token)] {
            let o = open(&c, &s, 1_800_000_100).unwrap();
            assert_eq!(
                (o.kid.as_str(), o.issued_at, o.expires_at),
                ("k1", 1_800_000_000, 1_800_000_600)
            );
        }
        assert!(open(&c, &STANDARD.encode(&m.token), 1_800_000_605).is_none());
        for junk in ["", "%%%", "AAAA", "et1.k1.AAAA", "et1.", &"A".repeat(2000)] {
            assert!(open(&c, junk, 1_800_000_100).is_none(), "{junk}");
        }
    }
}
