//! TURN over TCP (RFC 8656 section 3.1): STUN messages and ChannelData (padded to 4)
//! back to back on a stream; the allocation ends when the connection closes.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::spawn_local;
use tracing::debug;

use super::shard::Ctx;
use relay_proto::framing::StreamFramer;
use relay_proto::{Client, Input, Transport};

/// Most connections one shard holds; more are closed at once (bounded memory under floods).
const MAX_CONNECTIONS: usize = 8192;
/// A connection without an allocation is closed after this long idle (RFC 8656 section 3.1
/// suggests 30 s).
const IDLE_WITHOUT_ALLOCATION: std::time::Duration = std::time::Duration::from_secs(30);

pub(super) async fn accept_loop(ctx: Rc<Ctx>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, addr)) => {
                if ctx.tcp_conns.borrow().len() >= MAX_CONNECTIONS {
                    debug!("tcp: connection limit reached, closing {addr}");
                    continue;
                }
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
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    ctx.tcp_conns.borrow_mut().insert(id, tx);
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
    let mut framer = StreamFramer::new();
    let mut chunk = vec![0u8; 16 * 1024];
    'read: loop {
        let has_allocation = ctx.core.borrow().allocation_of(&client).is_some();
        let read = rd.read(&mut chunk);
        let n = if has_allocation {
            read.await
        } else {
            match tokio::time::timeout(IDLE_WITHOUT_ALLOCATION, read).await {
                Ok(r) => r,
                Err(_) => break,
            }
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
    writer.abort();
    let transport = client.transport;
    ctx.input(Instant::now(), Input::ConnectionClosed { transport });
}
