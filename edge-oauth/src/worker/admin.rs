//! The admin API (`Authorization: Bearer <ADMIN_SECRET>`): clients, users, the audit trail.

use serde_json::{Value, json};
use worker::{D1Database, Env, Request};

use super::env;
use super::http::{Reply, now, read_body};
use super::pages::hash;
use super::store;
use crate::oauth::admin::{self, NewClient, NewUser, SecretPlan, ValidClient};
use crate::oauth::config::Config;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::ids;
use crate::oauth::params::MAX_ADMIN_BODY;
use crate::oauth::routes::{Endpoint, Method};
use crate::store::reads;
use crate::store::reads::ClientRow;

/// The admin API's routes (see [`crate::oauth::routes`]); the admin secret is checked first.
pub async fn handle(
    mut req: Request,
    env: &Env,
    endpoint: Endpoint,
    method: Method,
    param: &str,
) -> Reply {
    let run = async {
        let cfg = env::config(env)?;
        super::limits::admin(env, &cfg, &req).await?;
        let db = env::db(env)?;
        match (endpoint, method) {
            (Endpoint::AdminClients, Method::Post) => {
                create_client(&cfg, &db, &read_body(&mut req, MAX_ADMIN_BODY).await?).await
            }
            (Endpoint::AdminClients, _) => list_clients(&db).await,
            (Endpoint::AdminClient, _) => delete_client(&db, param).await,
            (Endpoint::AdminUsers, Method::Post) => {
                create_user(&cfg, &db, &read_body(&mut req, MAX_ADMIN_BODY).await?).await
            }
            (Endpoint::AdminUsers, _) => list_users(&db).await,
            (Endpoint::AdminUser, _) => delete_user(&db, param).await,
            (Endpoint::AdminUserRights, _) => {
                let body = read_body(&mut req, MAX_ADMIN_BODY).await?;
                let rights = admin::parse_body::<admin::SetRights>(&body)?;
                if !store::apply(&db, &admin::set_rights(param, &rights, now())?).await? {
                    return Err(OAuthError::new(ErrorCode::NotFound, "no such user"));
                }
                Ok(Reply::Empty(204))
            }
            (Endpoint::AdminInitialTokens, _) => {
                let body = read_body(&mut req, MAX_ADMIN_BODY).await?;
                initial_token(&db, &body).await
            }
            _ => {
                let url = req
                    .url()
                    .map_err(|_| OAuthError::invalid_request("bad URL"))?;
                audit(&db, url.query().unwrap_or("")).await
            }
        }
    };
    run.await.unwrap_or_else(Reply::Error)
}

fn conflict(what: &'static str) -> OAuthError {
    OAuthError::invalid_request(what).with_status(409)
}

async fn create_client(cfg: &Config, db: &D1Database, body: &[u8]) -> Result<Reply, OAuthError> {
    let c: ValidClient = admin::parse_body::<NewClient>(body)?.validate()?;
    let id = match &c.client_id {
        Some(id) => id.clone(),
        None => ids::new_id("c_")?,
    };
    let (secret, secret_hash) = match &c.secret {
        SecretPlan::None => (None, None),
        SecretPlan::Generate => {
            let s = ids::new_client_secret()?;
            let h = hash(&s, cfg.client_secret_iterations).await?;
            (Some(s), Some(h))
        }
        SecretPlan::Given(s) => (None, Some(hash(s, cfg.password_iterations).await?)),
    };
    let public = secret_hash.is_none();
    if !store::apply(db, &c.writes(&id, secret_hash, now())).await? {
        return Err(conflict("a client with this client_id exists"));
    }
    Ok(Reply::Json(201, c.created_json(&id, secret, public)))
}

async fn list_clients(db: &D1Database) -> Result<Reply, OAuthError> {
    let rows: Vec<ClientRow> = store::all(db, &reads::clients()).await?;
    Ok(Reply::Json(
        200,
        json!({ "clients": rows.iter().map(admin::client_json).collect::<Vec<_>>() }),
    ))
}

async fn delete_client(db: &D1Database, id: &str) -> Result<Reply, OAuthError> {
    env::with_clients(|c| c.forget(id));
    if !store::apply(db, &admin::delete_client(id, None, now())).await? {
        return Err(OAuthError::new(ErrorCode::NotFound, "no such client"));
    }
    Ok(Reply::Empty(204))
}

async fn create_user(cfg: &Config, db: &D1Database, body: &[u8]) -> Result<Reply, OAuthError> {
    let u = admin::parse_body::<NewUser>(body)?.validate()?;
    let id = ids::new_id("u_")?;
    let h = hash(&u.password, cfg.password_iterations).await?;
    if !store::apply(db, &admin::create_user(&u, &id, h, now())).await? {
        return Err(conflict("a user with this username exists"));
    }
    Ok(Reply::Json(
        201,
        json!({ "user_id": id, "username": u.username, "name": u.name }),
    ))
}

async fn list_users(db: &D1Database) -> Result<Reply, OAuthError> {
    let rows = store::all(db, &reads::users()).await?;
    let users: Vec<Value> = rows
        .iter()
        .map(|r| json!({ "user_id": r.id, "username": r.username, "name": r.name, "created_at": r.created_at }))
        .collect();
    Ok(Reply::Json(200, json!({ "users": users })))
}

async fn delete_user(db: &D1Database, id: &str) -> Result<Reply, OAuthError> {
    if !store::apply(db, &admin::delete_user(id, now())).await? {
        return Err(OAuthError::new(ErrorCode::NotFound, "no such user"));
    }
    Ok(Reply::Empty(204))
}

/// `POST /admin/initial-access-tokens`: a token for RFC 7591 registration, shown once.
async fn initial_token(db: &D1Database, body: &[u8]) -> Result<Reply, OAuthError> {
    let req =
        admin::parse_body::<admin::NewInitialToken>(if body.is_empty() { b"{}" } else { body })?;
    let token = ids::new_opaque(crate::oauth::clients::registration::INITIAL_TOKEN_PREFIX)?;
    let (expires_at, writes) = admin::initial_token(
        ids::lookup_key(&token),
        ids::token_id(token.as_bytes()),
        &req,
        now(),
    )?;
    store::apply(db, &writes).await?;
    Ok(Reply::Json(
        201,
        json!({ "initial_access_token": token, "expires_at": expires_at }),
    ))
}

async fn audit(db: &D1Database, query: &str) -> Result<Reply, OAuthError> {
    let params = crate::oauth::params::Params::from_form(query.as_bytes())?;
    let limit = params
        .get("limit")
        .and_then(|l| l.parse::<u64>().ok())
        .unwrap_or(100)
        .clamp(1, 1000);
    let rows = store::all(db, &reads::audit(params.get("token_id"), limit)).await?;
    Ok(Reply::Json(200, json!({ "events": rows })))
}
