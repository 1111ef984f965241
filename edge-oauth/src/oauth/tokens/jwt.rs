//! JWS compact serialisation (RFC 7515) as data: the signing input the worker hands to
//! WebCrypto, the token once the signature is back, and a presented token split into what
//! the worker verifies (signature) and what the decisions check (header and claims).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::signing_keys::{Alg, SigningKey};

/// Longest JWT accepted.
pub const MAX_LEN: usize = 8192;

/// `typ` of access tokens (RFC 9068 section 2.1).
pub const TYP_ACCESS: &str = "at+jwt";
/// `typ` of ID tokens.
pub const TYP_ID: &str = "JWT";

/// The JOSE header this server writes and accepts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// `RS256` or `ES256`.
    pub alg: String,
    /// The key.
    pub kid: String,
    /// `at+jwt` or `JWT`.
    pub typ: String,
}

/// A JWT waiting for its signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsigned {
    /// The key that must sign it.
    pub kid: String,
    /// Its algorithm.
    pub alg: Alg,
    /// `base64url(header) "." base64url(claims)`: the bytes to sign.
    pub input: String,
}

impl Unsigned {
    /// Prepares `claims` for signing by `key` with header `typ`.
    pub fn new<C: Serialize>(key: &SigningKey, typ: &str, claims: &C) -> Unsigned {
        let header = Header {
            alg: key.alg().as_str().into(),
            kid: key.kid().into(),
            typ: typ.into(),
        };
        let mut input = String::with_capacity(512);
        URL_SAFE_NO_PAD.encode_string(serde_json::to_vec(&header).unwrap_or_default(), &mut input);
        input.push('.');
        URL_SAFE_NO_PAD.encode_string(serde_json::to_vec(claims).unwrap_or_default(), &mut input);
        Unsigned {
            kid: key.kid().to_string(),
            alg: key.alg(),
            input,
        }
    }

    /// The compact JWS with `signature` (RS256: the PKCS#1 v1.5 signature; ES256: `r || s`,
    /// 64 bytes, which is what WebCrypto's ECDSA returns).
    pub fn finish(self, signature: &[u8]) -> String {
        let mut out = self.input;
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut out);
        out
    }
}

/// OpenID Connect `at_hash` (and `c_hash`): base64url of the left half of the SHA-256 of the
/// token (both RS256 and ES256 hash with SHA-256).
pub fn half_hash(token: &str) -> String {
    let h = Sha256::digest(token.as_bytes());
    URL_SAFE_NO_PAD.encode(h.get(..16).unwrap_or_default())
}

/// A presented JWT, split but not yet trusted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    /// Its header.
    pub header: Header,
    /// Its algorithm.
    pub alg: Alg,
    /// What the signature covers.
    pub input: String,
    /// The signature bytes.
    pub signature: Vec<u8>,
    payload: Vec<u8>,
}

/// Why a string is not a JWT this server could have signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// Not three base64url parts of a JSON header and payload, too long, or an algorithm this
    /// server does not sign with (`none`, `HS256`, ...).
    Shape,
}

/// Looks like a JWT (cheap; used to route introspection and revocation).
pub fn looks_like(token: &str) -> bool {
    token.starts_with("eyJ") && token.bytes().filter(|&b| b == b'.').count() == 2
}

/// Splits a compact JWS. The header must name RS256 or ES256 (never `none` or an HMAC: no
/// algorithm confusion), a kid and the expected `typ`.
pub fn parse(token: &str, typ: &str) -> Result<Parsed, Malformed> {
    if token.len() > MAX_LEN {
        return Err(Malformed::Shape);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Malformed::Shape);
    };
    let header: Header = URL_SAFE_NO_PAD
        .decode(h)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(Malformed::Shape)?;
    let alg = Alg::parse(&header.alg).ok_or(Malformed::Shape)?;
    if header.typ != typ {
        return Err(Malformed::Shape);
    }
    let payload = URL_SAFE_NO_PAD.decode(p).map_err(|_| Malformed::Shape)?;
    let signature = URL_SAFE_NO_PAD.decode(s).map_err(|_| Malformed::Shape)?;
    let input = token
        .get(..h.len() + 1 + p.len())
        .ok_or(Malformed::Shape)?
        .to_string();
    Ok(Parsed {
        header,
        alg,
        input,
        signature,
        payload,
    })
}

impl Parsed {
    /// The claims, once the worker has verified the signature (a [`SignatureValid`] is the
    /// proof it did).
    pub fn claims<C: DeserializeOwned>(&self, _proof: SignatureValid) -> Result<C, Malformed> {
        serde_json::from_slice(&self.payload).map_err(|_| Malformed::Shape)
    }
}

/// Proof that a [`Parsed`] token's signature verified under one of this server's keys. Only
/// the worker's WebCrypto check (and tests) make one.
#[derive(Clone, Copy, Debug)]
pub struct SignatureValid(());

