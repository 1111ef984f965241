//! WebCrypto (`crypto.subtle`), which runs natively in workerd and is much faster than the
//! same work in wasm: PBKDF2-HMAC-SHA256 for secrets and passwords, and RS256/ES256 signing
//! and verification of JWTs with the keys of `SIGNING_KEYS` (imported once per isolate).

use std::cell::RefCell;
use std::collections::HashMap;

use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::CryptoKey;

use crate::oauth::error::OAuthError;
use crate::oauth::people::password::HASH_LEN;
use crate::oauth::tokens::jwt::{Parsed, SignatureValid};
use crate::oauth::tokens::signing_keys::{Alg, KeySet, SigningKey};

fn fail() -> OAuthError {
    OAuthError::server_error("WebCrypto PBKDF2 failed")
}

/// Derives 32 bytes with PBKDF2-HMAC-SHA256.
pub async fn pbkdf2(
    secret: &[u8],
    salt: &[u8],
    iterations: u32,
) -> Result<[u8; HASH_LEN], OAuthError> {
    if secret.is_empty() {
        // WebCrypto refuses empty keys; an empty secret never matches a stored record.
        return Ok([0; HASH_LEN]);
    }
    let crypto: web_sys::Crypto = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))
        .map_err(|_| fail())?
        .unchecked_into();
    let subtle = crypto.subtle();
    let usages = Array::of1(&JsValue::from_str("deriveBits"));
    let key_data = Uint8Array::from(secret);
    let key = JsFuture::from(
        subtle
            .import_key_with_str("raw", &key_data, "PBKDF2", false, &usages)
            .map_err(|_| fail())?,
    )
    .await
    .map_err(|_| fail())?;
    let params = Object::new();
    let put = |k: &str, v: &JsValue| {
        Reflect::set(&params, &JsValue::from_str(k), v)
            .map(|_| ())
            .map_err(|_| fail())
    };
    put("name", &JsValue::from_str("PBKDF2"))?;
    put("hash", &JsValue::from_str("SHA-256"))?;
    put("salt", &Uint8Array::from(salt))?;
    put("iterations", &JsValue::from_f64(f64::from(iterations)))?;
    let bits = JsFuture::from(
        subtle
            .derive_bits_with_object(&params, &key.unchecked_into(), 256)
            .map_err(|_| fail())?,
    )
    .await
    .map_err(|_| fail())?;
    let bytes = Uint8Array::new(&bits).to_vec();
    bytes.try_into().map_err(|_| fail())
}

// ---------------------------------------------------------------- RS256 / ES256

thread_local! {
    /// Imported keys by (kid, signing?): importing an RSA key costs more than a signature.
    static KEYS: RefCell<HashMap<(String, bool), CryptoKey>> = RefCell::new(HashMap::new());
}

fn signing_fail() -> OAuthError {
    OAuthError::server_error("WebCrypto signing failed")
}

fn subtle() -> Result<web_sys::SubtleCrypto, OAuthError> {
    let crypto: web_sys::Crypto = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))
        .map_err(|_| signing_fail())?
        .unchecked_into();
    Ok(crypto.subtle())
}

fn object(pairs: &[(&str, &str)]) -> Result<Object, OAuthError> {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &JsValue::from_str(k), &JsValue::from_str(v))
            .map_err(|_| signing_fail())?;
    }
    Ok(o)
}

/// WebCrypto's names for an algorithm: (import parameters, sign/verify parameters).
fn params(alg: Alg) -> Result<(Object, Object), OAuthError> {
    Ok(match alg {
        Alg::Rs256 => (
            object(&[("name", "RSASSA-PKCS1-v1_5"), ("hash", "SHA-256")])?,
            object(&[("name", "RSASSA-PKCS1-v1_5")])?,
        ),
        Alg::Es256 => (
            object(&[("name", "ECDSA"), ("namedCurve", "P-256")])?,
            object(&[("name", "ECDSA"), ("hash", "SHA-256")])?,
        ),
    })
}

async fn import(key: &SigningKey, signing: bool) -> Result<CryptoKey, OAuthError> {
    let cache_key = (key.kid().to_string(), signing);
    if let Some(k) = KEYS.with(|m| m.borrow().get(&cache_key).cloned()) {
        return Ok(k);
    }
    let jwk_text = if signing {
        key.private_jwk()
    } else {
        serde_json::Value::Object(key.public_jwk().clone()).to_string()
    };
    let jwk: Object = js_sys::JSON::parse(&jwk_text)
        .map_err(|_| signing_fail())?
        .unchecked_into();
    let (import_params, _) = params(key.alg())?;
    let usages = Array::of1(&JsValue::from_str(if signing { "sign" } else { "verify" }));
    let imported: CryptoKey = JsFuture::from(
        subtle()?
            .import_key_with_object("jwk", &jwk, &import_params, false, &usages)
            .map_err(|_| signing_fail())?,
    )
    .await
    .map_err(|_| OAuthError::server_error("a signing key could not be imported"))?
    .unchecked_into();
    KEYS.with(|m| m.borrow_mut().insert(cache_key, imported.clone()));
    Ok(imported)
}

