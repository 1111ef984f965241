//! Client authentication at the token, introspection and revocation endpoints
//! (RFC 6749 section 2.3): `client_secret_basic`, `client_secret_post`, or `none` for public
//! clients.
//!
//! Decide, then apply: [`presented`] reads what the request offers; [`begin`] decides from
//! the loaded client record whether a secret must be verified; the worker derives PBKDF2
//! (WebCrypto) and [`PendingSecret::verify`] compares in constant time. Only this module
//! makes an [`AuthenticatedClient`], so code that holds one may act for the client.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::client::ClientRecord;
use super::verify_cache::{CacheKey, VerifyCache};
use crate::oauth::error::OAuthError;
use crate::oauth::params::Params;
use crate::oauth::people::password::PasswordHash;

/// A secret a client presented; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// The secret text. Call sites handle a secret: keep them few.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret([redacted])")
    }
}

/// How the client authenticated (RFC 7591 names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    /// HTTP Basic with the form-encoded id and secret.
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the body.
    ClientSecretPost,
    /// A public client naming itself with `client_id`.
    None,
}

/// What the request offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Presented {
    /// The client id.
    pub client_id: String,
    /// The secret, if any.
    pub secret: Option<ClientSecret>,
    /// Where it came from.
    pub method: AuthMethod,
}

/// Reads the client's credentials from the `Authorization` header and the parameters.
/// Using two methods at once is `invalid_request` (RFC 6749 section 2.3); a malformed
/// header, or no client id at all, is `invalid_client`.
pub fn presented(authorization: Option<&str>, params: &Params) -> Result<Presented, OAuthError> {
    let body_id = params.get("client_id");
    let body_secret = params.get("client_secret");
    if let Some(header) = authorization {
        let (id, secret) = parse_basic(header)?;
        if body_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "use one client authentication method, not two",
            ));
        }
        if body_id.is_some_and(|b| b != id) {
            return Err(OAuthError::invalid_request(
                "client_id in the body differs from the Authorization header",
            ));
        }
        return Ok(Presented {
            client_id: id,
            secret: Some(ClientSecret(secret)),
            method: AuthMethod::ClientSecretBasic,
        });
    }
    match (body_id, body_secret) {
        (Some(id), Some(secret)) => Ok(Presented {
            client_id: id.to_string(),
            secret: Some(ClientSecret(secret.to_string())),
            method: AuthMethod::ClientSecretPost,
        }),
        (Some(id), None) => Ok(Presented {
            client_id: id.to_string(),
            secret: None,
            method: AuthMethod::None,
        }),
        (None, _) => Err(OAuthError::invalid_client(
            "client authentication is required",
        )),
    }
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 section 2.3.1).
fn parse_basic(header: &str) -> Result<(String, String), OAuthError> {
    let bad = || OAuthError::invalid_client("the Authorization header is not valid HTTP Basic");
    let (scheme, rest) = header.trim().split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client(
            "only HTTP Basic client authentication is accepted here",
        ));
    }
    let raw = STANDARD.decode(rest.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    // application/x-www-form-urlencoded decoding of each half; `&` and `=` are kept literal.
    let decode = |s: &str| -> String {
        let escaped = s.replace('&', "%26").replace('=', "%3D");
        form_urlencoded::parse(escaped.as_bytes())
            .next()
            .map(|(k, _)| k.into_owned())
            .unwrap_or_default()
    };
    let (id, secret) = (decode(id), decode(secret));
    if id.is_empty() {
        return Err(bad());
    }
    Ok((id, secret))
}

/// A client whose authentication passed. Only this module makes one.
#[derive(Clone, Debug)]
pub struct AuthenticatedClient {
    record: ClientRecord,
    method: AuthMethod,
}

impl AuthenticatedClient {
    /// The client's record.
    pub fn record(&self) -> &ClientRecord {
        &self.record
    }

    /// The client id.
    pub fn id(&self) -> &str {
        &self.record.id
    }

    /// How it authenticated.
    pub fn method(&self) -> AuthMethod {
        self.method
    }

    /// True when it proved possession of a secret (a confidential client).
    pub fn is_confidential(&self) -> bool {
        self.method != AuthMethod::None
    }
}

