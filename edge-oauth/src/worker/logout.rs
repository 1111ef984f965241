//! `GET|POST /oauth2/logout`: OpenID Connect RP-initiated logout
//! ([`crate::oauth::logout`] decides; this loads the client, checks the hint's signature and
//! applies the revocation).

use worker::{Env, Request};

use super::http::{Reply, header, now, read_body};
use super::{crypto, env, store};
use crate::oauth::error::OAuthError;
use crate::oauth::id_token::Hint;
use crate::oauth::jwt::{self, TYP_ID};
use crate::oauth::logout::{self, LogoutRequest};
use crate::oauth::params::{self, MAX_BODY, Params};
use crate::oauth::{html, pages};

fn page(status: u16, title: &str, id: &str, text: &str) -> Reply {
    Reply::page(status, pages::message(title, id, text), html::csp(None))
}

/// Handles a logout request (query on GET, form on POST).
pub async fn handle(mut req: Request, env: &Env, post: bool) -> Reply {
    let run = async {
        let cfg = env::config(env)?;
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
        let db = env::db(env)?;
        let client = match r.client_id(hint.as_ref().ok().and_then(Option::as_ref)) {
            Some(id) => store::client(&db, id).await?,
            None => None,
        };
        let out = logout::decide(&r, hint, client.as_ref(), &cfg.issuer, now())?;
        store::apply(&db, &out.writes).await?;
        Ok::<Reply, OAuthError>(match out.redirect {
            Some(location) => Reply::Redirect(location),
            None => page(
                200,
                "Signed out",
                "signed-out",
                "You are signed out of the application.",
            ),
        })
    };
    run.await
        .unwrap_or_else(|e| page(e.status, "Sign-out failed", "error", &e.description))
}
