//! The relying party's checks of WebAuthn Level 2 (section 7.1, registering a credential;
//! section 7.2, verifying an assertion), sans IO: client data (type, challenge, origin),
//! authenticator data (RP ID hash, user present and verified flags, counter) and the COSE public
//! key (ES256 on P-256, RS256). What remains is the signature, which the worker checks with
//! WebCrypto over [`Assertion::signed`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::cbor::{self, Item};
use crate::oauth::tokens::signing_keys::Alg;

/// Authenticator data flag: user present.
pub const FLAG_UP: u8 = 0x01;
/// Authenticator data flag: user verified.
pub const FLAG_UV: u8 = 0x04;
/// Authenticator data flag: attested credential data included.
pub const FLAG_AT: u8 = 0x40;
/// COSE algorithm ES256 (RFC 9053).
pub const COSE_ES256: i64 = -7;
/// COSE algorithm RS256 (RFC 8812).
pub const COSE_RS256: i64 = -257;
/// Longest credential id accepted (WebAuthn section 5.8.3: at most 1023 bytes).
pub const MAX_CREDENTIAL_ID: usize = 1023;

/// What the relying party expects of a ceremony.
#[derive(Clone, Copy, Debug)]
pub struct Expect<'a> {
    /// The RP ID: the issuer's host.
    pub rp_id: &'a str,
    /// The issuer's origin.
    pub origin: &'a str,
    /// The challenge this server issued (and has not seen used).
    pub challenge: &'a [u8],
}

/// The RP ID and origin of an issuer URL (`https://auth.example:8443/x` gives
/// `auth.example` and `https://auth.example:8443`).
pub fn rp_of(issuer: &str) -> Option<(String, String)> {
    let (scheme, rest) = issuer.split_once("://")?;
    let authority = rest.split('/').next()?;
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => authority.split(':').next()?,
    };
    (!host.is_empty()).then(|| (host.to_string(), format!("{scheme}://{authority}")))
}

/// Why a ceremony is refused (the WebAuthn Level 2 step that failed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasskeyError {
    /// Sections 7.1 steps 5-6 / 7.2 steps 10-11: client data is not the JSON it must be.
    ClientData,
    /// Sections 7.1 step 7 / 7.2 step 11: `type` is not `webauthn.create` / `webauthn.get`.
    WrongType,
    /// Sections 7.1 step 8 / 7.2 step 12: not the challenge this server issued.
    WrongChallenge,
    /// Sections 7.1 step 9 / 7.2 step 13: another origin.
    WrongOrigin,
    /// Sections 7.1 step 13 / 7.2 step 15: the RP ID hash is not this server's.
    WrongRpId,
    /// Sections 7.1 step 14 / 7.2 step 16: the user was not present.
    NotPresent,
    /// Sections 7.1 step 15 / 7.2 step 17: the user was not verified (required here).
    NotVerified,
    /// Authenticator data, attestation object or signature are malformed.
    Malformed,
    /// Section 7.1 step 16: a key type or algorithm this server does not take.
    UnsupportedKey,
    /// Section 7.2 step 21: the signature counter did not move forward (a cloned
    /// authenticator, or a replay).
    CounterWentBack,
    /// Section 7.2 step 20: the signature does not verify.
    BadSignature,
    /// Section 7.2 step 6: an unknown credential.
    UnknownCredential,
}

impl PasskeyError {
    /// A short code for the answer and the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            PasskeyError::ClientData => "client_data",
            PasskeyError::WrongType => "wrong_type",
            PasskeyError::WrongChallenge => "wrong_challenge",
            PasskeyError::WrongOrigin => "wrong_origin",
            PasskeyError::WrongRpId => "wrong_rp_id",
            PasskeyError::NotPresent => "user_not_present",
            PasskeyError::NotVerified => "user_not_verified",
            PasskeyError::Malformed => "malformed",
            PasskeyError::UnsupportedKey => "unsupported_key",
            PasskeyError::CounterWentBack => "counter_went_back",
            PasskeyError::BadSignature => "bad_signature",
            PasskeyError::UnknownCredential => "unknown_credential",
        }
    }
}

#[derive(Deserialize)]
struct ClientData {
    #[serde(rename = "type")]
    typ: String,
    challenge: String,
    origin: String,
    #[serde(default, rename = "crossOrigin")]
    cross_origin: bool,
}

