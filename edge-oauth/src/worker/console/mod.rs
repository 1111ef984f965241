//! The operator console (`/console`, [`crate::oauth::console`]): the sign-in through the
//! edge's own code flow, the session check on every request, the CSRF check on every post,
//! and the views.

mod apps;
mod audit;
mod people;
mod relays;
mod signin;
mod usage;

use worker::{Context, D1Database, Env, Request};

use super::http::{Reply, cookie_value, header, now, read_body};
use super::{env, store};
use crate::oauth::config::Config;
use crate::oauth::console::flash;
use crate::oauth::console::layout::{self, Notice};
use crate::oauth::console::session::{self, Admin, Refusal, SESSION_COOKIE};
use crate::oauth::error::OAuthError;
use crate::oauth::https;
use crate::oauth::ids;
use crate::oauth::params::{self, MAX_BODY, Params};
use crate::oauth::routes::Method;

/// What every view gets: the configuration, D1, the person acting and their CSRF token.
pub(super) struct Ctx {
    env: Env,
    cfg: std::rc::Rc<Config>,
    db: D1Database,
    admin: Admin,
    csrf: String,
}

impl Ctx {
    /// A page of `view` with the chrome.
    fn page(&self, status: u16, view: &str, notice: Option<&Notice>, body: &str) -> Reply {
        Reply::page(
            status,
            layout::page(view, &self.admin.username, &self.csrf, notice, body),
            layout::csp(),
        )
    }
}

/// A page without the chrome.
pub(super) fn bare(status: u16, title: &str, message: &str) -> Reply {
    Reply::page(
        status,
        layout::bare(title, message, Some(("/console", "Back to the console"))),
        layout::csp(),
    )
}

fn server_page(e: &OAuthError) -> Reply {
    bare(e.status, "Something went wrong", &e.description)
}

/// Routes `/console` and `/console/{view}`.
pub async fn handle(
    mut req: Request,
    env: &Env,
    ctx: &Context,
    method: Method,
    view: &str,
) -> Reply {
    let run = async {
        let cfg = env::config(env).map_err(|e| server_page(&e))?;
        let db = env::db(env).map_err(|e| server_page(&e))?;
        match (view, method) {
            ("callback", Method::Get) => return signin::callback(&req, env, ctx, &cfg, &db).await,
            ("callback", _) => return Err(bare(405, "Not allowed", "The callback takes GET.")),
            ("signed-out", _) => {
                return Ok(Reply::page(
                    200,
                    layout::bare(
                        "Signed out",
                        "You signed out of the console.",
                        Some(("/console", "Sign in again")),
                    ),
                    layout::csp(),
                ));
            }
            _ => {}
        }
        let cookie = cookie_value(&req, &https::cookie_name(&cfg.issuer, SESSION_COOKIE));
        let admin = match admitted(&db, cookie.as_deref()).await? {
            Ok(a) => a,
            Err(Refusal::SignIn) if method == Method::Get => return signin::start(&cfg),
            Err(Refusal::SignIn) => {
                return Err(bare(
                    401,
                    "Signed out",
                    "Your console session ended. Sign in again.",
                ));
            }
            Err(Refusal::Forbidden) => return Err(forbidden()),
        };
        let csrf = session::csrf_token(&cfg.signing_key, &admin.key);
        let c = Ctx {
            env: env.clone(),
            cfg,
            db,
            admin,
            csrf,
        };
        if method == Method::Post {
            let form = posted(&mut req, &c).await?;
            return match view {
                "signout" => signin::signout(&c).await,
                "people" => people::post(env, &c, &form).await,
                "apps" => apps::post(&c, &form).await,
                "relays" => relays::post(&c, &form).await,
                _ => Err(bare(404, "Not found", "No such console page.")),
            };
        }
        let query = req
            .url()
            .ok()
            .and_then(|u| u.query().map(str::to_string))
            .unwrap_or_default();
        let q = Params::from_form(query.as_bytes()).map_err(|e| server_page(&e))?;
        // The notice of a change that redirected here: shown once, then its cookie removed.
        let flash_cookie = cookie_value(&req, &https::cookie_name(&c.cfg.issuer, flash::COOKIE))
            .filter(|v| !v.is_empty());
        let flash = flash_cookie
            .as_deref()
            .and_then(|v| flash::open(&c.cfg.signing_key, v, view, &c.csrf, now()));
        let (notice, secret) = match flash {
            Some(f) => (Some(f.notice), f.secret),
            None => (None, None),
        };
        let shown = match view {
            "people" => people::get(&c, &q, notice).await,
            "apps" => apps::get(&c, notice, secret).await,
            "relays" => relays::get(&c, notice).await,
            _ => Err(Reply::Empty(404)),
        };
        if !matches!(shown, Err(Reply::Empty(404))) {
            return match (shown, flash_cookie) {
                (
                    Ok(Reply::Html {
                        status,
                        body,
                        csp,
                        retry_after,
                        ..
                    }),
                    Some(_),
                ) => Ok(Reply::Html {
                    status,
                    body,
                    csp,
                    cookie: Some(flash::cookie_removed(&c.cfg.issuer)),
                    retry_after,
                }),
                (other, _) => other,
            };
        }
        match view {
            "" => Ok(Reply::Redirect("/console/people".into())),
            "usage" => usage::get(&c, &q).await,
            "usage.csv" => usage::csv(&c, &q).await,
            "audit" => audit::get(&c, &q).await,
            _ => Err(bare(404, "Not found", "No such console page.")),
        }
    };
    run.await.unwrap_or_else(|r| r)
}

