//! The workers-rs adapter: routing (the table in [`crate::oauth::routes`]), and the handlers
//! that load rows, call the plain-Rust decisions in [`crate::oauth`], apply their writes to D1
//! and answer.

mod account;
mod admin;
mod authorize;
mod backchannel;
mod bearer;
mod client_metadata;
mod console;
mod control;
mod crypto;
mod device;
mod env;
mod http;
mod limits;
mod logout;
mod mail;
mod pages;
mod passkey;
mod recovery;
mod register;
mod resources;
mod session;
mod signin;
mod store;
mod token;

use worker::{Context, Env, Request, Response, console_log, event};

use crate::oauth::discovery;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::routes::{self, Endpoint, Method, Resolved};
use http::Reply;

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let method = req.method();
    let path = req.path();
    let cors = routes::cors_allowed(&path);
    let reply = match routes::resolve(method.as_ref(), &path) {
        Resolved::Found {
            route,
            method,
            param,
        } => dispatch(req, &env, &ctx, route.endpoint, method, param).await,
        Resolved::Preflight(_) => http::preflight(),
        Resolved::MethodNotAllowed(route) => Reply::NotAllowed(route.allow()),
        Resolved::NotFound => {
            Reply::Error(OAuthError::new(ErrorCode::NotFound, "no such endpoint"))
        }
    };
    if let Some(line) = reply.log_line(method.as_ref(), &path) {
        console_log!("{line}");
    }
    let mut response = match reply.into_response("edge-oauth", cors) {
        Ok(r) => r,
        Err(_) => Response::error("internal error", 500)?,
    };
    // HSTS on every response of an https issuer (read raw: a bad configuration's error
    // answer gets it too).
    if let Some(v) = env::read(&env, "ISSUER")
        .as_deref()
        .and_then(crate::oauth::https::hsts)
    {
        let _ = response.headers_mut().set("Strict-Transport-Security", v);
    }
    Ok(response)
}

async fn dispatch(
    req: Request,
    env: &Env,
    ctx: &Context,
    endpoint: Endpoint,
    method: Method,
    param: &str,
) -> Reply {
    match endpoint {
        Endpoint::Health => health(env).await,
        Endpoint::AuthorizationServerMetadata | Endpoint::OpenIdConfiguration => metadata(env),
        Endpoint::Jwks => resources::jwks(env),
        Endpoint::Authorize if method == Method::Post => authorize::post(req, env).await,
        Endpoint::Authorize => authorize::get(req, env).await,
        Endpoint::Token => token::handle(req, env, ctx, false).await,
        Endpoint::SeedToken => token::handle(req, env, ctx, true).await,
        Endpoint::Introspect => resources::introspect(req, env).await,
        Endpoint::Revoke => resources::revoke(req, env).await,
        Endpoint::Userinfo => resources::userinfo(req, env).await,
        Endpoint::TurnCredentials => resources::turn_credentials(req, env).await,
        Endpoint::AdminClients
        | Endpoint::AdminClient
        | Endpoint::AdminUsers
        | Endpoint::AdminUser
        | Endpoint::AdminAudit
        | Endpoint::AdminUserRights
        | Endpoint::AdminInitialTokens => admin::handle(req, env, endpoint, method, param).await,
        Endpoint::Logout => logout::handle(req, env, ctx, method == Method::Post).await,
        Endpoint::DeviceAuthorization => device::authorization(req, env).await,
        Endpoint::DevicePage if method == Method::Post => device::post(req, env).await,
        Endpoint::DevicePage => device::get(req, env).await,
        Endpoint::Signup if method == Method::Post => pages::signup_post(req, env).await,
        Endpoint::Signup => pages::signup_get(env).await,
        Endpoint::CreateClient if method == Method::Post => pages::console_post(req, env).await,
        Endpoint::CreateClient => pages::console_get(env).await,
        Endpoint::Register => register::register(req, env).await,
        Endpoint::RegisteredClient => register::manage(req, env, method, param).await,
        Endpoint::RelayRevocations => control::revocations(req, env).await,
        Endpoint::RelayHeartbeat => control::heartbeat(req, env).await,
        Endpoint::RelayUsage => control::usage(req, env).await,
        Endpoint::TurnUsage => control::own_usage(req, env).await,
        Endpoint::AdminUsage => control::admin_usage(req, env).await,
        Endpoint::AdminRelays => control::admin_relays(req, env).await,
        Endpoint::AdminHousekeeping => control::admin_housekeeping(req, env).await,
        Endpoint::AdminUserRevoke => control::admin_revoke_user(req, env, param).await,
        Endpoint::Console => console::handle(req, env, ctx, method, param).await,
        Endpoint::Account if method == Method::Post => account::post(req, env, ctx).await,
        Endpoint::Account => account::get(req, env).await,
        Endpoint::VerifyEmail => recovery::verify(req, env).await,
        Endpoint::ForgotPassword if method == Method::Post => {
            recovery::forgot_post(req, env, ctx).await
        }
        Endpoint::ForgotPassword => recovery::forgot_get(env).await,
        Endpoint::ResetPassword if method == Method::Post => {
            recovery::reset_post(req, env, ctx).await
        }
        Endpoint::ResetPassword => recovery::reset_get(req, env).await,
        Endpoint::AdminOutbox => recovery::outbox(req, env).await,
        Endpoint::PasskeyOptions => passkey::login_options(req, env).await,
        Endpoint::PasskeyRegisterOptions => passkey::register_options(req, env).await,
    }
}

fn metadata(env: &Env) -> Reply {
    match env::config(env) {
        Ok(cfg) => Reply::Json(200, discovery::metadata(&cfg)),
        Err(e) => Reply::Error(e),
    }
}

/// Ready when the configuration checks and D1 answers with the schema in place.
async fn health(env: &Env) -> Reply {
    let check = async {
        env::config(env)?;
        let db = env::db(env)?;
        store::first(&db, &crate::store::reads::client_count()).await?;
        Ok::<(), OAuthError>(())
    };
    match check.await {
        Ok(()) => Reply::Json(200, serde_json::json!({ "status": "ok" })),
        Err(e) => Reply::Error(e),
    }
}
