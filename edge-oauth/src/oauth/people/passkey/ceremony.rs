//! The two WebAuthn ceremonies around [`super::webauthn`]'s checks: the challenges (sealed
//! values under the form key, so nothing is stored when one is handed out; using one is a
//! claim in D1, so none works twice), the options the page passes to
//! `navigator.credentials`, and the writes a registration or sign-in makes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::webauthn::{COSE_ES256, COSE_RS256, NewCredential, PasskeyError};
use crate::oauth::effects::{AuditEvent, Claim, Write, Writes, event};
use crate::oauth::error::OAuthError;
use crate::oauth::flows::sealed;
use crate::oauth::ids;
use crate::oauth::keys::{Purpose, SigningKey};
pub use crate::store::reads::PasskeyRow;

/// Seconds a challenge may be answered.
pub const CHALLENGE_TTL: u64 = 300;
/// RFC 8176 methods of a passkey sign-in: a key held by the person (`hwk`), used after a
/// user verification (`user`).
pub const AMR_PASSKEY: &str = "hwk user";
/// The most passkeys one person may register.
pub const MAX_PER_PERSON: usize = 20;

/// What a challenge is for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "c", rename_all = "snake_case")]
pub enum Ceremony {
    /// Registering a passkey for this person (signed in on the account page).
    Register {
        /// The person.
        u: String,
    },
    /// Signing in with any passkey (discoverable credentials).
    Login,
}

#[derive(Serialize, Deserialize)]
struct Sealed {
    #[serde(flatten)]
    ceremony: Ceremony,
    n: String,
    exp: u64,
    /// Marks a WebAuthn challenge among the form key's sealed values.
    webauthn: bool,
}

/// A fresh challenge for `ceremony`: the bytes to hand to the browser (base64url), a sealed
/// value only this server can make.
pub fn challenge(key: &SigningKey, ceremony: Ceremony, now: u64) -> Result<String, OAuthError> {
    let s = Sealed {
        ceremony,
        n: ids::new_jti()?,
        exp: now.saturating_add(CHALLENGE_TTL),
        webauthn: true,
    };
    Ok(URL_SAFE_NO_PAD.encode(sealed::seal(key, Purpose::Form, &s)))
}

/// A challenge this server issued, read back from the client data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    /// What it was for.
    pub ceremony: Ceremony,
    /// Its bytes (what the client data must carry).
    pub bytes: Vec<u8>,
    /// hex SHA-256, the key of its use.
    pub key: String,
    /// Its deadline.
    pub expires_at: u64,
}

#[derive(Deserialize)]
struct ChallengeOnly {
    challenge: String,
}

/// Opens the challenge that `client_data_json` carries: issued here, unexpired.
pub fn open(key: &SigningKey, client_data_json: &[u8], now: u64) -> Result<Opened, PasskeyError> {
    let c: ChallengeOnly =
        serde_json::from_slice(client_data_json).map_err(|_| PasskeyError::ClientData)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(c.challenge.trim_end_matches('='))
        .map_err(|_| PasskeyError::WrongChallenge)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| PasskeyError::WrongChallenge)?;
    let s: Sealed = sealed::open(key, Purpose::Form, text).ok_or(PasskeyError::WrongChallenge)?;
    if !s.webauthn || now >= s.exp {
        return Err(PasskeyError::WrongChallenge);
    }
    Ok(Opened {
        ceremony: s.ceremony,
        key: ids::lookup_key(text),
        bytes,
        expires_at: s.exp,
    })
}

/// `PublicKeyCredentialCreationOptions` (as JSON the page turns into buffers): a discoverable
/// credential, user verification required, ES256 or RS256, no attestation.
pub fn creation_options(
    rp_id: &str,
    rp_name: &str,
    user_id: &str,
    username: &str,
    challenge: &str,
) -> serde_json::Value {
    serde_json::json!({
        "challenge": challenge,
        "rp": { "id": rp_id, "name": rp_name },
        "user": { "id": URL_SAFE_NO_PAD.encode(user_id), "name": username, "displayName": username },
        "pubKeyCredParams": [
            { "type": "public-key", "alg": COSE_ES256 },
            { "type": "public-key", "alg": COSE_RS256 },
        ],
        "authenticatorSelection": { "residentKey": "required", "requireResidentKey": true, "userVerification": "required" },
        "attestation": "none",
        "timeout": CHALLENGE_TTL * 1000,
    })
}

