//! `GET|POST /account`: sign in (starting a session), list the person's sessions, sign out
//! here or everywhere ([`crate::oauth::people::account`] renders, `session` decides).

use worker::{Context, D1Database, Env, Request};

use super::backchannel::{self, Ending};
use super::http::{Reply, client_address, csrf_cookie, csrf_cookie_of, header, now, read_body};
use super::signin::page_attempt;
use super::{env, passkey, session, store};
use crate::oauth::config::Config;
use crate::oauth::effects::{AuditEvent, event};
use crate::oauth::error::OAuthError;
use crate::oauth::flows::sealed::cookie_matches_field;
use crate::oauth::params::{self, MAX_BODY};
use crate::oauth::people::account::{self, Action, PATH};
use crate::oauth::people::passkey::ceremony::AMR_PASSKEY;
use crate::oauth::people::passkey::webauthn::PasskeyError;
use crate::oauth::people::session::{self as sessions, AMR_PASSWORD};
use crate::oauth::{html, ids, pages};
use crate::store::reads;

fn error_page(e: OAuthError) -> Reply {
    Reply::page(
        e.status,
        html::error("Something went wrong", &e.description),
        html::csp(None),
    )
}

/// The page for `secret`'s session (the list) or the sign-in form, with a fresh CSRF cookie.
async fn render(
    cfg: &Config,
    db: &D1Database,
    secret: Option<&sessions::SessionSecret>,
    status: u16,
    error: Option<&str>,
) -> Result<Reply, Reply> {
    let now = now();
    let csrf = ids::new_opaque("").map_err(error_page)?;
    let live = session::live(db, secret, now).await.map_err(error_page)?;
    let body = match &live {
        Some(s) => {
            let list = store::all(db, &reads::sessions_of(&s.user_id, now))
                .await
                .map_err(error_page)?;
            let list: Vec<_> = list
                .into_iter()
                .filter(|r| now < r.last_seen_at.saturating_add(sessions::IDLE_TTL))
                .collect();
            let keys = store::all(db, &reads::passkeys_of(&s.user_id))
                .await
                .map_err(error_page)?;
            account::signed_in(
                s.username.as_deref().unwrap_or_default(),
                &list,
                &keys,
                &s.sid,
                &csrf,
            )
        }
        None => account::sign_in(&csrf, error),
    };
    Ok(Reply::Html {
        status,
        body,
        csp: account::csp(None),
        cookie: Some(csrf_cookie(&cfg.issuer, &csrf, PATH)),
        retry_after: None,
    })
}

/// A refused passkey ceremony: a page naming the check that failed.
pub fn refused(e: PasskeyError) -> Reply {
    Reply::page(
        400,
        crate::oauth::pages::message(
            "Passkey refused",
            e.as_str(),
            "The passkey was not accepted.",
        ),
        html::csp(None),
    )
}

/// `GET /account`.
pub async fn get(req: Request, env: &Env) -> Reply {
    let run = async {
        let cfg = env::config(env).map_err(error_page)?;
        let db = env::db(env).map_err(error_page)?;
        let secret = session::secret_of(&req, &cfg.issuer);
        render(&cfg, &db, secret.as_ref(), 200, None).await
    };
    run.await.unwrap_or_else(|r| r)
}

