//! Signing in to the console through the edge's own authorization code flow with PKCE
//! ([`crate::oauth::console::session`]), and signing out.

use wasm_bindgen::JsValue;
use worker::{Context, D1Database, Env, Headers, Request, RequestInit};

use super::{Ctx, bare, forbidden, server_page};
use crate::oauth::config::Config;
use crate::oauth::console::CLIENT_ID;
use crate::oauth::console::session::{self, Pending, SIGNIN_COOKIE};
use crate::oauth::error::OAuthError;
use crate::oauth::https;
use crate::oauth::ids;
use crate::oauth::params::Params;
use crate::worker::http::{Reply, client_address, cookie_value, now};
use crate::worker::{bearer, store, token};

/// No session: seal a fresh sign-in into its cookie and go to the authorization endpoint.
pub(super) fn start(cfg: &Config) -> Result<Reply, Reply> {
    let state = ids::new_opaque("").map_err(|e| server_page(&e))?;
    let verifier = ids::new_opaque("").map_err(|e| server_page(&e))?;
    let pending = Pending::new(state, verifier, now());
    Ok(Reply::RedirectSetting {
        location: pending.authorize_url(&cfg.issuer),
        cookie: session::signin_cookie(&cfg.issuer, &pending.seal(&cfg.signing_key)),
    })
}

/// `GET /console/callback?code=..&state=..`: the code redeemed at the token endpoint's own
/// logic (in this worker, not over HTTP), its access token verified, and a session for a
/// person with the right.
pub(super) async fn callback(
    req: &Request,
    env: &Env,
    ctx: &Context,
    cfg: &Config,
    db: &D1Database,
) -> Result<Reply, Reply> {
    let url = req
        .url()
        .map_err(|_| bare(400, "Bad request", "The URL is not valid."))?;
    let q = Params::from_form(url.query().unwrap_or("").as_bytes())
        .map_err(|e| bare(400, "Bad request", &e.description))?;
    let now = now();
    let cookie = cookie_value(req, &https::cookie_name(&cfg.issuer, SIGNIN_COOKIE));
    let pending = Pending::open(&cfg.signing_key, cookie.as_deref(), q.get("state"), now)
        .ok_or_else(|| {
            bare(
                400,
                "Sign-in expired",
                "This sign-in was not started here, or took too long. Start again.",
            )
        })?;
    if let Some(e) = q.get("error") {
        let message = format!("The sign-in was refused ({e}).");
        return Err(bare(403, "Not signed in", &message));
    }
    let code = q
        .get("code")
        .ok_or_else(|| bare(400, "Bad request", "The callback has no code."))?;
    let access = redeem(req, env, ctx, cfg, code, &pending.verifier).await?;
    let bearer = bearer::active_token(&access, cfg, db, now)
        .await
        .map_err(|e| server_page(&e))?;
    let user_id = match bearer.claims.user_id() {
        Some(u) if bearer.claims.client_id == CLIENT_ID => u.to_string(),
        _ => {
            return Err(bare(
                400,
                "Not signed in",
                "The token is not the console's.",
            ));
        }
    };
    let person = store::first(db, &crate::store::console::person(&user_id))
        .await
        .map_err(|e| server_page(&e))?;
    match person {
        Some(p) if p.disabled_at.is_none() && session::is_admin(&p.rights) => {}
        _ => return Err(forbidden()),
    }
    let value = ids::new_opaque("").map_err(|e| server_page(&e))?;
    let key = ids::lookup_key(&value);
    store::apply(db, &session::start(&key, &user_id, now))
        .await
        .map_err(|e| server_page(&e))?;
    Ok(Reply::RedirectSetting {
        location: "/console/people".into(),
        cookie: session::session_cookie(&cfg.issuer, &value),
    })
}

/// Redeems `code` with the token endpoint's own handler, as the console's public client.
async fn redeem(
    req: &Request,
    env: &Env,
    ctx: &Context,
    cfg: &Config,
    code: &str,
    verifier: &str,
) -> Result<String, Reply> {
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", code)
        .append_pair("redirect_uri", &session::callback_uri(&cfg.issuer))
        .append_pair("client_id", CLIENT_ID)
        .append_pair("code_verifier", verifier)
        .finish();
    let inner = (|| {
        let headers = Headers::new();
        headers.set("content-type", "application/x-www-form-urlencoded")?;
        // The token endpoint's rate limits count the person's address, as for any client.
        headers.set("cf-connecting-ip", &client_address(req))?;
        let mut init = RequestInit::new();
        init.with_method(worker::Method::Post)
            .with_headers(headers)
            .with_body(Some(JsValue::from_str(&body)));
        Request::new_with_init(
            &format!("{}/oauth2/token", cfg.issuer.trim_end_matches('/')),
            &init,
        )
    })()
    .map_err(|_| {
        server_page(&OAuthError::server_error(
            "the token request could not be made",
        ))
    })?;
    match token::handle(inner, env, ctx, false).await {
        Reply::Json(200, v) => v
            .get("access_token")
            .and_then(|t| t.as_str())
            .map(str::to_string)
            .ok_or_else(|| server_page(&OAuthError::server_error("no access token"))),
        Reply::Error(e) => Err(bare(400, "Not signed in", &e.description)),
        _ => Err(server_page(&OAuthError::server_error(
            "the token endpoint answered oddly",
        ))),
    }
}

/// `POST /console/signout`.
pub(super) async fn signout(c: &Ctx) -> Result<Reply, Reply> {
    super::apply(c, &session::end(&c.admin.key, now())).await?;
    Ok(Reply::RedirectSetting {
        location: "/console/signed-out".into(),
        cookie: session::session_cookie_removed(&c.cfg.issuer),
    })
}
