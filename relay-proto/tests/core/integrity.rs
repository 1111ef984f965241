//! RFC 8489 integrity: MESSAGE-INTEGRITY-SHA256, the password algorithm negotiation with its
//! bid-down protection, USERHASH, RFC 7635 tokens with 32-byte mac_keys; the RFC's test vectors
//! (RFC 8489 appendix B.1, RFC 5769 section 2.4); and SHA-1 clients exactly as before.

use relay_proto::auth::password::{self, OFFERED, PasswordAlgorithmValue};
use relay_proto::auth::{AuthConfig, Mechanism, Presented, Who};
use relay_proto::nonce::SecurityFeatures;
use relay_proto::wire::{self, IntegrityAlgorithm, Signing};
use shared_token::MacKeyProfile;
use stun_types::attribute::{
    AttributeStaticType, MessageIntegritySha256, Nonce, PasswordAlgorithm, PasswordAlgorithms,
    Realm, Userhash,
};
use stun_types::message::{
    BINDING, Message, MessageClass, MessageType, MessageWrite, MessageWriteExt, MessageWriteVec,
};
use turn_types::attribute::RequestedTransport;
use turn_types::message::{ALLOCATE, REFRESH};

use crate::harness::*;

fn alice(a: &str) -> C {
    C::new(a, Creds::LongTerm("alice".into(), "secret".into()))
}

fn allocate_request(c: &C) -> Vec<u8> {
    c.build(ALLOCATE, |w, _| {
        w.add_attribute(&RequestedTransport::new(17)).unwrap()
    })
}

/// RFC 8489 appendix B.1 as corrected by erratum 6268 (message length 0x90, not 0x9c): a
/// Binding request with USERHASH, NONCE, REALM, PASSWORD-ALGORITHM SHA-256 and
/// MESSAGE-INTEGRITY-SHA256, for username "マトリックス", password "TheMatrIX" (after
/// OpaqueString) and realm "example.org". Checked independently with Python's hmac/hashlib.
const RFC8489_B1: &str = "000100902112a44278ad3433c6ad72c029da412e\
    001e00204a3cf38fef6992bda952c6780417da0f24819415569e60b205c46e41407f1704\
    001500296f624d61744a6f73324141414366\
    2f2f3439396b39353464364f4c33346f4c394653547679363473410000000014000b6578616d706c652e6f7267\
    00001d000400020000001c0020b5c7bf005b6c52a21c51c5e892f81924136296cb927c43149309278cc6518e65";

/// RFC 5769 section 2.4: the same user with MESSAGE-INTEGRITY (HMAC-SHA1, MD5 key).
const RFC5769_2_4: &str = "000100602112a44278ad3433c6ad72c029da412e\
    00060012e3839ee38388e383aae38383e382afe382b90000\
    0015001c662f2f3439396b39353464364f4c33346f4c39465354767936347341\
    0014000b6578616d706c652e6f726700\
    00080014f67024656dd64a3e02b8e0712e85c9a28ca89666";

const MATRIX: &str = "\u{30DE}\u{30C8}\u{30EA}\u{30C3}\u{30AF}\u{30B9}";