/// Checks client data JSON for ceremony `typ` against `expect`.
pub fn check_client_data(json: &[u8], typ: &str, expect: &Expect<'_>) -> Result<(), PasskeyError> {
    let c: ClientData = serde_json::from_slice(json).map_err(|_| PasskeyError::ClientData)?;
    if c.typ != typ {
        return Err(PasskeyError::WrongType);
    }
    let challenge = URL_SAFE_NO_PAD
        .decode(c.challenge.trim_end_matches('='))
        .map_err(|_| PasskeyError::WrongChallenge)?;
    if !shared_token::ct_eq(&challenge, expect.challenge) {
        return Err(PasskeyError::WrongChallenge);
    }
    if c.origin != expect.origin || c.cross_origin {
        return Err(PasskeyError::WrongOrigin);
    }
    Ok(())
}

/// A credential public key, as the JWK WebCrypto imports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    /// ES256 or RS256.
    pub alg: Alg,
    /// The JWK (`kty`, `crv`, `x`, `y` or `kty`, `n`, `e`).
    pub jwk: serde_json::Value,
}

/// A COSE_Key (RFC 9052 section 7) of the two kinds taken.
pub fn cose_key(item: &Item<'_>) -> Result<PublicKey, PasskeyError> {
    let b64 = |label: i64| {
        item.get_int(label)
            .and_then(Item::as_bytes)
            .map(|b| URL_SAFE_NO_PAD.encode(b))
            .ok_or(PasskeyError::UnsupportedKey)
    };
    let kty = item.get_int(1).and_then(Item::as_int);
    let alg = item.get_int(3).and_then(Item::as_int);
    match (kty, alg) {
        (Some(2), Some(COSE_ES256)) => {
            if item.get_int(-1).and_then(Item::as_int) != Some(1) {
                return Err(PasskeyError::UnsupportedKey);
            }
            let (x, y) = (b64(-2)?, b64(-3)?);
            if x.len() != 43 || y.len() != 43 {
                return Err(PasskeyError::UnsupportedKey);
            }
            Ok(PublicKey {
                alg: Alg::Es256,
                jwk: serde_json::json!({ "kty": "EC", "crv": "P-256", "x": x, "y": y }),
            })
        }
        (Some(3), Some(COSE_RS256)) => {
            let n = item
                .get_int(-1)
                .and_then(Item::as_bytes)
                .ok_or(PasskeyError::UnsupportedKey)?;
            if n.len() < 256 {
                return Err(PasskeyError::UnsupportedKey);
            }
            Ok(PublicKey {
                alg: Alg::Rs256,
                jwk: serde_json::json!({ "kty": "RSA", "n": URL_SAFE_NO_PAD.encode(n), "e": b64(-2)? }),
            })
        }
        _ => Err(PasskeyError::UnsupportedKey),
    }
}

/// Parsed authenticator data (WebAuthn section 6.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthData {
    /// SHA-256 of the RP ID.
    pub rp_id_hash: [u8; 32],
    /// Flags.
    pub flags: u8,
    /// Signature counter.
    pub sign_count: u32,
    /// With `AT`: the credential id and its public key.
    pub credential: Option<(Vec<u8>, PublicKey)>,
}

/// Parses authenticator data (extensions, if any, are ignored).
pub fn auth_data(bytes: &[u8]) -> Result<AuthData, PasskeyError> {
    let m = PasskeyError::Malformed;
    let rp_id_hash: [u8; 32] = bytes.get(..32).and_then(|b| b.try_into().ok()).ok_or(m)?;
    let flags = *bytes.get(32).ok_or(m)?;
    let count: [u8; 4] = bytes.get(33..37).and_then(|b| b.try_into().ok()).ok_or(m)?;
    let credential = if flags & FLAG_AT != 0 {
        // aaguid (16), credentialIdLength (2), credentialId, credentialPublicKey (CBOR).
        let len_bytes = bytes.get(53..55).ok_or(m)?;
        let len = usize::from(u16::from_be_bytes([
            *len_bytes.first().ok_or(m)?,
            *len_bytes.get(1).ok_or(m)?,
        ]));
        if len == 0 || len > MAX_CREDENTIAL_ID {
            return Err(m);
        }
        let id = bytes.get(55..55 + len).ok_or(m)?.to_vec();
        let (key, _) = cbor::decode(bytes.get(55 + len..).ok_or(m)?).map_err(|_| m)?;
        Some((id, cose_key(&key)?))
    } else {
        None
    };
    Ok(AuthData {
        rp_id_hash,
        flags,
        sign_count: u32::from_be_bytes(count),
        credential,
    })
}

