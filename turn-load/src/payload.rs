//! What every datagram carries: which run and allocation it belongs to, its sequence number,
//! when the client sent it and when the echo peer saw it.
//!
//! Layout (little-endian): magic `TLD1`, run u32, flow u32, seq u64, sent_ns u64, peer_ns
//! u64, then filler up to the configured size.

/// Marks a payload of ours.
pub const MAGIC: [u8; 4] = *b"TLD1";
/// Bytes the fields take; payloads are at least this long.
pub const MIN_LEN: usize = 36;
const RUN: usize = 4;
const FLOW: usize = 8;
const SEQ: usize = 12;
const SENT: usize = 20;
const PEER: usize = 28;

/// The fields of one payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// The run (a fixed-rate run or a ramp step): late packets of an earlier one are ignored.
    pub run: u32,
    /// The allocation (index into the flows).
    pub flow: u32,
    /// Sequence number within the flow and run, from 0.
    pub seq: u64,
    /// When the client sent it (`clock::now_ns`).
    pub sent_ns: u64,
    /// When the echo peer received it; 0 if it was not stamped.
    pub peer_ns: u64,
}

impl Probe {
    /// Writes the fields at the start of `buf` (at least `MIN_LEN` bytes; false otherwise).
    pub fn write(&self, buf: &mut [u8]) -> bool {
        if buf.len() < MIN_LEN {
            return false;
        }
        put(buf, 0, &MAGIC)
            && put(buf, RUN, &self.run.to_le_bytes())
            && put(buf, FLOW, &self.flow.to_le_bytes())
            && put(buf, SEQ, &self.seq.to_le_bytes())
            && put(buf, SENT, &self.sent_ns.to_le_bytes())
            && put(buf, PEER, &self.peer_ns.to_le_bytes())
    }

    /// Reads a payload of ours; None for anything else.
    pub fn read(buf: &[u8]) -> Option<Probe> {
        if buf.get(..RUN)? != MAGIC {
            return None;
        }
        Some(Probe {
            run: u32::from_le_bytes(take(buf, RUN)?),
            flow: u32::from_le_bytes(take(buf, FLOW)?),
            seq: u64::from_le_bytes(take(buf, SEQ)?),
            sent_ns: u64::from_le_bytes(take(buf, SENT)?),
            peer_ns: u64::from_le_bytes(take(buf, PEER)?),
        })
    }
}

fn put(buf: &mut [u8], at: usize, bytes: &[u8]) -> bool {
    match buf.get_mut(at..at + bytes.len()) {
        Some(dst) => {
            dst.copy_from_slice(bytes);
            true
        }
        None => false,
    }
}

fn take<const N: usize>(buf: &[u8], at: usize) -> Option<[u8; N]> {
    buf.get(at..at + N)?.try_into().ok()
}

/// The echo peer's stamp: writes `now_ns` into a payload of ours (false if it is not one).
pub fn stamp_peer(buf: &mut [u8], now_ns: u64) -> bool {
    if buf.get(..RUN) != Some(&MAGIC[..]) {
        return false;
    }
    put(buf, PEER, &now_ns.to_le_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_stamp() {
        let p = Probe {
            run: 7,
            flow: 3,
            seq: 1 << 40,
            sent_ns: 123_456_789,
            peer_ns: 0,
        };
        let mut buf = [0xAAu8; 64];
        assert!(p.write(&mut buf));
        assert_eq!(Probe::read(&buf), Some(p));
        assert!(stamp_peer(&mut buf, 999));
        assert_eq!(Probe::read(&buf).map(|q| q.peer_ns), Some(999));
    }

    #[test]
    fn foreign_and_short_payloads() {
        assert_eq!(Probe::read(&[0u8; 64]), None);
        assert_eq!(Probe::read(b"TLD1"), None);
        let mut short = *b"TLD1xxxx";
        assert!(!stamp_peer(&mut short, 5));
        assert!(!Probe::default_like().write(&mut [0u8; MIN_LEN - 1]));
        assert!(!stamp_peer(&mut [0u8; 64], 5));
    }

    impl Probe {
        fn default_like() -> Probe {
            Probe {
                run: 0,
                flow: 0,
                seq: 0,
                sent_ns: 0,
                peer_ns: 0,
            }
        }
    }
}
