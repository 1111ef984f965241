//! PKCE (RFC 7636) with S256 only, and the `state` value.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// A PKCE verifier (43 base64url characters from 32 random bytes) and its S256 challenge.
pub struct Pkce {
    /// Sent with the token request.
    pub verifier: String,
    /// Sent with the authorization request, `code_challenge_method=S256`.
    pub challenge: String,
}

impl Pkce {
    /// From 32 random bytes.
    pub fn from_random(random: &[u8; 32]) -> Pkce {
        let verifier = URL_SAFE_NO_PAD.encode(random);
        let challenge = challenge_s256(&verifier);
        Pkce {
            verifier,
            challenge,
        }
    }
}

/// `BASE64URL(SHA256(ASCII(verifier)))`.
pub fn challenge_s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// 32 random bytes from the platform CSPRNG (crypto.getRandomValues in the browser).
pub fn random32() -> Result<[u8; 32], getrandom::Error> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b)?;
    Ok(b)
}

/// A random opaque `state`, base64url.
pub fn random_state() -> Result<String, getrandom::Error> {
    Ok(URL_SAFE_NO_PAD.encode(random32()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b() {
        assert_eq!(
            challenge_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn verifier_length_is_within_rfc_bounds() {
        let p = Pkce::from_random(&[7; 32]);
        assert_eq!(p.verifier.len(), 43);
        assert_eq!(p.challenge, challenge_s256(&p.verifier));
        assert_ne!(random_state().unwrap(), random_state().unwrap());
    }
}
