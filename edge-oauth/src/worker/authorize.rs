//! `GET /oauth2/authorize` (validate, show the sign-in form) and `POST /oauth2/authorize`
//! (sign in, then consent, then redirect with a code).

use worker::{D1Database, Env, Request};

use super::http::{Reply, client_address, csrf_cookie, csrf_cookie_of, header, now, read_body};
use super::signin::page_attempt;
use super::{env, store};
use crate::oauth::authorize::{self, FormError, FormState, Refusal, Stage};
use crate::oauth::client::{ClientRecord, origin_of};
use crate::oauth::config::Config;
use crate::oauth::error::OAuthError;
use crate::oauth::leaving::{self, Leave};
use crate::oauth::params::{self, MAX_BODY, Params};
use crate::oauth::{html, ids};

fn page(status: u16, title: &str, message: &str) -> Reply {
    Reply::page(status, html::error(title, message), html::csp(None))
}

fn refusal(r: Refusal) -> Reply {
    match r {
        Refusal::Page(e) => page(
            e.status,
            "This sign-in request cannot be completed",
            &e.description,
        ),
        Refusal::Redirect(location) => Reply::Redirect(location),
    }
}

/// A refusal of `client`'s request: a self-registered app's error redirect goes through the
/// interstitial page ([`leaving`]).
fn refusal_for(r: Refusal, client: Option<&ClientRecord>) -> Reply {
    match (r, client) {
        (Refusal::Redirect(location), Some(c)) => {
            match leaving::leave(
                location,
                c,
                "This sign-in request cannot be completed",
                "The app's sign-in request was refused; the link below tells the app why.",
            ) {
                Leave::Redirect(l) => Reply::Redirect(l),
                Leave::Page(body) => Reply::page(400, body, html::csp(None)),
            }
        }
        (r, _) => refusal(r),
    }
}

fn server_page(e: OAuthError) -> Reply {
    page(e.status, "Something went wrong", &e.description)
}

/// Where the authorization endpoint's CSRF cookie applies.
const AUTHORIZE_PATH: &str = "/oauth2/authorize";

/// `GET /oauth2/authorize`.
pub async fn get(req: Request, env: &Env) -> Reply {
    let run = async {
        let cfg = env::config(env).map_err(server_page)?;
        let url = req
            .url()
            .map_err(|_| page(400, "Bad request", "The URL is not valid."))?;
        let query = url.query().unwrap_or("");
        let params = Params::from_form(query.as_bytes()).map_err(|e| refusal(Refusal::Page(e)))?;
        let client_id = authorize::client_id(&params).map_err(refusal)?;
        let db = env::db(env).map_err(server_page)?;
        let client = super::client_metadata::client(&db, &cfg, client_id, now())
            .await
            .map_err(server_page)?;
        let request = authorize::validate(&params, client.as_ref(), &cfg.issuer)
            .map_err(|r| refusal_for(r, client.as_ref()))?;
        let name = client.as_ref().map(|c| c.name.clone()).unwrap_or_default();
        let csrf = ids::new_opaque("").map_err(server_page)?;
        let state = FormState::login(request, &csrf, now()).seal(&cfg.signing_key);
        Ok::<Reply, Reply>(Reply::page_with_cookie(
            html::sign_in(&name, &state, &csrf, None, cfg.signup),
            html::csp(None),
            csrf_cookie(&cfg.issuer, &csrf, AUTHORIZE_PATH),
        ))
    };
    run.await.unwrap_or_else(|r| r)
}

/// `POST /oauth2/authorize`.
pub async fn post(mut req: Request, env: &Env) -> Reply {
    let content_type = header(&req, "content-type");
    let address = client_address(&req);
    let run = async {
        let cfg = env::config(env).map_err(server_page)?;
        let cookie = csrf_cookie_of(&req, &cfg.issuer, AUTHORIZE_PATH);
        let body = read_body(&mut req, MAX_BODY)
            .await
            .map_err(|e| page(e.status, "Bad request", &e.description))?;
        let params = params::form_body(content_type.as_deref(), &body)
            .map_err(|e| page(400, "Bad request", &e.description))?;
        let db = env::db(env).map_err(server_page)?;
        match params.get("action") {
            Some("login") => login(env, &cfg, &db, &params, cookie.as_deref(), &address).await,
            Some("consent") => consent(&cfg, &db, &params, cookie.as_deref()).await,
            _ => Err(page(
                400,
                "Bad request",
                "The form is not one this server sent.",
            )),
        }
    };
    run.await.unwrap_or_else(|r| r)
}

