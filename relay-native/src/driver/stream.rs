//! One stream connection (RFC 8656 section 3.1), TCP or TLS alike: its bytes go through the
//! core's [`StreamFramer`] into the core, what the core sends it goes through a bounded
//! outbox, and the core says when to close it (idle without an allocation, or over its
//! limit); the allocation ends when the connection closes. Only the byte stream differs
//! between TCP and TLS, so this is the only place that reads and writes one.
//!
//! Memory per connection is bounded and an idle one holds almost none: reads go into the
//! shard's one read buffer (a connection keeps only an incomplete frame), and the outbox
//! holds at most [`OUTBOX_LIMIT`] bytes; a client that does not read is closed when it
//! would go beyond that, or when the shard's connections together hold [`SHARD_LIMIT`].

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tracing::{debug, info};

use super::shard::Ctx;
use relay_proto::framing::StreamFramer;
use relay_proto::{Client, Input, Transport};

/// Bytes one connection may have waiting for its client (beyond what the kernel's send
/// buffer and, for TLS, rustls already hold). Real-time media that is this far behind is
/// useless to the client; memory it would hold is not.
pub(super) const OUTBOX_LIMIT: usize = 256 * 1024;

/// Bytes all of a shard's connections may have waiting together: many slow readers just
/// under [`OUTBOX_LIMIT`] each still cannot grow the relay without bound.
pub(super) const SHARD_LIMIT: usize = 64 * 1024 * 1024;

/// The shard's read buffer: every connection reads into it and keeps only what the framer
/// has not handed out.
pub(super) const READ_CHUNK: usize = 16 * 1024;

/// How long accepting pauses after an error.
const ACCEPT_PAUSE: std::time::Duration = std::time::Duration::from_millis(20);

/// An outbox keeps a buffer of at most this capacity once it has been written out.
const KEEP_CAPACITY: usize = 16 * 1024;

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
    fn name(self) -> &'static str {
        match self {
            Kind::Tcp => "tcp",
            Kind::Tls => "tls",
        }
    }
}

/// One connection as the shard sees it: a way to queue bytes for it and to close it.
pub(super) struct Conn {
    outbox: Rc<Outbox>,
}

impl Conn {
    /// Queues a message for the client; a client that is too far behind is closed instead.
    pub(super) fn send(&self, data: &[u8]) {
        self.outbox.push(data);
    }

    /// Makes the connection stop reading and close.
    pub(super) fn close(&self) {
        self.outbox.close();
    }
}

/// What the shard's connections have queued together.
#[derive(Default)]
pub(super) struct Queued(Cell<usize>);

/// Bytes waiting for one client: `queued` is filled by the shard, the writer swaps it out
/// and writes it whole (one write, one TLS record train, for everything queued meanwhile).
struct Outbox {
    queued: RefCell<Vec<u8>>,
    /// Where each message in `queued` ends (for one TLS record per message).
    ends: RefCell<Vec<usize>>,
    /// `queued` plus what the writer holds and has not finished writing.
    pending: Cell<usize>,
    shard: Rc<Queued>,
    wake: Notify,
    closed: Cell<bool>,
    close: Notify,
    kind: Kind,
}

impl Outbox {
    fn push(&self, data: &[u8]) {
        if self.closed.get() {
            return;
        }
        let pending = self.pending.get() + data.len();
        let shard = self.shard.0.get() + data.len();
        if pending > OUTBOX_LIMIT || shard > SHARD_LIMIT {
            info!(
                pending,
                shard_pending = shard,
                "{}: closing a client that does not read what it is sent",
                self.kind.name()
            );
            self.close();
            return;
        }
        self.pending.set(pending);
        self.shard.0.set(shard);
        let mut queued = self.queued.borrow_mut();
        queued.extend_from_slice(data);
        self.ends.borrow_mut().push(queued.len());
        self.wake.notify_one();
    }

    fn close(&self) {
        self.closed.set(true);
        self.close.notify_one();
    }

