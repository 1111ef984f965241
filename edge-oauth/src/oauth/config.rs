//! Configuration from wrangler vars and secrets, checked once per isolate.
//!
//! | name | kind | meaning |
//! |---|---|---|
//! | `ISSUER` | var, required | the issuer URL (`https://auth.example.com`), no trailing slash |
//! | `TURN_SERVER_NAME` | var, required | RFC 7635 server name: the token's AAD |
//! | `TURN_REALM` | var | the relays' realm (default: the server name) |
//! | `TURN_URLS` | var, required | relay URLs: a JSON array or a comma-separated list |
//! | `STUN_URLS` | var | STUN URLs for `iceServers` |
//! | `ACCESS_TOKEN_TTL`, `REFRESH_TOKEN_TTL`, `TURN_TOKEN_TTL`, `CODE_TTL` | var | seconds |
//! | `PASSWORD_PBKDF2_ITERATIONS`, `CLIENT_SECRET_PBKDF2_ITERATIONS` | var | for new records |
//! | `CLIENT_CACHE_TTL` | var | seconds a client record is cached per isolate (default 10, 0 = off) |
//! | `LEGACY_CLIENT_ID` | var | client the seed's `POST /token` acts for when it names none |
//! | `ACCESS_TOKEN_ALG` | var | `RS256` (default) or `ES256`: what access tokens are signed with |
//! | `ID_TOKEN_TTL` | var | seconds an ID token is valid (default 900) |
//! | `DEVICE_CODE_TTL` | var | seconds a device authorization waits for a person (default 600) |
//! | `SIGNUP` | var | `on` opens `/signup`; anything else (the default) keeps it closed |
//! | `REGISTRATION` | var | `open` lets anyone register clients at the registration endpoint; default: only with an initial access token |
//! | `REGISTRATION_SCOPES` | var | scopes self-registered and dynamically registered clients may have (default `openid profile email turn`; the reserved `introspection` and `relay` are refused) |
//! | `TURN_KEYS` | secret, required | shared-token key file JSON |
//! | `SIGNING_KEYS` | secret, required | private JWK set: RS256 and ES256 keys (`cargo xtask signing-key`) |
//! | `MAX_APPS_PER_PERSON` | var | apps one person may hold on `/create_client` (default 25) |
//! | `DPOP_NONCE` | var | `required`: DPoP proofs at the token endpoint must carry a server nonce (RFC 9449 section 8) |
//! | `CLIENT_METADATA_DOCUMENTS` | var | `off` (default), `on` (https URL client ids resolved by their metadata documents), `local` (also http on loopback: local runs and tests) |
//! | `TOKEN_SIGNING_KEY` | secret, required | base64 of at least 32 random bytes: seals the pages' form state; TURN tokens' account keys are derived from it |
//! | `ADMIN_SECRET` | secret, required | at least 16 characters |

use std::fmt;

use shared_token::Keyring;

use super::keys::{AdminSecret, SigningKey};
use super::people::password::{MAX_ITERATIONS, MIN_ITERATIONS};
use super::scope::Scope;
use super::tokens::signing_keys::{Alg, KeySet};