/// Signs `input` with `key` (RS256: PKCS#1 v1.5; ES256: `r || s`, as JWS wants).
pub async fn sign(key: &SigningKey, input: &[u8]) -> Result<Vec<u8>, OAuthError> {
    let k = import(key, true).await?;
    let (_, sign_params) = params(key.alg())?;
    let sig = JsFuture::from(
        subtle()?
            .sign_with_object_and_u8_array(&sign_params, &k, input)
            .map_err(|_| signing_fail())?,
    )
    .await
    .map_err(|_| signing_fail())?;
    Ok(Uint8Array::new(&sig).to_vec())
}

/// Checks a DPoP proof's ES256 signature with the public key in its own header (RFC 9449
/// section 4.3); the proof when it verifies. The key is imported per proof: each client has
/// its own.
pub async fn verify_dpop(
    proof: &crate::oauth::tokens::dpop::Unverified,
) -> Result<Option<crate::oauth::tokens::dpop::ProofSignatureValid>, OAuthError> {
    let jwk: Object = js_sys::JSON::parse(proof.jwk())
        .map_err(|_| signing_fail())?
        .unchecked_into();
    let (import_params, verify_params) = params(Alg::Es256)?;
    let usages = Array::of1(&JsValue::from_str("verify"));
    let Ok(key) = JsFuture::from(
        subtle()?
            .import_key_with_object("jwk", &jwk, &import_params, false, &usages)
            .map_err(|_| signing_fail())?,
    )
    .await
    else {
        // Not a point on the curve: the client's mistake, not the server's.
        return Ok(None);
    };
    let key: CryptoKey = key.unchecked_into();
    let signature = Uint8Array::from(proof.signature.as_slice());
    let data = Uint8Array::from(proof.input.as_bytes());
    let ok = JsFuture::from(
        subtle()?
            .verify_with_object_and_js_u8_array_and_js_u8_array(
                &verify_params,
                &key,
                &signature,
                &data,
            )
            .map_err(|_| signing_fail())?,
    )
    .await
    .map_err(|_| signing_fail())?;
    Ok((ok.as_bool() == Some(true)).then(crate::oauth::tokens::dpop::ProofSignatureValid::checked))
}

/// Checks a presented JWT's signature with the key its header names; the proof when it
/// verifies, `None` otherwise (unknown key, wrong algorithm for the key, bad signature).
pub async fn verify(keys: &KeySet, parsed: &Parsed) -> Result<Option<SignatureValid>, OAuthError> {
    let Some(key) = keys.by_kid(&parsed.header.kid) else {
        return Ok(None);
    };
    if key.alg() != parsed.alg {
        return Ok(None);
    }
    let k = import(key, false).await?;
    let (_, verify_params) = params(key.alg())?;
    let signature = Uint8Array::from(parsed.signature.as_slice());
    let data = Uint8Array::from(parsed.input.as_bytes());
    let ok = JsFuture::from(
        subtle()?
            .verify_with_object_and_js_u8_array_and_js_u8_array(
                &verify_params,
                &k,
                &signature,
                &data,
            )
            .map_err(|_| signing_fail())?,
    )
    .await
    .map_err(|_| signing_fail())?;
    Ok((ok.as_bool() == Some(true)).then(SignatureValid::checked))
}

/// Verifies `signature` over `data` with a public key given as a JWK (a passkey's), for `alg`
/// (ES256: `r || s`). `false` for a bad signature or a key WebCrypto refuses.
pub async fn verify_jwk(
    alg: Alg,
    jwk: &str,
    data: &[u8],
    signature: &[u8],
) -> Result<bool, OAuthError> {
    let Ok(jwk) = js_sys::JSON::parse(jwk) else {
        return Ok(false);
    };
    let (import_params, verify_params) = params(alg)?;
    let usages = Array::of1(&JsValue::from_str("verify"));
    let Ok(pending) = subtle()?.import_key_with_object(
        "jwk",
        &jwk.unchecked_into(),
        &import_params,
        false,
        &usages,
    ) else {
        return Ok(false);
    };
    let Ok(key) = JsFuture::from(pending).await else {
        return Ok(false);
    };
    let key: CryptoKey = key.unchecked_into();
    let ok = JsFuture::from(
        subtle()?
            .verify_with_object_and_js_u8_array_and_js_u8_array(
                &verify_params,
                &key,
                &Uint8Array::from(signature),
                &Uint8Array::from(data),
            )
            .map_err(|_| signing_fail())?,
    )
    .await
    .map_err(|_| signing_fail())?;
    Ok(ok.as_bool() == Some(true))
}
