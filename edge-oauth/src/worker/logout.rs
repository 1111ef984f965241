//! `GET|POST /oauth2/logout`: OpenID Connect RP-initiated logout
//! ([`crate::oauth::flows::logout`] decides; this loads the client, checks the hint's signature and
//! applies the revocation). An expired hint gets the confirmation page
//! ([`crate::oauth::flows::logout_confirm`]); a self-registered app's return address gets the
//! interstitial ([`crate::oauth::flows::leaving`]).

use worker::{Context, Env, Request};

use super::backchannel::{self, Ending};
use super::http::{Reply, csrf_cookie, csrf_cookie_of, header, now, read_body};
use super::{crypto, env, session, store};
use crate::oauth::clients::client::origin_of;
use crate::oauth::error::OAuthError;
use crate::oauth::flows::leaving::{self, Leave};
use crate::oauth::flows::logout::{self, LogoutRequest};
use crate::oauth::flows::logout_confirm::{self, PATH};
use crate::oauth::params::{self, MAX_BODY, Params};
use crate::oauth::people::session as sessions;
use crate::oauth::tokens::id_token::Hint;
use crate::oauth::tokens::jwt::{self, TYP_ID};
use crate::oauth::{html, ids, pages};

fn page(status: u16, title: &str, id: &str, text: &str) -> Reply {
    Reply::page(status, pages::message(title, id, text), html::csp(None))
}

/// Handles a logout request (query on GET, form on POST).
pub async fn handle(mut req: Request, env: &Env, ctx: &Context, post: bool) -> Reply {
    let run = async {
        let cfg = env::config(env)?;
        let cookie = csrf_cookie_of(&req, &cfg.issuer, PATH);
        let browser_session = session::secret_of(&req, &cfg.issuer);
        let params = if post {
            let ct = header(&req, "content-type");
            let body = read_body(&mut req, MAX_BODY).await?;
            params::form_body(ct.as_deref(), &body)?
        } else {
            let url = req
                .url()
                .map_err(|_| OAuthError::invalid_request("bad URL"))?;
            Params::from_form(url.query().unwrap_or("").as_bytes())?
        };
        let r = LogoutRequest::from_params(&params);
        let hint = match &r.id_token_hint {
            None => Ok(None),
            Some(token) => match jwt::parse(token, TYP_ID) {
                Err(_) => Err(OAuthError::invalid_request(
                    "id_token_hint is not an ID token of this server",
                )),
                Ok(parsed) => match crypto::verify(&cfg.signing_keys, &parsed).await? {
                    Some(proof) => parsed
                        .claims::<Hint>(proof)
                        .map(Some)
                        .map_err(|_| OAuthError::invalid_request("id_token_hint is malformed")),
                    None => Err(OAuthError::invalid_request(
                        "id_token_hint is not signed by this server",
                    )),
                },
            },
        };
        let signed_out = hint
            .as_ref()
            .ok()
            .and_then(Option::as_ref)
            .map(|h| h.sub.clone());
        let db = env::db(env)?;
        let client = match r.client_id(hint.as_ref().ok().and_then(Option::as_ref)) {
            Some(id) => store::client(&db, id).await?,
            None => None,
        };
        let confirmed = post && logout_confirm::confirmed(&params, cookie.as_deref());
        let out = logout::decide(&r, hint, client.as_ref(), &cfg.issuer, now(), confirmed)?;
        if out.confirm {
            // The form posts here and the answer may redirect to the app: form-action must
            // allow the app's origin too.
            let csrf = ids::new_opaque("")?;
            let name = client.as_ref().map(|c| c.name.as_str()).unwrap_or_default();
            return Ok(Reply::page_with_cookie(
                logout_confirm::page_for(&r, name, &csrf),
                html::csp(out.redirect.as_deref().and_then(origin_of)),
                csrf_cookie(&cfg.issuer, &csrf, PATH),
            ));
        }
        let mut writes = out.writes;
        // The browser's session ends with the app's, when it is the same person's.
        let now = now();
        let live = session::live(&db, browser_session.as_ref(), now).await?;
        let ended = sessions::end_at_logout(live.as_ref(), signed_out.as_deref(), now);
        // The apps that got tokens in it are told (OpenID Connect Back-Channel Logout).
        let mut tokens = Vec::new();
        if let (Some(end), Some(s)) = (&ended, &live) {
            writes.rows.extend(end.rows.iter().cloned());
            tokens = backchannel::prepare(&db, &cfg, Ending::Session(&s.sid), now).await?;
        }
        store::apply(&db, &writes).await?;
        backchannel::send(ctx, tokens);
        let reply = match (out.redirect, client.as_ref()) {
            (Some(location), Some(c)) => match leaving::leave(
                location,
                c,
                "Signed out",
                "You are signed out of the application.",
            ) {
                Leave::Redirect(l) => Reply::Redirect(l),
                Leave::Page(body) => Reply::page(200, body, html::csp(None)),
            },
            (Some(location), None) => Reply::Redirect(location),
            (None, _) => page(
                200,
                "Signed out",
                "signed-out",
                "You are signed out of the application.",
            ),
        };
        Ok::<Reply, OAuthError>(match ended {
            Some(_) => reply.with_cookie(sessions::clear_cookie(&cfg.issuer)),
            None => reply,
        })
    };
    run.await
        .unwrap_or_else(|e| page(e.status, "Sign-out failed", "error", &e.description))
}
