//! Client records by id: the clients table, or, for a `client_id` that is a URL, its client ID
//! metadata document (the rules in [`crate::oauth::clients::metadata_document`]), fetched here
//! and kept in the isolate's client cache for as long as its `Cache-Control` allows.

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::future::{Either, select};
use worker::{
    D1Database, Delay, Fetch, Headers, Method, Request, RequestInit, RequestRedirect, console_log,
};

use super::{env, store};
use crate::oauth::clients::client::ClientRecord;
use crate::oauth::clients::metadata_document::{self as document, Mode};
use crate::oauth::config::Config;
use crate::oauth::error::OAuthError;

/// The client `id`, or `None` when there is none (an unknown id; a document that cannot be
/// fetched or is not acceptable, logged with the reason).
pub async fn client(
    db: &D1Database,
    cfg: &Config,
    id: &str,
    now: u64,
) -> Result<Option<ClientRecord>, OAuthError> {
    if !document::is_document_id(id) {
        return store::client(db, id).await;
    }
    resolve(cfg, id, now).await
}

/// [`client`] through the isolate's cache for table clients too (the token endpoint).
pub async fn client_cached(
    db: &D1Database,
    cfg: &Config,
    id: &str,
    now: u64,
) -> Result<Option<ClientRecord>, OAuthError> {
    if !document::is_document_id(id) {
        return store::client_cached(db, id, now, cfg.client_cache_ttl).await;
    }
    resolve(cfg, id, now).await
}

async fn resolve(cfg: &Config, id: &str, now: u64) -> Result<Option<ClientRecord>, OAuthError> {
    if cfg.client_metadata == Mode::Off {
        return Ok(None);
    }
    if let Some(r) = env::with_clients(|c| c.get(id, now)) {
        return Ok(Some(r));
    }
    match fetch(cfg, id, now).await {
        Ok((record, ttl)) => {
            env::with_clients(|c| c.put(&record, now, ttl));
            Ok(Some(record))
        }
        Err(e) => {
            console_log!("client metadata document refused: {}", e.description);
            Ok(None)
        }
    }
}

async fn fetch(cfg: &Config, id: &str, now: u64) -> Result<(ClientRecord, u32), OAuthError> {
    document::check_url(id, cfg.client_metadata)?;
    let failed = || OAuthError::invalid_client("the client metadata document could not be fetched");
    let headers = Headers::new();
    headers
        .set("Accept", "application/json")
        .map_err(|_| failed())?;
    let mut init = RequestInit::new();
    init.with_method(Method::Get)
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual);
    let request = Request::new_with_init(id, &init).map_err(|_| failed())?;
    let fetcher = Fetch::Request(request);
    let send = fetcher.send();
    let timeout = Delay::from(Duration::from_millis(document::TIMEOUT_MS));
    futures_util::pin_mut!(send, timeout);
    let (mut response, timeout) = match select(send, timeout).await {
        Either::Left((Ok(r), rest)) => (r, rest),
        _ => return Err(failed()),
    };
    if response.status_code() != 200 {
        return Err(failed());
    }
    let too_large = || OAuthError::invalid_client("the client metadata document is too large");
    let declared = response
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|l| l.parse::<usize>().ok());
    if declared.is_some_and(|l| l > document::MAX_BYTES) {
        return Err(too_large());
    }
    let cache_control = response.headers().get("cache-control").ok().flatten();
    // The body as it streams, within the same deadline and never past MAX_BYTES: a document
    // served chunked (no Content-Length), huge or slow holds neither memory nor the request.
    let mut stream = response.stream().map_err(|_| failed())?;
    let read = async {
        let mut body = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| failed())?;
            if body.len() + chunk.len() > document::MAX_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    futures_util::pin_mut!(read);
    let body = match select(read, timeout).await {
        Either::Left((body, _)) => body?,
        Either::Right(_) => return Err(failed()),
    };
    let record = document::record(id, &body, &cfg.registration_scopes, now)?;
    Ok((record, document::ttl(cache_control.as_deref())))
}