/// The checked configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Issuer URL without a trailing slash.
    pub issuer: String,
    /// The TURN server name (AAD of RFC 7635 tokens; `aud` that asks for one).
    pub turn_server_name: String,
    /// The relays' realm.
    pub turn_realm: String,
    /// Relay URLs (`turn:` / `turns:`).
    pub turn_urls: Vec<String>,
    /// STUN URLs.
    pub stun_urls: Vec<String>,
    /// Access-token lifetime, seconds.
    pub access_token_ttl: u32,
    /// Refresh-token lifetime, seconds.
    pub refresh_token_ttl: u32,
    /// TURN token lifetime, seconds.
    pub turn_token_ttl: u32,
    /// Authorization-code lifetime, seconds.
    pub code_ttl: u32,
    /// PBKDF2 iterations for new user passwords and admin-chosen client secrets.
    pub password_iterations: u32,
    /// PBKDF2 iterations for server-generated (256-bit random) client secrets.
    pub client_secret_iterations: u32,
    /// Seconds a client record is kept in an isolate (0: always read D1).
    pub client_cache_ttl: u32,
    /// The client the seed-compatible `POST /token` uses when the request names none.
    pub legacy_client_id: Option<String>,
    /// AS-RS keys.
    pub keyring: Keyring,
    /// The HMAC key that seals the pages' form state.
    pub signing_key: SigningKey,
    /// The asymmetric keys that sign access and ID tokens.
    pub signing_keys: KeySet,
    /// The algorithm access tokens are signed with.
    pub access_token_alg: Alg,
    /// ID-token lifetime, seconds.
    pub id_token_ttl: u32,
    /// Seconds a device authorization waits for a person.
    pub device_code_ttl: u32,
    /// `/signup` is open.
    pub signup: bool,
    /// Anyone may register clients dynamically (else an initial access token is required).
    pub open_registration: bool,
    /// Scopes self-registered and dynamically registered clients may have.
    pub registration_scopes: Scope,
    /// Most apps one person may hold on `/create_client`.
    pub max_apps_per_person: u32,
    /// The admin secret.
    pub admin_secret: AdminSecret,
    /// DPoP proofs at the token endpoint must carry a server nonce (`DPOP_NONCE=required`,
    /// RFC 9449 section 8).
    pub dpop_nonce: bool,
    /// Client ID metadata documents (`CLIENT_METADATA_DOCUMENTS`: `off`, `on`, `local`).
    pub client_metadata: super::clients::metadata_document::Mode,
}

/// A configuration problem. The message names the variable and never contains its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}

fn err<T>(msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(msg.into()))
}

