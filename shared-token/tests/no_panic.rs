//! Property tests: no input makes shared-token panic, and what it seals it opens.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure report

use proptest::prelude::*;
use shared_token::{
    Alg, Cipher, Keyring, MacKey, Timestamp, TokenClaims, Validation, browser, rest,
};

fn alg() -> impl Strategy<Value = Alg> {
    prop_oneof![Just(Alg::A256Gcm), Just(Alg::A128Gcm)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn open_never_panics(alg in alg(), key in proptest::collection::vec(any::<u8>(), 32),
                         token in proptest::collection::vec(any::<u8>(), 0..300),
                         aad in proptest::collection::vec(any::<u8>(), 0..40)) {
        let c = Cipher::new(alg, &key).unwrap();
        let _ = c.open(&token, &aad);
    }

    #[test]
    fn token_shaped_garbage_never_panics(alg in alg(), nonce_len in 0u16..20, body in proptest::collection::vec(any::<u8>(), 0..80)) {
        let c = Cipher::new(alg, &[1; 32]).unwrap();
        let mut t = nonce_len.to_be_bytes().to_vec();
        t.extend(body);
        prop_assert!(c.open(&t, b"s").is_err());
    }

    #[test]
    fn seal_then_open_round_trips(alg in alg(), key in proptest::collection::vec(any::<u8>(), 32),
                                  mac in proptest::collection::vec(any::<u8>(), 1..200),
                                  secs in 0u64..(1 << 48), frac in 0u16..64000, lifetime in any::<u32>(),
                                  nonce in any::<[u8; 12]>(), aad in proptest::collection::vec(any::<u8>(), 0..40)) {
        let c = Cipher::new(alg, &key).unwrap();
        let claims = TokenClaims { mac_key: MacKey::new(mac), timestamp: Timestamp::from_parts(secs, frac), lifetime, account: None };
        let t = c.seal(&claims, &nonce, &aad).unwrap();
        prop_assert_eq!(c.open(&t, &aad).unwrap(), claims);
    }

    #[test]
    fn keyring_open_and_validation_never_panic(kid in ".{0,20}", token in proptest::collection::vec(any::<u8>(), 0..100),
                                               now in any::<u64>(), skew in any::<u32>(), max in any::<u32>()) {
        let ring = Keyring::from_json(r#"[{"kid":"k","key":"MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEK","not_after":5}]"#).unwrap();
        let v = Validation { clock_skew_secs: skew, allow_unlimited_lifetime: false, max_lifetime_secs: max };
        let _ = ring.open(&kid, &token, b"s", now, &v);
    }

    #[test]
    fn valid_tokens_pass_validation_at_any_time_edge(ts in 0u64..(1 << 47), lifetime in 1u32..1_000_000, skew in 0u32..100_000) {
        let c = TokenClaims { mac_key: MacKey::new([1u8; 20]), timestamp: Timestamp::from_unix_secs(ts), lifetime, account: None };
        let v = Validation { clock_skew_secs: skew, allow_unlimited_lifetime: false, max_lifetime_secs: u32::MAX };
        let last_ok = ts + u64::from(lifetime) + u64::from(skew) - 1;
        prop_assert!(v.check(&c, last_ok).is_ok());
        prop_assert!(v.check(&c, last_ok + 1).is_err());
        prop_assert!(v.check(&c, ts.saturating_sub(u64::from(skew))).is_ok());
    }

    #[test]
    fn key_file_parser_never_panics(s in ".{0,200}") {
        let _ = Keyring::from_json(&s);
    }

    #[test]
    fn username_parsers_never_panic(s in ".{0,600}") {
        let _ = browser::parse_username(&s);
        let _ = rest::parse_username(&s);
        let secrets = rest::RestSecrets::new(vec![shared_token::RestSecret::new(*b"x")]);
        let _ = secrets.verify(&s, "p", 0);
    }

    #[test]
    fn browser_usernames_round_trip(kid in "[a-zA-Z0-9._-]{1,64}", token in proptest::collection::vec(any::<u8>(), 1..256)) {
        let c = browser::BrowserCredential::new(&kid, &token, &MacKey::new([2u8; 20])).unwrap();
        let p = browser::parse_username(&c.username).unwrap();
        prop_assert_eq!(p.kid, kid.as_str());
        prop_assert_eq!(p.token, token);
    }
}
