//! Cross-check against coturn's own implementation, `turnutils_oauth` (Debian package
//! coturn), in both directions, with random keys, nonces, mac keys, times and lifetimes.
//! coturn copies nonce and mac key as C strings, so the random bytes avoid 0x00.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure report

use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use shared_token::{AccountKey, Alg, Cipher, MacKey, Timestamp, TokenClaims};

const ROUNDS: usize = 20;

/// xorshift64*: a small seeded generator so a failure can be replayed from the printed seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn nonzero_bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next() % 255 + 1) as u8).collect()
    }
    fn word(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| (b'a' + (self.next() % 26) as u8) as char)
            .collect()
    }
}

fn seed() -> u64 {
    if let Ok(s) = std::env::var("EDGETURN_TEST_SEED") {
        return s.parse().expect("EDGETURN_TEST_SEED must be a number");
    }
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).unwrap();
    u64::from_le_bytes(b) | 1
}

struct Case {
    alg: Alg,
    key: Vec<u8>,
    kid: String,
    server_name: String,
    nonce: [u8; 12],
    claims: TokenClaims,
}

fn case(rng: &mut Rng) -> Case {
    let alg = if rng.next().is_multiple_of(2) {
        Alg::A256Gcm
    } else {
        Alg::A128Gcm
    };
    // turnutils_oauth takes mac keys of at most 32 bytes.
    let mac_len = [20, 32, 16, 24][(rng.next() % 4) as usize];
    let secs = 1_000_000_000 + rng.next() % 2_000_000_000;
    let frac = (rng.next() % 64_000) as u16;
    let kid_len = 1 + (rng.next() % 31) as usize;
    Case {
        alg,
        key: rng.nonzero_bytes(alg.key_len()),
        kid: rng.word(kid_len),
        server_name: format!("{}.{}", rng.word(8), rng.word(3)),
        nonce: rng.nonzero_bytes(12).try_into().unwrap(),
        claims: TokenClaims {
            mac_key: MacKey::new(rng.nonzero_bytes(mac_len)),
            timestamp: Timestamp::from_parts(secs, frac),
            lifetime: 1 + (rng.next() % 86_400) as u32,
            account: None,
        },
    }
}

fn turnutils_oauth(args: &[String]) -> std::process::Output {
    Command::new("turnutils_oauth").args(args).output().unwrap_or_else(|e| {
        panic!("turnutils_oauth (Debian package coturn) must be installed; `cargo xtask setup` installs it: {e}")
    })
}

fn between<'a>(hay: &'a [u8], start: &[u8], end: &[u8]) -> Option<&'a [u8]> {
    let from = hay.windows(start.len()).position(|w| w == start)? + start.len();
    let rest = hay.get(from..)?;
    let len = rest.windows(end.len()).position(|w| w == end)?;
    rest.get(..len)
}

fn key_args(c: &Case) -> Vec<String> {
    [
        "-i",
        &c.server_name,
        "-j",
        &c.kid,
        "-k",
        &B64.encode(&c.key),
        "-l",
        "1",
        "-m",
        "1",
        "-n",
        c.alg.as_str(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn coturn_opens_what_we_seal() {
    let seed = seed();
    eprintln!("EDGETURN_TEST_SEED={seed}");
    let mut rng = Rng(seed);
    for round in 0..ROUNDS {
        let mut c = case(&mut rng);
        // Every other token carries an account after the RFC 7635 fields: coturn must read
        // the fields as ever and ignore the extension.
        if round % 2 == 0 {
            let account: [u8; 12] = rng.nonzero_bytes(12).try_into().unwrap();
            c.claims.account = Some(AccountKey::from_bytes(account));
        }
        let token = Cipher::new(c.alg, &c.key)
            .unwrap()
            .seal(&c.claims, &c.nonce, c.server_name.as_bytes())
            .unwrap();
        let mut args = key_args(&c);
        args.extend(["-d".into(), "-v".into(), "-t".into(), B64.encode(&token)]);
        let out = turnutils_oauth(&args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let ctx = format!(
            "round {round} seed {seed} alg {} mac {} account {:?}:\n{stdout}",
            c.alg,
            c.claims.mac_key.len(),
            c.claims.account
        );
        assert!(
            out.status.success() && stdout.contains("Valid token"),
            "coturn refused our token: {ctx}"
        );
        // turnutils_oauth prints the mac key as raw bytes.
        assert_eq!(
            between(&out.stdout, b"mac key: ", b"\n    mac key length:"),
            Some(c.claims.mac_key.secret()),
            "{ctx}"
        );
        assert!(
            stdout.contains(&format!("unixtime: {}", c.claims.timestamp.unix_secs())),
            "{ctx}"
        );
        assert!(
            stdout.contains(&format!("lifetime: {}", c.claims.lifetime)),
            "{ctx}"
        );

        // And coturn refuses it under another server name.
        let mut wrong = key_args(&c);
        wrong[1].push('x');
        wrong.extend(["-d".into(), "-t".into(), B64.encode(&token)]);
        assert!(
            !turnutils_oauth(&wrong).status.success(),
            "coturn accepted a wrong AAD: {ctx}"
        );
    }
}

#[test]
fn we_open_what_coturn_seals() {
    let seed = seed();
    eprintln!("EDGETURN_TEST_SEED={seed}");
    let mut rng = Rng(seed);
    for round in 0..ROUNDS {
        let c = case(&mut rng);
        let mut args = key_args(&c);
        args.extend([
            "-e".into(),
            "-o".into(),
            B64.encode(c.nonce),
            "-p".into(),
            B64.encode(c.claims.mac_key.secret()),
            "-q".into(),
            c.claims.timestamp.raw().to_string(),
            "-r".into(),
            c.claims.lifetime.to_string(),
        ]);
        let out = turnutils_oauth(&args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let ctx = format!("round {round} seed {seed} alg {}:\n{stdout}", c.alg);
        assert!(out.status.success(), "turnutils_oauth -e failed: {ctx}");
        // Its JSON prints the mac key as raw bytes (not valid JSON for binary keys): take the
        // base64 access_token field only.
        let token = between(&out.stdout, b"\"access_token\":\"", b"\"")
            .unwrap_or_else(|| panic!("no access_token: {ctx}"));
        let token = B64.decode(token).unwrap();
        let cipher = Cipher::new(c.alg, &c.key).unwrap();
        assert_eq!(
            cipher.open(&token, c.server_name.as_bytes()).unwrap(),
            c.claims,
            "{ctx}"
        );
        // Byte-identical too: the same inputs give the same token.
        assert_eq!(
            cipher
                .seal(&c.claims, &c.nonce, c.server_name.as_bytes())
                .unwrap(),
            token,
            "{ctx}"
        );
    }
}
