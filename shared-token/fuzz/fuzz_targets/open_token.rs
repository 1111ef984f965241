//! Opening tokens and reading credentials from arbitrary bytes under arbitrary keys:
//! nothing may panic. Run with `cargo xtask fuzz [SECONDS]`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared_token::{Alg, Cipher, Keyring, KeyEntry, Validation, browser, rest};

fuzz_target!(|data: &[u8]| {
    let [sel, rest_of @ ..] = data else { return };
    let alg = if sel & 1 == 0 { Alg::A256Gcm } else { Alg::A128Gcm };
    let Some((key, rest_of)) = rest_of.split_at_checked(32) else { return };
    let [aad_len, rest_of @ ..] = rest_of else { return };
    let (aad, token) = rest_of.split_at(usize::from(*aad_len).min(rest_of.len()));

    if let Ok(c) = Cipher::new(alg, key) {
        let _ = c.open(token, aad);
    }
    let mut ring = Keyring::new();
    if let Ok(e) = KeyEntry::new("k", alg, key, None, Some(u64::from(*sel) << 24)) {
        let _ = ring.insert(e);
    }
    let now = u64::from_le_bytes(key.get(..8).and_then(|k| k.try_into().ok()).unwrap_or([0; 8]));
    let _ = ring.open("k", token, aad, now, &Validation::default());
    if let Ok(s) = std::str::from_utf8(token) {
        let _ = browser::parse_username(s);
        let _ = rest::parse_username(s);
        let _ = Keyring::from_json(s);
    }
});
