//! The published key set (RFC 7517): RSA keys for RS256, P-256 keys for ES256.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::VerifyingKey;
use rsa::{BigUint, RsaPublicKey};
use serde::Deserialize;

/// A verification key.
#[derive(Clone)]
pub(crate) enum Key {
    /// RS256.
    Rsa(RsaPublicKey),
    /// ES256.
    Ec(VerifyingKey),
}

/// The keys of a JWKS document, by kid.
#[derive(Clone)]
pub struct Jwks {
    keys: Vec<(String, Key)>,
}

impl fmt::Debug for Jwks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|(k, _)| k))
            .finish()
    }
}

/// Why a JWKS document was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JwksError {
    /// Not JSON with a `keys` array.
    NotAJwks,
    /// It holds no key this crate can use (RS256 RSA or ES256 P-256 with a kid).
    NoUsableKey,
}

impl fmt::Display for JwksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JwksError::NotAJwks => "not a JWK set",
            JwksError::NoUsableKey => "the JWK set holds no RS256 or ES256 key with a kid",
        })
    }
}

impl std::error::Error for JwksError {}

#[derive(Deserialize)]
struct Doc {
    keys: Vec<Member>,
}

#[derive(Deserialize)]
struct Member {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

fn b64(s: Option<&String>) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s?).ok()
}

fn key(m: &Member) -> Option<(String, Key)> {
    let kid = m.kid.clone()?;
    if m.use_.as_deref().is_some_and(|u| u != "sig") {
        return None;
    }
    let key = match (m.kty.as_str(), m.alg.as_deref()) {
        ("RSA", None | Some("RS256")) => {
            let n = BigUint::from_bytes_be(&b64(m.n.as_ref())?);
            let e = BigUint::from_bytes_be(&b64(m.e.as_ref())?);
            let k = RsaPublicKey::new(n, e).ok()?;
            if rsa::traits::PublicKeyParts::size(&k) < 256 {
                return None;
            }
            Key::Rsa(k)
        }
        ("EC", None | Some("ES256")) if m.crv.as_deref() == Some("P-256") => {
            let (x, y) = (b64(m.x.as_ref())?, b64(m.y.as_ref())?);
            if x.len() != 32 || y.len() != 32 {
                return None;
            }
            let mut sec1 = Vec::with_capacity(65);
            sec1.push(4);
            sec1.extend_from_slice(&x);
            sec1.extend_from_slice(&y);
            Key::Ec(VerifyingKey::from_sec1_bytes(&sec1).ok()?)
        }
        _ => return None,
    };
    Some((kid, key))
}

impl Jwks {
    /// Parses a JWKS document. Keys this crate cannot use (other types, curves or
    /// algorithms, no kid, `use` other than `sig`) are skipped; a set with none left is refused.
    pub fn from_json(body: &[u8]) -> Result<Jwks, JwksError> {
        let doc: Doc = serde_json::from_slice(body).map_err(|_| JwksError::NotAJwks)?;
        let keys: Vec<(String, Key)> = doc.keys.iter().filter_map(key).collect();
        if keys.is_empty() {
            return Err(JwksError::NoUsableKey);
        }
        Ok(Jwks { keys })
    }

    pub(crate) fn get(&self, kid: &str) -> Option<&Key> {
        self.keys.iter().find(|(k, _)| k == kid).map(|(_, key)| key)
    }

    /// The key ids, in document order.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(k, _)| k.as_str())
    }
}
