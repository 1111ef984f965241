//! Minting a token end to end: pick the sealing key, make a mac_key, seal.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::account::AccountKey;
use crate::error::TokenError;
use crate::keyring::Keyring;
use crate::mac_key::MacKeyProfile;
use crate::secret::MacKey;
use crate::timestamp::Timestamp;
use crate::token::{Alg, NONCE_LEN, TokenClaims};
use crate::token_id::TokenId;

/// A freshly sealed token and what its holder needs to use it.
#[derive(Clone, Debug)]
pub struct Minted {
    /// The kid of the key that sealed it (the client's USERNAME).
    pub kid: String,
    /// The AEAD of that key.
    pub alg: Alg,
    /// The sealed token (ACCESS-TOKEN bytes).
    pub token: Vec<u8>,
    /// The session key; goes to the client only.
    pub mac_key: MacKey,
    /// Issue time.
    pub timestamp: Timestamp,
    /// Lifetime in seconds.
    pub lifetime: u32,
    /// The account sealed inside, if any.
    pub account: Option<AccountKey>,
    /// The token's stable id.
    pub id: TokenId,
}

impl Minted {
    /// Unix second the token expires.
    pub fn expires_at(&self) -> u64 {
        self.timestamp
            .unix_secs()
            .saturating_add(u64::from(self.lifetime))
    }
}

/// Why minting failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MintError {
    /// No key is active at `now` (or the named kid is unknown or expired).
    NoActiveKey,
    /// Lifetime 0 is "never expires"; edgeturn does not mint such tokens.
    ZeroLifetime,
    /// Sealing failed.
    Token(TokenError),
    /// The random source failed.
    Random,
}

impl fmt::Display for MintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MintError::NoActiveKey => f.write_str("no active key to seal with"),
            MintError::ZeroLifetime => f.write_str("lifetime must be at least one second"),
            MintError::Token(e) => write!(f, "{e}"),
            MintError::Random => f.write_str("the system random number generator failed"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for MintError {}

/// What to mint.
#[derive(Clone, Copy, Debug)]
pub struct MintRequest<'a> {
    /// Seal with this kid; `None` picks [`Keyring::sealing_key`].
    pub kid: Option<&'a str>,
    /// The TURN server name (AAD).
    pub server_name: &'a str,
    /// Lifetime in seconds, at least 1.
    pub lifetime: u32,
    /// mac_key profile.
    pub profile: MacKeyProfile,
    /// Unix seconds now (the token's timestamp).
    pub now: u64,
    /// The person or app the token is charged to at relays (see [`crate::account`]); `None`
    /// makes a plain RFC 7635 token, which relays charge per token.
    pub account: Option<AccountKey>,
}

impl Keyring {
    /// Mints with caller-supplied randomness (`random` for the mac_key, `nonce` for AES-GCM):
    /// the deterministic core, for `no_std` callers and tests.
    pub fn mint_with(
        &self,
        req: &MintRequest<'_>,
        random: &[u8; 32],
        nonce: &[u8; NONCE_LEN],
    ) -> Result<Minted, MintError> {
        if req.lifetime == 0 {
            return Err(MintError::ZeroLifetime);
        }
        let key = match req.kid {
            Some(kid) => self.get(kid).filter(|k| k.is_active(req.now)),
            None => self.sealing_key(req.now),
        }
        .ok_or(MintError::NoActiveKey)?;
        let claims = TokenClaims {
            mac_key: req.profile.from_random(random),
            timestamp: Timestamp::from_unix_secs(req.now),
            lifetime: req.lifetime,
            account: req.account,
        };
        let token = key
            .cipher()
            .seal(&claims, nonce, req.server_name.as_bytes())
            .map_err(MintError::Token)?;
        Ok(Minted {
            kid: key.kid().into(),
            alg: key.alg(),
            id: TokenId::of(&token),
            token,
            mac_key: claims.mac_key.clone(),
            timestamp: claims.timestamp,
            lifetime: claims.lifetime,
            account: claims.account,
        })
    }

    /// Mints with fresh randomness from the system CSPRNG.
    #[cfg(feature = "getrandom")]
    pub fn mint(&self, req: &MintRequest<'_>) -> Result<Minted, MintError> {
        let mut random = zeroize::Zeroizing::new([0u8; 32]);
        crate::random::fill(random.as_mut_slice()).map_err(|_| MintError::Random)?;
        let nonce = crate::random::nonce().map_err(|_| MintError::Random)?;
        self.mint_with(req, &random, &nonce)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::Validation;

    #[test]
    fn minted_tokens_open_and_ids_match() {
        let ring = Keyring::from_json(
            r#"[{"kid":"k1","key":"MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEK"}]"#,
        )
        .unwrap();
        let req = MintRequest {
            kid: None,
            server_name: "turn.example",
            lifetime: 600,
            profile: MacKeyProfile::Sha1Coturn,
            now: 5000,
            account: None,
        };
        let m = ring.mint_with(&req, &[4; 32], &[2; 12]).unwrap();
        assert_eq!(m.kid, "k1");
        assert_eq!(m.token.len(), 64);
        assert_eq!(m.expires_at(), 5600);
        let v = ring
            .open(
                "k1",
                &m.token,
                b"turn.example",
                5100,
                &Validation::default(),
            )
            .unwrap();
        assert_eq!(v.claims.mac_key, m.mac_key);
        assert_eq!(v.id, m.id);
        assert_eq!(
            ring.mint_with(&MintRequest { lifetime: 0, ..req }, &[4; 32], &[2; 12])
                .unwrap_err(),
            MintError::ZeroLifetime
        );
        assert_eq!(
            ring.mint_with(
                &MintRequest {
                    kid: Some("zz"),
                    ..req
                },
                &[4; 32],
                &[2; 12]
            )
            .unwrap_err(),
            MintError::NoActiveKey
        );
    }
}