/// Parses a list var: a JSON array of strings, or comma/whitespace-separated text.
pub fn parse_list(text: &str) -> Option<Vec<String>> {
    let t = text.trim();
    let items: Vec<String> = if t.starts_with('[') {
        serde_json::from_str::<Vec<String>>(t).ok()?
    } else {
        t.split([',', ' ', '\n', '\t'])
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    Some(
        items
            .into_iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
    )
}

impl Config {
    /// Reads and checks every value through `get` (a var or secret by name).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let required = |name: &str| match get(name) {
            Some(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
            _ => err(format!("{name} is not set")),
        };
        let optional = |name: &str| {
            get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let number = |name: &str, default: u32, min: u32, max: u32| -> Result<u32, ConfigError> {
            match optional(name) {
                None => Ok(default),
                Some(v) => match v.parse::<u32>() {
                    Ok(n) if (min..=max).contains(&n) => Ok(n),
                    _ => err(format!("{name} must be a whole number from {min} to {max}")),
                },
            }
        };

        let issuer = required("ISSUER")?.trim_end_matches('/').to_string();
        if !(issuer.starts_with("https://") || issuer.starts_with("http://")) {
            return err("ISSUER must be an http(s) URL");
        }
        let turn_server_name = required("TURN_SERVER_NAME")?;
        let turn_realm = optional("TURN_REALM").unwrap_or_else(|| turn_server_name.clone());
        let turn_urls = parse_list(&required("TURN_URLS")?).ok_or_else(|| {
            ConfigError(
                "TURN_URLS must be a JSON array of strings or a comma-separated list".into(),
            )
        })?;
        if turn_urls.is_empty()
            || !turn_urls
                .iter()
                .all(|u| u.starts_with("turn:") || u.starts_with("turns:"))
        {
            return err("TURN_URLS must list turn: or turns: URLs");
        }
        let stun_urls = match optional("STUN_URLS") {
            None => Vec::new(),
            Some(v) => parse_list(&v)
                .filter(|l| {
                    l.iter()
                        .all(|u| u.starts_with("stun:") || u.starts_with("stuns:"))
                })
                .ok_or_else(|| ConfigError("STUN_URLS must list stun: URLs".into()))?,
        };
        let keyring = Keyring::from_json(&required("TURN_KEYS")?)
            .map_err(|e| ConfigError(format!("TURN_KEYS: {e}")))?;
        let signing_key =
            SigningKey::from_base64(&required("TOKEN_SIGNING_KEY")?).ok_or_else(|| {
                ConfigError("TOKEN_SIGNING_KEY must be base64 of at least 32 bytes".into())
            })?;
        let admin_secret = AdminSecret::new(&required("ADMIN_SECRET")?)
            .ok_or_else(|| ConfigError("ADMIN_SECRET must be at least 16 characters".into()))?;
        let signing_keys = KeySet::from_json(&required("SIGNING_KEYS")?)
            .map_err(|e| ConfigError(format!("SIGNING_KEYS: {e}")))?;
        // OpenID Connect: RS256 is what every relying party can verify, and the default
        // `id_token_signed_response_alg`.
        if !signing_keys.has(Alg::Rs256) {
            return err("SIGNING_KEYS must hold an RS256 (RSA) key");
        }
        let access_token_alg = match optional("ACCESS_TOKEN_ALG") {
            None => Alg::Rs256,
            Some(a) => Alg::parse(&a)
                .ok_or_else(|| ConfigError("ACCESS_TOKEN_ALG must be RS256 or ES256".into()))?,
        };
        if !signing_keys.has(access_token_alg) {
            return err("ACCESS_TOKEN_ALG names an algorithm SIGNING_KEYS holds no key for");
        }
        let registration_scopes = Scope::parse(
            optional("REGISTRATION_SCOPES")
                .as_deref()
                .unwrap_or("openid profile email turn"),
        )
        .map_err(|_| ConfigError("REGISTRATION_SCOPES must be a scope list".into()))?;
        let reserved = super::scope::reserved_in(&registration_scopes);
        if !reserved.is_empty() {
            return Err(ConfigError(format!(
                "REGISTRATION_SCOPES must not include the reserved scopes {} (introspection reads \
                 every client's tokens, relay acts as a relay): give them only through the admin \
                 API",
                reserved.join(" ")
            )));
        }
        const DAY: u32 = 24 * 3600;
        Ok(Config {
            issuer,
            turn_server_name,
            turn_realm,
            turn_urls,
            stun_urls,
            access_token_ttl: number("ACCESS_TOKEN_TTL", 900, 1, DAY)?,
            refresh_token_ttl: number("REFRESH_TOKEN_TTL", 30 * DAY, 1, 365 * DAY)?,
            turn_token_ttl: number("TURN_TOKEN_TTL", 3600, 1, 7 * DAY)?,
            code_ttl: number("CODE_TTL", 60, 1, 600)?,
            password_iterations: number(
                "PASSWORD_PBKDF2_ITERATIONS",
                MAX_ITERATIONS,
                MIN_ITERATIONS,
                MAX_ITERATIONS,
            )?,
            client_secret_iterations: number(
                "CLIENT_SECRET_PBKDF2_ITERATIONS",
                10_000,
                MIN_ITERATIONS,
                MAX_ITERATIONS,
            )?,
            client_cache_ttl: number("CLIENT_CACHE_TTL", 10, 0, 300)?,
            legacy_client_id: optional("LEGACY_CLIENT_ID"),
            keyring,
            signing_key,
            signing_keys,
            access_token_alg,
            id_token_ttl: number("ID_TOKEN_TTL", 900, 1, DAY)?,
            device_code_ttl: number("DEVICE_CODE_TTL", 600, 5, 3600)?,
            signup: optional("SIGNUP").is_some_and(|v| v == "on"),
            open_registration: optional("REGISTRATION").is_some_and(|v| v == "open"),
            registration_scopes,
            max_apps_per_person: number("MAX_APPS_PER_PERSON", 25, 1, 10_000)?,
            admin_secret,
            dpop_nonce: optional("DPOP_NONCE").is_some_and(|v| v == "required"),
            client_metadata: super::clients::metadata_document::Mode::parse(
                optional("CLIENT_METADATA_DOCUMENTS").as_deref(),
            )
            .ok_or_else(|| {
                ConfigError("CLIENT_METADATA_DOCUMENTS must be off, on or local".into())
            })?,
        })
    }

    /// The realm used in `WWW-Authenticate` challenges.
    pub fn auth_realm(&self) -> &str {
        "edge-oauth"
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;

    pub(crate) const KEYS: &str =
        r#"[{"kid":"k1","alg":"A256GCM","key":"MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEK"}]"#;

    /// Two keys for tests: an RSA key (RS256) and a P-256 key (ES256), from the fixture set
    /// resource-verifier's tests sign with.
    pub(crate) const SIGNING_KEYS: &str =
        include_str!("../../../resource-verifier/tests/test-keys.json");

    pub(crate) fn vars() -> HashMap<&'static str, String> {
        HashMap::from([
            ("SIGNING_KEYS", SIGNING_KEYS.to_string()),
            ("ISSUER", "https://auth.example/".to_string()),
            ("TURN_SERVER_NAME", "turn.example".to_string()),
            ("TURN_URLS", r#"["turn:turn.example:3478?transport=udp","turns:turn.example:443?transport=tcp"]"#.to_string()),
            ("STUN_URLS", "stun:turn.example:3478".to_string()),
            ("TURN_KEYS", KEYS.to_string()),
            ("TOKEN_SIGNING_KEY", "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEK".to_string()),
            ("ADMIN_SECRET", "admin-secret-0123456789".to_string()),
        ])
    }

    pub(crate) fn config() -> Config {
        let v = vars();
        Config::from_lookup(|k| v.get(k).cloned()).unwrap()
    }

    #[test]
    fn defaults_and_lists() {
        let c = config();
        assert_eq!(c.issuer, "https://auth.example");
        assert_eq!(c.turn_realm, "turn.example");
        assert_eq!(c.turn_urls.len(), 2);
        assert_eq!(c.stun_urls, ["stun:turn.example:3478"]);
        assert_eq!(
            (c.access_token_ttl, c.code_ttl, c.password_iterations),
            (900, 60, 100_000)
        );
        assert_eq!(
            parse_list("turn:a, turns:b").unwrap(),
            ["turn:a", "turns:b"]
        );
    }

    #[test]
    fn signing_keys_need_rs256_and_the_access_token_alg() {
        let mut v = vars();
        v.insert(
            "SIGNING_KEYS",
            format!(
                "[{}]",
                crate::oauth::tokens::signing_keys::tests::ec("e", None)
            ),
        );
        let e = Config::from_lookup(|k| v.get(k).cloned()).unwrap_err();
        assert!(e.0.contains("RS256"), "{e}");
        let c = config();
        assert_eq!(c.access_token_alg, Alg::Rs256);
        assert!(!c.signup && !c.open_registration);
        let mut v = vars();
        v.insert("ACCESS_TOKEN_ALG", "ES256".into());
        v.insert("SIGNUP", "on".into());
        let c = Config::from_lookup(|k| v.get(k).cloned()).unwrap();
        assert_eq!(c.access_token_alg, Alg::Es256);
        assert!(c.signup);
    }

    #[test]
    fn registration_scopes_refuse_the_reserved_ones() {
        for bad in ["openid introspection", "turn relay"] {
            let mut v = vars();
            v.insert("REGISTRATION_SCOPES", bad.to_string());
            let e = Config::from_lookup(|k| v.get(k).cloned()).unwrap_err();
            assert!(
                e.0.contains("REGISTRATION_SCOPES must not include the reserved scopes"),
                "{e}"
            );
        }
        let mut v = vars();
        v.insert("REGISTRATION_SCOPES", "openid turn".to_string());
        assert!(Config::from_lookup(|k| v.get(k).cloned()).is_ok());
    }

    #[test]
    fn errors_name_the_variable_not_the_value() {
        let cases: [(&str, Option<&str>, &str); 10] = [
            ("SIGNING_KEYS", None, "SIGNING_KEYS is not set"),
            (
                "SIGNING_KEYS",
                Some(crate::oauth::tokens::signing_keys::tests::EC_JWK),
                "SIGNING_KEYS: a JWK set needs",
            ),
            (
                "ACCESS_TOKEN_ALG",
                Some("HS256"),
                "ACCESS_TOKEN_ALG must be",
            ),
            ("ISSUER", None, "ISSUER is not set"),
            ("ISSUER", Some("ftp://x"), "ISSUER must be"),
            ("TURN_URLS", Some("http://x"), "TURN_URLS"),
            ("TURN_KEYS", Some("[]"), "TURN_KEYS: key file lists no keys"),
            (
                "TOKEN_SIGNING_KEY",
                Some("c2hvcnQ="),
                "TOKEN_SIGNING_KEY must be",
            ),
            ("ADMIN_SECRET", Some("tiny-secret"), "ADMIN_SECRET must be"),
            ("CODE_TTL", Some("0"), "CODE_TTL must be"),
        ];
        for (name, value, want) in cases {
            let mut v = vars();
            match value {
                Some(x) => v.insert(name, x.to_string()),
                None => v.remove(name),
            };
            let e = Config::from_lookup(|k| v.get(k).cloned())
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{name}: {e}");
            if let Some(x) = value {
                assert!(!e.contains(x) || x.len() < 4, "{e} echoes the value");
            }
        }
    }
}