/// A secret still to be checked against a stored PBKDF2 record.
#[derive(Debug)]
pub struct PendingSecret {
    record: ClientRecord,
    method: AuthMethod,
    hash: PasswordHash,
    secret: ClientSecret,
    cache_key: CacheKey,
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CacheKey")
    }
}

impl PendingSecret {
    /// The stored record to derive against.
    pub fn hash(&self) -> &PasswordHash {
        &self.hash
    }

    /// The presented secret's bytes (input to PBKDF2).
    pub fn secret_bytes(&self) -> &[u8] {
        self.secret.secret().as_bytes()
    }

    /// Accepts without deriving when the same (client, record, secret) verified recently in
    /// this isolate; otherwise hands the pending check back.
    pub fn accept_cached(
        self: Box<Self>,
        cache: &VerifyCache,
        now: u64,
    ) -> Result<AuthenticatedClient, Box<PendingSecret>> {
        if cache.hit(&self.cache_key, now) {
            let PendingSecret { record, method, .. } = *self;
            Ok(AuthenticatedClient { record, method })
        } else {
            Err(self)
        }
    }

    /// Compares the derived key with the record (constant time); remembers a success.
    pub fn verify(
        self,
        derived: &[u8],
        cache: &mut VerifyCache,
        now: u64,
    ) -> Result<AuthenticatedClient, OAuthError> {
        if !self.hash.matches(derived) {
            return Err(OAuthError::invalid_client("client authentication failed"));
        }
        cache.remember(self.cache_key, now);
        Ok(AuthenticatedClient {
            record: self.record,
            method: self.method,
        })
    }
}

/// The next step after loading the client named by `presented`.
#[derive(Debug)]
pub enum Step {
    /// A public client naming itself: authenticated.
    Done(Box<AuthenticatedClient>),
    /// A confidential client: derive, then [`PendingSecret::verify`].
    Verify(Box<PendingSecret>),
}

