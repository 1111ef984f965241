//! TURN over a stream (RFC 8656 section 3.1): STUN messages and ChannelData (padded to 4)
//! back to back, each frame's length in its own header. [`StreamFramer`] turns the bytes a
//! connection delivers into frames for [`Input::FromClient`](crate::Input::FromClient).

/// The longest frame: a STUN message with the largest length field (20 + 65,535 bytes;
/// ChannelData with padding needs at most 4 + 65,536). A connection never buffers more than
/// this plus one read.
pub const MAX_FRAME: usize = 20 + 65_535;

/// The stream carries something that is neither STUN nor ChannelData: close it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotTurn;

/// Splits one connection's byte stream into frames.
#[derive(Debug, Default)]
pub struct StreamFramer {
    buf: Vec<u8>,
    /// Where the next frame starts in `buf` (bytes before it were handed out).
    start: usize,
}

impl StreamFramer {
    /// An empty framer.
    pub fn new() -> StreamFramer {
        StreamFramer::default()
    }

    /// Appends bytes read from the connection.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole frame, `Ok(None)` until more bytes arrive, or [`NotTurn`].
    pub fn next_frame(&mut self) -> Result<Option<&[u8]>, NotTurn> {
        let pending = self.buf.get(self.start..).unwrap_or_default();
        let Some(len) = frame_len(pending)? else {
            return Ok(None);
        };
        let Some(end) = self.start.checked_add(len).filter(|e| *e <= self.buf.len()) else {
            return Ok(None);
        };
        let frame = self.buf.get(self.start..end);
        self.start = end;
        Ok(frame)
    }

    /// Bytes buffered and not yet handed out.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }
}

/// The length of the frame at the start of `buf`, once its header is there.
fn frame_len(buf: &[u8]) -> Result<Option<usize>, NotTurn> {
    let (Some(&first), Some(&[l0, l1])) = (buf.first(), buf.get(2..4)) else {
        return Ok(None);
    };
    let len = usize::from(u16::from_be_bytes([l0, l1]));
    match first {
        0x00..=0x03 => Ok(Some(20 + len)),
        0x40..=0x7f => Ok(Some(4 + len.div_ceil(4) * 4)),
        _ => Err(NotTurn),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_across_reads_and_back_to_back() {
        let stun = [
            0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
        ];
        let channel = [
            0x40, 0x00, 0x00, 0x05, b'h', b'e', b'l', b'l', b'o', 0, 0, 0,
        ];
        let mut f = StreamFramer::new();
        f.push(&stun[..3]);
        assert_eq!(f.next_frame(), Ok(None), "no length yet");
        f.push(&stun[3..10]);
        assert_eq!(f.next_frame(), Ok(None), "length known, body missing");
        let mut rest = stun[10..].to_vec();
        rest.extend_from_slice(&channel);
        f.push(&rest);
        assert_eq!(f.next_frame(), Ok(Some(&stun[..])));
        assert_eq!(f.next_frame(), Ok(Some(&channel[..])), "padding included");
        assert_eq!(f.next_frame(), Ok(None));
        assert_eq!(f.buffered(), 0);
        f.push(&[0x80, 0, 0, 0]);
        assert_eq!(f.next_frame(), Err(NotTurn));
    }

    #[test]
    fn the_largest_frames_fit_max_frame() {
        assert_eq!(frame_len(&[0x01, 0x01, 0xff, 0xff]), Ok(Some(MAX_FRAME)));
        assert!(frame_len(&[0x7f, 0xff, 0xff, 0xff]).is_ok_and(|l| l <= Some(MAX_FRAME)));
    }
}
