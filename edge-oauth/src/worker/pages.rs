//! `/signup` and `/create_client`: pages with sealed state and the CSRF cookie, passwords
//! checked and hashed with PBKDF2 as on the sign-in page, and every attempt rate limited.

use worker::{D1Database, Env, Request};

use super::http::{Reply, client_address, csrf_cookie, csrf_cookie_of, header, now, read_body};
use super::signin::page_attempt;
use super::{crypto, env, limits, store};
use crate::oauth::admin::{self, NewUser};
use crate::oauth::clients::registration::{self, RegisteredBy};
use crate::oauth::config::Config;
use crate::oauth::error::OAuthError;
use crate::oauth::flows::sealed::FormError;
use crate::oauth::pages::{self, AppLine, CONSOLE_TTL, Created, PageStage, PageState};
use crate::oauth::params::{self, MAX_BODY, Params};
use crate::oauth::people::password::{PasswordHash, SALT_LEN};
use crate::oauth::ratelimit::Action;
use crate::oauth::{html, ids};

fn page(status: u16, body: String) -> Reply {
    Reply::page(status, body, html::csp(None))
}

fn message(e: &OAuthError) -> Reply {
    page(
        e.status,
        pages::message("Something went wrong", "error", &e.description),
    )
}

fn form_error(e: FormError) -> Reply {
    page(
        if e == FormError::Csrf { 403 } else { 400 },
        pages::message(
            "This page expired",
            "error",
            "Reload the page and try again.",
        ),
    )
}

/// Hashes a secret or password with PBKDF2 through WebCrypto.
pub async fn hash(secret: &str, iterations: u32) -> Result<String, OAuthError> {
    let salt = ids::random::<SALT_LEN>()?;
    let derived = crypto::pbkdf2(secret.as_bytes(), &salt, iterations).await?;
    Ok(PasswordHash::from_derived(iterations, &salt, derived).encode())
}

/// What a page post carries: its form, the state it posted, and the CSRF cookie.
struct Posted {
    params: Params,
    state: PageState,
    csrf: String,
    address: String,
}

async fn posted(
    req: &mut Request,
    cfg: &Config,
    stages: &[PageStage],
    path: &str,
) -> Result<Posted, Reply> {
    let cookie = csrf_cookie_of(req, &cfg.issuer, path);
    let ct = header(req, "content-type");
    let address = client_address(req);
    let body = read_body(req, MAX_BODY).await.map_err(|e| message(&e))?;
    let params = params::form_body(ct.as_deref(), &body).map_err(|e| message(&e))?;
    let state = PageState::open(
        &cfg.signing_key,
        params.get("form_state"),
        stages,
        cookie.as_deref(),
        params.get("csrf"),
        now(),
    )
    .map_err(form_error)?;
    Ok(Posted {
        params,
        state,
        csrf: cookie.unwrap_or_default(),
        address,
    })
}

fn fresh(
    cfg: &Config,
    stage: PageStage,
    path: &str,
) -> Result<(String, String, String), OAuthError> {
    let csrf = ids::new_opaque("")?;
    let state = PageState::new(stage, &csrf, now()).seal(&cfg.signing_key);
    let cookie = csrf_cookie(&cfg.issuer, &csrf, path);
    Ok((state, csrf, cookie))
}

fn closed() -> Reply {
    page(
        404,
        pages::message(
            "Sign-up is closed",
            "closed",
            "Ask the administrator for an account.",
        ),
    )
}

// ---------------------------------------------------------------- /signup

/// `GET /signup`.
pub async fn signup_get(env: &Env) -> Reply {
    let run = async {
        let cfg = env::config(env)?;
        if !cfg.signup {
            return Ok(closed());
        }
        let (state, csrf, cookie) = fresh(&cfg, PageStage::Signup, "/signup")?;
        Ok::<Reply, OAuthError>(Reply::page_with_cookie(
            pages::signup(&state, &csrf, None),
            html::csp(None),
            cookie,
        ))
    };
    run.await.unwrap_or_else(|e| message(&e))
}

