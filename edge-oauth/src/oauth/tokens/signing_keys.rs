//! The asymmetric signing keys: a private JWK set (the `SIGNING_KEYS` secret) holding RSA
//! (RS256) and P-256 (ES256) keys. The worker signs with them through WebCrypto; this module
//! parses and checks the set, picks the key that signs, and publishes the public halves
//! (`/certs`, `jwks_uri`).
//!
//! Rotation (docs/edge-oauth.md): every key in the set is published; of the keys of an
//! algorithm, the **last** whose optional `nbf` (Unix seconds, an edgeturn member) has passed
//! signs. Older keys keep verifying until they are removed from the set.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// A JWS algorithm this server signs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 section 3.3); OpenID Connect's mandatory one.
    Rs256,
    /// ECDSA on P-256 with SHA-256 (RFC 7518 section 3.4).
    Es256,
}

impl Alg {
    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Es256 => "ES256",
        }
    }

    /// Parses a JOSE name (only the two this server signs with).
    pub fn parse(s: &str) -> Option<Alg> {
        match s {
            "RS256" => Some(Alg::Rs256),
            "ES256" => Some(Alg::Es256),
            _ => None,
        }
    }

    /// Both, in the order discovery lists them.
    pub const ALL: [Alg; 2] = [Alg::Rs256, Alg::Es256];
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One key of the set. `Debug` shows the kid and algorithm, never key material.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    alg: Alg,
    not_before: Option<u64>,
    /// The JWK WebCrypto imports to sign (private members included).
    private: Map<String, Value>,
    /// The public JWK as published.
    public: Map<String, Value>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({} {}, [redacted])", self.kid, self.alg)
    }
}

impl SigningKey {
    /// The key id (JWS `kid`).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm.
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// The private JWK, as JSON text, for WebCrypto's `importKey("jwk", ...)`.
    pub fn private_jwk(&self) -> String {
        Value::Object(self.private.clone()).to_string()
    }

    /// The public JWK, as JSON text, for WebCrypto's `importKey("jwk", ...)` to verify.
    pub fn public_jwk(&self) -> &Map<String, Value> {
        &self.public
    }
}

/// The parsed `SIGNING_KEYS` secret.
#[derive(Clone, Debug)]
pub struct KeySet {
    keys: Vec<SigningKey>,
}

/// Why a key set is refused. Names the key (kid or position), never its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySetError(pub String);

impl fmt::Display for KeySetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn b64(map: &Map<String, Value>, member: &str, who: &str) -> Result<Vec<u8>, KeySetError> {
    let text = map
        .get(member)
        .and_then(Value::as_str)
        .ok_or_else(|| KeySetError(format!("{who}: `{member}` is missing")))?;
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| KeySetError(format!("{who}: `{member}` is not base64url")))
}

/// The RFC 7638 thumbprint of a JWK given by its required members: the default `kid`, and
/// DPoP's `jkt`.
pub fn thumbprint(required: &[(&str, &str)]) -> String {
    // The members in lexicographic order, no whitespace: serde_json's Map keeps key order
    // sorted (no `preserve_order` feature), which is exactly RFC 7638's canonical form.
    let mut m = Map::new();
    for (k, v) in required {
        m.insert((*k).to_string(), Value::String((*v).to_string()));
    }
    URL_SAFE_NO_PAD.encode(Sha256::digest(Value::Object(m).to_string().as_bytes()))
}

