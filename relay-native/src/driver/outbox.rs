//! What a stream connection holds for its client, bounded: the shard queues messages, the
//! connection's writer takes everything queued at once and writes it out.
//!
//! TURN over TCP and TLS carries real-time media, and a client falls behind for two reasons.
//! A burst (a video key frame on a long path) outruns the connection for a moment: relayed
//! data beyond [`LIMIT`] is dropped, whole messages so the stream stays framed, as a
//! congested UDP path would drop it, and the call goes on. A client that stops reading stops
//! taking anything: when what was queued cannot be written within [`STALL`] the connection
//! is closed.
//! Either way the relay holds at most [`LIMIT`] bytes (plus [`CONTROL_ROOM`] for responses,
//! which are never dropped: over a stream nobody retransmits them) per connection, and at
//! most [`SHARD_LIMIT`] of relayed data for all of a shard's connections together.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;
use tracing::info;

use super::counters::Link;

/// Relayed data one connection may have waiting (beyond what the kernel's send buffer and,
/// for TLS, rustls already hold); more is dropped.
pub(super) const LIMIT: usize = 256 * 1024;

/// Room beyond [`LIMIT`] for responses; a client that lets even these pile up is closed.
pub(super) const CONTROL_ROOM: usize = 64 * 1024;

/// Relayed data all of a shard's connections may have waiting together.
pub(super) const SHARD_LIMIT: usize = 64 * 1024 * 1024;

/// Queued messages that cannot be written within this long close the connection.
pub(super) const STALL: Duration = Duration::from_secs(5);

/// An outbox keeps a buffer of at most this capacity once it has been written out.
const KEEP_CAPACITY: usize = 16 * 1024;

/// What a message is, for the limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Message {
    /// Relayed data (ChannelData, Data indications): dropped when the client is behind.
    Data,
    /// A response: kept, up to [`CONTROL_ROOM`] beyond the limit.
    Control,
}

/// What the shard's connections have queued together.
#[derive(Default)]
pub(super) struct Queued(Cell<usize>);

/// Bytes waiting for one client.
pub(super) struct Outbox {
    queued: RefCell<Vec<u8>>,
    /// Where each message in `queued` ends (for one TLS record per message).
    ends: RefCell<Vec<usize>>,
    /// `queued` plus what the writer holds and has not finished writing.
    pending: Cell<usize>,
    shard: std::rc::Rc<Queued>,
    /// Relayed messages dropped because the client was behind.
    dropped: Cell<u64>,
    wake: Notify,
    closed: Cell<bool>,
    close: Notify,
    kind: Kind,
}

impl Outbox {
    pub(super) fn new(kind: Kind, shard: std::rc::Rc<Queued>) -> Outbox {
        Outbox {
            queued: RefCell::new(Vec::new()),
            ends: RefCell::new(Vec::new()),
            pending: Cell::new(0),
            shard,
            dropped: Cell::new(0),
            wake: Notify::new(),
            closed: Cell::new(false),
            close: Notify::new(),
            kind,
        }
    }

    /// Queues a message, or drops or closes as the module says.
    pub(super) fn push(&self, data: &[u8], what: Message) {
        if self.closed.get() {
            return;
        }
        let pending = self.pending.get() + data.len();
        let shard = self.shard.0.get() + data.len();
        match what {
            Message::Data if pending > LIMIT || shard > SHARD_LIMIT => {
                if self.dropped.replace(self.dropped.get() + 1) == 0 {
                    info!(
                        pending,
                        shard_pending = shard,
                        "{}: a client does not keep up; relayed data to it is dropped",
                        self.kind.name()
                    );
                }
                return;
            }
            Message::Control if pending > LIMIT + CONTROL_ROOM => {
                info!(
                    pending,
                    "{}: closing a client that does not read its responses",
                    self.kind.name()
                );
                self.close();
                return;
            }
            _ => {}
        }
        self.pending.set(pending);
        self.shard.0.set(shard);
        let mut queued = self.queued.borrow_mut();
        queued.extend_from_slice(data);
        self.ends.borrow_mut().push(queued.len());
        self.wake.notify_one();
    }

    /// Makes the connection close.
    pub(super) fn close(&self) {
        self.closed.set(true);
        self.close.notify_one();
    }

    /// Resolves when the connection is to close.
    pub(super) async fn closed(&self) {
        self.close.notified().await;
    }

    /// Relayed messages dropped so far.
    pub(super) fn dropped(&self) -> u64 {
        self.dropped.get()
    }

    /// Bytes written: no longer pending.
    fn written(&self, n: usize) {
        self.pending.set(self.pending.get().saturating_sub(n));
        self.shard.0.set(self.shard.0.get().saturating_sub(n));
    }