/// `POST /account`.
pub async fn post(mut req: Request, env: &Env, ctx: &Context) -> Reply {
    let content_type = header(&req, "content-type");
    let address = client_address(&req);
    let user_agent = session::user_agent(&req);
    let run = async {
        let cfg = env::config(env).map_err(error_page)?;
        let db = env::db(env).map_err(error_page)?;
        let cookie = csrf_cookie_of(&req, &cfg.issuer, PATH);
        let secret = session::secret_of(&req, &cfg.issuer);
        let body = read_body(&mut req, MAX_BODY).await.map_err(error_page)?;
        let params = params::form_body(content_type.as_deref(), &body).map_err(error_page)?;
        if cookie_matches_field(cookie.as_deref(), params.get("csrf")).is_err() {
            return Err(Reply::page(
                403,
                html::error(
                    "Request refused",
                    "The request forgery check failed. Open the account page again.",
                ),
                html::csp(None),
            ));
        }
        let now = now();
        match Action::parse(params.get("action")) {
            Some(Action::Login) => {
                let (Some(username), Some(password)) =
                    (params.get("username"), params.get("password"))
                else {
                    return render(
                        &cfg,
                        &db,
                        None,
                        400,
                        Some("Enter your username and password."),
                    )
                    .await;
                };
                let Some(user) = page_attempt(env, &db, &cfg, &address, username, password).await?
                else {
                    return render(&cfg, &db, None, 401, Some("Wrong username or password.")).await;
                };
                let (fresh, _, mut writes) = sessions::start(
                    user.id(),
                    AMR_PASSWORD,
                    user_agent.as_deref(),
                    secret.as_ref(),
                    now,
                )
                .map_err(error_page)?;
                writes.audit(AuditEvent {
                    user_id: Some(user.id().to_string()),
                    ..AuditEvent::new(now, event::SESSION_STARTED)
                });
                store::apply(&db, &writes).await.map_err(error_page)?;
                Ok(Reply::RedirectSetting {
                    location: PATH.to_string(),
                    cookie: sessions::set_cookie(&cfg.issuer, &fresh),
                })
            }
            Some(Action::AddPasskey) => {
                let live = session::live(&db, secret.as_ref(), now)
                    .await
                    .map_err(error_page)?;
                let Some(s) = live else {
                    return render(&cfg, &db, None, 401, Some("Sign in first.")).await;
                };
                let writes =
                    match passkey::check_registration(&db, &cfg, &params, &s.user_id, now).await {
                        Ok(w) => w,
                        Err(passkey::Refused::Server(e)) => return Err(error_page(e)),
                        Err(passkey::Refused::Check(e)) => return Err(refused(e)),
                    };
                if !store::apply(&db, &writes).await.map_err(error_page)? {
                    return Err(refused(
                        crate::oauth::people::passkey::webauthn::PasskeyError::WrongChallenge,
                    ));
                }
                Ok(Reply::Redirect(PATH.to_string()))
            }
            Some(Action::Passkey) => {
                let (row, mut writes) = match passkey::check_login(&db, &cfg, &params, now).await {
                    Ok(x) => x,
                    Err(passkey::Refused::Server(e)) => return Err(error_page(e)),
                    Err(passkey::Refused::Check(e)) => return Err(refused(e)),
                };
                let (fresh, _, start) = sessions::start(
                    &row.user_id,
                    AMR_PASSKEY,
                    user_agent.as_deref(),
                    secret.as_ref(),
                    now,
                )
                .map_err(error_page)?;
                writes.rows.extend(start.rows);
                writes.audit(AuditEvent {
                    user_id: Some(row.user_id.clone()),
                    detail: Some("passkey"),
                    ..AuditEvent::new(now, event::SESSION_STARTED)
                });
                if !store::apply(&db, &writes).await.map_err(error_page)? {
                    return Err(refused(
                        crate::oauth::people::passkey::webauthn::PasskeyError::WrongChallenge,
                    ));
                }
                Ok(Reply::RedirectSetting {
                    location: PATH.to_string(),
                    cookie: sessions::set_cookie(&cfg.issuer, &fresh),
                })
            }
            Some(action @ (Action::SignOut | Action::Everywhere)) => {
                let live = session::live(&db, secret.as_ref(), now)
                    .await
                    .map_err(error_page)?;
                let writes = match (&live, action) {
                    (Some(s), Action::Everywhere) => sessions::end_everywhere(&s.user_id, now),
                    (s, _) => sessions::end_at_logout(
                        s.as_ref(),
                        s.as_ref().map(|s| s.user_id.as_str()),
                        now,
                    )
                    .unwrap_or_else(crate::oauth::effects::Writes::none),
                };
                // The apps that got tokens in the ending sessions are told, after the answer.
                let ending = match (&live, action) {
                    (Some(s), Action::Everywhere) => Some(Ending::Person(&s.user_id)),
                    (Some(s), _) => Some(Ending::Session(&s.sid)),
                    (None, _) => None,
                };
                let tokens = match ending {
                    Some(e) => backchannel::prepare(&db, &cfg, e, now)
                        .await
                        .map_err(error_page)?,
                    None => Vec::new(),
                };
                store::apply(&db, &writes).await.map_err(error_page)?;
                backchannel::send(ctx, tokens);
                let (id, text) = if action == Action::Everywhere {
                    (
                        "signed-out-everywhere",
                        "Every session of your account has ended.",
                    )
                } else {
                    ("signed-out", "You are signed out in this browser.")
                };
                Ok(Reply::Html {
                    status: 200,
                    body: pages::message("Signed out", id, text),
                    csp: html::csp(None),
                    cookie: Some(sessions::clear_cookie(&cfg.issuer)),
                    retry_after: None,
                })
            }
            None => Err(Reply::page(
                400,
                html::error("Bad request", "The form is not one this server sent."),
                html::csp(None),
            )),
        }
    };
    run.await.unwrap_or_else(|r| r)
}
