//! STUN wire helpers the crates don't give us: RFC 7635's two attributes, MESSAGE-INTEGRITY
//! with arbitrary key bytes (a token's mac_key is binary), and signed responses.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use shared_token::MacKey;
use std::net::SocketAddr;

use stun_types::attribute::{
    AlternateServer, AttributeStaticType, AttributeType, ErrorCode, Fingerprint, MessageIntegrity,
    Nonce, Realm, Software, UnknownAttributes,
};
use stun_types::message::{Message, MessageHeader, MessageWrite, MessageWriteExt, MessageWriteVec};

use crate::error::TurnError;

/// ACCESS-TOKEN (RFC 7635 section 6.2), comprehension-required.
pub const ACCESS_TOKEN: AttributeType = AttributeType::new(0x001B);
/// THIRD-PARTY-AUTHORIZATION (RFC 7635 section 6.1), comprehension-optional.
pub const THIRD_PARTY_AUTHORIZATION: AttributeType = AttributeType::new(0x802E);
/// What the relay says it is (SOFTWARE).
pub const SOFTWARE: &str = concat!("edgeturn relay-native ", env!("CARGO_PKG_VERSION"));

/// The HMAC-SHA1 of `data` under `key`.
pub fn hmac_sha1(key: &[u8], data: &[&[u8]]) -> [u8; 20] {
    let mut out = [0u8; 20];
    if let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(key) {
        for d in data {
            mac.update(d);
        }
        out.copy_from_slice(&mac.finalize().into_bytes());
    }
    out
}

/// Where a request's MESSAGE-INTEGRITY is, and its value.
pub struct IntegrityRef {
    offset: usize,
    hmac: [u8; 20],
}

/// Finds MESSAGE-INTEGRITY (HMAC-SHA1). `None` when the message has none.
pub fn integrity(msg: &Message<'_>) -> Option<IntegrityRef> {
    let (offset, raw) = msg.raw_attribute_and_offset(MessageIntegrity::TYPE)?;
    let hmac: [u8; 20] = raw.value.as_ref().try_into().ok()?;
    Some(IntegrityRef { offset, hmac })
}

/// True when the MESSAGE-INTEGRITY at `at` verifies under `key` (constant-time compare).
pub fn verify(raw: &[u8], at: &IntegrityRef, key: &[u8]) -> bool {
    let (Some(kind), Some(body)) = (raw.get(..2), raw.get(4..at.offset)) else {
        return false;
    };
    // The length field covers the message up to and including MESSAGE-INTEGRITY.
    let len = ((at.offset + 24 - MessageHeader::LENGTH) as u16).to_be_bytes();
    let mac = hmac_sha1(key, &[kind, &len, body]);
    shared_token::ct_eq(&mac, &at.hmac)
}

/// Finishes a response: SOFTWARE, MESSAGE-INTEGRITY under `key` if any, FINGERPRINT if asked.
pub fn finish(mut w: MessageWriteVec, key: Option<&MacKey>, fingerprint: bool) -> Vec<u8> {
    if let Ok(s) = Software::new(SOFTWARE) {
        let _ = w.add_attribute(&s);
    }
    if let Some(key) = key {
        push_integrity(&mut w, key);
    }
    if fingerprint {
        let _ = w.add_fingerprint();
    }
    w.finish()
}

/// Finishes a client request: MESSAGE-INTEGRITY under `key` (the whole binary key, which for
/// a coturn-profile mac_key is also coturn's 16-byte reading), then FINGERPRINT.
pub fn sign_request(mut w: MessageWriteVec, key: &MacKey) -> Vec<u8> {
    push_integrity(&mut w, key);
    let _ = w.add_fingerprint();
    w.finish()
}

fn push_integrity(w: &mut MessageWriteVec, key: &MacKey) {
    w.push_attribute_unchecked(&MessageIntegrity::new([0; 20]));
    let len = w.len();
    if let Some(body) = w.get(..len - 24) {
        let mac = hmac_sha1(key.secret(), &[body]);
        if let Some(dst) = w.get_mut(len - 20..) {
            dst.copy_from_slice(&mac);
        }
    }
}