fn check_auth_data(a: &AuthData, expect: &Expect<'_>) -> Result<(), PasskeyError> {
    let want: [u8; 32] = Sha256::digest(expect.rp_id.as_bytes()).into();
    if !shared_token::ct_eq(&a.rp_id_hash, &want) {
        return Err(PasskeyError::WrongRpId);
    }
    if a.flags & FLAG_UP == 0 {
        return Err(PasskeyError::NotPresent);
    }
    if a.flags & FLAG_UV == 0 {
        return Err(PasskeyError::NotVerified);
    }
    Ok(())
}

/// A credential to store after registration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCredential {
    /// The credential id, base64url.
    pub id: String,
    /// Its public key.
    pub key: PublicKey,
    /// The counter at registration.
    pub sign_count: u32,
}

/// Section 7.1: checks a registration (attestation statements are not verified: this server
/// asks for `attestation: "none"`, as passkey providers answer).
pub fn register(
    attestation_object: &[u8],
    client_data_json: &[u8],
    expect: &Expect<'_>,
) -> Result<NewCredential, PasskeyError> {
    check_client_data(client_data_json, "webauthn.create", expect)?;
    let att = cbor::decode_exact(attestation_object).map_err(|_| PasskeyError::Malformed)?;
    let auth = att
        .get_text("authData")
        .and_then(Item::as_bytes)
        .ok_or(PasskeyError::Malformed)?;
    let a = auth_data(auth)?;
    check_auth_data(&a, expect)?;
    let (id, key) = a.credential.ok_or(PasskeyError::Malformed)?;
    Ok(NewCredential {
        id: URL_SAFE_NO_PAD.encode(id),
        key,
        sign_count: a.sign_count,
    })
}

/// What the worker still verifies of an assertion: `signature` over `signed` with the stored
/// key, and then the counter it stores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assertion {
    /// authenticatorData || SHA-256(clientDataJSON).
    pub signed: Vec<u8>,
    /// The signature as WebCrypto takes it (ES256: `r || s`).
    pub signature: Vec<u8>,
    /// The counter to store.
    pub sign_count: u32,
}

/// Section 7.2: checks an assertion for a stored credential (`alg`, its last `stored_count`).
pub fn assertion(
    authenticator_data: &[u8],
    client_data_json: &[u8],
    signature: &[u8],
    alg: Alg,
    stored_count: u32,
    expect: &Expect<'_>,
) -> Result<Assertion, PasskeyError> {
    check_client_data(client_data_json, "webauthn.get", expect)?;
    let a = auth_data(authenticator_data)?;
    check_auth_data(&a, expect)?;
    // Step 21: a counter that does not grow means a clone or a replay, unless the
    // authenticator keeps none (both zero).
    if (a.sign_count != 0 || stored_count != 0) && a.sign_count <= stored_count {
        return Err(PasskeyError::CounterWentBack);
    }
    let signature = match alg {
        Alg::Es256 => der_to_raw(signature).ok_or(PasskeyError::BadSignature)?,
        Alg::Rs256 => signature.to_vec(),
    };
    let mut signed = authenticator_data.to_vec();
    signed.extend_from_slice(&Sha256::digest(client_data_json));
    Ok(Assertion {
        signed,
        signature,
        sign_count: a.sign_count,
    })
}

