//! Making mac_keys, and the two ways a 20-byte mac_key is read for HMAC-SHA1.
//!
//! Why two profiles (see docs/credentials.md):
//! - [`MacKeyProfile::Sha1Coturn`]: 20 bytes for MESSAGE-INTEGRITY (HMAC-SHA1). coturn requires
//!   `key_length == 20` but keys its HMAC with only the first 16 bytes (coturn issue 189).
//!   HMAC zero-pads short keys, so 16 random bytes followed by 4 zero bytes give the same
//!   HMAC under both readings: the key works with coturn and with RFC-exact peers alike, and
//!   still carries 128 random bits.
//! - [`MacKeyProfile::Sha256`]: 32 random bytes, for MESSAGE-INTEGRITY-SHA256 (RFC 8489), which
//!   coturn 4.6.1 does not implement.

use crate::secret::MacKey;

/// Which kind of mac_key to make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MacKeyProfile {
    /// 20 bytes: 16 random then 4 zero; interoperates with coturn's 16-byte reading.
    Sha1Coturn,
    /// 32 random bytes for MESSAGE-INTEGRITY-SHA256.
    Sha256,
}

impl MacKeyProfile {
    /// Random bytes this profile needs.
    pub fn random_len(self) -> usize {
        match self {
            MacKeyProfile::Sha1Coturn => 16,
            MacKeyProfile::Sha256 => 32,
        }
    }

    /// Builds a mac_key from `random` (exactly [`Self::random_len`] bytes from a CSPRNG).
    pub fn from_random(self, random: &[u8; 32]) -> MacKey {
        let mut bytes = alloc::vec![0u8; if self == MacKeyProfile::Sha1Coturn { 20 } else { 32 }];
        let n = self.random_len();
        if let (Some(dst), Some(src)) = (bytes.get_mut(..n), random.get(..n)) {
            dst.copy_from_slice(src);
        }
        MacKey::new(bytes)
    }

    /// Draws a fresh mac_key from the operating system's CSPRNG.
    #[cfg(feature = "getrandom")]
    pub fn generate(self) -> Result<MacKey, crate::random::RandomError> {
        let mut random = zeroize::Zeroizing::new([0u8; 32]);
        crate::random::fill(random.as_mut_slice())?;
        Ok(self.from_random(&random))
    }
}

impl MacKey {
    /// The HMAC-SHA1 keys a server should try for MESSAGE-INTEGRITY with this mac_key, in
    /// order: the whole key (RFC 7635), then, for a 20-byte key whose last 4 bytes are not
    /// zero, coturn's first-16-bytes reading (what `turnutils_uclient -J` signs with).
    /// A server answers with the reading that verified the request.
    pub fn hmac_sha1_readings(&self) -> impl Iterator<Item = &[u8]> {
        let key = self.secret();
        let coturn = match key {
            [head @ .., a, b, c, d] if head.len() == 16 && [*a, *b, *c, *d] != [0; 4] => Some(head),
            _ => None,
        };
        core::iter::once(key).chain(coturn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn coturn_profile_is_16_random_then_4_zero() {
        let k = MacKeyProfile::Sha1Coturn.from_random(&[0xAB; 32]);
        assert_eq!(k.len(), 20);
        assert_eq!(&k.secret()[..16], &[0xAB; 16]);
        assert_eq!(&k.secret()[16..], &[0; 4]);
        // Both readings give the same HMAC, so only one is tried.
        assert_eq!(k.hmac_sha1_readings().count(), 1);
    }

    #[test]
    fn sha256_profile_is_32_random() {
        let k = MacKeyProfile::Sha256.from_random(&[7; 32]);
        assert_eq!(k.secret(), &[7; 32]);
    }

    #[test]
    fn random_20_byte_keys_get_the_coturn_reading_too() {
        let k = MacKey::new([1u8; 20]);
        let r: Vec<&[u8]> = k.hmac_sha1_readings().collect();
        assert_eq!(r, [&[1u8; 20][..], &[1u8; 16][..]]);
        let k = MacKey::new([1u8; 32]);
        assert_eq!(k.hmac_sha1_readings().count(), 1);
    }
}