fn bytes(hex: &str) -> Vec<u8> {
    let hex: String = hex.split_whitespace().collect();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn example_org() -> AuthConfig {
    let mut auth = AuthConfig {
        realm: "example.org".into(),
        ..AuthConfig::default()
    };
    auth.add_user(MATRIX, "TheMatrIX");
    auth
}

#[test]
fn rfc8489_b1_userhash_sha256_key_and_message_integrity_sha256() {
    let raw = bytes(RFC8489_B1);
    let msg = Message::from_bytes(&raw).unwrap();
    // USERHASH is SHA-256(username ":" realm).
    let hash = *msg.attribute::<Userhash>().unwrap().hash();
    assert_eq!(hash, password::userhash(MATRIX, "example.org"));
    // The nonce cookie announces username anonymity (bit 1 from the right).
    let nonce = msg.attribute::<Nonce>().unwrap();
    assert_eq!(
        SecurityFeatures::of_nonce(nonce.nonce()),
        Some(SecurityFeatures::USERNAME_ANONYMITY)
    );
    let picked = msg.attribute::<PasswordAlgorithm>().unwrap().algorithm();
    assert_eq!(picked, PasswordAlgorithmValue::SHA256);
    // MESSAGE-INTEGRITY-SHA256 under SHA-256(username ":" realm ":" password), not under MD5.
    let at = wire::integrity(&msg).unwrap();
    assert_eq!(at.algorithm(), IntegrityAlgorithm::Sha256);
    let key = password::long_term_key(picked, MATRIX, "example.org", "TheMatrIX");
    assert!(wire::verify(&raw, &at, key.secret()));
    let md5 = password::long_term_key(
        PasswordAlgorithmValue::MD5,
        MATRIX,
        "example.org",
        "TheMatrIX",
    );
    assert!(!wire::verify(&raw, &at, md5.secret()));

    // A relay holding this static user finds it by USERHASH and verifies the request.
    let auth = example_org();
    let presented = Presented {
        user: Who::Hash(hash),
        access_token: None,
        raw: &raw,
        integrity: &at,
        password_algorithm: picked,
    };
    let cred = auth.authenticate(&presented, None, 0).unwrap();
    assert_eq!(cred.mechanism, Mechanism::Static);
    assert_eq!(cred.username, MATRIX);
    assert_eq!(cred.integrity, IntegrityAlgorithm::Sha256);
    // The same request claiming MD5 does not verify.
    let md5_claimed = Presented {
        password_algorithm: PasswordAlgorithmValue::MD5,
        ..presented
    };
    assert!(auth.authenticate(&md5_claimed, None, 0).is_err());

    // And the relay's own signing writes the vector's MESSAGE-INTEGRITY-SHA256 byte for byte.
    let mut w = Message::builder(
        MessageType::from_class_method(MessageClass::Request, BINDING),
        msg.transaction_id(),
        MessageWriteVec::new(),
    );
    w.add_attribute(&Userhash::new(hash)).unwrap();
    w.add_attribute(&nonce).unwrap();
    w.add_attribute(&msg.attribute::<Realm>().unwrap()).unwrap();
    w.add_attribute(&PasswordAlgorithm::new(picked)).unwrap();
    let sign = Signing {
        key: &key,
        algorithm: IntegrityAlgorithm::Sha256,
    };
    wire::integrity::push(&mut w, sign);
    assert_eq!(w.finish(), raw);
}

#[test]
fn rfc5769_long_term_vector_with_message_integrity_and_an_md5_key() {
    let raw = bytes(RFC5769_2_4);
    let msg = Message::from_bytes(&raw).unwrap();
    let at = wire::integrity(&msg).unwrap();
    assert_eq!(at.algorithm(), IntegrityAlgorithm::Sha1);
    let auth = example_org();
    let presented = Presented {
        user: Who::Name(MATRIX),
        access_token: None,
        raw: &raw,
        integrity: &at,
        password_algorithm: PasswordAlgorithmValue::MD5,
    };
    let cred = auth.authenticate(&presented, None, 0).unwrap();
    assert_eq!(cred.integrity, IntegrityAlgorithm::Sha1);
    assert_eq!(
        cred.password_algorithm,
        Some(PasswordAlgorithmValue::MD5),
        "no PASSWORD-ALGORITHM: MD5"
    );
}

#[test]
fn challenges_offer_both_password_algorithms_under_a_nonce_cookie() {
    let mut h = H::new();
    let c = alice("203.0.113.5:1000");
    let r = h.request(c.addr, &allocate_request(&c));
    assert_eq!(code(&r), Some(401));
    let m = Message::from_bytes(&r).unwrap();
    assert_eq!(
        m.attribute::<PasswordAlgorithms>().unwrap().algorithms(),
        OFFERED,
        "SHA-256 preferred, MD5 for everyone else"
    );
    let features = SecurityFeatures::of_nonce(&attr_nonce(&r)).unwrap();
    assert!(features.contains(SecurityFeatures::PASSWORD_ALGORITHMS));
    assert!(
        features.contains(SecurityFeatures::USERNAME_ANONYMITY),
        "static users can be named by USERHASH"
    );
}

#[test]
fn sha256_long_term_clients_get_sha256_signed_responses() {
    let mut h = H::new();
    let mut c = alice("203.0.113.5:1000").sha256();
    let r = c.allocate(&mut h, None);
    assert!(is_success(&r), "{:?}", code(&r));
    assert_eq!(integrity_of(&r), Some(IntegrityAlgorithm::Sha256));
    assert!(!has(&r, stun_types::attribute::MessageIntegrity::TYPE));
    assert!(signed_with(&r, &c.key().unwrap()));
    assert_eq!(c.key().unwrap().len(), 32, "a SHA-256 key");
    assert!(is_success(&c.permit(&mut h, addr("127.0.0.1:40000"))));
    let r = c.refresh(&mut h, Some(300));
    assert_eq!(integrity_of(&r), Some(IntegrityAlgorithm::Sha256));
}

#[test]
fn password_and_integrity_algorithms_are_independent_and_each_response_matches_its_request() {
    let mut h = H::new();
    // An MD5 key with MESSAGE-INTEGRITY-SHA256.
    let mut c = alice("203.0.113.5:1000");
    c.integrity = IntegrityAlgorithm::Sha256;
    let r = c.allocate(&mut h, None);
    assert!(is_success(&r));
    assert_eq!(integrity_of(&r), Some(IntegrityAlgorithm::Sha256));
    assert!(signed_with(&r, &c.key().unwrap()));
    // The next request with MESSAGE-INTEGRITY gets MESSAGE-INTEGRITY back.
    c.integrity = IntegrityAlgorithm::Sha1;
    let r = c.refresh(&mut h, Some(300));
    assert!(is_success(&r));
    assert_eq!(integrity_of(&r), Some(IntegrityAlgorithm::Sha1));
    // A SHA-256 key with MESSAGE-INTEGRITY, on the same allocation: the key changes with
    // the password algorithm, and the relay follows.
    c.password = Some(PasswordAlgorithmValue::SHA256);
    let r = c.refresh(&mut h, Some(300));
    assert!(is_success(&r), "{:?}", code(&r));
    assert_eq!(integrity_of(&r), Some(IntegrityAlgorithm::Sha1));
    assert!(signed_with(&r, &c.key().unwrap()));
    // Errors after authentication are signed the same way.
    c.integrity = IntegrityAlgorithm::Sha256;
    let r = c.permit(&mut h, addr("10.0.0.1:5000"));
    assert_eq!(code(&r), Some(403));
    assert_eq!(integrity_of(&r), Some(IntegrityAlgorithm::Sha256));
    assert!(signed_with(&r, &c.key().unwrap()));
}

#[test]
fn a_stripped_or_altered_algorithm_list_is_refused_as_a_bid_down() {
    let mut h = H::new();
    let mut c = alice("203.0.113.5:1000");
    c.nonce = Some(attr_nonce(&h.request(c.addr, &allocate_request(&c))));
    // The client echoes a list without SHA-256 (what it would see if an attacker had
    // removed it from the challenge): 400, nothing allocated.
    c.password = Some(PasswordAlgorithmValue::MD5);
    c.offered = vec![PasswordAlgorithmValue::MD5];
    assert_eq!(code(&h.request(c.addr, &allocate_request(&c))), Some(400));
    c.offered = vec![PasswordAlgorithmValue::MD5, PasswordAlgorithmValue::SHA256];
    assert_eq!(code(&h.request(c.addr, &allocate_request(&c))), Some(400));
    // PASSWORD-ALGORITHM without the list.
    let mut d = alice("203.0.113.6:1000");
    d.nonce = c.nonce.clone();
    let bare = {
        let mut w = Message::builder_request(ALLOCATE, MessageWriteVec::new());
        w.add_attribute(&RequestedTransport::new(17)).unwrap();
        w.add_attribute(&PasswordAlgorithm::new(PasswordAlgorithmValue::SHA256))
            .unwrap();
        d.sign(w)
    };
    assert_eq!(code(&h.request(d.addr, &bare)), Some(400));
    // A nonce whose cookie lost the password-algorithms bit on the way is not the relay's.
    let mut e = alice("203.0.113.7:1000");
    let nonce = attr_nonce(&h.request(e.addr, &allocate_request(&e)));
    let cookie = SecurityFeatures::PASSWORD_ALGORITHMS
        .with(SecurityFeatures::USERNAME_ANONYMITY)
        .cookie();
    let stripped = SecurityFeatures::default().cookie();
    e.nonce = Some(nonce.replacen(&cookie, &stripped, 1));
    assert_eq!(code(&h.request(e.addr, &allocate_request(&e))), Some(401));
    assert_eq!(h.server.allocations(), 0);
    // The honest client gets through.
    c.offered = OFFERED.to_vec();
    assert!(is_success(&h.request(c.addr, &allocate_request(&c))));
}

#[test]
fn userhash_names_static_users_and_an_allocations_own_user() {
    let mut h = H::new();
    let mut c = alice("203.0.113.5:1000").sha256();
    c.userhash = true;
    let r = c.allocate(&mut h, None);
    assert!(is_success(&r), "{:?}", code(&r));
    assert!(is_success(&c.refresh(&mut h, Some(300))));
    // Unknown hash: 401.
    let mut m = C::new(
        "203.0.113.6:1000",
        Creds::LongTerm("mallory".into(), "x".into()),
    );
    m.userhash = true;
    assert_eq!(code(&m.allocate(&mut h, None)), Some(401));
    // A REST user cannot be found by USERHASH before it is known...
    let now = h.unix();
    let rest =
        shared_token::rest::mint(&shared_token::RestSecret::new(*b"rest"), "carol", now + 600);
    let mut r = C::new(
        "203.0.113.7:1000",
        Creds::LongTerm(rest.username.clone(), rest.password.clone()),
    );
    r.userhash = true;
    assert_eq!(code(&r.allocate(&mut h, None)), Some(401));
    // ...but once its allocation holds the name, later requests may hide it.
    r.userhash = false;
    assert!(is_success(&r.allocate(&mut h, None)));
    r.userhash = true;
    assert!(is_success(&r.refresh(&mut h, Some(300))));
}

#[test]
fn a_32_byte_mac_key_signs_with_sha256_and_only_with_it() {
    let mut h = H::new();
    let (kid, tok, mac) = token_of(&h, 600, 9, MacKeyProfile::Sha256);
    assert_eq!(mac.len(), 32);
    let mut c = C::new(
        "203.0.113.5:1000",
        Creds::Token(kid.clone(), tok.clone(), mac.secret().to_vec()),
    );
    c.integrity = IntegrityAlgorithm::Sha256;
    let r = c.allocate(&mut h, None);
    assert!(is_success(&r), "{:?}", code(&r));
    assert_eq!(integrity_of(&r), Some(IntegrityAlgorithm::Sha256));
    assert!(signed_with(&r, mac.secret()));
    // Later requests without the token use the allocation's key, SHA-256 still.
    c.send_token = false;
    let r = c.permit(&mut h, addr("127.0.0.1:40000"));
    assert!(is_success(&r));
    assert_eq!(integrity_of(&r), Some(IntegrityAlgorithm::Sha256));
    c.integrity = IntegrityAlgorithm::Sha1;
    assert_eq!(
        code(&c.permit(&mut h, addr("127.0.0.1:40000"))),
        Some(401),
        "not talked down to SHA-1"
    );

    // The same kind of token signed with HMAC-SHA1: 401.
    let mut d = C::new(
        "203.0.113.6:1000",
        Creds::Token(kid.clone(), tok, mac.secret().to_vec()),
    );
    assert_eq!(code(&d.allocate(&mut h, None)), Some(401));
    // A 20-byte (coturn profile) mac_key with MESSAGE-INTEGRITY-SHA256: 401.
    let (kid, tok, mac) = token(&h, 600, 10);
    let mut e = C::new(
        "203.0.113.7:1000",
        Creds::Token(kid, tok, mac.secret().to_vec()),
    );
    e.integrity = IntegrityAlgorithm::Sha256;
    assert_eq!(code(&e.allocate(&mut h, None)), Some(401));
    e.integrity = IntegrityAlgorithm::Sha1;
    let r = e.allocate(&mut h, None);
    assert!(is_success(&r));
    assert_eq!(integrity_of(&r), Some(IntegrityAlgorithm::Sha1));
}

#[test]
fn a_truncated_message_integrity_sha256_gets_400() {
    let mut h = H::new();
    let mut c = alice("203.0.113.5:1000");
    c.nonce = Some(attr_nonce(&h.request(c.addr, &allocate_request(&c))));
    let mut w = Message::builder_request(REFRESH, MessageWriteVec::new());
    w.add_attribute(&stun_types::attribute::Username::new("alice").unwrap())
        .unwrap();
    w.add_attribute(&Realm::new(REALM).unwrap()).unwrap();
    w.add_attribute(&Nonce::new(c.nonce.as_deref().unwrap()).unwrap())
        .unwrap();
    w.push_attribute_unchecked(&MessageIntegritySha256::new(&[0; 16]).unwrap());
    assert_eq!(code(&h.request(c.addr, &w.finish())), Some(400));
}

#[test]
fn browsers_and_coturn_keep_sha1_and_md5_exactly_as_before() {
    // What Chromium and coturn send: USERNAME, MESSAGE-INTEGRITY, no PASSWORD-ALGORITHM(S).
    let mut h = H::new();
    let mut c = alice("203.0.113.5:1000");
    let r = c.allocate(&mut h, None);
    assert!(is_success(&r));
    assert_eq!(integrity_of(&r), Some(IntegrityAlgorithm::Sha1));
    assert!(!has(&r, MessageIntegritySha256::TYPE));
    assert!(signed_with(
        &r,
        relay_proto::auth::long_term_key("alice", REALM, "secret").secret()
    ));
}
