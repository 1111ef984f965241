//! Account recovery pages: `GET /verify_email` (a verification link), `GET|POST
//! /forgot_password`, `GET|POST /reset_password` ([`crate::oauth::people::recovery`] decides),
//! and `GET /admin/outbox` (the local outbox, for tests).

use worker::{Context, Env, Request};

use super::backchannel::{self, Ending};
use super::http::{Reply, client_address, csrf_cookie, csrf_cookie_of, header, now, read_body};
use super::{crypto, env, limits, mail, store};
use crate::oauth::config::Config;
use crate::oauth::error::OAuthError;
use crate::oauth::flows::sealed::cookie_matches_field;
use crate::oauth::params::{self, MAX_BODY, Params};
use crate::oauth::people::password::{PasswordHash, SALT_LEN};
use crate::oauth::people::recovery::{
    self, FORGOT_PATH, LinkError, LinkToken, Mailer, RESET, RESET_PATH, VERIFY,
};
use crate::oauth::people::recovery_pages as pages;
use crate::oauth::ratelimit::Action;
use crate::oauth::{html, ids};
use crate::store::reads;

fn error_page(e: OAuthError) -> Reply {
    Reply::page(
        e.status,
        html::error("Something went wrong", &e.description),
        html::csp(None),
    )
}

fn link_page(e: LinkError) -> Reply {
    Reply::page(
        400,
        html::error("This link does not work", e.message()),
        html::csp(None),
    )
}

fn query(req: &Request) -> Result<Params, Reply> {
    let url = req
        .url()
        .map_err(|_| error_page(OAuthError::invalid_request("bad URL")))?;
    Params::from_form(url.query().unwrap_or("").as_bytes()).map_err(error_page)
}

/// The posted form, its double-submit CSRF check passed.
async fn posted(req: &mut Request, cfg: &Config, path: &str) -> Result<Params, Reply> {
    let cookie = csrf_cookie_of(req, &cfg.issuer, path);
    let ct = header(req, "content-type");
    let body = read_body(req, MAX_BODY).await.map_err(error_page)?;
    let p = params::form_body(ct.as_deref(), &body).map_err(error_page)?;
    cookie_matches_field(cookie.as_deref(), p.get("csrf")).map_err(|_| {
        Reply::page(
            403,
            html::error(
                "Request refused",
                "The request forgery check failed. Open the page again.",
            ),
            html::csp(None),
        )
    })?;
    Ok(p)
}

fn with_csrf(
    cfg: &Config,
    path: &str,
    status: u16,
    body: impl FnOnce(&str) -> String,
) -> Result<Reply, Reply> {
    let csrf = ids::new_opaque("").map_err(error_page)?;
    Ok(Reply::Html {
        status,
        body: body(&csrf),
        csp: html::csp(None),
        cookie: Some(csrf_cookie(&cfg.issuer, &csrf, path)),
        retry_after: None,
    })
}

/// `GET /verify_email?token=...`: the address is verified (the link works once).
pub async fn verify(req: Request, env: &Env) -> Reply {
    let run = async {
        let db = env::db(env).map_err(error_page)?;
        let p = query(&req)?;
        let token = LinkToken::new(p.get("token").unwrap_or_default());
        let now = now();
        let row = store::first(&db, &reads::email_token(&token.key()))
            .await
            .map_err(error_page)?;
        let row = recovery::check(row, VERIFY, now).map_err(link_page)?;
        let nonce = ids::new_jti().map_err(error_page)?;
        let w = recovery::verify(&token.key(), &row, &nonce, now);
        if !store::apply(&db, &w).await.map_err(error_page)? {
            return Err(link_page(LinkError::Invalid));
        }
        Ok::<Reply, Reply>(Reply::page(
            200,
            crate::oauth::pages::message(
                "Email confirmed",
                "verified",
                "Your email address is confirmed.",
            ),
            html::csp(None),
        ))
    };
    run.await.unwrap_or_else(|r| r)
}

/// `GET /forgot_password`.
pub async fn forgot_get(env: &Env) -> Reply {
    let run = async {
        let cfg = env::config(env).map_err(error_page)?;
        if mail::mailer(env, &cfg.issuer) == Mailer::None {
            return Ok(unavailable());
        }
        with_csrf(&cfg, FORGOT_PATH, 200, |c| pages::forgot(c, None))
    };
    run.await.unwrap_or_else(|r| r)
}

fn unavailable() -> Reply {
    Reply::page(
        404,
        html::error(
            "Not available",
            "This server sends no email, so passwords cannot be reset here. Ask its administrator.",
        ),
        html::csp(None),
    )
}

