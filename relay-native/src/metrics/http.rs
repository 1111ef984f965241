//! The operator's HTTP endpoints (`--metrics ADDR:PORT`), on the operator thread's runtime,
//! never on a shard:
//!
//! - `GET /metrics`: Prometheus text ([`super::exposition`]); 503 if a shard does not answer
//!   in time (a partial scrape would make counters appear to go backwards).
//! - `GET /healthz`: 200 while the process answers (liveness).
//! - `GET /readyz`: 200 while the listeners serve and the relay is not draining, else 503
//!   with the reason (readiness: take it out of rotation).
//! - `POST /drain`: starts a drain (as SIGUSR1 does); only from a loopback address, since
//!   whoever can reach a metrics port should not be able to take a relay out of service.
//!
//! The listener takes at most [`MAX_CONNECTIONS`] connections at once, each must send its
//! request head within [`HEAD_TIMEOUT`] and is closed after [`CONNECTION_TIMEOUT`], so slow
//! or many clients cannot hold the operator thread's memory.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, Semaphore};
use tracing::{debug, info, warn};

use super::exposition;
use crate::driver::Handle;

/// Connections served at once; more wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 32;
/// How long a client has to send its request head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one connection may last (keep-alive included).
pub const CONNECTION_TIMEOUT: Duration = Duration::from_secs(60);

/// Binds the metrics listener.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves the endpoints on `listener` until the runtime stops.
pub async fn serve(listener: TcpListener, handle: Handle) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    // One scrape at a time: each asks every shard for a snapshot.
    let scrape = Arc::new(Mutex::new(()));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                debug!(target: "metrics", "accept: {e}");
                continue;
            }
        };
        let (handle, scrape) = (handle.clone(), scrape.clone());
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let (handle, scrape) = (handle.clone(), scrape.clone());
                async move { Ok::<_, Infallible>(route(&handle, &scrape, peer, req).await) }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEAD_TIMEOUT)
                .max_buf_size(16 * 1024)
                .serve_connection(TokioIo::new(stream), service);
            if let Ok(Err(e)) = tokio::time::timeout(CONNECTION_TIMEOUT, conn).await {
                debug!(target: "metrics", "connection from {peer}: {e}");
            }
            drop(permit);
        });
    }
}

type Reply = Response<Full<Bytes>>;

async fn route(
    handle: &Handle,
    scrape: &Mutex<()>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Reply {
    let get = |m: &Method| *m == Method::GET || *m == Method::HEAD;
    match (req.uri().path(), req.method()) {
        ("/metrics", m) if get(m) => metrics(handle, scrape).await,
        ("/healthz", m) if get(m) => text(StatusCode::OK, "ok\n"),
        ("/readyz", m) if get(m) => ready(handle),
        ("/drain", &Method::POST) => drain(handle, peer),
        ("/metrics" | "/healthz" | "/readyz", _) => not_allowed("GET, HEAD"),
        ("/drain", _) => not_allowed("POST"),
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

async fn metrics(handle: &Handle, scrape: &Mutex<()>) -> Reply {
    let _one = scrape.lock().await;
    let snapshot = match handle.snapshot().await {
        Ok(s) => s,
        Err(e) => {
            warn!(target: "metrics", "scrape failed: {e}");
            return text(StatusCode::SERVICE_UNAVAILABLE, &format!("{e}\n"));
        }
    };
    match exposition::render(&snapshot) {
        Ok(body) => {
            let mut r = Response::new(Full::new(Bytes::from(body)));
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static(exposition::CONTENT_TYPE),
            );
            r
        }
        Err(e) => {
            warn!(target: "metrics", "{e}");
            text(StatusCode::INTERNAL_SERVER_ERROR, "cannot render metrics\n")
        }
    }
}

fn ready(handle: &Handle) -> Reply {
    if handle.is_draining() {
        text(StatusCode::SERVICE_UNAVAILABLE, "draining\n")
    } else if !handle.is_serving() {
        text(StatusCode::SERVICE_UNAVAILABLE, "not serving\n")
    } else {
        text(StatusCode::OK, "ready\n")
    }
}

fn drain(handle: &Handle, peer: SocketAddr) -> Reply {
    if !peer.ip().to_canonical().is_loopback() {
        return text(
            StatusCode::FORBIDDEN,
            "POST /drain is answered on loopback only\n",
        );
    }
    if handle.drain() {
        info!(target: "drain", client = %peer, "POST /drain: draining");
        text(StatusCode::ACCEPTED, "draining\n")
    } else {
        text(StatusCode::OK, "already draining\n")
    }
}

fn not_allowed(allow: &'static str) -> Reply {
    let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    r.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    r
}

fn text(status: StatusCode, body: &str) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> SocketAddr {
        s.parse().unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn only_loopback_may_drain() {
        let handle = Handle::new();
        assert_eq!(drain(&handle, at("192.0.2.7:4000")).status(), 403);
        assert_eq!(drain(&handle, at("[2001:db8::7]:4000")).status(), 403);
        assert!(!handle.is_draining());
        assert_eq!(drain(&handle, at("[::ffff:127.0.0.1]:4000")).status(), 202);
        assert!(handle.is_draining());
        assert_eq!(drain(&handle, at("[::1]:4000")).status(), 200);
    }

    #[test]
    fn ready_only_while_serving_and_not_draining() {
        let handle = Handle::new();
        assert_eq!(ready(&handle).status(), 503, "not serving yet");
        handle.set_serving(true);
        assert_eq!(ready(&handle).status(), 200);
        handle.drain();
        assert_eq!(ready(&handle).status(), 503);
    }
}
