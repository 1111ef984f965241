//! Values the server hands to a browser and takes back unchanged: JSON, base64url, with an
//! HMAC-SHA256 tag under the form subkey of `TOKEN_SIGNING_KEY`, bound to the CSRF cookie
//! (double submit: the cookie, a hidden field equal to it, and the cookie's hash inside the
//! sealed value must all agree) and to a deadline. The sign-in and consent forms
//! ([`super::authorize::FormState`]) and the other pages ([`crate::oauth::pages::PageState`]) carry
//! their state this way, so the server keeps no session.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::oauth::keys::{Purpose, SigningKey};

/// `base64url(json) "." base64url(HMAC)`.
pub fn seal<T: Serialize>(key: &SigningKey, purpose: Purpose, value: &T) -> String {
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap_or_default());
    let tag = URL_SAFE_NO_PAD.encode(key.sign(purpose, body.as_bytes()));
    format!("{body}.{tag}")
}

/// The value inside `sealed`, if its tag verifies.
pub fn open<T: DeserializeOwned>(key: &SigningKey, purpose: Purpose, sealed: &str) -> Option<T> {
    let (body, tag) = sealed.split_once('.')?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    if !key.verify(purpose, body.as_bytes(), &tag) {
        return None;
    }
    URL_SAFE_NO_PAD
        .decode(body)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
}

/// The binding of a CSRF cookie value: base64url of the first 16 bytes of its SHA-256.
pub fn csrf_binding(cookie: &str) -> String {
    URL_SAFE_NO_PAD.encode(
        Sha256::digest([b"edge-oauth csrf\0".as_slice(), cookie.as_bytes()].concat())
            .get(..16)
            .unwrap_or(&[]),
    )
}

/// Why a form post is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormError {
    /// Cookie missing, or not matching the field or the state: a cross-site post.
    Csrf,
    /// The state does not verify.
    Tampered,
    /// The form was left open too long.
    Expired,
}

impl FormError {
    /// Text for the error page.
    pub fn message(self) -> &'static str {
        match self {
            FormError::Csrf => {
                "The request forgery check failed. Start the sign-in again from the application."
            }
            FormError::Tampered => {
                "The form was altered. Start the sign-in again from the application."
            }
            FormError::Expired => "The form expired. Start the sign-in again from the application.",
        }
    }
}

/// The double-submit check: the cookie and the hidden field must be present and equal.
pub fn cookie_matches_field<'c>(
    cookie: Option<&'c str>,
    field: Option<&str>,
) -> Result<&'c str, FormError> {
    let (Some(cookie), Some(field)) = (cookie, field) else {
        return Err(FormError::Csrf);
    };
    if shared_token::ct_eq(cookie.as_bytes(), field.as_bytes()) {
        Ok(cookie)
    } else {
        Err(FormError::Csrf)
    }
}

/// The state's binding must be the cookie's.
pub fn bound_to(binding: &str, cookie: &str) -> Result<(), FormError> {
    if shared_token::ct_eq(binding.as_bytes(), csrf_binding(cookie).as_bytes()) {
        Ok(())
    } else {
        Err(FormError::Csrf)
    }
}