/// An ECDSA P-256 signature in DER (`SEQUENCE { INTEGER r, INTEGER s }`) as `r || s`.
pub fn der_to_raw(der: &[u8]) -> Option<Vec<u8>> {
    let (&tag, rest) = der.split_first()?;
    let (&len, body) = rest.split_first()?;
    if tag != 0x30 || usize::from(len) != body.len() {
        return None;
    }
    let mut out = Vec::with_capacity(64);
    let mut rest = body;
    for _ in 0..2 {
        let (&t, r) = rest.split_first()?;
        let (&l, r) = r.split_first()?;
        let l = usize::from(l);
        if t != 0x02 || l == 0 || l > 33 {
            return None;
        }
        let int = r.get(..l)?;
        rest = r.get(l..)?;
        let int = match int {
            [0, tail @ ..] if l == 33 => tail,
            _ if l == 33 => return None,
            _ => int,
        };
        out.extend(std::iter::repeat_n(0u8, 32 - int.len()));
        out.extend_from_slice(int);
    }
    rest.is_empty().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: &str = "https://auth.example";
    const CHALLENGE: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn expect() -> Expect<'static> {
        Expect {
            rp_id: "auth.example",
            origin: ORIGIN,
            challenge: CHALLENGE,
        }
    }

    fn client_data(typ: &str, challenge: &[u8], origin: &str) -> Vec<u8> {
        serde_json::json!({ "type": typ, "challenge": URL_SAFE_NO_PAD.encode(challenge), "origin": origin })
            .to_string()
            .into_bytes()
    }

    /// A COSE EC2 P-256 key with fixed coordinates.
    fn cose_es256() -> Vec<u8> {
        let mut k = vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20];
        k.extend([7u8; 32]);
        k.extend([0x22, 0x58, 0x20]);
        k.extend([9u8; 32]);
        k
    }

    fn auth(rp_id: &str, flags: u8, count: u32, cred: Option<&[u8]>) -> Vec<u8> {
        let mut a = Sha256::digest(rp_id.as_bytes()).to_vec();
        a.push(flags);
        a.extend(count.to_be_bytes());
        if let Some(id) = cred {
            a.extend([0u8; 16]);
            a.extend((id.len() as u16).to_be_bytes());
            a.extend(id);
            a.extend(cose_es256());
        }
        a
    }

    fn attestation(auth_data: &[u8]) -> Vec<u8> {
        // {"fmt": "none", "attStmt": {}, "authData": h'...'}
        let mut o = vec![0xa3, 0x63, b'f', b'm', b't', 0x64, b'n', b'o', b'n', b'e'];
        o.extend([0x67, b'a', b't', b't', b'S', b't', b'm', b't', 0xa0]);
        o.extend([0x68, b'a', b'u', b't', b'h', b'D', b'a', b't', b'a', 0x59]);
        o.extend((auth_data.len() as u16).to_be_bytes());
        o.extend(auth_data);
        o
    }

    #[test]
    fn a_registration_yields_the_credential_and_its_key() {
        let a = auth(
            "auth.example",
            FLAG_UP | FLAG_UV | FLAG_AT,
            0,
            Some(b"cred-1"),
        );
        let c = register(
            &attestation(&a),
            &client_data("webauthn.create", CHALLENGE, ORIGIN),
            &expect(),
        )
        .unwrap();
        assert_eq!(c.id, URL_SAFE_NO_PAD.encode(b"cred-1"));
        assert_eq!(c.key.alg, Alg::Es256);
        assert_eq!(c.key.jwk["x"], URL_SAFE_NO_PAD.encode([7u8; 32]));
    }

    #[test]
    fn registrations_are_refused_for_the_wrong_origin_rp_challenge_or_flags() {
        let good = auth("auth.example", FLAG_UP | FLAG_UV | FLAG_AT, 0, Some(b"c"));
        let cd = |t: &str, ch: &[u8], o: &str| client_data(t, ch, o);
        let cases = [
            (
                attestation(&good),
                cd("webauthn.create", CHALLENGE, "https://evil.example"),
                PasskeyError::WrongOrigin,
            ),
            (
                attestation(&good),
                cd("webauthn.create", b"another challenge", ORIGIN),
                PasskeyError::WrongChallenge,
            ),
            (
                attestation(&good),
                cd("webauthn.get", CHALLENGE, ORIGIN),
                PasskeyError::WrongType,
            ),
            (
                attestation(&auth(
                    "evil.example",
                    FLAG_UP | FLAG_UV | FLAG_AT,
                    0,
                    Some(b"c"),
                )),
                cd("webauthn.create", CHALLENGE, ORIGIN),
                PasskeyError::WrongRpId,
            ),
            (
                attestation(&auth("auth.example", FLAG_UP | FLAG_AT, 0, Some(b"c"))),
                cd("webauthn.create", CHALLENGE, ORIGIN),
                PasskeyError::NotVerified,
            ),
            (
                attestation(&auth("auth.example", FLAG_UP | FLAG_UV, 0, None)),
                cd("webauthn.create", CHALLENGE, ORIGIN),
                PasskeyError::Malformed,
            ),
            (
                vec![0xa0],
                cd("webauthn.create", CHALLENGE, ORIGIN),
                PasskeyError::Malformed,
            ),
            (
                attestation(&good),
                b"not json".to_vec(),
                PasskeyError::ClientData,
            ),
        ];
        for (att, cdj, want) in cases {
            assert_eq!(register(&att, &cdj, &expect()), Err(want));
        }
        // Truncations of a good attestation never panic.
        let att = attestation(&good);
        for n in 0..att.len() {
            let _ = register(
                &att[..n],
                &cd("webauthn.create", CHALLENGE, ORIGIN),
                &expect(),
            );
        }
    }

    #[test]
    fn assertions_check_the_counter_and_hand_over_what_to_verify() {
        let cdj = client_data("webauthn.get", CHALLENGE, ORIGIN);
        let a = auth("auth.example", FLAG_UP | FLAG_UV, 5, None);
        let mut der = vec![0x30, 0x45, 0x02, 0x21, 0x00];
        der.extend([0x80; 32]);
        der.extend([0x02, 0x20]);
        der.extend([0x11; 32]);
        let ok = assertion(&a, &cdj, &der, Alg::Es256, 4, &expect()).unwrap();
        assert_eq!(ok.sign_count, 5);
        assert_eq!(ok.signature.len(), 64);
        assert_eq!(&ok.signature[..32], &[0x80; 32]);
        assert_eq!(&ok.signed[..a.len()], a.as_slice());
        assert_eq!(&ok.signed[a.len()..], Sha256::digest(&cdj).as_slice());
        assert_eq!(
            assertion(&a, &cdj, &der, Alg::Es256, 5, &expect()),
            Err(PasskeyError::CounterWentBack)
        );
        let zero = auth("auth.example", FLAG_UP | FLAG_UV, 0, None);
        assert!(
            assertion(&zero, &cdj, &der, Alg::Es256, 0, &expect()).is_ok(),
            "no counter kept"
        );
        assert_eq!(
            assertion(&zero, &cdj, &der, Alg::Es256, 3, &expect()),
            Err(PasskeyError::CounterWentBack)
        );
        assert_eq!(
            assertion(&a, &cdj, &[0x30, 0x00], Alg::Es256, 0, &expect()),
            Err(PasskeyError::BadSignature)
        );
        let wrong_rp = auth("other.example", FLAG_UP | FLAG_UV, 9, None);
        assert_eq!(
            assertion(&wrong_rp, &cdj, &der, Alg::Es256, 0, &expect()),
            Err(PasskeyError::WrongRpId)
        );
    }

    #[test]
    fn rs256_keys_need_2048_bits_and_other_keys_are_refused() {
        // {1: 3, 3: -257, -1: h'00..'(256), -2: h'010001'}
        let rsa = |n_len: usize| {
            let mut k = vec![0xa4, 0x01, 0x03, 0x03, 0x39, 0x01, 0x00, 0x20, 0x59];
            k.extend((n_len as u16).to_be_bytes());
            k.extend(std::iter::repeat_n(0xc5u8, n_len));
            k.extend([0x21, 0x43, 0x01, 0x00, 0x01]);
            k
        };
        let key = cose_key(&cbor::decode_exact(&rsa(256)).unwrap()).unwrap();
        assert_eq!(key.alg, Alg::Rs256);
        assert_eq!(key.jwk["e"], "AQAB");
        assert_eq!(
            cose_key(&cbor::decode_exact(&rsa(128)).unwrap()),
            Err(PasskeyError::UnsupportedKey),
            "1024-bit RSA"
        );
        // EdDSA (OKP, -8) and P-384 are not taken.
        let okp = [0xa3, 0x01, 0x01, 0x03, 0x27, 0x20, 0x06];
        assert_eq!(
            cose_key(&cbor::decode_exact(&okp).unwrap()),
            Err(PasskeyError::UnsupportedKey)
        );
        let mut p384 = cose_es256();
        p384[6] = 0x02;
        assert_eq!(
            cose_key(&cbor::decode_exact(&p384).unwrap()),
            Err(PasskeyError::UnsupportedKey)
        );
    }

    #[test]
    fn rp_id_and_origin_come_from_the_issuer() {
        assert_eq!(
            rp_of("https://auth.example:8443/x"),
            Some(("auth.example".into(), "https://auth.example:8443".into()))
        );
        assert_eq!(
            rp_of("http://127.0.0.1:8787"),
            Some(("127.0.0.1".into(), "http://127.0.0.1:8787".into()))
        );
        assert_eq!(rp_of("nonsense"), None);
    }
}
