//! One protected endpoint: `GET /hello` answers only to an edge-oauth access token with the
//! required scope (and rights), checked offline against the edge's published keys.
//!
//!     cargo run -p resource-verifier --features blocking --example protected -- \
//!         http://127.0.0.1:8787 127.0.0.1:9000 turn
//!     curl -H "Authorization: Bearer $AT" http://127.0.0.1:9000/hello
//!
//! Arguments: the issuer, the address to listen on, the scope, then any rights.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use resource_verifier::Verifier;
use resource_verifier::blocking::Remote;
use resource_verifier::guard::guard;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [issuer, listen, scope, rights @ ..] = args.as_slice() else {
        eprintln!("usage: protected ISSUER LISTEN_ADDR SCOPE [RIGHT...]");
        std::process::exit(2);
    };
    let rights: Vec<&str> = rights.iter().map(String::as_str).collect();
    let mut remote = Remote::new(
        &format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/')),
        Verifier::new(issuer, issuer),
    );
    let listener = TcpListener::bind(listen)?;
    eprintln!("listening on http://{}/hello", listener.local_addr()?);
    for stream in listener.incoming() {
        // One bad connection (closed early, garbage) must not stop the server.
        if let Err(e) = stream.and_then(|s| answer(s, &mut remote, scope, &rights)) {
            eprintln!("connection: {e}");
        }
    }
    Ok(())
}

fn answer(
    mut stream: std::net::TcpStream,
    remote: &mut Remote,
    scope: &str,
    rights: &[&str],
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut authorization = None;
    for _ in 0..100 {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("authorization")
        {
            authorization = Some(v.trim().to_string());
        }
    }
    let (status, extra, body) = if !request_line.starts_with("GET /hello ") {
        (404, String::new(), r#"{"error":"not_found"}"#.to_string())
    } else {
        match guard("example", authorization.as_deref(), scope, rights, |t| {
            remote.verify(t)
        }) {
            Ok(v) => (
                200,
                String::new(),
                serde_json::json!({ "hello": v.claims().sub, "client_id": v.claims().client_id })
                    .to_string(),
            ),
            Err(r) => (
                r.status,
                format!("WWW-Authenticate: {}\r\n", r.www_authenticate),
                r.body,
            ),
        }
    };
    write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
        body.len()
    )
}
