//! `GET /oauth2/authorize` (validate; with a live session and an earlier consent, redirect
//! with a code at once; otherwise show the sign-in or consent form) and
//! `POST /oauth2/authorize` (sign in, which starts a session, then consent unless given before,
//! then redirect with a code).

use worker::{D1Database, Env, Request};

use super::http::{Reply, client_address, csrf_cookie, csrf_cookie_of, header, now, read_body};
use super::signin::page_attempt;
use super::{env, passkey, session, store};
use crate::oauth::clients::client::{ClientRecord, origin_of};
use crate::oauth::config::Config;
use crate::oauth::effects::{AuditEvent, event};
use crate::oauth::error::OAuthError;
use crate::oauth::flows::authorize::{self, FormState, Refusal, Stage};
use crate::oauth::flows::leaving::{self, Leave};
use crate::oauth::flows::sealed::FormError;
use crate::oauth::params::{self, MAX_BODY, Params};
use crate::oauth::people::account;
use crate::oauth::people::passkey::ceremony::AMR_PASSKEY;
use crate::oauth::people::session::{
    self as sessions, ACR_SESSION, ACR_SIGNED_IN, AMR_PASSWORD, Authn, Next,
};
use crate::oauth::{html, ids};
use crate::store::reads::SessionRow;

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
        let now = now();
        let secret = session::secret_of(&req, &cfg.issuer);
        let (live, consented) =
            session::live_with_consent(&db, secret.as_ref(), &request.client_id, now)
                .await
                .map_err(server_page)?;
        let next = sessions::decide(
            &request.prompt,
            live.as_ref(),
            consented.as_deref(),
            &request.scope,
            now,
        );
        let csrf = ids::new_opaque("").map_err(server_page)?;
        let login = FormState::login(request, &csrf, now);
        let with_csrf = |body: String, csp: String| {
            Reply::page_with_cookie(body, csp, csrf_cookie(&cfg.issuer, &csrf, AUTHORIZE_PATH))
        };
        match (next, live) {
            (Next::Refuse(e), _) => {
                let location = authorize::error_redirect(
                    &login.req.redirect_uri,
                    &e,
                    login.req.state.as_deref(),
                    &cfg.issuer,
                );
                Err(refusal_for(Refusal::Redirect(location), client.as_ref()))
            }
            (Next::Code, Some(s)) => {
                let st = from_session(login, &s, now);
                let (code, mut writes) =
                    authorize::issue_code(&st, cfg.code_ttl, now).map_err(server_page)?;
                writes.rows.extend(sessions::seen(&s, now));
                store::apply(&db, &writes).await.map_err(server_page)?;
                Ok(Reply::Redirect(authorize::code_redirect(
                    &st.req.redirect_uri,
                    &code,
                    st.req.state.as_deref(),
                    &cfg.issuer,
                )))
            }
            (Next::Consent, Some(s)) => {
                let st = from_session(login, &s, now);
                let origin = origin_of(&st.req.redirect_uri).map(str::to_string);
                let body = consent_page(&name, &st, &cfg.signing_key, &csrf);
                Ok(with_csrf(body, html::csp(origin.as_deref())))
            }
            _ => {
                let state = login.seal(&cfg.signing_key);
                Ok::<Reply, Reply>(with_csrf(
                    html::sign_in(&name, &state, &csrf, None, cfg.signup),
                    account::csp(None),
                ))
            }
        }
    };
    run.await.unwrap_or_else(|r| r)
}

/// The consent stage of a request answered from the browser's session: the session's person,
/// its sign-in time, and `acr` saying no one signed in for this request.
fn from_session(login: FormState, s: &SessionRow, now: u64) -> FormState {
    login
        .consent(&s.user_id, s.username.as_deref().unwrap_or_default(), now)
        .authenticated(
            s.auth_time,
            Authn {
                sid: Some(s.sid.clone()),
                amr: s.amr.clone(),
                acr: ACR_SESSION.to_string(),
            },
        )
}

/// The consent page for a consent-stage state.
fn consent_page(
    client_name: &str,
    st: &FormState,
    key: &crate::oauth::keys::SigningKey,
    csrf: &str,
) -> String {
    let scopes: Vec<&str> = st.req.scope.split(' ').filter(|s| !s.is_empty()).collect();
    let resources: Vec<&str> = st.req.resources.iter().collect();
    html::consent(
        client_name,
        st.username.as_deref().unwrap_or_default(),
        &scopes,
        &resources,
        &st.seal(key),
        csrf,
    )
}

