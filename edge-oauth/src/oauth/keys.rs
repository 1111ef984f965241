//! The server's own symmetric keys: the token-signing key (access tokens, signed form state)
//! and the admin secret. `Debug` never shows them.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The HMAC-SHA256 key behind the signed state of the server's pages (sign-in, consent,
/// sign-up, `/create_client`, `/device`). Each use gets its own subkey (HMAC of a label), so
/// a value made for one purpose never verifies as another. (Tokens are signed with the
/// asymmetric keys of [`super::tokens::signing_keys`].)
#[derive(Clone)]
pub struct SigningKey {
    forms: [u8; 32],
    pages: [u8; 32],
    console: [u8; 32],
    accounts: [u8; 32],
    kid: String,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey(kid {}, [redacted])", self.kid)
    }
}

/// What a signed value is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// The authorization request carried through the sign-in and consent forms.
    Form,
    /// The state of the other pages ([`super::pages::PageState`]).
    Page,
    /// The console's sign-in state and its CSRF tokens ([`super::console`]).
    Console,
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let Ok(mut m) = Hmac::<Sha256>::new_from_slice(key) else {
        return [0; 32];
    };
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

impl SigningKey {
    /// From at least 32 key bytes.
    pub fn new(key: &[u8]) -> Option<SigningKey> {
        if key.len() < 32 {
            return None;
        }
        let kid = URL_SAFE_NO_PAD
            .encode(Sha256::digest([b"edge-oauth key id\0".as_slice(), key].concat()).get(..6)?);
        Some(SigningKey {
            forms: hmac(key, &[b"edge-oauth form state v1"]),
            pages: hmac(key, &[b"edge-oauth page state v1"]),
            console: hmac(key, &[b"edge-oauth console v1"]),
            accounts: hmac(key, &[b"edge-oauth turn account secret v1"]),
            kid,
        })
    }

    /// From the `TOKEN_SIGNING_KEY` secret: base64 (standard or URL-safe) of 32 or more bytes.
    pub fn from_base64(text: &str) -> Option<SigningKey> {
        let t = text.trim();
        let bytes = STANDARD
            .decode(t)
            .or_else(|_| URL_SAFE_NO_PAD.decode(t.trim_end_matches('=')))
            .ok()?;
        SigningKey::new(&bytes)
    }

    /// A short public name for the key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// HMAC-SHA256 of `data` under the purpose's subkey.
    pub fn sign(&self, purpose: Purpose, data: &[u8]) -> [u8; 32] {
        hmac(self.subkey(purpose), &[data])
    }

    /// Constant-time check of a tag made by [`SigningKey::sign`].
    pub fn verify(&self, purpose: Purpose, data: &[u8], tag: &[u8]) -> bool {
        shared_token::ct_eq(&self.sign(purpose, data), tag)
    }

    /// The secret TURN tokens' account keys are derived under ([`super::tokens::account`]): a
    /// subkey of this key, so deployments need no other secret. It never leaves the edge
    /// (relays only compare account keys), and changing `TOKEN_SIGNING_KEY` changes every
    /// account key.
    pub fn account_secret(&self) -> &[u8] {
        &self.accounts
    }

    fn subkey(&self, purpose: Purpose) -> &[u8] {
        match purpose {
            Purpose::Form => &self.forms,
            Purpose::Page => &self.pages,
            Purpose::Console => &self.console,
        }
    }
}

/// The admin API's shared secret.
#[derive(Clone)]
pub struct AdminSecret([u8; 32]);

impl fmt::Debug for AdminSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminSecret([redacted])")
    }
}

impl AdminSecret {
    /// From the `ADMIN_SECRET` text: at least 16 characters. Only its SHA-256 is kept.
    pub fn new(text: &str) -> Option<AdminSecret> {
        (text.trim().len() >= 16)
            .then(|| AdminSecret(Sha256::digest(text.trim().as_bytes()).into()))
    }

    /// True when `presented` is the secret. Both sides are hashed first, so the comparison is
    /// constant time in the secret and its length.
    pub fn matches(&self, presented: &str) -> bool {
        let h: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        shared_token::ct_eq(&self.0, &h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purposes_are_separated() {
        let k = SigningKey::new(&[9; 32]).unwrap();
        let tag = k.sign(Purpose::Form, b"data");
        assert!(k.verify(Purpose::Form, b"data", &tag));
        assert!(!k.verify(Purpose::Page, b"data", &tag));
        assert!(!k.verify(Purpose::Form, b"datA", &tag));
        assert!(SigningKey::new(&[9; 31]).is_none());
        assert!(!format!("{k:?}").contains("9, 9"));
        assert_eq!(k.kid().len(), 8);
    }

    #[test]
    fn base64_forms() {
        let std = STANDARD.encode([0xfb; 32]);
        let url = URL_SAFE_NO_PAD.encode([0xfb; 32]);
        assert_eq!(
            SigningKey::from_base64(&std).unwrap().kid(),
            SigningKey::from_base64(&url).unwrap().kid()
        );
        assert!(SigningKey::from_base64("short").is_none());
    }

    #[test]
    fn admin_secret() {
        let a = AdminSecret::new("0123456789abcdef").unwrap();
        assert!(a.matches("0123456789abcdef"));
        assert!(!a.matches("0123456789abcdeg"));
        assert!(!a.matches(""));
        assert!(AdminSecret::new("short").is_none());
    }
}