/// `POST /forgot_password`: the same answer, after the same work, whether the address has an
/// account or not; the link is made and sent after the answer.
pub async fn forgot_post(mut req: Request, env: &Env, ctx: &Context) -> Reply {
    let address = client_address(&req);
    let run = async {
        let cfg = env::config(env).map_err(error_page)?;
        if mail::mailer(env, &cfg.issuer) == Mailer::None {
            return Ok(unavailable());
        }
        let p = posted(&mut req, &cfg, FORGOT_PATH).await?;
        let email = p
            .get("email")
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if email.is_empty() || email.len() > 254 || !email.contains('@') {
            return with_csrf(&cfg, FORGOT_PATH, 400, |c| {
                pages::forgot(c, Some("Enter an email address."))
            });
        }
        limits::spend(env, Action::Recovery { account: &email }, &address)
            .await
            .map_err(|e| limits::refused_page(&e))?;
        let db = env::db(env).map_err(error_page)?;
        let user = store::first(&db, &reads::user_by_email(&email))
            .await
            .map_err(error_page)?;
        if let Some(u) = user {
            let (env2, issuer) = (env.clone(), cfg.issuer.clone());
            ctx.wait_until(async move {
                let sent = async {
                    let now = now();
                    let db = env::db(&env2)?;
                    let addr = u.email.clone().unwrap_or_default();
                    let (msg, w) = recovery::reset_link(&issuer, &u.id, &u.username, &addr, now)?;
                    store::apply(&db, &w).await?;
                    mail::send(&env2, &db, &issuer, msg).await
                };
                if let Err(e) = sent.await {
                    worker::console_error!("forgot password: {}", e.description);
                }
            });
        }
        Ok::<Reply, Reply>(Reply::page(200, pages::forgot_sent(), html::csp(None)))
    };
    run.await.unwrap_or_else(|r| r)
}

/// `GET /reset_password?token=...`: the form, when the link still works.
pub async fn reset_get(req: Request, env: &Env) -> Reply {
    let run = async {
        let cfg = env::config(env).map_err(error_page)?;
        let db = env::db(env).map_err(error_page)?;
        let p = query(&req)?;
        let token = p.get("token").unwrap_or_default().to_string();
        let row = store::first(&db, &reads::email_token(&LinkToken::new(&token).key()))
            .await
            .map_err(error_page)?;
        recovery::check(row, RESET, now()).map_err(link_page)?;
        with_csrf(&cfg, RESET_PATH, 200, |c| pages::reset(&token, c, None))
    };
    run.await.unwrap_or_else(|r| r)
}

/// `POST /reset_password`: a new password, once; every session and token family of the person
/// ends, and the apps that got tokens in those sessions are told.
pub async fn reset_post(mut req: Request, env: &Env, ctx: &Context) -> Reply {
    let address = client_address(&req);
    let run = async {
        let cfg = env::config(env).map_err(error_page)?;
        let p = posted(&mut req, &cfg, RESET_PATH).await?;
        let raw = p.get("token").unwrap_or_default().to_string();
        let token = LinkToken::new(&raw);
        let password = p.get("password").unwrap_or_default();
        let db = env::db(env).map_err(error_page)?;
        let now = now();
        let row = store::first(&db, &reads::email_token(&token.key()))
            .await
            .map_err(error_page)?;
        let row = recovery::check(row, RESET, now).map_err(link_page)?;
        limits::spend(
            env,
            Action::Recovery {
                account: &row.user_id,
            },
            &address,
        )
        .await
        .map_err(|e| limits::refused_page(&e))?;
        if !(8..=1024).contains(&password.len()) {
            return with_csrf(&cfg, RESET_PATH, 400, |c| {
                pages::reset(&raw, c, Some("The password must be 8 to 1024 characters."))
            });
        }
        let salt = ids::random::<SALT_LEN>().map_err(error_page)?;
        let derived = crypto::pbkdf2(password.as_bytes(), &salt, cfg.password_iterations)
            .await
            .map_err(error_page)?;
        let hash = PasswordHash::from_derived(cfg.password_iterations, &salt, derived).encode();
        let nonce = ids::new_jti().map_err(error_page)?;
        let tokens = backchannel::prepare(&db, &cfg, Ending::Person(&row.user_id), now)
            .await
            .map_err(error_page)?;
        let w = recovery::reset(&token.key(), &row, &hash, &nonce, now);
        if !store::apply(&db, &w).await.map_err(error_page)? {
            return Err(link_page(LinkError::Invalid));
        }
        backchannel::send(ctx, tokens);
        Ok::<Reply, Reply>(Reply::Html {
            status: 200,
            body: crate::oauth::pages::message(
                "Password changed",
                "password-changed",
                "Your password is changed, and your account is signed out everywhere. Sign in with the new password.",
            ),
            csp: html::csp(None),
            cookie: Some(crate::oauth::people::session::clear_cookie(&cfg.issuer)),
            retry_after: None,
        })
    };
    run.await.unwrap_or_else(|r| r)
}

/// `GET /admin/outbox`: the newest messages of the local outbox (admin secret; only where the
/// outbox is in use).
pub async fn outbox(req: Request, env: &Env) -> Reply {
    let run = async {
        let cfg = env::config(env)?;
        limits::admin(env, &cfg, &req).await?;
        if mail::mailer(env, &cfg.issuer) != Mailer::Outbox {
            return Err(OAuthError::new(
                crate::oauth::error::ErrorCode::NotFound,
                "this worker sends email: it has no outbox",
            ));
        }
        let db = env::db(env)?;
        let rows = store::all(&db, &reads::outbox(50)).await?;
        Ok(Reply::Json(200, serde_json::json!({ "messages": rows })))
    };
    run.await.unwrap_or_else(Reply::Error)
}
