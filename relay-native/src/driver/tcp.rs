//! TURN over TCP (RFC 8656 section 3.1): accepted connections go straight to
//! [`stream::serve`](super::stream::serve), which TLS connections reach after their handshake.

use std::rc::Rc;

use tokio::net::TcpListener;
use tokio::task::spawn_local;

use super::ctx::Ctx;
use super::stream;

pub(super) async fn accept_loop(ctx: Rc<Ctx>, listener: TcpListener) {
    loop {
        let (stream, addr) = stream::accept(&listener, stream::Kind::Tcp).await;
        let id = ctx.conn_id();
        let (rd, wr) = stream.into_split();
        spawn_local(stream::serve(
            ctx.clone(),
            rd,
            wr,
            addr,
            id,
            stream::Kind::Tcp,
        ));
    }
}
