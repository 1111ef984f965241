//! Random identifiers and opaque tokens, and the derived keys they are stored and audited by.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use shared_token::TokenId;

use super::error::OAuthError;

/// Prefix of refresh tokens.
pub const REFRESH_PREFIX: &str = "rt1.";
/// Prefix of authorization codes.
pub const CODE_PREFIX: &str = "ac1.";

/// `N` bytes from the platform CSPRNG (`crypto.getRandomValues` in workerd).
pub fn random<const N: usize>() -> Result<[u8; N], OAuthError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b)
        .map_err(|_| OAuthError::server_error("the random number generator failed"))?;
    Ok(b)
}

/// `prefix` + 12 random bytes in base64url: ids for users, families and generated clients.
pub fn new_id(prefix: &str) -> Result<String, OAuthError> {
    Ok(format!(
        "{prefix}{}",
        URL_SAFE_NO_PAD.encode(random::<12>()?)
    ))
}

/// A JWT id: 16 random bytes in base64url.
pub fn new_jti() -> Result<String, OAuthError> {
    Ok(URL_SAFE_NO_PAD.encode(random::<16>()?))
}

/// An opaque bearer secret: `prefix` + 32 random bytes in base64url (256 bits).
pub fn new_opaque(prefix: &str) -> Result<String, OAuthError> {
    Ok(format!(
        "{prefix}{}",
        URL_SAFE_NO_PAD.encode(random::<32>()?)
    ))
}

/// A generated client secret: 32 random bytes in base64url.
pub fn new_client_secret() -> Result<String, OAuthError> {
    new_opaque("")
}

/// The D1 key of an opaque token: hex SHA-256. The token has 256 random bits, so a fast hash
/// is a safe lookup key: the table never holds anything that can be presented.
pub fn lookup_key(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The public id of a token for audit, logs and revocation rows (shared-token's [`TokenId`]:
/// 96 bits of SHA-256 over the token's bytes).
pub fn token_id(token_bytes: &[u8]) -> String {
    TokenId::of(token_bytes).to_string()
}

/// True for ids (client and user names) made of 1 to 64 of `[A-Za-z0-9._@-]`.
pub fn id_is_acceptable(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let t = new_opaque(REFRESH_PREFIX).unwrap();
        assert!(t.starts_with("rt1.") && t.len() == 4 + 43);
        assert_ne!(t, new_opaque(REFRESH_PREFIX).unwrap());
        assert_eq!(
            lookup_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(token_id(b"abc"), "ungWv48Bz-pBQUDe");
        assert_eq!(new_jti().unwrap().len(), 22);
        assert!(new_id("u_").unwrap().starts_with("u_"));
    }
}