/// `PublicKeyCredentialRequestOptions`: any discoverable credential, user verification required.
pub fn request_options(rp_id: &str, challenge: &str) -> serde_json::Value {
    serde_json::json!({
        "challenge": challenge,
        "rpId": rp_id,
        "userVerification": "required",
        "timeout": CHALLENGE_TTL * 1000,
    })
}

/// A passkey row to insert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPasskey {
    /// Credential id, base64url.
    pub id: String,
    /// The person.
    pub user_id: String,
    /// JWK JSON.
    pub public_key: String,
    /// `ES256` or `RS256`.
    pub alg: &'static str,
    /// The counter at registration.
    pub sign_count: u32,
    /// Unix seconds.
    pub created_at: u64,
}

/// The writes of a checked registration: the challenge's use (the claim), the passkey, an
/// audit row.
pub fn registered(user_id: &str, c: NewCredential, opened: &Opened, now: u64) -> Writes {
    let mut w = Writes::new(Claim::Challenge {
        key: opened.key.clone(),
        expires_at: opened.expires_at,
    })
    .with(Write::Passkey(NewPasskey {
        id: c.id,
        user_id: user_id.to_string(),
        public_key: c.key.jwk.to_string(),
        alg: c.key.alg.as_str(),
        sign_count: c.sign_count,
        created_at: now,
    }));
    w.audit(AuditEvent {
        user_id: Some(user_id.to_string()),
        ..AuditEvent::new(now, event::PASSKEY_ADDED)
    });
    w
}

/// The writes of a checked, signature-verified sign-in: the challenge's use (the claim) and the
/// new counter; the caller adds the session.
pub fn signed_in(row: &PasskeyRow, sign_count: u32, opened: &Opened, now: u64) -> Writes {
    Writes::new(Claim::Challenge {
        key: opened.key.clone(),
        expires_at: opened.expires_at,
    })
    .with(Write::PasskeyUsed {
        id: row.id.clone(),
        sign_count,
        at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_data(challenge: &str) -> Vec<u8> {
        serde_json::json!({ "type": "webauthn.get", "challenge": challenge, "origin": "https://a" })
            .to_string()
            .into_bytes()
    }

    #[test]
    fn challenges_open_only_here_for_their_ceremony_and_time() {
        let k = SigningKey::new(&[3; 32]).unwrap();
        let other = SigningKey::new(&[4; 32]).unwrap();
        let c = challenge(&k, Ceremony::Register { u: "u_1".into() }, 100).unwrap();
        let o = open(&k, &client_data(&c), 101).unwrap();
        assert_eq!(o.ceremony, Ceremony::Register { u: "u_1".into() });
        assert_eq!(o.expires_at, 100 + CHALLENGE_TTL);
        assert_eq!(URL_SAFE_NO_PAD.encode(&o.bytes), c);
        assert_eq!(
            open(&other, &client_data(&c), 101),
            Err(PasskeyError::WrongChallenge)
        );
        assert_eq!(
            open(&k, &client_data(&c), 100 + CHALLENGE_TTL),
            Err(PasskeyError::WrongChallenge)
        );
        assert_eq!(
            open(&k, &client_data(&URL_SAFE_NO_PAD.encode("made up")), 101),
            Err(PasskeyError::WrongChallenge)
        );
        // Two challenges differ; each use is keyed by its own hash.
        let d = challenge(&k, Ceremony::Login, 100).unwrap();
        assert_ne!(open(&k, &client_data(&d), 101).unwrap().key, o.key);
    }

    #[test]
    fn options_ask_for_a_discoverable_verified_credential() {
        let o = creation_options("auth.example", "edgeturn", "u_1", "alice", "ch");
        assert_eq!(o["authenticatorSelection"]["residentKey"], "required");
        assert_eq!(o["authenticatorSelection"]["userVerification"], "required");
        assert_eq!(o["pubKeyCredParams"][0]["alg"], -7);
        assert_eq!(o["pubKeyCredParams"][1]["alg"], -257);
        assert_eq!(
            request_options("auth.example", "ch")["userVerification"],
            "required"
        );
    }
}
