//! PBKDF2-HMAC-SHA256 through WebCrypto (`crypto.subtle`), which runs natively in workerd
//! and is much faster than the same loop in wasm.

use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::oauth::error::OAuthError;
use crate::oauth::password::HASH_LEN;

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