/// Decides what authenticating `presented` against the loaded `record` needs.
pub fn begin(record: Option<ClientRecord>, presented: Presented) -> Result<Step, OAuthError> {
    let record =
        record.ok_or_else(|| OAuthError::invalid_client("client authentication failed"))?;
    match (&record.secret_hash, presented.secret) {
        (None, None) => Ok(Step::Done(Box::new(AuthenticatedClient {
            record,
            method: AuthMethod::None,
        }))),
        (None, Some(_)) => Err(OAuthError::invalid_client(
            "this client is public and has no secret",
        )),
        (Some(_), None) => Err(OAuthError::invalid_client(
            "this client must authenticate with its secret",
        )),
        (Some(stored), Some(secret)) => {
            let hash = PasswordHash::parse(stored)
                .map_err(|_| OAuthError::server_error("a stored client secret is malformed"))?;
            let cache_key = CacheKey::new(&record.id, stored, secret.secret());
            Ok(Step::Verify(Box::new(PendingSecret {
                record,
                method: presented.method,
                hash,
                secret,
                cache_key,
            })))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::clients::client::GrantType;
    use crate::oauth::error::ErrorCode;
    use crate::oauth::people::password;
    use crate::oauth::scope::Scope;

    fn record(secret: Option<&str>) -> ClientRecord {
        ClientRecord {
            id: "c1".into(),
            name: "C".into(),
            secret_hash: secret.map(|s| password::hash(s.as_bytes(), &[3; 16], 1_000).encode()),
            redirect_uris: vec![],
            grant_types: vec![GrantType::ClientCredentials],
            scope: Scope::parse("api").unwrap(),
            access_token_ttl: None,
            refresh_token_ttl: None,
            post_logout_redirect_uris: vec![],
            id_token_alg: crate::oauth::tokens::signing_keys::Alg::Rs256,
            owner_id: None,
            registration_key: None,
            backchannel: None,
            created_at: 0,
            resources: crate::oauth::tokens::resource::Resources::none(),
        }
    }

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    fn params(s: &str) -> Params {
        Params::from_form(s.as_bytes()).unwrap()
    }

    fn run(
        record: Option<ClientRecord>,
        p: Presented,
        cache: &mut VerifyCache,
    ) -> Result<AuthenticatedClient, OAuthError> {
        match begin(record, p)? {
            Step::Done(c) => Ok(*c),
            Step::Verify(pending) => {
                let derived = password::derive(
                    pending.secret_bytes(),
                    pending.hash().salt(),
                    pending.hash().iterations(),
                );
                pending.verify(&derived, cache, 0)
            }
        }
    }

    #[test]
    fn basic_and_post_with_the_right_secret() {
        let mut cache = VerifyCache::default();
        let p = presented(Some(&basic("c1", "s3cret")), &params("")).unwrap();
        assert_eq!(p.method, AuthMethod::ClientSecretBasic);
        let c = run(Some(record(Some("s3cret"))), p, &mut cache).unwrap();
        assert!(c.is_confidential());
        let p = presented(None, &params("client_id=c1&client_secret=s3cret")).unwrap();
        assert_eq!(
            run(Some(record(Some("s3cret"))), p, &mut cache)
                .unwrap()
                .method(),
            AuthMethod::ClientSecretPost
        );
    }

    #[test]
    fn wrong_secret_unknown_client_and_missing_secret_are_invalid_client() {
        let mut cache = VerifyCache::default();
        let cases = [
            (
                Some(record(Some("s3cret"))),
                presented(Some(&basic("c1", "wrong")), &params("")).unwrap(),
            ),
            (
                None,
                presented(Some(&basic("nope", "s3cret")), &params("")).unwrap(),
            ),
            (
                Some(record(Some("s3cret"))),
                presented(None, &params("client_id=c1")).unwrap(),
            ),
            (
                Some(record(None)),
                presented(None, &params("client_id=c1&client_secret=x")).unwrap(),
            ),
        ];
        for (r, p) in cases {
            let e = run(r, p, &mut cache).unwrap_err();
            assert_eq!((e.code, e.status), (ErrorCode::InvalidClient, 401));
            assert!(e.www_authenticate("r").is_some());
        }
        assert_eq!(
            presented(None, &params("")).unwrap_err().code,
            ErrorCode::InvalidClient
        );
    }

    #[test]
    fn two_methods_or_bad_headers() {
        let e = presented(Some(&basic("c1", "s")), &params("client_secret=s")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        let e = presented(Some(&basic("c1", "s")), &params("client_id=c2")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        for h in [
            "Basic !!!",
            "Bearer abc",
            "Basic",
            &format!("Basic {}", STANDARD.encode("nocolon")),
        ] {
            assert_eq!(
                presented(Some(h), &params("")).unwrap_err().code,
                ErrorCode::InvalidClient,
                "{h}"
            );
        }
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let p = presented(Some(&basic("my%20client", "a%3Ab+c")), &params("")).unwrap();
        assert_eq!(p.client_id, "my client");
        assert_eq!(p.secret.unwrap().secret(), "a:b c");
        assert!(
            !format!(
                "{:?}",
                presented(Some(&basic("c", "topsecret")), &params("")).unwrap()
            )
            .contains("topsecret")
        );
    }

    #[test]
    fn cache_accepts_only_what_verified() {
        let mut cache = VerifyCache::default();
        let r = record(Some("s3cret"));
        let good = || presented(Some(&basic("c1", "s3cret")), &params("")).unwrap();
        let Step::Verify(p) = begin(Some(r.clone()), good()).unwrap() else {
            panic!()
        };
        let p = p.accept_cached(&cache, 0).unwrap_err();
        let derived = password::derive(b"s3cret", p.hash().salt(), p.hash().iterations());
        p.verify(&derived, &mut cache, 0).unwrap();
        let Step::Verify(p) = begin(Some(r.clone()), good()).unwrap() else {
            panic!()
        };
        assert!(p.accept_cached(&cache, 1).is_ok());
        let Step::Verify(p) = begin(
            Some(r),
            presented(Some(&basic("c1", "s3cres")), &params("")).unwrap(),
        )
        .unwrap() else {
            panic!()
        };
        assert!(p.accept_cached(&cache, 1).is_err());
    }
}
