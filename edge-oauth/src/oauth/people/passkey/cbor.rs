//! A bounds-checked reader for the CBOR (RFC 8949) that WebAuthn uses: attestation objects and
//! COSE keys. Definite lengths only (CTAP2's canonical CBOR has no indefinite ones), nesting
//! limited, every length checked against what is left: no panic on any input.
//!
//! Hand-written rather than a crate: WebAuthn needs this small subset, and the worker's
//! compressed size matters (a general CBOR crate with serde support costs far more).

/// A decoded item, borrowing byte and text strings from the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item<'a> {
    /// Major type 0.
    Uint(u64),
    /// Major type 1: the value is `-1 - n`, kept as that `n`.
    Nint(u64),
    /// Major type 2.
    Bytes(&'a [u8]),
    /// Major type 3.
    Text(&'a str),
    /// Major type 4.
    Array(Vec<Item<'a>>),
    /// Major type 5, in order.
    Map(Vec<(Item<'a>, Item<'a>)>),
    /// `true` / `false`.
    Bool(bool),
    /// `null`.
    Null,
}

/// Why bytes are not the CBOR this reader takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CborError {
    /// The input ends inside an item.
    Truncated,
    /// Indefinite lengths, floats, tags or reserved values.
    Unsupported,
    /// Nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// Text that is not UTF-8.
    BadText,
    /// Bytes after the item where none may follow.
    Trailing,
}

/// Deepest nesting accepted (COSE keys and attestation objects need 3).
pub const MAX_DEPTH: usize = 8;

impl<'a> Item<'a> {
    /// The value of integer key `k` in a map (COSE labels).
    pub fn get_int(&self, k: i64) -> Option<&Item<'a>> {
        let Item::Map(entries) = self else {
            return None;
        };
        entries
            .iter()
            .find(|(key, _)| key.as_int() == Some(k))
            .map(|(_, v)| v)
    }

    /// The value of text key `k` in a map.
    pub fn get_text(&self, k: &str) -> Option<&Item<'a>> {
        let Item::Map(entries) = self else {
            return None;
        };
        entries
            .iter()
            .find(|(key, _)| matches!(key, Item::Text(t) if *t == k))
            .map(|(_, v)| v)
    }

    /// An integer that fits `i64`.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Item::Uint(n) => i64::try_from(*n).ok(),
            Item::Nint(n) => i64::try_from(*n).ok().map(|n| -1 - n),
            _ => None,
        }
    }

    /// A byte string.
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match self {
            Item::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// A text string.
    pub fn as_text(&self) -> Option<&'a str> {
        match self {
            Item::Text(t) => Some(t),
            _ => None,
        }
    }
}

/// Decodes one item at the start of `input`: the item and how many bytes it took.
pub fn decode(input: &[u8]) -> Result<(Item<'_>, usize), CborError> {
    let mut r = Reader { input, pos: 0 };
    let item = r.item(0)?;
    Ok((item, r.pos))
}

/// Decodes `input`, which must be exactly one item.
pub fn decode_exact(input: &[u8]) -> Result<Item<'_>, CborError> {
    let (item, used) = decode(input)?;
    if used != input.len() {
        return Err(CborError::Trailing);
    }
    Ok(item)
}

struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CborError> {
        let end = self.pos.checked_add(n).ok_or(CborError::Truncated)?;
        let out = self.input.get(self.pos..end).ok_or(CborError::Truncated)?;
        self.pos = end;
        Ok(out)
    }

    fn byte(&mut self) -> Result<u8, CborError> {
        self.take(1)?.first().copied().ok_or(CborError::Truncated)
    }

    /// The argument of an initial byte's additional information.
    fn argument(&mut self, info: u8) -> Result<u64, CborError> {
        let width = match info {
            0..=23 => return Ok(u64::from(info)),
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            _ => return Err(CborError::Unsupported),
        };
        Ok(self
            .take(width)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    fn len(&mut self, info: u8) -> Result<usize, CborError> {
        let n = self.argument(info)?;
        let n = usize::try_from(n).map_err(|_| CborError::Truncated)?;
        // No count can exceed the bytes left (every item takes at least one).
        if n > self.input.len().saturating_sub(self.pos) {
            return Err(CborError::Truncated);
        }
        Ok(n)
    }

    fn item(&mut self, depth: usize) -> Result<Item<'a>, CborError> {
        if depth > MAX_DEPTH {
            return Err(CborError::TooDeep);
        }
        let initial = self.byte()?;
        let (major, info) = (initial >> 5, initial & 0x1f);
        Ok(match major {
            0 => Item::Uint(self.argument(info)?),
            1 => Item::Nint(self.argument(info)?),
            2 => {
                let n = self.len(info)?;
                Item::Bytes(self.take(n)?)
            }
            3 => {
                let n = self.len(info)?;
                Item::Text(std::str::from_utf8(self.take(n)?).map_err(|_| CborError::BadText)?)
            }
            4 => {
                let n = self.len(info)?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.item(depth + 1)?);
                }
                Item::Array(items)
            }
            5 => {
                let n = self.len(info)?;
                let mut entries = Vec::with_capacity(n);
                for _ in 0..n {
                    let k = self.item(depth + 1)?;
                    let v = self.item(depth + 1)?;
                    entries.push((k, v));
                }
                Item::Map(entries)
            }
            7 => match info {
                20 => Item::Bool(false),
                21 => Item::Bool(true),
                22 => Item::Null,
                _ => return Err(CborError::Unsupported),
            },
            _ => return Err(CborError::Unsupported),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_8949_appendix_a_examples() {
        let cases: &[(&[u8], Item<'_>)] = &[
            (&[0x00], Item::Uint(0)),
            (&[0x17], Item::Uint(23)),
            (&[0x18, 0x18], Item::Uint(24)),
            (&[0x19, 0x03, 0xe8], Item::Uint(1000)),
            (
                &[0x1b, 0, 0, 0, 0xe8, 0xd4, 0xa5, 0x10, 0],
                Item::Uint(1_000_000_000_000),
            ),
            (&[0x20], Item::Nint(0)),
            (&[0x38, 0x63], Item::Nint(99)),
            (&[0x43, 1, 2, 3], Item::Bytes(&[1, 2, 3])),
            (&[0x64, 0x49, 0x45, 0x54, 0x46], Item::Text("IETF")),
            (&[0xf4], Item::Bool(false)),
            (&[0xf6], Item::Null),
            (
                &[0x83, 0x01, 0x82, 0x02, 0x03, 0x82, 0x04, 0x05],
                Item::Array(vec![
                    Item::Uint(1),
                    Item::Array(vec![Item::Uint(2), Item::Uint(3)]),
                    Item::Array(vec![Item::Uint(4), Item::Uint(5)]),
                ]),
            ),
            (
                &[0xa2, 0x61, 0x61, 0x01, 0x61, 0x62, 0x82, 0x02, 0x03],
                Item::Map(vec![
                    (Item::Text("a"), Item::Uint(1)),
                    (
                        Item::Text("b"),
                        Item::Array(vec![Item::Uint(2), Item::Uint(3)]),
                    ),
                ]),
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(decode_exact(bytes).as_ref(), Ok(want), "{bytes:02x?}");
        }
        assert_eq!(Item::Nint(6).as_int(), Some(-7));
    }

    #[test]
    fn malformed_input_is_an_error_never_a_panic() {
        assert_eq!(decode(&[]), Err(CborError::Truncated));
        assert_eq!(
            decode(&[0x5a, 0xff, 0xff, 0xff, 0xff]),
            Err(CborError::Truncated)
        );
        assert_eq!(
            decode(&[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            Err(CborError::Truncated)
        );
        assert_eq!(decode(&[0x5f]), Err(CborError::Unsupported), "indefinite");
        assert_eq!(decode(&[0xf9, 0, 0]), Err(CborError::Unsupported), "float");
        assert_eq!(decode(&[0xc0, 0x00]), Err(CborError::Unsupported), "tag");
        assert_eq!(decode(&[0x62, 0xff, 0xfe]), Err(CborError::BadText));
        assert_eq!(decode_exact(&[0x00, 0x00]), Err(CborError::Trailing));
        assert_eq!(decode(&[0x81; 20]), Err(CborError::TooDeep));
        // Every prefix of a valid item, and arbitrary bytes, fail cleanly.
        let good = [0xa2, 0x61, 0x61, 0x01, 0x61, 0x62, 0x82, 0x02, 0x03];
        for n in 0..good.len() {
            assert!(decode(&good[..n]).is_err());
        }
        let mut x: u32 = 7;
        for _ in 0..2000 {
            let bytes: Vec<u8> = (0..16)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (x >> 16) as u8
                })
                .collect();
            let _ = decode(&bytes);
        }
    }
}