fn form_error(e: FormError) -> Reply {
    page(
        if e == FormError::Csrf { 403 } else { 400 },
        "This sign-in request cannot be completed",
        e.message(),
    )
}

/// The client of a form's request, still registered with the same redirect URI.
async fn client_of(db: &D1Database, cfg: &Config, st: &FormState) -> Result<ClientRecord, Reply> {
    match super::client_metadata::client(db, cfg, &st.req.client_id, now())
        .await
        .map_err(server_page)?
    {
        Some(c) if c.has_redirect_uri(&st.req.redirect_uri) => Ok(c),
        _ => Err(page(
            400,
            "This sign-in request cannot be completed",
            "The application is no longer registered.",
        )),
    }
}

async fn login(
    env: &Env,
    cfg: &Config,
    db: &D1Database,
    params: &Params,
    cookie: Option<&str>,
    address: &str,
) -> Result<Reply, Reply> {
    let now = now();
    let sealed = params.get("form_state");
    let st = FormState::open(
        &cfg.signing_key,
        sealed,
        Stage::Login,
        cookie,
        params.get("csrf"),
        now,
    )
    .map_err(form_error)?;
    let client = client_of(db, cfg, &st).await?;
    let csrf = cookie.unwrap_or_default();
    let again = |status: u16, msg: &str| {
        Reply::page(
            status,
            html::sign_in(
                &client.name,
                sealed.unwrap_or_default(),
                csrf,
                Some(msg),
                cfg.signup,
            ),
            html::csp(None),
        )
    };
    let (Some(username), Some(password)) = (params.get("username"), params.get("password")) else {
        return Ok(again(400, "Enter your username and password."));
    };
    let Some(user) = page_attempt(env, db, cfg, address, username, password).await? else {
        return Ok(again(401, "Wrong username or password."));
    };
    let scopes: Vec<String> = st
        .req
        .scope
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let redirect_origin = origin_of(&st.req.redirect_uri).map(str::to_string);
    let resources: Vec<String> = st.req.resources.iter().map(str::to_string).collect();
    let next = st
        .consent(user.id(), user.username(), now)
        .seal(&cfg.signing_key);
    let scope_refs: Vec<&str> = scopes.iter().map(String::as_str).collect();
    let resources: Vec<&str> = resources.iter().map(String::as_str).collect();
    Ok(Reply::page(
        200,
        html::consent(
            &client.name,
            user.username(),
            &scope_refs,
            &resources,
            &next,
            csrf,
        ),
        html::csp(redirect_origin.as_deref()),
    ))
}

async fn consent(
    cfg: &Config,
    db: &D1Database,
    params: &Params,
    cookie: Option<&str>,
) -> Result<Reply, Reply> {
    let now = now();
    let st = FormState::open(
        &cfg.signing_key,
        params.get("form_state"),
        Stage::Consent,
        cookie,
        params.get("csrf"),
        now,
    )
    .map_err(form_error)?;
    client_of(db, cfg, &st).await?;
    if params.get("decision") != Some("allow") {
        let denied = OAuthError::new(
            crate::oauth::ErrorCode::AccessDenied,
            "the user denied the request",
        );
        return Ok(Reply::Redirect(authorize::error_redirect(
            &st.req.redirect_uri,
            &denied,
            st.req.state.as_deref(),
            &cfg.issuer,
        )));
    }
    let (code, writes) = authorize::issue_code(&st, cfg.code_ttl, now).map_err(server_page)?;
    store::apply(db, &writes).await.map_err(server_page)?;
    Ok(Reply::Redirect(authorize::code_redirect(
        &st.req.redirect_uri,
        &code,
        st.req.state.as_deref(),
        &cfg.issuer,
    )))
}
