//! One stream connection (RFC 8656 section 3.1), TCP or TLS alike: its bytes go through the
//! core's [`StreamFramer`] into the core, what the core sends it goes through a bounded
//! [`Outbox`], and the core says when to close it (idle without an allocation, or over its
//! limit); the allocation ends when the connection closes. Only the byte stream differs
//! between TCP and TLS, so this is the only place that reads and writes one.
//!
//! An idle connection holds almost no memory: reads go into the shard's one read buffer,
//! and a connection keeps only the bytes of a frame that has not arrived whole.

use std::future::poll_fn;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tracing::debug;

use super::ctx::Ctx;
use super::outbox::Outbox;
pub(super) use super::outbox::{Conn, Kind};
use relay_proto::framing::StreamFramer;
use relay_proto::{Client, Input, Transport};

/// The shard's read buffer: every connection reads into it.
pub(super) const READ_CHUNK: usize = 16 * 1024;

/// How long accepting pauses after an error (a reset before accept, out of descriptors).
const ACCEPT_PAUSE: Duration = Duration::from_millis(20);

/// How long a closing connection may take to say goodbye (TLS close_notify, TCP FIN).
const GOODBYE: Duration = Duration::from_secs(1);

/// The next connection on `listener`; errors pause the loop briefly instead of spinning.
pub(super) async fn accept(listener: &TcpListener, kind: Kind) -> (TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok((stream, addr)) => {
                let _ = stream.set_nodelay(true);
                return (stream, addr);
            }
            Err(e) => {
                debug!("{} accept: {e}", kind.name());
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
    mut wr: W,
    addr: SocketAddr,
    id: u64,
    kind: Kind,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let outbox = Rc::new(Outbox::new(kind, ctx.stream_queued.clone()));
    ctx.tcp_conns.borrow_mut().insert(
        id,
        Conn {
            outbox: outbox.clone(),
            kind,
        },
    );
    ctx.counts.borrow_mut().connection_opened(kind.link());
    let client = Client {
        transport: Transport::Tcp(id),
        addr,
    };
    // The core decides whether it stays: it closes idle connections and those over its limit.
    ctx.input(Instant::now(), Input::ConnectionOpened { client });
    let writable = tokio::select! {
        () = read_loop(&ctx, &mut rd, client) => true,
        ok = outbox.write_loop(&mut wr) => ok,
        () = outbox.closed() => true,
    };
    ctx.tcp_conns.borrow_mut().remove(&id);
    ctx.counts.borrow_mut().connection_closed(kind.link());
    let transport = client.transport;
    ctx.input(Instant::now(), Input::ConnectionClosed { transport });
    if writable {
        let _ = tokio::time::timeout(GOODBYE, wr.shutdown()).await;
    }
    debug!(
        shard = ctx.index(),
        %addr,
        dropped = outbox.dropped(),
        "{}: connection closed",
        kind.name()
    );
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
