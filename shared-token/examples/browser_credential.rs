//! Prints the worked example of docs/credentials.md: a token minted with fixed inputs, the
//! browser credential that carries it, and what a relay computes to check it.
//!
//! `cargo run -p shared-token --example browser_credential`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure report

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use shared_token::{BrowserCredential, Keyring, MacKeyProfile, MintRequest, Validation, browser};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ring = Keyring::from_json(
        r#"[{"kid":"2026-11","alg":"A256GCM","key":"MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEK"}]"#,
    )?;
    let now = 1_795_000_000;
    let req = MintRequest {
        kid: None,
        server_name: "turn.example.com",
        lifetime: 3600,
        profile: MacKeyProfile::Sha1Coturn,
        now,
        account: None,
    };
    let random: [u8; 32] = core::array::from_fn(|i| i as u8 + 1);
    let nonce: [u8; 12] = core::array::from_fn(|i| 0xA0 + i as u8);
    let m = ring.mint_with(&req, &random, &nonce)?;
    println!("kid            {}", m.kid);
    println!("mac_key (b64)  {}", STANDARD.encode(m.mac_key.secret()));
    println!("token (b64)    {}", STANDARD.encode(&m.token));
    println!("token id       {}", m.id);
    let c = BrowserCredential::new(&m.kid, &m.token, &m.mac_key)?;
    println!(
        "username       {}  ({} bytes)",
        c.username,
        c.username.len()
    );
    println!("credential     {}", c.credential);

    // The relay's side: only the username, its keyring and its server name.
    let parsed = browser::parse_username(&c.username)?;
    let valid = ring.open(
        parsed.kid,
        &parsed.token,
        b"turn.example.com",
        now + 60,
        &Validation::default(),
    )?;
    assert_eq!(browser::credential_for(&valid.claims.mac_key), c.credential);
    println!(
        "relay derives  {} (token id {})",
        browser::credential_for(&valid.claims.mac_key),
        valid.id
    );
    Ok(())
}
