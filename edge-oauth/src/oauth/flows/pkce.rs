//! PKCE (RFC 7636) with S256 only: `plain` and a missing method (which RFC 7636 reads as
//! `plain`) are refused, as OAuth 2.1 and RFC 9700 section 2.1.1 recommend.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::oauth::error::OAuthError;

/// True for a syntactically valid code verifier: 43 to 128 characters from
/// `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"` (RFC 7636 section 4.1).
pub fn verifier_is_well_formed(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Checks an authorization request's challenge: method `S256` (explicitly), and a challenge
/// that is base64url of 32 bytes (43 characters, no padding).
pub fn check_challenge(challenge: Option<&str>, method: Option<&str>) -> Result<(), OAuthError> {
    let challenge = challenge
        .ok_or_else(|| OAuthError::invalid_request("code_challenge is required (PKCE)"))?;
    match method {
        Some("S256") => {}
        Some("plain") | None => {
            return Err(OAuthError::invalid_request(
                "code_challenge_method must be S256; plain is not accepted",
            ));
        }
        Some(_) => {
            return Err(OAuthError::invalid_request(
                "code_challenge_method must be S256",
            ));
        }
    }
    let decodes_to_32 = challenge.len() == 43
        && URL_SAFE_NO_PAD
            .decode(challenge)
            .is_ok_and(|b| b.len() == 32);
    if !decodes_to_32 {
        return Err(OAuthError::invalid_request(
            "code_challenge must be 43 base64url characters",
        ));
    }
    Ok(())
}

/// The S256 challenge for a verifier: `BASE64URL(SHA256(ASCII(verifier)))`.
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// True when `verifier` is well formed and hashes to `challenge` (compared in constant time).
pub fn verify_s256(challenge: &str, verifier: &str) -> bool {
    verifier_is_well_formed(verifier)
        && shared_token::ct_eq(s256(verifier).as_bytes(), challenge.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc_7636_appendix_b() {
        assert_eq!(s256(VERIFIER), CHALLENGE);
        assert!(verify_s256(CHALLENGE, VERIFIER));
        assert!(!verify_s256(CHALLENGE, &VERIFIER.replace('d', "e")));
    }

    #[test]
    fn plain_and_missing_methods_are_refused() {
        assert!(check_challenge(Some(CHALLENGE), Some("S256")).is_ok());
        assert!(check_challenge(Some(CHALLENGE), Some("plain")).is_err());
        assert!(check_challenge(Some(CHALLENGE), None).is_err());
        assert!(check_challenge(Some(CHALLENGE), Some("s256")).is_err());
        assert!(check_challenge(None, Some("S256")).is_err());
        assert!(check_challenge(Some("short"), Some("S256")).is_err());
    }

    #[test]
    fn verifier_syntax() {
        assert!(verifier_is_well_formed(&"a".repeat(43)));
        assert!(!verifier_is_well_formed(&"a".repeat(42)));
        assert!(!verifier_is_well_formed(&"a".repeat(129)));
        assert!(!verifier_is_well_formed(&format!("{}+", "a".repeat(43))));
        // A verifier equal to the challenge (what a `plain` client sends) never matches S256.
        assert!(!verify_s256(CHALLENGE, CHALLENGE));
    }
}
