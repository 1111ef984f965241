//! Secret byte strings: redacted `Debug`, explicit access, constant-time equality.

use alloc::vec::Vec;
use core::fmt;
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

macro_rules! secret_bytes {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(Vec<u8>);

        impl $name {
            /// Wraps raw secret bytes.
            pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
                Self(bytes.into())
            }

            /// The secret bytes. Every call site is a place a secret is handled: keep them few.
            pub fn secret(&self) -> &[u8] {
                &self.0
            }

            /// Length in bytes (not secret).
            pub fn len(&self) -> usize {
                self.0.len()
            }

            /// True when there are no bytes.
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "([redacted; {} bytes])"), self.0.len())
            }
        }

        impl PartialEq for $name {
            /// Constant time in the contents (lengths are not secret).
            fn eq(&self, other: &Self) -> bool {
                self.0.ct_eq(&other.0).into()
            }
        }
        impl Eq for $name {}

        impl Drop for $name {
            fn drop(&mut self) {
                self.0.zeroize();
            }
        }
    };
}

secret_bytes!(
    /// The key shared by the authorization server and the TURN server (RFC 7635 "AS-RS key").
    AsRsKey
);
secret_bytes!(
    /// The session key inside a token (RFC 7635 `mac_key`); keys MESSAGE-INTEGRITY.
    MacKey
);
secret_bytes!(
    /// A TURN REST API shared secret (coturn `static-auth-secret`).
    RestSecret
);

/// Constant-time equality of two byte strings (length is not treated as secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn debug_never_prints_bytes() {
        let k = MacKey::new(*b"supersecretvalue");
        let s = format!("{k:?}");
        assert_eq!(s, "MacKey([redacted; 16 bytes])");
        assert!(!s.contains("super"));
    }

    #[test]
    fn equality_is_by_content() {
        assert_eq!(AsRsKey::new(*b"abc"), AsRsKey::new(*b"abc"));
        assert_ne!(AsRsKey::new(*b"abc"), AsRsKey::new(*b"abd"));
        assert_ne!(AsRsKey::new(*b"abc"), AsRsKey::new(*b"abcd"));
    }
}