/// An error response: ERROR-CODE plus optional REALM/NONCE/THIRD-PARTY-AUTHORIZATION.
pub struct ErrorReply<'a> {
    /// Why.
    pub error: TurnError,
    /// REALM and NONCE to include (401, 438).
    pub challenge: Option<(&'a str, &'a str)>,
    /// THIRD-PARTY-AUTHORIZATION value (the server name) when tokens are on.
    pub third_party: Option<&'a str>,
    /// Sign with this key (errors after successful authentication).
    pub key: Option<&'a MacKey>,
    /// For 420.
    pub unknown: &'a [AttributeType],
    /// ALTERNATE-SERVER, for 300.
    pub alternate: Option<SocketAddr>,
}

impl<'a> ErrorReply<'a> {
    /// A plain error.
    pub fn new(error: TurnError) -> ErrorReply<'a> {
        ErrorReply {
            error,
            challenge: None,
            third_party: None,
            key: None,
            unknown: &[],
            alternate: None,
        }
    }

    /// Adds ERROR-CODE (with the RFC's reason phrase) to a message being written.
    pub fn add_code(&self, w: &mut MessageWriteVec) {
        if let Ok(e) = ErrorCode::builder(self.error.code()).build() {
            let _ = w.add_attribute(&e);
        }
    }

    /// Builds the response to `req`.
    pub fn build(&self, req: &Message<'_>) -> Vec<u8> {
        let mut w = Message::builder_error(req, MessageWriteVec::with_capacity(128));
        self.add_code(&mut w);
        if !self.unknown.is_empty() {
            let _ = w.add_attribute(&UnknownAttributes::new(self.unknown));
        }
        if let Some(server) = self.alternate {
            let _ = w.add_attribute(&AlternateServer::new(server));
        }
        if let Some((realm, nonce)) = self.challenge {
            if let Ok(r) = Realm::new(realm) {
                let _ = w.add_attribute(&r);
            }
            if let Ok(n) = Nonce::new(nonce) {
                let _ = w.add_attribute(&n);
            }
        }
        if let Some(name) = self.third_party {
            let raw = stun_types::attribute::RawAttribute::new(
                THIRD_PARTY_AUTHORIZATION,
                name.as_bytes(),
            );
            let _ = w.add_attribute(&raw);
        }
        finish(w, self.key, has_fingerprint(req))
    }
}

/// True when the request carried FINGERPRINT (responses then carry one too).
pub fn has_fingerprint(req: &Message<'_>) -> bool {
    req.has_attribute(Fingerprint::TYPE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use stun_types::attribute::Username;
    use stun_types::message::{
        BINDING, IntegrityAlgorithm, LongTermCredentials, MessageIntegrityCredentials,
    };

    #[test]
    fn our_integrity_matches_stun_types_long_term() {
        let creds: MessageIntegrityCredentials =
            LongTermCredentials::new("user".into(), "pass".into())
                .to_key("realm".into())
                .into();
        let mut w = Message::builder_request(BINDING, MessageWriteVec::new());
        w.add_attribute(&Username::new("user").unwrap()).unwrap();
        w.add_message_integrity(&creds, IntegrityAlgorithm::Sha1)
            .unwrap();
        let bytes = w.finish();
        let msg = Message::from_bytes(&bytes).unwrap();
        let key = crate::auth::long_term_key("user", "realm", "pass");
        let at = integrity(&msg).unwrap();
        assert!(verify(&bytes, &at, key.secret()));
        assert!(!verify(&bytes, &at, b"other"));

        // And what we sign, stun-types verifies.
        let resp = finish(
            Message::builder_success(&msg, MessageWriteVec::new()),
            Some(&key),
            true,
        );
        let resp = Message::from_bytes(&resp).unwrap();
        assert!(resp.validate_integrity(&creds).is_ok());
        assert!(resp.has_attribute(Fingerprint::TYPE));
    }
}
