//! One protected endpoint: `GET /hello` answers only to an edge-oauth access token asked for
//! this resource (RFC 8707: its identifier in `aud`) with the required scope (and rights),
//! checked offline against the edge's published keys; and its protected resource metadata
//! (RFC 9728) at `/.well-known/oauth-protected-resource[/path]`, which every 401 names.
//! DPoP-bound tokens (RFC 9449) are taken as `Authorization: DPoP` with a `DPoP` proof.
//!
//!     cargo run -p resource-verifier --features blocking --example protected -- \
//!         http://127.0.0.1:8787 http://127.0.0.1:9000/hello 127.0.0.1:9000 api
//!     curl -H "Authorization: Bearer $AT" http://127.0.0.1:9000/hello
//!
//! Arguments: the issuer, this resource's identifier, the address to listen on, the scope,
//! then any rights.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use resource_verifier::blocking::Remote;
use resource_verifier::blocking::now;
use resource_verifier::guard::{Challenge, Presented, guard_request};
use resource_verifier::{ReplayCache, ResourceMetadata, Verifier, dpop};

/// What every request is answered with.
struct Server {
    remote: Remote,
    metadata: ResourceMetadata,
    challenge: Challenge,
    scope: String,
    rights: Vec<String>,
    /// `scheme://authority` of the resource: what `htu` names with the request's path.
    origin: String,
    replay: ReplayCache,
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [issuer, resource, listen, scope, rights @ ..] = args.as_slice() else {
        eprintln!("usage: protected ISSUER RESOURCE LISTEN_ADDR SCOPE [RIGHT...]");
        std::process::exit(2);
    };
    let metadata = ResourceMetadata::new(resource, issuer)
        .with_scopes([scope.as_str()])
        .with_dpop(dpop::ALGS, false);
    let Some(metadata_url) = metadata.url() else {
        eprintln!("RESOURCE must be an http(s) URL without query or fragment");
        std::process::exit(2);
    };
    let mut server = Server {
        remote: Remote::new(
            &format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/')),
            Verifier::new(issuer, resource),
        ),
        challenge: Challenge::new("example").with_resource_metadata(&metadata_url),
        metadata,
        scope: scope.clone(),
        rights: rights.to_vec(),
        origin: metadata_url
            .split_once("/.well-known/")
            .map_or_else(String::new, |(o, _)| o.to_string()),
        replay: ReplayCache::new(10_000),
    };
    let listener = TcpListener::bind(listen)?;
    eprintln!("listening on http://{}/hello", listener.local_addr()?);
    for stream in listener.incoming() {
        // One bad connection (closed early, garbage) must not stop the server.
        if let Err(e) = stream.and_then(|s| answer(s, &mut server)) {
            eprintln!("connection: {e}");
        }
    }
    Ok(())
}

fn answer(mut stream: std::net::TcpStream, server: &mut Server) -> std::io::Result<()> {
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut authorization = None;
    let mut proof = None;
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
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("dpop")
        {
            proof = Some(v.trim().to_string());
        }
    }
    let path = request_line.split(' ').nth(1).unwrap_or_default();
    let rights: Vec<&str> = server.rights.iter().map(String::as_str).collect();
    let (status, extra, body) = if !request_line.starts_with("GET ") {
        (404, String::new(), r#"{"error":"not_found"}"#.to_string())
    } else if server.metadata.path().as_deref() == Some(path) {
        (200, String::new(), server.metadata.document().to_string())
    } else if path == "/hello" {
        let remote = &mut server.remote;
        let url = format!("{}{path}", server.origin);
        let presented = Presented {
            authorization: authorization.as_deref(),
            dpop: proof.as_deref(),
            method: "GET",
            url: &url,
        };
        match guard_request(
            &server.challenge,
            &presented,
            &server.scope,
            &rights,
            now(),
            &mut server.replay,
            |t| remote.verify(t),
        ) {
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
    } else {
        (404, String::new(), r#"{"error":"not_found"}"#.to_string())
    };
    write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
        body.len()
    )
}