/// `POST /signup`.
pub async fn signup_post(mut req: Request, env: &Env) -> Reply {
    let run = async {
        let cfg = env::config(env).map_err(|e| message(&e))?;
        if !cfg.signup {
            return Ok(closed());
        }
        let p = posted(&mut req, &cfg, &[PageStage::Signup], "/signup").await?;
        limits::spend(env, Action::SignUp, &p.address)
            .await
            .map_err(|e| limits::refused_page(&e))?;
        let sealed = p.params.get("form_state").unwrap_or_default();
        let again = |status, msg: &str| page(status, pages::signup(sealed, &p.csrf, Some(msg)));
        let text = |k| p.params.get(k).map(str::to_string);
        let new = NewUser {
            username: text("username").unwrap_or_default(),
            password: text("password").unwrap_or_default(),
            name: text("name"),
            email: text("email"),
        };
        let new = match new.validate() {
            Ok(n) => n,
            Err(e) => return Ok(again(400, &e.description)),
        };
        let db = env::db(env).map_err(|e| message(&e))?;
        let id = ids::new_id("u_").map_err(|e| message(&e))?;
        let h = hash(&new.password, cfg.password_iterations)
            .await
            .map_err(|e| message(&e))?;
        if !store::apply(&db, &admin::create_user(&new, &id, h, now()))
            .await
            .map_err(|e| message(&e))?
        {
            return Ok(again(409, "That username is taken."));
        }
        // A link to verify the address, when this worker can send email.
        if let Some(email) = &new.email
            && super::mail::mailer(env, &cfg.issuer) != crate::oauth::people::recovery::Mailer::None
        {
            let sent = async {
                let (msg, w) = crate::oauth::people::recovery::verification(
                    &cfg.issuer,
                    &id,
                    &new.username,
                    email,
                    now(),
                )?;
                store::apply(&db, &w).await?;
                super::mail::send(env, &db, &cfg.issuer, msg).await
            };
            if let Err(e) = sent.await {
                worker::console_error!("sign-up: verification email: {}", e.description);
            }
        }
        Ok(page(201, pages::signed_up(&new.username)))
    };
    run.await.unwrap_or_else(|r| r)
}

// ---------------------------------------------------------------- /create_client

const CONSOLE: &str = "/create_client";
const GRANTS: [&str; 4] = [
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "urn:ietf:params:oauth:grant-type:device_code",
];

/// `GET /create_client`: the sign-in form.
pub async fn console_get(env: &Env) -> Reply {
    let run = async {
        let cfg = env::config(env)?;
        let (state, csrf, cookie) = fresh(&cfg, PageStage::ConsoleLogin, CONSOLE)?;
        Ok::<Reply, OAuthError>(Reply::page_with_cookie(
            pages::sign_in(
                "Sign in to manage your apps",
                CONSOLE,
                &state,
                &csrf,
                "",
                None,
            ),
            html::csp(None),
            cookie,
        ))
    };
    run.await.unwrap_or_else(|e| message(&e))
}

/// `POST /create_client`: sign in, register, delete.
pub async fn console_post(mut req: Request, env: &Env) -> Reply {
    let run = async {
        let cfg = env::config(env).map_err(|e| message(&e))?;
        let p = posted(
            &mut req,
            &cfg,
            &[PageStage::ConsoleLogin, PageStage::Console],
            CONSOLE,
        )
        .await?;
        let db = env::db(env).map_err(|e| message(&e))?;
        if p.state.stage == PageStage::Console {
            still_signed_in(&db, &p).await?;
        }
        match (p.state.stage, p.params.get("action")) {
            (PageStage::ConsoleLogin, Some("login")) => console_login(env, &cfg, &db, &p).await,
            (PageStage::Console, Some("create")) => console_create(env, &cfg, &db, &p).await,
            (PageStage::Console, Some("delete")) => console_delete(&cfg, &db, &p).await,
            _ => Err(page(
                400,
                pages::message(
                    "Bad request",
                    "error",
                    "The form is not one this server sent.",
                ),
            )),
        }
    };
    run.await.unwrap_or_else(|r| r)
}

async fn console_login(
    env: &Env,
    cfg: &Config,
    db: &D1Database,
    p: &Posted,
) -> Result<Reply, Reply> {
    let sealed = p.params.get("form_state").unwrap_or_default();
    let again = |status, msg: &str| {
        page(
            status,
            pages::sign_in(
                "Sign in to manage your apps",
                CONSOLE,
                sealed,
                &p.csrf,
                "",
                Some(msg),
            ),
        )
    };
    let (Some(username), Some(password)) = (p.params.get("username"), p.params.get("password"))
    else {
        return Ok(again(400, "Enter your username and password."));
    };
    let Some(user) = page_attempt(env, db, cfg, &p.address, username, password).await? else {
        return Ok(again(401, "Wrong username or password."));
    };
    let st = p.state.signed_in(
        PageStage::Console,
        user.id(),
        user.username(),
        now(),
        CONSOLE_TTL,
    );
    console(cfg, db, &st, &p.csrf, None, None, 200).await
}