fn parse_key(v: &Value, position: usize) -> Result<SigningKey, KeySetError> {
    let map = v
        .as_object()
        .ok_or_else(|| KeySetError(format!("key {position}: not a JSON object")))?;
    let text = |m: &str| map.get(m).and_then(Value::as_str);
    let who = match text("kid") {
        Some(k) => format!("key `{k}`"),
        None => format!("key {position}"),
    };
    if text("use").is_some_and(|u| u != "sig") {
        return Err(KeySetError(format!("{who}: `use` must be `sig`")));
    }
    let kty = text("kty").unwrap_or("");
    let (alg, public_members): (Alg, &[&str]) = match kty {
        "RSA" => {
            let n = b64(map, "n", &who)?;
            b64(map, "e", &who)?;
            for m in ["d", "p", "q", "dp", "dq", "qi"] {
                b64(map, m, &who)?;
            }
            if n.len() < 256 || n.first() == Some(&0) {
                return Err(KeySetError(format!(
                    "{who}: RSA keys need at least 2048 bits"
                )));
            }
            (Alg::Rs256, &["kty", "n", "e"])
        }
        "EC" => {
            if text("crv") != Some("P-256") {
                return Err(KeySetError(format!("{who}: EC keys must be on P-256")));
            }
            for m in ["x", "y", "d"] {
                if b64(map, m, &who)?.len() != 32 {
                    return Err(KeySetError(format!("{who}: `{m}` must be 32 bytes")));
                }
            }
            (Alg::Es256, &["kty", "crv", "x", "y"])
        }
        _ => return Err(KeySetError(format!("{who}: `kty` must be RSA or EC"))),
    };
    if let Some(a) = text("alg")
        && Alg::parse(a) != Some(alg)
    {
        return Err(KeySetError(format!(
            "{who}: `alg` must be {alg} for a {kty} key"
        )));
    }
    let kid = match text("kid") {
        Some(k) if !k.is_empty() && k.len() <= 128 && k.bytes().all(|b| b.is_ascii_graphic()) => {
            k.to_string()
        }
        Some(_) => {
            return Err(KeySetError(format!(
                "{who}: `kid` must be 1 to 128 printable characters"
            )));
        }
        None => {
            let pairs: Vec<(&str, &str)> = public_members
                .iter()
                .map(|m| (*m, text(m).unwrap_or("")))
                .collect();
            thumbprint(&pairs)
        }
    };
    let not_before = match map.get("nbf") {
        None => None,
        Some(n) => Some(
            n.as_u64()
                .ok_or_else(|| KeySetError(format!("{who}: `nbf` must be Unix seconds")))?,
        ),
    };
    let mut public = Map::new();
    for m in public_members {
        if let Some(v) = map.get(*m) {
            public.insert((*m).to_string(), v.clone());
        }
    }
    public.insert("kid".into(), json!(kid));
    public.insert("alg".into(), json!(alg.as_str()));
    public.insert("use".into(), json!("sig"));
    // WebCrypto checks `alg`, `use`, `key_ops` and `ext` when present: import exactly the key.
    let mut private = Map::new();
    for (k, v) in map {
        if !matches!(
            k.as_str(),
            "kid" | "use" | "key_ops" | "ext" | "nbf" | "alg"
        ) {
            private.insert(k.clone(), v.clone());
        }
    }
    Ok(SigningKey {
        kid,
        alg,
        not_before,
        private,
        public,
    })
}

