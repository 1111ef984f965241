//! A stand-in for the edge's relay API on loopback, so the control plane's metrics exist:
//! a token, an empty revocation feed (or a failing one, when told), heartbeats taken, usage
//! refused (it waits in the relay's spool). Stopped when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

pub struct FakeEdge {
    pub addr: SocketAddr,
    /// While true, the revocation feed answers 503.
    pub feed_down: Arc<AtomicBool>,
    /// Revocation feed polls answered (either way).
    pub feed_polls: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeEdge {
    pub fn start() -> FakeEdge {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, feed_down, feed_polls) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
        );
        let thread = {
            let (stop, down, polls) = (stop.clone(), feed_down.clone(), feed_polls.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((s, _)) => answer(s, &down, &polls),
                        Err(_) => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
            })
        };
        FakeEdge {
            addr,
            feed_down,
            feed_polls,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FakeEdge {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one request and answers it; the connection is then closed.
fn answer(s: TcpStream, feed_down: &AtomicBool, feed_polls: &AtomicU64) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut r = BufReader::new(&s);
    let mut line = String::new();
    if r.read_line(&mut line).is_err() {
        return;
    }
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; length];
    let _ = r.read_exact(&mut body);
    let path = line.split_whitespace().nth(1).unwrap_or("");
    let (status, json) = if path == "/oauth2/token" {
        (
            "200 OK",
            r#"{"access_token":"test-token","token_type":"Bearer","expires_in":3600}"#,
        )
    } else if path.starts_with("/relay/revocations") {
        feed_polls.fetch_add(1, Ordering::Relaxed);
        match feed_down.load(Ordering::Relaxed) {
            true => (
                "503 Service Unavailable",
                r#"{"error":"temporarily_unavailable"}"#,
            ),
            false => ("200 OK", r#"{"cursor":0,"revocations":[],"more":false}"#),
        }
    } else if path == "/relay/heartbeat" {
        ("200 OK", "{}")
    } else {
        (
            "503 Service Unavailable",
            r#"{"error":"temporarily_unavailable"}"#,
        )
    };
    let mut w = &s;
    let _ = write!(
        w,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    );
}
