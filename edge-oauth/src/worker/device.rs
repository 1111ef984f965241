//! RFC 8628: `POST /oauth2/device_authorization` and the verification page `/device`, where
//! a person enters the user code, signs in, and approves or denies.

use worker::{D1Database, Env, Request};

use super::http::{Reply, client_address, csrf_cookie, csrf_cookie_of, header, now, read_body};
use super::signin::page_attempt;
use super::token::{Presented, authenticate_limited};
use super::{env, limits, store};
use crate::oauth::config::Config;
use crate::oauth::error::OAuthError;
use crate::oauth::flows::device;
use crate::oauth::pages::{self, PageStage, PageState};
use crate::oauth::params::{self, MAX_BODY, Params};
use crate::oauth::ratelimit::Action;
use crate::oauth::{html, ids};
use crate::store::reads::PendingRow;

/// The page's path (and its CSRF cookie's).
const PATH: &str = "/device";

/// `POST /oauth2/device_authorization`.
pub async fn authorization(mut req: Request, env: &Env) -> Reply {
    let run = async {
        let cfg = env::config(env)?;
        let now = now();
        let (ct, auth) = (header(&req, "content-type"), header(&req, "authorization"));
        let address = client_address(&req);
        let body = read_body(&mut req, MAX_BODY).await?;
        let params = params::form_body(ct.as_deref(), &body)?;
        limits::spend(env, Action::DeviceAuthorization, &address).await?;
        let db = env::db(env)?;
        let presented = Presented {
            authorization: auth.as_deref(),
            params: &params,
            address: &address,
        };
        let client = authenticate_limited(env, &db, &cfg, presented, "device", now).await?;
        let started = device::start(&client, &params, &cfg, now)?;
        store::apply(&db, &started.writes).await?;
        Ok::<Reply, OAuthError>(Reply::Json(200, started.body))
    };
    run.await.unwrap_or_else(Reply::Error)
}

fn page(status: u16, body: String) -> Reply {
    Reply::page(status, body, html::csp(None))
}

fn message(status: u16, title: &str, id: &str, text: &str) -> Reply {
    page(status, pages::message(title, id, text))
}

fn code_field(prefill: &str) -> String {
    format!(
        "<label for=\"user_code\">Code shown on the device</label><input type=\"text\" id=\"user_code\" name=\"user_code\" value=\"{}\" autocomplete=\"off\" required maxlength=\"12\">",
        html::escape(prefill)
    )
}

fn login_page(state: &str, csrf: &str, prefill: &str, error: Option<&str>) -> String {
    pages::sign_in(
        "Connect a device",
        PATH,
        state,
        csrf,
        &code_field(prefill),
        error,
    )
}

/// `GET /device[?user_code=...]`.
pub async fn get(req: Request, env: &Env) -> Reply {
    let run = async {
        let cfg = env::config(env)?;
        let url = req
            .url()
            .map_err(|_| OAuthError::invalid_request("bad URL"))?;
        let query = Params::from_form(url.query().unwrap_or("").as_bytes())?;
        let prefill = query
            .get("user_code")
            .and_then(device::normalise_user_code)
            .map(|c| device::display_user_code(&c))
            .unwrap_or_default();
        let csrf = ids::new_opaque("")?;
        let state = PageState::new(PageStage::DeviceLogin, &csrf, now()).seal(&cfg.signing_key);
        Ok::<Reply, OAuthError>(Reply::page_with_cookie(
            login_page(&state, &csrf, &prefill, None),
            html::csp(None),
            csrf_cookie(&cfg.issuer, &csrf, PATH),
        ))
    };
    run.await
        .unwrap_or_else(|e| message(e.status, "Something went wrong", "error", &e.description))
}

