//! Post/Redirect/Get: a change that worked answers `303 See Other` to its view, and the view
//! shows the change's notice once. The notice travels in a short-lived cookie, sealed
//! ([`crate::oauth::flows::sealed`]) and bound to the console session (its CSRF token) and to
//! the view; the view's answer removes the cookie, so a reload shows the page without it and
//! posts nothing again. A secret to show once (a new or rotated client secret) is inside it
//! encrypted with AES-256-GCM (a key derived from the console's subkey, a random 96-bit nonce,
//! the `client_id` as associated data), then sealed as a whole, so it is never in a URL, a log
//! or a readable cookie.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::layout::Notice;
use crate::oauth::flows::sealed;
use crate::oauth::keys::{Purpose, SigningKey};

/// The cookie's base name (`__Host-edge_console_flash` under https).
pub const COOKIE: &str = "edge_console_flash";
/// How long a notice waits for its view (seconds): the redirect is followed at once.
pub const TTL: u64 = 60;

/// `Set-Cookie` for the notice (`SameSite=Strict`: it only follows the console's own redirect).
pub fn cookie(issuer: &str, value: &str) -> String {
    super::session::set_cookie(issuer, COOKIE, value, TTL, "Strict")
}

/// `Set-Cookie` that removes the notice once its view showed it.
pub fn cookie_removed(issuer: &str) -> String {
    super::session::set_cookie(issuer, COOKIE, "", 0, "Strict")
}

/// A notice on its way to its view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Sealed {
    /// The view it is for (`people`, `apps`, `relays`).
    view: String,
    /// Binds it to the session: a prefix of the session's CSRF token.
    bind: String,
    /// Unix seconds after which it is ignored.
    exp: u64,
    /// The notice.
    text: String,
    /// A secret to show once: `client_id`, nonce and ciphertext (base64url).
    secret: Option<(String, String, String)>,
}

/// What a view shows from its notice cookie.
#[derive(Debug, PartialEq, Eq)]
pub struct Flash {
    /// The notice (always "done": a refused change answers its page at once).
    pub notice: Notice,
    /// `client_id` and the secret to show once.
    pub secret: Option<(String, String)>,
}

fn bind(csrf: &str) -> String {
    csrf.chars().take(16).collect()
}

/// Bytes of an AES-GCM nonce.
pub const NONCE_LEN: usize = 12;

/// The AES-256-GCM cipher for secrets in notices: its key is the console subkey's MAC of a
/// label, so it is neither the subkey nor any tag the console hands out.
fn cipher(key: &SigningKey) -> Aes256Gcm {
    let k = key.sign(Purpose::Console, b"console flash: AES-256-GCM key");
    Aes256Gcm::new(&k.into())
}

fn encrypt(key: &SigningKey, nonce: &[u8; NONCE_LEN], id: &str, secret: &str) -> Option<Vec<u8>> {
    let payload = Payload {
        msg: secret.as_bytes(),
        aad: id.as_bytes(),
    };
    cipher(key).encrypt(Nonce::from_slice(nonce), payload).ok()
}

fn decrypt(key: &SigningKey, nonce: &[u8], id: &str, ct: &[u8]) -> Option<String> {
    if nonce.len() != NONCE_LEN {
        return None;
    }
    let payload = Payload {
        msg: ct,
        aad: id.as_bytes(),
    };
    let plain = cipher(key)
        .decrypt(Nonce::from_slice(nonce), payload)
        .ok()?;
    String::from_utf8(plain).ok()
}

/// The cookie's value for `notice` on `view` of the session with `csrf`, with `secret`
/// (`client_id`, secret) encrypted under `nonce` (fresh random bytes, never reused).
pub fn seal(
    key: &SigningKey,
    view: &str,
    csrf: &str,
    text: &str,
    secret: Option<(&str, &str)>,
    nonce: &[u8; NONCE_LEN],
    now: u64,
) -> Option<String> {
    let secret = match secret {
        Some((id, s)) => Some((
            id.to_string(),
            URL_SAFE_NO_PAD.encode(nonce),
            URL_SAFE_NO_PAD.encode(encrypt(key, nonce, id, s)?),
        )),
        None => None,
    };
    Some(sealed::seal(
        key,
        Purpose::Console,
        &Sealed {
            view: view.to_string(),
            bind: bind(csrf),
            exp: now + TTL,
            text: text.to_string(),
            secret,
        },
    ))
}

/// The notice in `value` when it is intact, this session's, for `view` and not expired.
pub fn open(key: &SigningKey, value: &str, view: &str, csrf: &str, now: u64) -> Option<Flash> {
    let s: Sealed = sealed::open(key, Purpose::Console, value)?;
    if s.view != view || s.bind != bind(csrf) || now > s.exp {
        return None;
    }
    let secret = match s.secret {
        Some((id, nonce, ct)) => {
            let nonce = URL_SAFE_NO_PAD.decode(nonce).ok()?;
            let ct = URL_SAFE_NO_PAD.decode(ct).ok()?;
            let secret = decrypt(key, &nonce, &id, &ct)?;
            Some((id, secret))
        }
        None => None,
    };
    Some(Flash {
        notice: Notice::Done(s.text),
        secret,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::new(&[7; 32]).unwrap()
    }

    #[test]
    fn a_notice_opens_once_for_its_view_and_session_only() {
        let k = key();
        let v = seal(
            &k,
            "apps",
            "csrf-token-of-the-session",
            "New secret.",
            Some(("c_1", "s3cret-value")),
            &[1; NONCE_LEN],
            100,
        )
        .unwrap();
        assert!(!v.contains("s3cret-value"));
        let f = open(&k, &v, "apps", "csrf-token-of-the-session", 150).unwrap();
        assert_eq!(f.notice, Notice::Done("New secret.".into()));
        assert_eq!(f.secret, Some(("c_1".into(), "s3cret-value".into())));
        assert!(open(&k, &v, "people", "csrf-token-of-the-session", 150).is_none());
        assert!(open(&k, &v, "apps", "another-sessions-token", 150).is_none());
        assert!(open(&k, &v, "apps", "csrf-token-of-the-session", 100 + TTL + 1).is_none());
        assert!(
            open(
                &SigningKey::new(&[8; 32]).unwrap(),
                &v,
                "apps",
                "csrf-token-of-the-session",
                150
            )
            .is_none()
        );
        let tampered = format!("x{v}");
        assert!(open(&k, &tampered, "apps", "csrf-token-of-the-session", 150).is_none());
        // Without a secret, and a longer secret.
        let plain = seal(&k, "relays", "t", "Drained.", None, &[2; NONCE_LEN], 5).unwrap();
        assert_eq!(open(&k, &plain, "relays", "t", 5).unwrap().secret, None);
        let long = "x".repeat(100);
        let v = seal(&k, "apps", "t", "n", Some(("c", &long)), &[3; NONCE_LEN], 5).unwrap();
        assert_eq!(
            open(&k, &v, "apps", "t", 5).unwrap().secret.unwrap().1,
            long
        );
    }
}
