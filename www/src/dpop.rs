//! DPoP proofs (RFC 9449) as plain data: the JWT the helper signs per request, minus the
//! signature, which WebCrypto makes ([`crate::browser`]). ES256 only, as the edge accepts.
//!
//! A proof is `base64url(header) "." base64url(claims) "." base64url(r || s)`; WebCrypto's
//! ECDSA signature is already the raw `r || s` that JWS uses for ES256 (RFC 7518 section 3.4).

use crate::error::{ErrorCode, HelperError};
use crate::pkce::challenge_s256;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The proof's `typ` (RFC 9449 section 4.2).
pub const TYP: &str = "dpop+jwt";
/// The one algorithm the helper signs with.
pub const ALG: &str = "ES256";
/// The `error` that asks for a server nonce (RFC 9449 sections 8 and 9).
pub const USE_NONCE: &str = "use_dpop_nonce";
/// Length of an ES256 signature, `r || s` (RFC 7518 section 3.4).
pub const SIGNATURE_LEN: usize = 64;

/// The public half of the key as the proof's `jwk` header carries it (P-256, RFC 7518
/// section 6.2.1): base64url coordinates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicJwk {
    /// `x`, base64url.
    pub x: String,
    /// `y`, base64url.
    pub y: String,
}

/// What one proof says (RFC 9449 section 4.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims<'a> {
    /// A fresh random id (`jti`).
    pub jti: &'a str,
    /// The HTTP method (`htm`).
    pub htm: &'a str,
    /// The request URL; [`htu`] drops its query and fragment.
    pub url: &'a str,
    /// Seconds since the epoch (`iat`).
    pub iat: u64,
    /// The newest `DPoP-Nonce` the server sent, if any.
    pub nonce: Option<&'a str>,
    /// The access token presented with the proof, at resources (`ath`).
    pub access_token: Option<&'a str>,
}

/// `htu`: the request URL without query and fragment (RFC 9449 section 4.2).
pub fn htu(url: &str) -> &str {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    url.get(..end).unwrap_or(url)
}

/// `ath`: base64url of the SHA-256 of the access token's ASCII (RFC 9449 section 4.2), the
/// same transform as PKCE's S256 (shared, so the module carries it once).
pub fn ath(access_token: &str) -> String {
    challenge_s256(access_token)
}

/// When the helper binds its tokens with DPoP: the `dpop` option of `new EdgeTurn({...})`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Absent: DPoP when the edge's discovery lists ES256; an error if the browser cannot.
    Auto,
    /// `true`: always DPoP; an error if the browser cannot.
    On,
    /// `false`: bearer tokens.
    Off,
    /// `"if-available"`: as [`Mode::Auto`], but bearer tokens when the browser cannot.
    IfAvailable,
}

impl Mode {
    /// The option's value: absent, a boolean, or the string `"if-available"`.
    pub fn parse(
        absent: bool,
        flag: Option<bool>,
        text: Option<&str>,
    ) -> Result<Mode, HelperError> {
        match (absent, flag, text) {
            (true, _, _) => Ok(Mode::Auto),
            (_, Some(true), _) => Ok(Mode::On),
            (_, Some(false), _) => Ok(Mode::Off),
            (_, _, Some("if-available")) => Ok(Mode::IfAvailable),
            _ => Err(HelperError::new(
                ErrorCode::BadOptions,
                "dpop must be true, false or \"if-available\"",
            )),
        }
    }
}