impl KeySet {
    /// Parses a JWK set (`{"keys": [...]}`) or a bare array of JWKs.
    pub fn from_json(text: &str) -> Result<KeySet, KeySetError> {
        let v: Value = serde_json::from_str(text.trim())
            .map_err(|_| KeySetError("not a JSON JWK set".into()))?;
        let list = match &v {
            Value::Array(a) => a,
            Value::Object(o) => o
                .get("keys")
                .and_then(Value::as_array)
                .ok_or_else(|| KeySetError("a JWK set needs a `keys` array".into()))?,
            _ => return Err(KeySetError("not a JSON JWK set".into())),
        };
        let keys = list
            .iter()
            .enumerate()
            .map(|(i, k)| parse_key(k, i))
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(KeySetError("the set holds no keys".into()));
        }
        for (i, k) in keys.iter().enumerate() {
            if keys.iter().skip(i + 1).any(|o| o.kid == k.kid) {
                return Err(KeySetError(format!("key `{}` appears twice", k.kid)));
            }
        }
        Ok(KeySet { keys })
    }

    /// The key that signs `alg` at `now`: the last of that algorithm whose `nbf` has passed.
    pub fn signer(&self, alg: Alg, now: u64) -> Option<&SigningKey> {
        self.keys
            .iter()
            .rev()
            .find(|k| k.alg == alg && k.not_before.is_none_or(|t| t <= now))
    }

    /// True when some key of `alg` is in the set (it may not sign yet).
    pub fn has(&self, alg: Alg) -> bool {
        self.keys.iter().any(|k| k.alg == alg)
    }

    /// A key by id, to verify with.
    pub fn by_kid(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// The algorithms present, in discovery order.
    pub fn algs(&self) -> Vec<Alg> {
        Alg::ALL.into_iter().filter(|a| self.has(*a)).collect()
    }

    /// The public JWK set (RFC 7517 section 5): what `/certs` and `jwks_uri` serve.
    pub fn public_jwks(&self) -> Value {
        json!({ "keys": self.keys.iter().map(|k| Value::Object(k.public.clone())).collect::<Vec<_>>() })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A P-256 test key (the second key of resource-verifier's fixture set).
    pub(crate) const EC_JWK: &str = r#"{"kty":"EC","crv":"P-256","x":"R-Q7kl40BFm_InmE3porE6k2a-33c07Zty-_szJoSAk","y":"iYD2TGZCIoFd4GIIrxQlknehvXZJ4iAMeHksT9Kgi4c","d":"4jizQc-kpuEHSvwS7jjYfPEj26shV949_8l97z8i5js"}"#;

    pub(crate) fn ec(kid: &str, nbf: Option<u64>) -> String {
        let mut v: Value = serde_json::from_str(EC_JWK).unwrap();
        v["kid"] = json!(kid);
        if let Some(n) = nbf {
            v["nbf"] = json!(n);
        }
        v.to_string()
    }

    #[test]
    fn signer_is_the_last_active_key_of_its_algorithm() {
        let set = KeySet::from_json(&format!(
            r#"{{"keys":[{},{},{}]}}"#,
            ec("old", None),
            ec("new", None),
            ec("next", Some(2000))
        ))
        .unwrap();
        assert_eq!(set.signer(Alg::Es256, 1000).unwrap().kid(), "new");
        assert_eq!(set.signer(Alg::Es256, 2000).unwrap().kid(), "next");
        assert!(set.signer(Alg::Rs256, 2000).is_none());
        assert_eq!(set.algs(), [Alg::Es256]);
        let jwks = set.public_jwks();
        assert_eq!(
            jwks["keys"].as_array().unwrap().len(),
            3,
            "all are published"
        );
        for k in jwks["keys"].as_array().unwrap() {
            assert!(k.get("d").is_none(), "no private member is published");
            assert_eq!(
                (k["alg"].as_str(), k["use"].as_str()),
                (Some("ES256"), Some("sig"))
            );
        }
        assert!(set.by_kid("old").is_some() && set.by_kid("x").is_none());
        let private: Value =
            serde_json::from_str(&set.by_kid("old").unwrap().private_jwk()).unwrap();
        assert!(private.get("d").is_some() && private.get("kid").is_none());
    }

    #[test]
    fn kid_defaults_to_the_rfc_7638_thumbprint() {
        let set = KeySet::from_json(&format!("[{EC_JWK}]")).unwrap();
        let k = &set.keys[0];
        // The canonical member order crv, kty, x, y, written out by hand.
        let v: Value = serde_json::from_str(EC_JWK).unwrap();
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            v["x"].as_str().unwrap(),
            v["y"].as_str().unwrap()
        );
        assert_eq!(k.kid(), URL_SAFE_NO_PAD.encode(Sha256::digest(canonical)));
    }

    #[test]
    fn bad_sets_name_the_key_never_the_material() {
        let v: Value = serde_json::from_str(EC_JWK).unwrap();
        let d = v["d"].as_str().unwrap();
        for (text, want) in [
            ("[]".to_string(), "no keys"),
            ("{}".to_string(), "`keys`"),
            ("nope".to_string(), "not a JSON"),
            (format!("[{},{}]", ec("a", None), ec("a", None)), "twice"),
            (ec("a", None).replace("P-256", "P-384").replace('{', "[{") + "]", "P-256"),
            (format!("[{}]", ec("a", None).replace(d, "c2hvcnQ")), "32 bytes"),
            (format!("[{}]", ec("a", None).replace("\"kty\":\"EC\"", "\"kty\":\"EC\",\"alg\":\"RS256\"")), "`alg` must be ES256"),
            (format!("[{}]", ec("a", None).replace("\"kty\":\"EC\"", "\"kty\":\"oct\"")), "`kty`"),
            (r#"[{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB","d":"AQAB","p":"AQAB","q":"AQAB","dp":"AQAB","dq":"AQAB","qi":"AQAB"}]"#.to_string(), "2048"),
        ] {
            let e = KeySet::from_json(&text).unwrap_err().0;
            assert!(e.contains(want), "{text}: {e}");
            assert!(!e.contains(d), "{e}");
        }
        let k = KeySet::from_json(&format!("[{}]", ec("a", None))).unwrap();
        assert!(!format!("{k:?}").contains(d));
    }
}
