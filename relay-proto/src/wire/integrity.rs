//! MESSAGE-INTEGRITY (HMAC-SHA1, RFC 8489 section 14.5) and MESSAGE-INTEGRITY-SHA256
//! (HMAC-SHA256, section 14.6) with arbitrary key bytes: a token's mac_key is binary, which
//! stun-types' credential types (a password string) cannot carry.
//!
//! A request carries one or both; MESSAGE-INTEGRITY-SHA256 is the one checked when present
//! (section 9.2.4), and the response carries the attribute the request was checked by.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;
use shared_token::MacKey;
use stun_types::attribute::{AttributeStaticType, MessageIntegrity, MessageIntegritySha256};
use stun_types::message::{Message, MessageHeader, MessageWrite, MessageWriteVec};

pub use stun_types::message::IntegrityAlgorithm;

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

/// The HMAC-SHA256 of `data` under `key`.
pub fn hmac_sha256(key: &[u8], data: &[&[u8]]) -> [u8; 32] {
    let mut out = [0u8; 32];
    if let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) {
        for d in data {
            mac.update(d);
        }
        out.copy_from_slice(&mac.finalize().into_bytes());
    }
    out
}

/// The bytes an algorithm's attribute holds: 20 for HMAC-SHA1, 32 for HMAC-SHA256 (TURN
/// does not allow truncating it, RFC 8489 section 14.6).
pub fn mac_len(algorithm: IntegrityAlgorithm) -> usize {
    match algorithm {
        IntegrityAlgorithm::Sha1 => 20,
        IntegrityAlgorithm::Sha256 => 32,
    }
}

fn mac(algorithm: IntegrityAlgorithm, key: &[u8], data: &[&[u8]]) -> [u8; 32] {
    match algorithm {
        IntegrityAlgorithm::Sha1 => {
            let mut out = [0u8; 32];
            out[..20].copy_from_slice(&hmac_sha1(key, data));
            out
        }
        IntegrityAlgorithm::Sha256 => hmac_sha256(key, data),
    }
}

/// Where a message's integrity attribute is, which one, and its value.
pub struct IntegrityRef {
    offset: usize,
    algorithm: IntegrityAlgorithm,
    hmac: [u8; 32],
}

impl IntegrityRef {
    /// The algorithm of the attribute found.
    pub fn algorithm(&self) -> IntegrityAlgorithm {
        self.algorithm
    }
}

/// The integrity attribute to check: MESSAGE-INTEGRITY-SHA256 when present, otherwise
/// MESSAGE-INTEGRITY. `None` when the message has neither, or one of the wrong length (a
/// caller that sees the attribute type anyway answers 400).
pub fn integrity(msg: &Message<'_>) -> Option<IntegrityRef> {
    let (offset, raw, algorithm) = match msg.raw_attribute_and_offset(MessageIntegritySha256::TYPE)
    {
        Some((offset, raw)) => (offset, raw, IntegrityAlgorithm::Sha256),
        None => {
            let (offset, raw) = msg.raw_attribute_and_offset(MessageIntegrity::TYPE)?;
            (offset, raw, IntegrityAlgorithm::Sha1)
        }
    };
    let value: &[u8] = &raw.value;
    if value.len() != mac_len(algorithm) {
        return None;
    }
    let mut hmac = [0u8; 32];
    hmac.get_mut(..value.len())?.copy_from_slice(value);
    Some(IntegrityRef {
        offset,
        algorithm,
        hmac,
    })
}

/// True when the integrity attribute at `at` verifies under `key` (constant-time compare).
pub fn verify(raw: &[u8], at: &IntegrityRef, key: &[u8]) -> bool {
    let n = mac_len(at.algorithm);
    let (Some(kind), Some(body)) = (raw.get(..2), raw.get(4..at.offset)) else {
        return false;
    };
    // The length field covers the message up to and including the integrity attribute.
    let Ok(len) = u16::try_from(at.offset + 4 + n - MessageHeader::LENGTH) else {
        return false;
    };
    let mac = mac(at.algorithm, key, &[kind, &len.to_be_bytes(), body]);
    match (mac.get(..n), at.hmac.get(..n)) {
        (Some(a), Some(b)) => shared_token::ct_eq(a, b),
        _ => false,
    }
}