    /// Bytes written: no longer pending.
    fn written(&self, n: usize) {
        self.pending.set(self.pending.get().saturating_sub(n));
        self.shard.0.set(self.shard.0.get().saturating_sub(n));
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        let n = self.pending.get();
        self.shard.0.set(self.shard.0.get().saturating_sub(n));
    }
}

/// The next connection on `listener`. Errors (a reset before accept, or out of file
/// descriptors) pause the loop briefly instead of spinning on them.
pub(super) async fn accept(listener: &TcpListener, kind: &str) -> (TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok((stream, addr)) => {
                let _ = stream.set_nodelay(true);
                return (stream, addr);
            }
            Err(e) => {
                debug!("{kind} accept: {e}");
                tokio::time::sleep(ACCEPT_PAUSE).await;
            }
        }
    }
}

/// Serves one accepted connection until it closes: `rd` and `wr` are its two halves
/// (a TCP socket's, or a TLS session's after the handshake).
pub(super) async fn serve<R, W>(
    ctx: Rc<Ctx>,
    mut rd: R,
    wr: W,
    addr: SocketAddr,
    id: u64,
    kind: Kind,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let outbox = Rc::new(Outbox {
        queued: RefCell::new(Vec::new()),
        ends: RefCell::new(Vec::new()),
        pending: Cell::new(0),
        shard: ctx.stream_queued.clone(),
        wake: Notify::new(),
        closed: Cell::new(false),
        close: Notify::new(),
        kind,
    });
    ctx.tcp_conns.borrow_mut().insert(
        id,
        Conn {
            outbox: outbox.clone(),
        },
    );
    let client = Client {
        transport: Transport::Tcp(id),
        addr,
    };
    // The core decides whether it stays: it closes idle connections and those over its limit.
    ctx.input(Instant::now(), Input::ConnectionOpened { client });
    tokio::select! {
        () = read_loop(&ctx, &mut rd, client) => {}
        () = write_loop(&outbox, wr) => {}
        () = outbox.close.notified() => {}
    }
    ctx.tcp_conns.borrow_mut().remove(&id);
    let transport = client.transport;
    ctx.input(Instant::now(), Input::ConnectionClosed { transport });
    debug!(shard = ctx.index(), %addr, "{}: connection closed", kind.name());
}

/// Reads until the client closes, the stream fails or it is not TURN; hands each frame to
/// the core.
async fn read_loop<R: AsyncRead + Unpin>(ctx: &Rc<Ctx>, rd: &mut R, client: Client) {
    let mut framer = StreamFramer::new();
    loop {
        // Read into the shard's buffer and keep only the bytes: the buffer is borrowed for
        // one poll, never across an await, so every connection can share it.
        let read = poll_fn(|cx| {
            let mut chunk = ctx.read_chunk.borrow_mut();
            let mut buf = ReadBuf::new(&mut chunk[..]);
            match Pin::new(&mut *rd).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) => {
                    framer.push(buf.filled());
                    Poll::Ready(Ok(buf.filled().len()))
                }
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            }
        })
        .await;
        match read {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        loop {
            match framer.next_frame() {
                Ok(Some(data)) => ctx.input(Instant::now(), Input::FromClient { client, data }),
                Ok(None) => break,
                Err(_) => return, // not TURN: close
            }
        }
    }
}

/// Writes whatever is queued each time it wakes; returns when the stream fails.
async fn write_loop<W: AsyncWrite + Unpin>(outbox: &Outbox, mut wr: W) {
    let (mut out, mut ends) = (Vec::new(), Vec::new());
    loop {
        if outbox.queued.borrow().is_empty() {
            outbox.wake.notified().await;
            continue;
        }
        std::mem::swap(&mut *outbox.queued.borrow_mut(), &mut out);
        std::mem::swap(&mut *outbox.ends.borrow_mut(), &mut ends);
        let written = write_batch(&mut wr, &out, &ends, outbox.kind).await;
        outbox.written(out.len());
        if written.is_err() {
            return;
        }
        out.clear();
        ends.clear();
        if out.capacity() > KEEP_CAPACITY {
            out = Vec::new();
            ends = Vec::new();
        }
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