/// `POST /oauth2/authorize`.
pub async fn post(mut req: Request, env: &Env) -> Reply {
    let content_type = header(&req, "content-type");
    let address = client_address(&req);
    let user_agent = session::user_agent(&req);
    let run = async {
        let cfg = env::config(env).map_err(server_page)?;
        let cookie = csrf_cookie_of(&req, &cfg.issuer, AUTHORIZE_PATH);
        let previous = session::secret_of(&req, &cfg.issuer);
        let body = read_body(&mut req, MAX_BODY)
            .await
            .map_err(|e| page(e.status, "Bad request", &e.description))?;
        let params = params::form_body(content_type.as_deref(), &body)
            .map_err(|e| page(400, "Bad request", &e.description))?;
        let db = env::db(env).map_err(server_page)?;
        match params.get("action") {
            Some("login" | "passkey") => {
                let browser = Browser {
                    address: &address,
                    user_agent: user_agent.as_deref(),
                    previous: previous.as_ref(),
                };
                login(env, &cfg, &db, &params, cookie.as_deref(), &browser).await
            }
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
        Some(c) if c.has_redirect_uri_at(&st.req.redirect_uri, &cfg.issuer) => Ok(c),
        _ => Err(page(
            400,
            "This sign-in request cannot be completed",
            "The application is no longer registered.",
        )),
    }
}

/// Who is signing in, as far as the request says.
struct Browser<'a> {
    address: &'a str,
    user_agent: Option<&'a str>,
    previous: Option<&'a sessions::SessionSecret>,
}

async fn login(
    env: &Env,
    cfg: &Config,
    db: &D1Database,
    params: &Params,
    cookie: Option<&str>,
    browser: &Browser<'_>,
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
            account::csp(None),
        )
    };
    // Who signed in, how, and what that writes (a passkey's counter and its challenge's use).
    let (user_id, username, amr, mut writes) = if params.get("action") == Some("passkey") {
        match passkey::check_login(db, cfg, params, now).await {
            Ok((row, w)) => (
                row.user_id.clone(),
                row.username.clone().unwrap_or_default(),
                AMR_PASSKEY,
                w,
            ),
            Err(passkey::Refused::Server(e)) => return Err(server_page(e)),
            Err(passkey::Refused::Check(e)) => {
                let msg = format!("The passkey was not accepted ({}).", e.as_str());
                return Ok(again(400, &msg));
            }
        }
    } else {
        let (Some(name), Some(password)) = (params.get("username"), params.get("password")) else {
            return Ok(again(400, "Enter your username and password."));
        };
        let Some(user) = page_attempt(env, db, cfg, browser.address, name, password).await? else {
            return Ok(again(401, "Wrong username or password."));
        };
        (
            user.id().to_string(),
            user.username().to_string(),
            AMR_PASSWORD,
            crate::oauth::effects::Writes::none(),
        )
    };
    // A new session at every sign-in (the browser's previous one ends).
    let (secret, row, start) =
        sessions::start(&user_id, amr, browser.user_agent, browser.previous, now)
            .map_err(server_page)?;
    writes.rows.extend(start.rows);
    writes.audit(AuditEvent {
        user_id: Some(user_id.clone()),
        ..AuditEvent::new(now, event::SESSION_STARTED)
    });
    let set_cookie = sessions::set_cookie(&cfg.issuer, &secret);
    let st = st.consent(&user_id, &username, now).authenticated(
        now,
        Authn {
            sid: Some(row.sid),
            amr: amr.to_string(),
            acr: ACR_SIGNED_IN.to_string(),
        },
    );
    let consented = session::consent(db, &user_id, &client.id)
        .await
        .map_err(server_page)?;
    if sessions::consented(&st.req.prompt, consented.as_deref(), &st.req.scope) {
        let (code, more) = authorize::issue_code(&st, cfg.code_ttl, now).map_err(server_page)?;
        writes.rows.extend(more.rows);
        if !store::apply(db, &writes).await.map_err(server_page)? {
            return Ok(again(400, "The passkey answer was already used."));
        }
        return Ok(Reply::RedirectSetting {
            location: authorize::code_redirect(
                &st.req.redirect_uri,
                &code,
                st.req.state.as_deref(),
                &cfg.issuer,
            ),
            cookie: set_cookie,
        });
    }
    if !store::apply(db, &writes).await.map_err(server_page)? {
        return Ok(again(400, "The passkey answer was already used."));
    }
    let redirect_origin = origin_of(&st.req.redirect_uri).map(str::to_string);
    Ok(Reply::page(
        200,
        consent_page(&client.name, &st, &cfg.signing_key, csrf),
        html::csp(redirect_origin.as_deref()),
    )
    .with_cookie(set_cookie))
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
    let (code, mut writes) = authorize::issue_code(&st, cfg.code_ttl, now).map_err(server_page)?;
    if let Some(user_id) = &st.user_id {
        let before = session::consent(db, user_id, &st.req.client_id)
            .await
            .map_err(server_page)?;
        writes.push(sessions::record_consent(
            user_id,
            &st.req.client_id,
            before.as_deref(),
            &st.req.scope,
            now,
        ));
    }
    store::apply(db, &writes).await.map_err(server_page)?;
    Ok(Reply::Redirect(authorize::code_redirect(
        &st.req.redirect_uri,
        &code,
        st.req.state.as_deref(),
        &cfg.issuer,
    )))
}
