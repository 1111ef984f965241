//! The helper's DPoP key (RFC 9449): a P-256 ECDSA pair made by WebCrypto with a
//! non-extractable private key, kept in IndexedDB per edge and client so a reload signs with
//! the same key; proofs signed with it ([`crate::dpop`] builds them); and the refresh token
//! bound to it, kept in the tab's `sessionStorage` (a reload keeps it, closing the tab drops
//! it, and two tabs never hand each other a token of a family the other is rotating).

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, SubtleCrypto};

use super::{http, idb, timer};
use crate::dpop::{Claims, PublicJwk, proof, signing_input};
use crate::error::{ErrorCode, HelperError};
use crate::pkce::random_state;

/// A key pair the helper signs proofs with, and where it is kept.
pub struct Key {
    private: CryptoKey,
    jwk: PublicJwk,
    /// Where the key is kept (IndexedDB) and, prefixed, the tab's refresh token.
    store_key: String,
}

fn unavailable(what: &str) -> HelperError {
    HelperError::new(
        ErrorCode::DpopUnavailable,
        format!("WebCrypto is unavailable here ({what}); DPoP needs it (a secure origin)"),
    )
}

fn subtle() -> Result<SubtleCrypto, HelperError> {
    let crypto = web_sys::window()
        .and_then(|w| w.crypto().ok())
        .ok_or_else(|| unavailable("no crypto"))?;
    // `crypto.subtle` is undefined outside secure contexts.
    let subtle = Reflect::get(&crypto, &"subtle".into()).unwrap_or(JsValue::UNDEFINED);
    if subtle.is_undefined() {
        return Err(unavailable("no crypto.subtle"));
    }
    Ok(subtle.unchecked_into())
}

fn obj(pairs: &[(&str, &str)]) -> Object {
    let o = Object::new();
    for (k, v) in pairs {
        let _ = Reflect::set(&o, &(*k).into(), &(*v).into());
    }
    o
}

fn crypto_key(record: &JsValue, field: &str) -> Option<CryptoKey> {
    Reflect::get(record, &field.into())
        .ok()
        .and_then(|k| k.dyn_into::<CryptoKey>().ok())
}

impl Key {
    /// The stored pair for `store_key`, or a new one (stored) when there is none or the
    /// stored one is unusable.
    pub async fn load_or_create(store_key: &str) -> Result<Key, HelperError> {
        let subtle = subtle()?;
        let stored = idb::get(store_key).await?;
        if let Some(key) = Key::from_record(&subtle, stored, store_key).await {
            return Ok(key);
        }
        let alg = obj(&[("name", "ECDSA"), ("namedCurve", "P-256")]);
        let usages = Array::of1(&"sign".into());
        let made = subtle
            .generate_key_with_object(&alg, false, &usages)
            .map_err(|_| unavailable("generateKey"))?;
        let pair = JsFuture::from(made)
            .await
            .map_err(|_| unavailable("generateKey"))?;
        let record = obj(&[]);
        for field in ["privateKey", "publicKey"] {
            let _ = Reflect::set(
                &record,
                &field.into(),
                &Reflect::get(&pair, &field.into()).unwrap_or_default(),
            );
        }
        idb::put(store_key, &record).await?;
        Key::from_record(&subtle, record.into(), store_key)
            .await
            .ok_or_else(|| unavailable("a new key pair is unusable"))
    }

    async fn from_record(subtle: &SubtleCrypto, record: JsValue, store_key: &str) -> Option<Key> {
        let private = crypto_key(&record, "privateKey")?;
        let public = crypto_key(&record, "publicKey")?;
        let exported = JsFuture::from(subtle.export_key("jwk", &public).ok()?)
            .await
            .ok()?;
        let jwk = PublicJwk {
            x: http::str_field(&exported, "x")?,
            y: http::str_field(&exported, "y")?,
        };
        let is_p256 = http::str_field(&exported, "crv").as_deref() == Some("P-256");
        (is_p256 && private.type_() == "private").then(|| Key {
            private,
            jwk,
            store_key: store_key.to_string(),
        })
    }

    /// A proof for `htm url` (with `nonce`, and `ath` of `access_token` at resources).
    pub async fn proof(
        &self,
        htm: &str,
        url: &str,
        nonce: Option<&str>,
        access_token: Option<&str>,
    ) -> Result<String, HelperError> {
        let jti = random_state().map_err(|_| unavailable("no randomness"))?;
        let input = signing_input(
            &self.jwk,
            &Claims {
                jti: &jti,
                htm,
                url,
                iat: (timer::now_ms() / 1000.0) as u64,
                nonce,
                access_token,
            },
        );
        let alg = obj(&[("name", "ECDSA"), ("hash", "SHA-256")]);
        let signed = subtle()?
            .sign_with_object_and_u8_array(&alg, &self.private, input.as_bytes())
            .map_err(|_| unavailable("sign"))?;
        let signature = JsFuture::from(signed)
            .await
            .map_err(|_| unavailable("sign"))?;
        proof(&input, &js_sys::Uint8Array::new(&signature).to_vec())
    }

    /// The tab's refresh token for this edge and client (bound to the key, so useless
    /// without it).
    pub fn stored_refresh_token(&self) -> Option<String> {
        session_storage()?
            .get_item(&self.refresh_item())
            .ok()
            .flatten()
    }

    /// Keeps (`Some`) or forgets (`None`) the tab's refresh token. Failing to keep it only
    /// means a reload signs in again.
    pub fn store_refresh_token(&self, token: Option<&str>) {
        let Some(storage) = session_storage() else {
            return;
        };
        let _ = match token {
            Some(t) => storage.set_item(&self.refresh_item(), t),
            None => storage.remove_item(&self.refresh_item()),
        };
    }

    fn refresh_item(&self) -> String {
        format!("edgeturn-dpop-refresh {}", self.store_key)
    }
}

fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}