/// `POST /device`: sign in with the code, then decide.
pub async fn post(mut req: Request, env: &Env) -> Reply {
    let ct = header(&req, "content-type");
    let address = client_address(&req);
    let run = async {
        let cfg = env::config(env)
            .map_err(|e| message(500, "Something went wrong", "error", &e.description))?;
        let cookie = csrf_cookie_of(&req, &cfg.issuer, PATH);
        let bad = |e: OAuthError| message(e.status, "Bad request", "error", &e.description);
        let body = read_body(&mut req, MAX_BODY).await.map_err(bad)?;
        let params = params::form_body(ct.as_deref(), &body).map_err(bad)?;
        let db = env::db(env).map_err(bad)?;
        let now = now();
        let st = PageState::open(
            &cfg.signing_key,
            params.get("form_state"),
            &[PageStage::DeviceLogin, PageStage::DeviceConsent],
            cookie.as_deref(),
            params.get("csrf"),
            now,
        )
        .map_err(|e| {
            message(
                if e == crate::oauth::flows::sealed::FormError::Csrf {
                    403
                } else {
                    400
                },
                "This page expired",
                "error",
                e.message(),
            )
        })?;
        let csrf = cookie.as_deref().unwrap_or_default();
        match (st.stage, params.get("action")) {
            (PageStage::DeviceLogin, Some("login")) => {
                login(env, &cfg, &db, &params, &st, csrf, &address, now).await
            }
            (PageStage::DeviceConsent, Some("decide")) => decide(&db, &params, &st, now).await,
            _ => Err(message(
                400,
                "Bad request",
                "error",
                "The form is not one this server sent.",
            )),
        }
    };
    run.await.unwrap_or_else(|r| r)
}

#[allow(clippy::too_many_arguments)]
async fn login(
    env: &Env,
    cfg: &Config,
    db: &D1Database,
    params: &Params,
    st: &PageState,
    csrf: &str,
    address: &str,
    now: u64,
) -> Result<Reply, Reply> {
    let sealed = params.get("form_state").unwrap_or_default();
    let typed = params.get("user_code").unwrap_or_default();
    let again = |status: u16, msg: &str| page(status, login_page(sealed, csrf, typed, Some(msg)));
    let (Some(username), Some(password)) = (params.get("username"), params.get("password")) else {
        return Ok(again(
            400,
            "Enter the code, your username and your password.",
        ));
    };
    let Some(user) = page_attempt(env, db, cfg, address, username, password).await? else {
        return Ok(again(401, "Wrong username or password."));
    };
    let server = |e: OAuthError| message(e.status, "Something went wrong", "error", &e.description);
    let Some(code) = device::normalise_user_code(typed) else {
        return Ok(again(400, "That code is not valid or has expired."));
    };
    let Some(PendingRow {
        id,
        client_id,
        scope,
    }) = store::device_pending(db, &code, now)
        .await
        .map_err(server)?
    else {
        return Ok(again(400, "That code is not valid or has expired."));
    };
    let client = store::client(db, &client_id).await.map_err(server)?;
    let name = client.map(|c| c.name).unwrap_or_else(|| client_id.clone());
    let mut next = st.signed_in(
        PageStage::DeviceConsent,
        user.id(),
        user.username(),
        now,
        pages::PAGE_TTL,
    );
    next.device = Some((id, client_id));
    let scopes: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
    Ok(page(
        200,
        pages::device_consent(
            &name,
            user.username(),
            &scopes,
            &next.seal(&cfg.signing_key),
            csrf,
        ),
    ))
}

async fn decide(
    db: &D1Database,
    params: &Params,
    st: &PageState,
    now: u64,
) -> Result<Reply, Reply> {
    let (Some((key, client_id)), Some(user_id), Some(auth_time)) =
        (&st.device, &st.user_id, st.auth_time)
    else {
        return Err(message(
            400,
            "Bad request",
            "error",
            "The form is not one this server sent.",
        ));
    };
    // The signed state outlives a deletion of the person: ask D1 again.
    let exists = store::user_exists(db, user_id)
        .await
        .map_err(|e| message(e.status, "Something went wrong", "error", &e.description))?;
    if !exists {
        return Err(message(
            401,
            "Signed out",
            "error",
            "This account no longer exists. Sign in again.",
        ));
    }
    let approve = params.get("decision") == Some("allow");
    let writes = device::decide(key, client_id, user_id, approve, auth_time, now)
        .map_err(|e| message(500, "Something went wrong", "error", &e.description))?;
    let applied = store::apply(db, &writes)
        .await
        .map_err(|e| message(e.status, "Something went wrong", "error", &e.description))?;
    Ok(match (applied, approve) {
        (false, _) => message(
            400,
            "This code can no longer be used",
            "expired",
            "It was already answered or it expired. Start again on the device.",
        ),
        (true, true) => message(
            200,
            "Device connected",
            "approved",
            "You can go back to your device now.",
        ),
        (true, false) => message(
            200,
            "Request denied",
            "denied",
            "The device will not get access.",
        ),
    })
}