/// The part WebCrypto signs: `base64url(header) "." base64url(claims)`.
pub fn signing_input(jwk: &PublicJwk, c: &Claims<'_>) -> String {
    let header = format!(
        r#"{{"typ":"{TYP}","alg":"{ALG}","jwk":{{"kty":"EC","crv":"P-256","x":{},"y":{}}}}}"#,
        json_str(&jwk.x),
        json_str(&jwk.y)
    );
    let mut claims = format!(
        r#"{{"jti":{},"htm":{},"htu":{},"iat":{}"#,
        json_str(c.jti),
        json_str(c.htm),
        json_str(htu(c.url)),
        c.iat
    );
    if let Some(n) = c.nonce {
        claims.push_str(&format!(r#","nonce":{}"#, json_str(n)));
    }
    if let Some(t) = c.access_token {
        claims.push_str(&format!(r#","ath":"{}""#, ath(t)));
    }
    claims.push('}');
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    )
}

/// The proof: the signing input and its ES256 signature (`r || s`, 64 bytes).
pub fn proof(signing_input: &str, signature: &[u8]) -> Result<String, HelperError> {
    if signature.len() != SIGNATURE_LEN {
        return Err(HelperError::new(
            ErrorCode::BadResponse,
            format!(
                "WebCrypto made a {}-byte ES256 signature, not {SIGNATURE_LEN}",
                signature.len()
            ),
        ));
    }
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

/// Whether a resource's 401 `WWW-Authenticate` asks for a nonce (RFC 9449 section 9):
/// `DPoP error="use_dpop_nonce", ...`. (No substring search: it would weigh more in the
/// module than the rest of this file.)
pub fn challenge_wants_nonce(www_authenticate: &str) -> bool {
    let mut parts = www_authenticate
        .split(['"', ',', ' ', '='])
        .filter(|p| !p.is_empty());
    parts
        .next()
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("DPoP"))
        && parts.any(|p| p == USE_NONCE)
}

/// The IndexedDB key the helper's key pair is kept under: one key per edge origin and
/// client (the edge's length first, so no two pairs give the same key).
pub fn store_key(edge: &str, client_id: &str) -> String {
    format!("{}:{edge} {client_id}", edge.len())
}

/// A JSON string literal.
fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                // \u00XX: a control character is below 0x20, two hex digits.
                let b = u32::from(c);
                out.push_str("\\u00");
                for d in [b >> 4, b & 15] {
                    out.extend(char::from_digit(d, 16));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(part: &str) -> String {
        String::from_utf8(URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    fn jwk() -> PublicJwk {
        PublicJwk {
            x: "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs".into(),
            y: "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA".into(),
        }
    }

    #[test]
    fn htu_drops_query_and_fragment() {
        assert_eq!(
            htu("https://e.example/turn/credentials?x=1#f"),
            "https://e.example/turn/credentials"
        );
        assert_eq!(
            htu("https://e.example/oauth2/token#frag?not-a-query"),
            "https://e.example/oauth2/token"
        );
        assert_eq!(
            htu("http://127.0.0.1:8787/oauth2/token"),
            "http://127.0.0.1:8787/oauth2/token"
        );
    }

    #[test]
    fn ath_is_the_rfc_9449_example() {
        // RFC 9449 section 7.1: the access token "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
        // has ath "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo".
        assert_eq!(
            ath("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }

    #[test]
    fn token_endpoint_proof_has_header_and_claims_without_ath() {
        let input = signing_input(
            &jwk(),
            &Claims {
                jti: "j1",
                htm: "POST",
                url: "https://e.example/oauth2/token?ignored=1",
                iat: 1_700_000_000,
                nonce: None,
                access_token: None,
            },
        );
        let (h, c) = input.split_once('.').unwrap();
        assert_eq!(
            decode(h),
            r#"{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs","y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"}}"#
        );
        assert_eq!(
            decode(c),
            r#"{"jti":"j1","htm":"POST","htu":"https://e.example/oauth2/token","iat":1700000000}"#
        );
    }

    #[test]
    fn resource_proof_carries_nonce_and_ath_escaped() {
        let input = signing_input(
            &jwk(),
            &Claims {
                jti: "j2",
                htm: "GET",
                url: "https://e.example/turn/credentials",
                iat: 5,
                nonce: Some("n\"1\\\u{1f}"),
                access_token: Some("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            },
        );
        let c = decode(input.split_once('.').unwrap().1);
        assert_eq!(
            c,
            r#"{"jti":"j2","htm":"GET","htu":"https://e.example/turn/credentials","iat":5,"nonce":"n\"1\\\u001f","ath":"fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"}"#
        );
    }

    #[test]
    fn proof_appends_a_64_byte_signature_only() {
        let p = proof("a.b", &[7; 64]).unwrap();
        let sig = p.strip_prefix("a.b.").unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(sig).unwrap(), vec![7; 64]);
        // A DER signature (what some libraries give) is refused, not sent.
        assert_eq!(
            proof("a.b", &[0x30; 70]).unwrap_err().code,
            ErrorCode::BadResponse
        );
    }

    #[test]
    fn dpop_option_values() {
        assert_eq!(Mode::parse(true, None, None).unwrap(), Mode::Auto);
        assert_eq!(Mode::parse(false, Some(true), None).unwrap(), Mode::On);
        assert_eq!(Mode::parse(false, Some(false), None).unwrap(), Mode::Off);
        assert_eq!(
            Mode::parse(false, None, Some("if-available")).unwrap(),
            Mode::IfAvailable
        );
        assert_eq!(
            Mode::parse(false, None, Some("yes")).unwrap_err().code,
            ErrorCode::BadOptions
        );
        assert!(Mode::parse(false, None, None).is_err());
    }

    #[test]
    fn nonce_challenges_and_store_keys() {
        assert!(challenge_wants_nonce(
            r#"DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof""#
        ));
        assert!(!challenge_wants_nonce(
            r#"DPoP error="invalid_token", algs="ES256""#
        ));
        assert!(!challenge_wants_nonce(r#"Bearer error="use_dpop_nonce""#));
        assert!(challenge_wants_nonce(r#"dpop error="use_dpop_nonce""#));
        assert!(!challenge_wants_nonce(
            r#"DPoP error="invalid_token", x="use_dpop_nonc""#
        ));
        assert_ne!(store_key("https://a", "b c"), store_key("https://a b", "c"));
    }
}
