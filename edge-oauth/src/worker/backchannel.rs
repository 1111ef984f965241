//! Sending OpenID Connect Back-Channel Logout tokens ([`crate::oauth::people::backchannel`]
//! decides who gets which): signed here before the answer, posted after it (`waitUntil`), each
//! try bounded by a timeout, retried a few times, never holding the person up.

use std::time::Duration;

use futures_util::future::{Either, join_all, select};
use wasm_bindgen::JsValue;
use worker::{
    AbortController, Context, D1Database, Delay, Fetch, Headers, Method, Request, RequestInit,
    console_error,
};

use super::{crypto, store};
use crate::oauth::config::Config;
use crate::oauth::error::OAuthError;
use crate::oauth::ids;
use crate::oauth::people::backchannel::{self, Retry, TYP};
use crate::oauth::tokens::jwt::Unsigned;
use crate::store::reads;

/// Whose sessions end.
pub enum Ending<'a> {
    /// One session, by its public id.
    Session(&'a str),
    /// Every session of a person.
    Person(&'a str),
}

/// A signed logout token and where it goes.
pub struct Signed {
    client_id: String,
    uri: String,
    token: String,
}

/// Loads the clients to tell (before the sessions are deleted) and signs their logout tokens.
pub async fn prepare(
    db: &D1Database,
    cfg: &Config,
    ending: Ending<'_>,
    now: u64,
) -> Result<Vec<Signed>, OAuthError> {
    let query = match ending {
        Ending::Session(sid) => reads::backchannel_of_session(sid),
        Ending::Person(user_id) => reads::backchannel_of_user(user_id),
    };
    let targets = store::all(db, &query).await?;
    let mut out = Vec::new();
    for d in backchannel::plan(&cfg.issuer, &targets, now, || ids::new_jti().ok()) {
        let Some(key) = cfg.signing_keys.signer(d.alg, now) else {
            continue;
        };
        let unsigned = Unsigned::new(key, TYP, &d.claims);
        let signature = crypto::sign(key, unsigned.input.as_bytes()).await?;
        out.push(Signed {
            client_id: d.claims.aud,
            uri: d.uri,
            token: unsigned.finish(&signature),
        });
    }
    Ok(out)
}

/// Posts the tokens after the response.
pub fn send(ctx: &Context, tokens: Vec<Signed>) {
    if tokens.is_empty() {
        return;
    }
    ctx.wait_until(async move {
        join_all(tokens.into_iter().map(deliver)).await;
    });
}

async fn deliver(s: Signed) {
    let mut last = None;
    for attempt in 0..Retry::ATTEMPTS {
        let wait = Retry::backoff_ms(attempt);
        if wait > 0 {
            Delay::from(Duration::from_millis(wait)).await;
        }
        last = try_once(&s.uri, &s.token).await;
        if Retry::done(last) {
            if !matches!(last, Some(200..=299)) {
                console_error!(
                    "back-channel logout: client {} refused its logout token: HTTP {:?}",
                    s.client_id,
                    last
                );
            }
            return;
        }
    }
    console_error!(
        "back-channel logout: client {} did not answer after {} tries (last: {:?})",
        s.client_id,
        Retry::ATTEMPTS,
        last
    );
}

/// One POST of `logout_token`: its status, or `None` on a network error or timeout.
async fn try_once(uri: &str, token: &str) -> Option<u16> {
    let headers = Headers::new();
    headers
        .set("Content-Type", "application/x-www-form-urlencoded")
        .ok()?;
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("logout_token", token)
        .finish();
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(JsValue::from_str(&body)));
    let req = Request::new_with_init(uri, &init).ok()?;
    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(req);
    let sending = Box::pin(fetch.send_with_signal(&signal));
    let timeout = Delay::from(Duration::from_millis(Retry::TIMEOUT_MS));
    match select(sending, timeout).await {
        Either::Left((Ok(resp), _)) => Some(resp.status_code()),
        Either::Left((Err(_), _)) => None,
        Either::Right(_) => {
            controller.abort();
            None
        }
    }
}
