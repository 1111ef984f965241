//! TURN over TCP (RFC 8656 section 3.1): each connection's bytes go through the core's
//! [`StreamFramer`] into the core, and the core says when to close one (idle without an
//! allocation, or over its limit); the allocation ends when the connection closes.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};
use tokio::task::spawn_local;
use tracing::debug;

use super::counters::Link;
use super::shard::Ctx;
use relay_proto::framing::StreamFramer;
use relay_proto::{Client, Input, Transport};

/// Messages queued for one connection's writer; a client that does not read loses what
/// comes beyond them (whole messages, so the stream stays well framed) rather than growing
/// the relay's memory.
const WRITE_QUEUE: usize = 256;

/// One connection as the shard sees it: its writer's queue, and a way to close it.
pub(super) struct Conn {
    tx: mpsc::Sender<Vec<u8>>,
    close: Rc<Notify>,
}

impl Conn {
    /// Queues a message for the client, or drops it when the client is not reading.
    pub(super) fn send(&self, data: &[u8]) {
        if self.tx.try_send(data.to_vec()).is_err() {
            debug!("tcp: a client is not reading; a message to it was dropped");
        }
    }

    /// Makes the connection's task stop reading and close.
    pub(super) fn close(&self) {
        self.close.notify_one();
    }
}

pub(super) async fn accept_loop(ctx: Rc<Ctx>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, addr)) => {
                let _ = stream.set_nodelay(true);
                let id = ctx.next_conn.get();
                ctx.next_conn.set(id + 1);
                spawn_local(connection(ctx.clone(), stream, addr, id));
            }
            Err(e) => debug!("tcp accept: {e}"),
        }
    }
}

async fn connection(ctx: Rc<Ctx>, stream: TcpStream, addr: SocketAddr, id: u64) {
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(WRITE_QUEUE);
    let close = Rc::new(Notify::new());
    let conn = Conn {
        tx,
        close: close.clone(),
    };
    ctx.tcp_conns.borrow_mut().insert(id, conn);
    ctx.counts.borrow_mut().connection_opened(Link::Tcp);
    let writer = spawn_local(async move {
        while let Some(bytes) = rx.recv().await {
            if wr.write_all(&bytes).await.is_err() {
                break;
            }
        }
    });
    let client = Client {
        transport: Transport::Tcp(id),
        addr,
    };
    // The core decides whether it stays: it closes idle connections and those over its limit.
    ctx.input(Instant::now(), Input::ConnectionOpened { client });
    let mut framer = StreamFramer::new();
    let mut chunk = vec![0u8; 16 * 1024];
    'read: loop {
        let n = tokio::select! {
            r = rd.read(&mut chunk) => r,
            () = close.notified() => break,
        };
        let n = match n {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        framer.push(chunk.get(..n).unwrap_or_default());
        loop {
            match framer.next_frame() {
                Ok(Some(data)) => ctx.input(Instant::now(), Input::FromClient { client, data }),
                Ok(None) => break,
                Err(_) => break 'read, // not TURN: close
            }
        }
    }
    ctx.tcp_conns.borrow_mut().remove(&id);
    ctx.counts.borrow_mut().connection_closed(Link::Tcp);
    writer.abort();
    let transport = client.transport;
    ctx.input(Instant::now(), Input::ConnectionClosed { transport });
}