/// The 403 page for people without the right.
pub(super) fn forbidden() -> Reply {
    Reply::page(
        403,
        layout::bare(
            "Not allowed",
            "The console is for people with the console:admin right. Ask an administrator.",
            None,
        ),
        layout::csp(),
    )
}

/// The session of a cookie, checked against its person now.
async fn admitted(db: &D1Database, cookie: Option<&str>) -> Result<Result<Admin, Refusal>, Reply> {
    let Some(cookie) = cookie.filter(|c| !c.is_empty()) else {
        return Ok(Err(Refusal::SignIn));
    };
    let key = ids::lookup_key(cookie);
    let now = now();
    let row = store::first(db, &crate::store::console::session(&key, now))
        .await
        .map_err(|e| server_page(&e))?;
    Ok(session::admit(&key, row, now))
}

/// A post's form, once its CSRF token is the session's (403 otherwise).
async fn posted(req: &mut Request, c: &Ctx) -> Result<Params, Reply> {
    let ct = header(req, "content-type");
    let body = read_body(req, MAX_BODY)
        .await
        .map_err(|e| server_page(&e))?;
    let form = params::form_body(ct.as_deref(), &body)
        .map_err(|e| bare(400, "Bad request", &e.description))?;
    if !session::csrf_ok(&c.cfg.signing_key, &c.admin.key, form.get("csrf")) {
        return Err(bare(
            403,
            "This form expired",
            "Reload the page and try again.",
        ));
    }
    Ok(form)
}

/// The answer to a change that worked: `303 See Other` to `location` (on `view`), its notice
/// (and a secret to show once) in the sealed notice cookie ([`flash`]).
pub(super) fn done(
    c: &Ctx,
    view: &str,
    location: &str,
    notice: Notice,
    secret: Option<(&str, &str)>,
) -> Result<Reply, Reply> {
    let text = match notice {
        Notice::Done(t) | Notice::Refused(t) => t,
    };
    let nonce = ids::random::<{ flash::NONCE_LEN }>().map_err(|e| server_page(&e))?;
    let value = flash::seal(
        &c.cfg.signing_key,
        view,
        &c.csrf,
        &text,
        secret,
        &nonce,
        now(),
    )
    .ok_or_else(|| server_page(&OAuthError::server_error("the notice could not be sealed")))?;
    Ok(Reply::RedirectSetting {
        location: location.to_string(),
        cookie: flash::cookie(&c.cfg.issuer, &value),
    })
}

/// Applies a console change; `Ok(false)` when its claim found nothing to change.
pub(super) async fn apply(c: &Ctx, writes: &crate::oauth::effects::Writes) -> Result<bool, Reply> {
    store::apply(&c.db, writes)
        .await
        .map_err(|e| server_page(&e))
}