/// A key and the integrity attribute it signs with.
#[derive(Clone, Copy)]
pub struct Signing<'a> {
    /// The HMAC key.
    pub key: &'a MacKey,
    /// MESSAGE-INTEGRITY or MESSAGE-INTEGRITY-SHA256.
    pub algorithm: IntegrityAlgorithm,
}

/// Appends the integrity attribute of `sign` to a message being written.
pub fn push(w: &mut MessageWriteVec, sign: Signing<'_>) {
    let n = mac_len(sign.algorithm);
    match sign.algorithm {
        IntegrityAlgorithm::Sha1 => w.push_attribute_unchecked(&MessageIntegrity::new([0; 20])),
        IntegrityAlgorithm::Sha256 => match MessageIntegritySha256::new(&[0; 32]) {
            Ok(a) => w.push_attribute_unchecked(&a),
            Err(_) => return,
        },
    }
    let len = w.len();
    let Some(start) = len.checked_sub(n + 4) else {
        return;
    };
    if let Some(body) = w.get(..start) {
        let mac = mac(sign.algorithm, sign.key.secret(), &[body]);
        if let (Some(dst), Some(src)) = (w.get_mut(len - n..), mac.get(..n)) {
            dst.copy_from_slice(src);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stun_types::attribute::Username;
    use stun_types::message::{
        BINDING, LongTermKeyCredentials, MessageIntegrityCredentials, MessageWriteExt,
    };

    fn signed_by_stun_types(
        algorithm: IntegrityAlgorithm,
    ) -> (Vec<u8>, MessageIntegrityCredentials) {
        let creds: MessageIntegrityCredentials =
            LongTermKeyCredentials::new("user".into(), "pass".into(), "realm".into()).into();
        let mut w = Message::builder_request(BINDING, MessageWriteVec::new());
        w.add_attribute(&Username::new("user").unwrap()).unwrap();
        w.add_message_integrity(&creds, algorithm).unwrap();
        (w.finish(), creds)
    }

    #[test]
    fn sha256_integrity_matches_stun_types_both_ways() {
        let (bytes, creds) = signed_by_stun_types(IntegrityAlgorithm::Sha256);
        let msg = Message::from_bytes(&bytes).unwrap();
        // stun-types keys HMAC-SHA256 with SHA-256(user:realm:pass) (RFC 8489 section 9.2.2).
        let key = crate::auth::password::long_term_key(
            stun_types::attribute::PasswordAlgorithmValue::SHA256,
            "user",
            "realm",
            "pass",
        );
        let at = integrity(&msg).unwrap();
        assert_eq!(at.algorithm(), IntegrityAlgorithm::Sha256);
        assert!(verify(&bytes, &at, key.secret()));
        assert!(!verify(&bytes, &at, b"other"));

        let mut w = Message::builder_success(&msg, MessageWriteVec::new());
        push(
            &mut w,
            Signing {
                key: &key,
                algorithm: IntegrityAlgorithm::Sha256,
            },
        );
        let resp = w.finish();
        let resp = Message::from_bytes(&resp).unwrap();
        assert_eq!(
            resp.validate_integrity(&creds).unwrap(),
            IntegrityAlgorithm::Sha256
        );
    }

    #[test]
    fn a_truncated_sha256_value_is_not_an_integrity_attribute() {
        let mut w = Message::builder_request(BINDING, MessageWriteVec::new());
        w.push_attribute_unchecked(&MessageIntegritySha256::new(&[0; 16]).unwrap());
        let bytes = w.finish();
        assert!(integrity(&Message::from_bytes(&bytes).unwrap()).is_none());
    }
}
