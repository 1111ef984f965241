//! RFC 7635 token timestamps: 48 bits of Unix seconds and 16 bits of 1/64000 s.

/// A token timestamp in RFC 7635's 48.16 fixed-point form.
///
/// The upper 48 bits are Unix seconds, the lower 16 bits fractions of 1/64000 second
/// (RFC 7635 section 6.2). Only the seconds take part in validation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The largest number of seconds 48 bits hold.
    pub const MAX_SECS: u64 = (1 << 48) - 1;

    /// From whole Unix seconds (fraction zero). Seconds above 48 bits saturate.
    pub fn from_unix_secs(secs: u64) -> Self {
        Self(secs.min(Self::MAX_SECS) << 16)
    }

    /// From Unix seconds and a fraction in 1/64000 s (clamped to 63999).
    pub fn from_parts(secs: u64, frac_64000: u16) -> Self {
        Self((secs.min(Self::MAX_SECS) << 16) | u64::from(frac_64000.min(63_999)))
    }

    /// From the raw 64-bit wire value.
    pub fn from_raw(raw: u64) -> Self {
        Self(raw)
    }

    /// The raw 64-bit wire value.
    pub fn raw(self) -> u64 {
        self.0
    }

    /// Whole Unix seconds.
    pub fn unix_secs(self) -> u64 {
        self.0 >> 16
    }

    /// The fraction, in 1/64000 s as carried on the wire.
    pub fn frac_64000(self) -> u16 {
        (self.0 & 0xffff) as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_parts() {
        let t = Timestamp::from_parts(1_410_984_813, 32_000);
        assert_eq!(t.unix_secs(), 1_410_984_813);
        assert_eq!(t.frac_64000(), 32_000);
        assert_eq!(Timestamp::from_raw(t.raw()), t);
    }

    #[test]
    fn vector_timestamp() {
        // ../shared/vectors/rfc7635-coturn.json: 92470300704768 is 1410984813 << 16.
        assert_eq!(
            Timestamp::from_unix_secs(1_410_984_813).raw(),
            92_470_300_704_768
        );
    }
}