/// The console for the signed-in person in `st`.
async fn console(
    cfg: &Config,
    db: &D1Database,
    st: &PageState,
    csrf: &str,
    created: Option<&Created>,
    error: Option<&str>,
    status: u16,
) -> Result<Reply, Reply> {
    let user_id = st.user_id.as_deref().unwrap_or_default();
    let rows = store::clients_owned_by(db, user_id)
        .await
        .map_err(|e| message(&e))?;
    let apps: Vec<AppLine> = rows
        .into_iter()
        .filter_map(|r| r.into_record().ok())
        .map(|c| AppLine {
            public: c.is_public(),
            scope: c.scope.to_string(),
            id: c.id,
            name: c.name,
            redirect_uris: c.redirect_uris,
        })
        .collect();
    let scopes: Vec<&str> = cfg.registration_scopes.iter().collect();
    Ok(page(
        status,
        pages::console(
            st.username.as_deref().unwrap_or_default(),
            &apps,
            &scopes,
            &GRANTS,
            &st.seal(&cfg.signing_key),
            csrf,
            created,
            error,
        ),
    ))
}

/// The person a console form was signed in as still exists: the signed form state outlives
/// a deletion by up to [`pages::CONSOLE_TTL`], so every post asks D1 again.
async fn still_signed_in(db: &D1Database, p: &Posted) -> Result<(), Reply> {
    let exists = match p.state.user_id.as_deref() {
        Some(id) => store::user_exists(db, id).await.map_err(|e| message(&e))?,
        None => false,
    };
    if exists {
        Ok(())
    } else {
        Err(page(
            401,
            pages::message(
                "Signed out",
                "error",
                "This account no longer exists. Sign in again.",
            ),
        ))
    }
}

async fn console_create(
    env: &Env,
    cfg: &Config,
    db: &D1Database,
    p: &Posted,
) -> Result<Reply, Reply> {
    let user_id = p.state.user_id.as_deref().unwrap_or_default();
    limits::spend(env, Action::CreateApp { user_id }, &p.address)
        .await
        .map_err(|e| limits::refused_page(&e))?;
    let held = store::clients_owned_by(db, user_id)
        .await
        .map_err(|e| message(&e))?
        .len();
    if held >= usize::try_from(cfg.max_apps_per_person).unwrap_or(usize::MAX) {
        let msg = format!(
            "You already have {held} apps, the most one person may have here. Delete one to register another."
        );
        return console(cfg, db, &p.state, &p.csrf, None, Some(&msg), 403).await;
    }
    let reg = match registration::from_form(&p.params, &cfg.registration_scopes) {
        Ok(r) => r,
        Err(e) => {
            return console(cfg, db, &p.state, &p.csrf, None, Some(&e.description), 400).await;
        }
    };
    let id = ids::new_id("c_").map_err(|e| message(&e))?;
    let (secret, secret_hash) = if reg.public {
        (None, None)
    } else {
        let s = ids::new_client_secret().map_err(|e| message(&e))?;
        let h = hash(&s, cfg.client_secret_iterations)
            .await
            .map_err(|e| message(&e))?;
        (Some(s), Some(h))
    };
    let now = now();
    let row = reg.row(
        &id,
        secret_hash,
        RegisteredBy::SelfService,
        p.state.user_id.as_deref(),
        None,
        now,
    );
    if !store::apply(db, &reg.create(row, now))
        .await
        .map_err(|e| message(&e))?
    {
        return Err(message(&OAuthError::server_error(
            "a fresh client id was taken",
        )));
    }
    let created = Created { id, secret };
    console(cfg, db, &p.state, &p.csrf, Some(&created), None, 201).await
}

async fn console_delete(cfg: &Config, db: &D1Database, p: &Posted) -> Result<Reply, Reply> {
    let (Some(id), Some(owner)) = (p.params.get("client_id"), p.state.user_id.as_deref()) else {
        return Err(message(&OAuthError::invalid_request(
            "client_id is missing",
        )));
    };
    env::with_clients(|c| c.forget(id));
    let writes = admin::delete_client(id, Some(owner), now());
    let deleted = store::apply(db, &writes).await.map_err(|e| message(&e))?;
    let error = (!deleted).then_some("That app is not yours, or is already gone.");
    console(
        cfg,
        db,
        &p.state,
        &p.csrf,
        None,
        error,
        if deleted { 200 } else { 404 },
    )
    .await
}
