//! TURN over a stream (RFC 8656 section 3.1): STUN messages and ChannelData (padded to 4)
//! back to back, so the length of each frame comes from its own header.

/// Most bytes one frame may take (a STUN message of the largest length).
pub const MAX_FRAME: usize = 65_535 + 20;

/// The stream carries something that is neither STUN nor ChannelData: close it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotTurn;

/// The length of the frame at the start of `buf`, once its header is there.
pub fn frame_len(buf: &[u8]) -> Option<Result<usize, NotTurn>> {
    let first = *buf.first()?;
    let len = usize::from(u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?]));
    Some(match first {
        0x00..=0x03 => Ok(20 + len),
        0x40..=0x7f => Ok(4 + len.div_ceil(4) * 4),
        _ => Err(NotTurn),
    })
}
