//! The workers-rs adapter: routing, and the handlers that load rows, call the plain-Rust
//! decisions in [`crate::oauth`], apply their writes to D1 and answer.

mod admin;
mod authorize;
mod control;
mod crypto;
mod env;
mod http;
mod resources;
mod store;
mod token;

use worker::{Context, Env, Method, Request, Response, console_log, event};

use crate::oauth::discovery;
use crate::oauth::error::{ErrorCode, OAuthError};
use http::Reply;

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let method = req.method();
    let path = req.path();
    let cors = http::cors_allowed(&path);
    let reply = route(req, &env, &ctx, method.clone(), &path).await;
    if let Some(line) = reply.log_line(method.as_ref(), &path) {
        console_log!("{line}");
    }
    match reply.into_response("edge-oauth", cors) {
        Ok(r) => Ok(r),
        Err(_) => Response::error("internal error", 500),
    }
}

fn not_allowed() -> Reply {
    Reply::Error(OAuthError::new(
        ErrorCode::MethodNotAllowed,
        "this endpoint does not accept this method",
    ))
}

async fn route(req: Request, env: &Env, ctx: &Context, method: Method, path: &str) -> Reply {
    if method == Method::Options && http::cors_allowed(path) {
        return http::preflight();
    }
    match (path, method) {
        ("/health", Method::Get) => health(env).await,
        ("/.well-known/oauth-authorization-server", Method::Get) => metadata(env, false),
        ("/.well-known/openid-configuration", Method::Get) => metadata(env, true),
        ("/oauth2/authorize", Method::Get) => authorize::get(req, env).await,
        ("/oauth2/authorize", Method::Post) => authorize::post(req, env).await,
        ("/oauth2/token", Method::Post) => token::handle(req, env, ctx, false).await,
        ("/token", Method::Post) => token::handle(req, env, ctx, true).await,
        ("/oauth2/introspect", Method::Post) => resources::introspect(req, env).await,
        ("/oauth2/revoke", Method::Post) => resources::revoke(req, env).await,
        ("/oauth2/userinfo", Method::Get | Method::Post) => resources::userinfo(req, env).await,
        ("/turn/credentials", Method::Get | Method::Post) => {
            resources::turn_credentials(req, env).await
        }
        ("/relay/revocations", Method::Get) => control::revocations(req, env).await,
        ("/relay/heartbeat", Method::Post) => control::heartbeat(req, env).await,
        ("/relay/usage", Method::Post) => control::usage(req, env).await,
        ("/turn/usage", Method::Get) => control::own_usage(req, env).await,
        ("/admin/usage", Method::Get) => control::admin_usage(req, env).await,
        ("/admin/relays", Method::Get) => control::admin_relays(req, env).await,
        ("/admin/housekeeping", Method::Post) => control::admin_housekeeping(req, env).await,
        (p, Method::Post) if p.starts_with("/admin/users/") && p.ends_with("/revoke") => {
            let id = p
                .trim_start_matches("/admin/users/")
                .trim_end_matches("/revoke")
                .to_string();
            control::admin_revoke_user(req, env, &id).await
        }
        (p, m) if p == "/admin" || p.starts_with("/admin/") => admin::handle(req, env, m, p).await,
        (
            "/health"
            | "/.well-known/oauth-authorization-server"
            | "/.well-known/openid-configuration"
            | "/oauth2/authorize"
            | "/oauth2/token"
            | "/token"
            | "/oauth2/introspect"
            | "/oauth2/revoke"
            | "/oauth2/userinfo"
            | "/turn/credentials"
            | "/relay/revocations"
            | "/relay/heartbeat"
            | "/relay/usage"
            | "/turn/usage",
            _,
        ) => not_allowed(),
        _ => Reply::Error(OAuthError::new(ErrorCode::NotFound, "no such endpoint")),
    }
}

fn metadata(env: &Env, openid: bool) -> Reply {
    match env::config(env) {
        Ok(cfg) => Reply::Json(200, discovery::metadata(&cfg, openid)),
        Err(e) => Reply::Error(e),
    }
}

/// Ready when the configuration checks and D1 answers with the schema in place.
async fn health(env: &Env) -> Reply {
    let check = async {
        env::config(env)?;
        let db = env::db(env)?;
        store::first::<serde_json::Value>(&db, "SELECT count(*) AS n FROM clients", &[]).await?;
        Ok::<(), OAuthError>(())
    };
    match check.await {
        Ok(()) => Reply::Json(200, serde_json::json!({ "status": "ok" })),
        Err(e) => Reply::Error(e),
    }
}