impl SignatureValid {
    /// Made by the code that verified the signature.
    pub fn checked() -> SignatureValid {
        SignatureValid(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::oauth::tokens::signing_keys::KeySet;
    use crate::oauth::tokens::signing_keys::tests::ec;
    use p256::ecdsa::signature::{SignatureEncoding, Signer, Verifier};
    use rsa::{BigUint, RsaPrivateKey, RsaPublicKey};
    use serde_json::Value;

    fn num(k: &Value, m: &str) -> BigUint {
        BigUint::from_bytes_be(&URL_SAFE_NO_PAD.decode(k[m].as_str().unwrap()).unwrap())
    }

    /// Signs natively with the set's private key (what WebCrypto does in the worker).
    pub(crate) fn sign(set: &KeySet, u: Unsigned) -> String {
        let key = set.by_kid(&u.kid).unwrap();
        let k: Value = serde_json::from_str(&key.private_jwk()).unwrap();
        let sig = match u.alg {
            Alg::Rs256 => {
                let pk = RsaPrivateKey::from_components(
                    num(&k, "n"),
                    num(&k, "e"),
                    num(&k, "d"),
                    vec![num(&k, "p"), num(&k, "q")],
                )
                .unwrap();
                rsa::pkcs1v15::SigningKey::<Sha256>::new(pk)
                    .sign(u.input.as_bytes())
                    .to_vec()
            }
            Alg::Es256 => {
                let d = URL_SAFE_NO_PAD.decode(k["d"].as_str().unwrap()).unwrap();
                let sk = p256::ecdsa::SigningKey::from_slice(&d).unwrap();
                let s: p256::ecdsa::Signature = sk.sign(u.input.as_bytes());
                s.to_vec()
            }
        };
        u.finish(&sig)
    }

    /// Verifies natively with the set's public key (what WebCrypto does in the worker).
    pub(crate) fn verify(set: &KeySet, p: &Parsed) -> Option<SignatureValid> {
        let key = set.by_kid(&p.header.kid)?;
        if key.alg() != p.alg {
            return None;
        }
        let k = Value::Object(key.public_jwk().clone());
        let ok = match p.alg {
            Alg::Rs256 => {
                let pk = RsaPublicKey::new(num(&k, "n"), num(&k, "e")).ok()?;
                let sig = rsa::pkcs1v15::Signature::try_from(p.signature.as_slice()).ok()?;
                rsa::pkcs1v15::VerifyingKey::<Sha256>::new(pk)
                    .verify(p.input.as_bytes(), &sig)
                    .is_ok()
            }
            Alg::Es256 => {
                let mut sec1 = vec![4u8];
                sec1.extend(URL_SAFE_NO_PAD.decode(k["x"].as_str()?).ok()?);
                sec1.extend(URL_SAFE_NO_PAD.decode(k["y"].as_str()?).ok()?);
                let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).ok()?;
                let sig = p256::ecdsa::Signature::from_slice(&p.signature).ok()?;
                vk.verify(p.input.as_bytes(), &sig).is_ok()
            }
        };
        ok.then(SignatureValid::checked)
    }

    #[test]
    fn round_trip() {
        let set = KeySet::from_json(&format!("[{}]", ec("k1", None))).unwrap();
        let key = set.signer(Alg::Es256, 0).unwrap();
        let u = Unsigned::new(key, TYP_ACCESS, &serde_json::json!({"sub": "u_1"}));
        let token = sign(&set, u);
        assert!(looks_like(&token));
        let p = parse(&token, TYP_ACCESS).unwrap();
        assert_eq!((p.header.kid.as_str(), p.alg), ("k1", Alg::Es256));
        assert_eq!(p.signature.len(), 64);
        let proof = verify(&set, &p).unwrap();
        let c: serde_json::Value = p.claims(proof).unwrap();
        assert_eq!(c["sub"], "u_1");
        assert_eq!(
            parse(&token, TYP_ID),
            Err(Malformed::Shape),
            "typ is checked"
        );
    }

    #[test]
    fn algorithm_confusion_and_junk_are_refused() {
        for header in [
            r#"{"alg":"none","kid":"k1","typ":"at+jwt"}"#,
            r#"{"alg":"HS256","kid":"k1","typ":"at+jwt"}"#,
            r#"{"alg":"ES256","typ":"at+jwt"}"#,
        ] {
            let t = format!("{}.e30.AAAA", URL_SAFE_NO_PAD.encode(header));
            assert_eq!(parse(&t, TYP_ACCESS), Err(Malformed::Shape), "{header}");
        }
        for junk in [
            "",
            "a.b",
            "a.b.c.d",
            "eyJ.eyJ.!!!",
            &"x".repeat(MAX_LEN + 1),
        ] {
            assert!(parse(junk, TYP_ACCESS).is_err(), "{junk}");
        }
    }

    #[test]
    fn at_hash_matches_the_oidc_example() {
        // OpenID Connect Core section 3.1.3.6 / appendix A.3's access token and at_hash.
        assert_eq!(
            half_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }
}