    /// Writes whatever is queued each time it wakes. Returns when the stream fails or a
    /// write stalls (false), never otherwise.
    pub(super) async fn write_loop<W: AsyncWrite + Unpin>(&self, wr: &mut W) -> bool {
        let (mut out, mut ends) = (Vec::new(), Vec::new());
        loop {
            if self.queued.borrow().is_empty() {
                self.wake.notified().await;
                continue;
            }
            std::mem::swap(&mut *self.queued.borrow_mut(), &mut out);
            std::mem::swap(&mut *self.ends.borrow_mut(), &mut ends);
            let written = tokio::time::timeout(STALL, write_batch(wr, &out, &ends, self.kind));
            let written = written.await;
            self.written(out.len());
            match written {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return false,
                Err(_) => {
                    info!(
                        "{}: closing a client that has not read for {} s",
                        self.kind.name(),
                        STALL.as_secs()
                    );
                    return false;
                }
            }
            out.clear();
            ends.clear();
            if out.capacity() > KEEP_CAPACITY {
                out = Vec::new();
                ends = Vec::new();
            }
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        let n = self.pending.get();
        self.shard.0.set(self.shard.0.get().saturating_sub(n));
    }
}

/// One batch of messages: one write for TCP, one write (one record) per message for TLS,
/// then one flush.
async fn write_batch<W: AsyncWrite + Unpin>(
    wr: &mut W,
    out: &[u8],
    ends: &[usize],
    kind: Kind,
) -> std::io::Result<()> {
    match kind {
        Kind::Tcp => wr.write_all(out).await?,
        Kind::Tls => {
            let mut start = 0;
            for &end in ends {
                wr.write_all(out.get(start..end).unwrap_or_default())
                    .await?;
                start = end;
            }
        }
    }
    wr.flush().await
}

/// What carries a connection's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// Plain TCP: everything queued goes out in one write.
    Tcp,
    /// TLS: each message in a TLS record of its own. RFC 8656 frames a TLS stream like a
    /// TCP one, but coturn's clients (`turnutils_uclient -S` and apps built on its client
    /// code) take each `SSL_read` as one message, as coturn itself writes them; several
    /// messages in one record would lose all but the first. Records still leave in one
    /// system call when several are queued (rustls writes its pending records together).
    Tls,
}

impl Kind {
    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::Tcp => "tcp",
            Kind::Tls => "tls",
        }
    }

    /// The metrics label of this kind of connection.
    pub(super) fn link(self) -> Link {
        match self {
            Kind::Tcp => Link::Tcp,
            Kind::Tls => Link::Tls,
        }
    }
}

/// One connection as the shard sees it: a way to queue messages for it and to close it.
pub(super) struct Conn {
    pub(super) outbox: Rc<Outbox>,
    pub(super) kind: Kind,
}

impl Conn {
    /// The metrics label of the connection's transport.
    pub(super) fn link(&self) -> Link {
        self.kind.link()
    }

    /// Queues a message for the client (relayed data may be dropped: [`Outbox`]).
    pub(super) fn send(&self, data: &[u8], what: Message) {
        self.outbox.push(data, what);
    }

    /// Makes the connection stop reading and close.
    pub(super) fn close(&self) {
        self.outbox.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    fn outbox() -> (Outbox, Rc<Queued>) {
        let shard = Rc::new(Queued::default());
        (Outbox::new(Kind::Tcp, shard.clone()), shard)
    }

    #[test]
    fn data_beyond_the_limit_is_dropped_whole_and_responses_still_fit() {
        let (o, shard) = outbox();
        let chunk = vec![0x40u8; 1200];
        let fits = LIMIT / chunk.len();
        for _ in 0..fits + 10 {
            o.push(&chunk, Message::Data);
        }
        assert_eq!(o.pending.get(), fits * chunk.len());
        assert_eq!(o.dropped(), 10);
        assert_eq!(shard.0.get(), o.pending.get());
        assert_eq!(
            o.ends.borrow().len(),
            fits,
            "only whole messages are queued"
        );
        o.push(&[0x01; 100], Message::Control);
        assert_eq!(o.pending.get(), fits * chunk.len() + 100);
        assert!(!o.closed.get());
    }

    #[test]
    fn responses_beyond_the_control_room_close_the_connection() {
        let (o, _) = outbox();
        let big = vec![0x01u8; 60 * 1024];
        for _ in 0..(LIMIT + CONTROL_ROOM) / big.len() {
            o.push(&big, Message::Control);
        }
        assert!(!o.closed.get());
        o.push(&big, Message::Control);
        assert!(o.closed.get());
        let before = o.pending.get();
        o.push(&big, Message::Data);
        assert_eq!(o.pending.get(), before, "nothing is queued once closed");
    }

    #[test]
    fn the_shard_limit_counts_every_connection_and_is_returned_on_drop() {
        let shard = Rc::new(Queued::default());
        let chunk = vec![0x40u8; 64 * 1024];
        let boxes: Vec<Outbox> = (0..SHARD_LIMIT / LIMIT + 4)
            .map(|_| Outbox::new(Kind::Tls, shard.clone()))
            .collect();
        for o in &boxes {
            for _ in 0..LIMIT / chunk.len() {
                o.push(&chunk, Message::Data);
            }
        }
        assert_eq!(shard.0.get(), SHARD_LIMIT);
        assert!(boxes.iter().rev().take(4).all(|o| o.dropped() > 0));
        drop(boxes);
        assert_eq!(shard.0.get(), 0);
    }
}
