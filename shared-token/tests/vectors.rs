//! coturn's RFC 7635 vectors (../shared/vectors/rfc7635-coturn.json), byte for byte in both
//! directions, and the vector file's negative cases.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure report

use serde_json::Value;
use shared_token::{Alg, Cipher, MacKey, Timestamp, TokenClaims, TokenError};

struct Vectors {
    server_name: String,
    key: Vec<u8>,
    claims: TokenClaims,
    nonce: [u8; 12],
    plaintext: Vec<u8>,
    tokens: Vec<(Alg, Vec<u8>, String)>,
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn load() -> Vectors {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/vectors/rfc7635-coturn.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!("the coturn vectors must be beside the repository at {path}: {e}")
    });
    let v: Value = serde_json::from_str(&text).unwrap();
    let s = |k: &str| v[k].as_str().unwrap().to_string();
    let timestamp = v["timestamp"].as_u64().unwrap();
    assert_eq!(
        timestamp >> 16,
        v["timestamp_unix_seconds"].as_u64().unwrap()
    );
    let mut tokens = Vec::new();
    for (name, t) in v["tokens"].as_object().unwrap() {
        let alg = Alg::from_name(name).unwrap();
        tokens.push((
            alg,
            hex(t["hex"].as_str().unwrap()),
            t["base64"].as_str().unwrap().to_string(),
        ));
    }
    assert_eq!(tokens.len(), 2);
    Vectors {
        server_name: s("server_name"),
        key: hex(&s("as_rs_key_hex")),
        claims: TokenClaims {
            mac_key: MacKey::new(hex(&s("mac_key_hex"))),
            timestamp: Timestamp::from_raw(timestamp),
            lifetime: v["lifetime"].as_u64().unwrap() as u32,
            account: None,
        },
        nonce: hex(&s("nonce_hex")).try_into().unwrap(),
        plaintext: hex(&s("plaintext_hex")),
        tokens,
    }
}

#[test]
fn seal_matches_coturn_byte_for_byte() {
    let v = load();
    assert_eq!(v.key, b"HGkj32KJGiuy098sdfaqbNjOiaz71923");
    for (alg, want, want_b64) in &v.tokens {
        let c = Cipher::new(*alg, &v.key).unwrap();
        let got = c
            .seal(&v.claims, &v.nonce, v.server_name.as_bytes())
            .unwrap();
        assert_eq!(&got, want, "{alg}");
        use base64::Engine;
        assert_eq!(
            &base64::engine::general_purpose::STANDARD.encode(&got),
            want_b64,
            "{alg}"
        );
        assert_eq!(got.len(), 64);
    }
}

#[test]
fn open_coturn_tokens() {
    let v = load();
    for (alg, token, _) in &v.tokens {
        let c = Cipher::new(*alg, &v.key).unwrap();
        assert_eq!(
            c.open(token, v.server_name.as_bytes()).unwrap(),
            v.claims,
            "{alg}"
        );
    }
}

#[test]
fn plaintext_layout_matches() {
    // key_length | mac_key | timestamp | lifetime, as in the vector's plaintext_hex.
    let v = load();
    let mut p = Vec::new();
    p.extend_from_slice(&(v.claims.mac_key.len() as u16).to_be_bytes());
    p.extend_from_slice(v.claims.mac_key.secret());
    p.extend_from_slice(&v.claims.timestamp.raw().to_be_bytes());
    p.extend_from_slice(&v.claims.lifetime.to_be_bytes());
    assert_eq!(p, v.plaintext);
}

#[test]
fn negative_cases_from_the_vector_file() {
    let v = load();
    let mut aad_plus_dot = v.server_name.clone().into_bytes();
    aad_plus_dot.push(b'.');
    for (alg, token, _) in &v.tokens {
        let c = Cipher::new(*alg, &v.key).unwrap();
        // AAD one byte longer.
        assert_eq!(
            c.open(token, &aad_plus_dot),
            Err(TokenError::Authentication),
            "{alg}"
        );
        // Any single bit flipped, anywhere.
        for byte in 0..token.len() {
            for bit in 0..8 {
                let mut t = token.clone();
                t[byte] ^= 1 << bit;
                assert!(
                    c.open(&t, v.server_name.as_bytes()).is_err(),
                    "{alg} byte {byte} bit {bit}"
                );
            }
        }
        // Every truncation, down to empty, fails without panicking.
        for len in 0..token.len() {
            assert!(
                c.open(&token[..len], v.server_name.as_bytes()).is_err(),
                "{alg} len {len}"
            );
        }
    }
    // The A256GCM token opened with the A128GCM key (first 16 bytes of the same key).
    let (_, t256, _) = v
        .tokens
        .iter()
        .find(|(a, _, _)| *a == Alg::A256Gcm)
        .unwrap();
    let c128 = Cipher::new(Alg::A128Gcm, &v.key).unwrap();
    assert_eq!(
        c128.open(t256, v.server_name.as_bytes()),
        Err(TokenError::Authentication)
    );
}
