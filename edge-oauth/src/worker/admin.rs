//! The admin API (`Authorization: Bearer <ADMIN_SECRET>`): clients, users, the audit trail.

use serde::Deserialize;
use serde_json::{Value, json};
use worker::{D1Database, Env, Method, Request};

use super::http::{Reply, header, now, read_body};
use super::store::{self, Arg, Owner};
use super::{crypto, env};
use crate::oauth::admin::{self, NewClient, NewUser, SecretPlan, ValidClient};
use crate::oauth::config::Config;
use crate::oauth::effects::{AuditEvent, event};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::ids;
use crate::oauth::params::MAX_ADMIN_BODY;
use crate::oauth::password::{PasswordHash, SALT_LEN};
use crate::oauth::records::ClientRow;

/// Dispatches `/admin/...`.
pub async fn handle(mut req: Request, env: &Env, method: Method, path: &str) -> Reply {
    let run = async {
        let cfg = env::config(env)?;
        admin::authorize(&cfg, header(&req, "authorization").as_deref())?;
        let db = env::db(env)?;
        let url = req
            .url()
            .map_err(|_| OAuthError::invalid_request("bad URL"))?;
        let rest = path.trim_start_matches("/admin");
        match (method, rest) {
            (Method::Post, "/clients") => {
                create_client(&cfg, &db, &read_body(&mut req, MAX_ADMIN_BODY).await?).await
            }
            (Method::Get, "/clients") => list_clients(&db).await,
            (Method::Delete, r) if r.starts_with("/clients/") => {
                delete_client(&db, r.trim_start_matches("/clients/")).await
            }
            (Method::Post, "/users") => {
                create_user(&cfg, &db, &read_body(&mut req, MAX_ADMIN_BODY).await?).await
            }
            (Method::Get, "/users") => list_users(&db).await,
            (Method::Delete, r) if r.starts_with("/users/") => {
                delete_user(&db, r.trim_start_matches("/users/")).await
            }
            (Method::Get, "/audit") => audit(&db, url.query().unwrap_or("")).await,
            (_, "/clients" | "/users" | "/audit") => Err(OAuthError::new(
                ErrorCode::MethodNotAllowed,
                "method not allowed",
            )),
            _ => Err(OAuthError::new(
                ErrorCode::NotFound,
                "no such admin endpoint",
            )),
        }
    };
    run.await.unwrap_or_else(Reply::Error)
}

fn conflict(what: &'static str) -> OAuthError {
    OAuthError::invalid_request(what).with_status(409)
}

async fn hash(secret: &str, iterations: u32) -> Result<String, OAuthError> {
    let salt = ids::random::<SALT_LEN>()?;
    let derived = crypto::pbkdf2(secret.as_bytes(), &salt, iterations).await?;
    Ok(PasswordHash::from_derived(iterations, &salt, derived).encode())
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
    let now = now();
    let redirect_uris = serde_json::to_string(&c.redirect_uris)
        .map_err(|_| OAuthError::server_error("encoding"))?;
    let scopes = c.scope.to_string();
    let name = c.name.clone().unwrap_or_else(|| id.clone());
    let inserted = store::run(
        db,
        "INSERT OR IGNORE INTO clients (id, name, secret_hash, redirect_uris, grant_types, scopes, access_token_ttl, refresh_token_ttl, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &[
            Arg::Text(&id),
            Arg::Text(&name),
            Arg::Opt(secret_hash.as_deref()),
            Arg::Text(&redirect_uris),
            Arg::Text(&c.grant_types_text()),
            Arg::Text(&scopes),
            Arg::OptInt(c.access_token_ttl),
            Arg::OptInt(c.refresh_token_ttl),
            Arg::Int(now),
        ],
    )
    .await?;
    if inserted == 0 {
        return Err(conflict("a client with this client_id exists"));
    }
    store::audit(
        db,
        &AuditEvent {
            client_id: Some(id.clone()),
            ..AuditEvent::new(now, event::CLIENT_CREATED)
        },
    )
    .await?;
    let mut v = json!({
        "client_id": id,
        "name": name,
        "public": secret_hash.is_none(),
        "redirect_uris": c.redirect_uris,
        "grant_types": c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "scopes": scopes.split(' ').filter(|s| !s.is_empty()).collect::<Vec<_>>(),
    });
    // A generated secret is shown once, here, and never again.
    if let (Some(s), Some(obj)) = (secret, v.as_object_mut()) {
        obj.insert("client_secret".into(), Value::String(s));
    }
    Ok(Reply::Json(201, v))
}

async fn list_clients(db: &D1Database) -> Result<Reply, OAuthError> {
    let rows: Vec<ClientRow> =
        store::all(db, "SELECT * FROM clients ORDER BY created_at, id", &[]).await?;
    Ok(Reply::Json(
        200,
        json!({ "clients": rows.iter().map(admin::client_json).collect::<Vec<_>>() }),
    ))
}

async fn delete_client(db: &D1Database, id: &str) -> Result<Reply, OAuthError> {
    let now = now();
    env::with_clients(|c| c.forget(id));
    if store::run(db, "DELETE FROM clients WHERE id = ?", &[Arg::Text(id)]).await? == 0 {
        return Err(OAuthError::new(ErrorCode::NotFound, "no such client"));
    }
    // Access tokens of a deleted client fail their standing check (the client is gone); its
    // families are revoked so refresh tokens die too, even if the id is registered again.
    store::revoke_families_of(db, Owner::Client, id, "client_deleted", now).await?;
    store::audit(
        db,
        &AuditEvent {
            client_id: Some(id.to_string()),
            ..AuditEvent::new(now, event::CLIENT_DELETED)
        },
    )
    .await?;
    Ok(Reply::Empty(204))
}

async fn create_user(cfg: &Config, db: &D1Database, body: &[u8]) -> Result<Reply, OAuthError> {
    let u = admin::parse_body::<NewUser>(body)?.validate()?;
    let id = ids::new_id("u_")?;
    let now = now();
    let h = hash(&u.password, cfg.password_iterations).await?;
    let inserted = store::run(
        db,
        "INSERT OR IGNORE INTO users (id, username, password_hash, name, created_at) VALUES (?, ?, ?, ?, ?)",
        &[Arg::Text(&id), Arg::Text(&u.username), Arg::Text(&h), Arg::Opt(u.name.as_deref()), Arg::Int(now)],
    )
    .await?;
    if inserted == 0 {
        return Err(conflict("a user with this username exists"));
    }
    store::audit(
        db,
        &AuditEvent {
            user_id: Some(id.clone()),
            ..AuditEvent::new(now, event::USER_CREATED)
        },
    )
    .await?;
    Ok(Reply::Json(
        201,
        json!({ "user_id": id, "username": u.username, "name": u.name }),
    ))
}

#[derive(Deserialize)]
struct UserListRow {
    id: String,
    username: String,
    name: Option<String>,
    created_at: u64,
}

async fn list_users(db: &D1Database) -> Result<Reply, OAuthError> {
    let rows: Vec<UserListRow> = store::all(
        db,
        "SELECT id, username, name, created_at FROM users ORDER BY created_at, id",
        &[],
    )
    .await?;
    let users: Vec<Value> = rows
        .iter()
        .map(|r| json!({ "user_id": r.id, "username": r.username, "name": r.name, "created_at": r.created_at }))
        .collect();
    Ok(Reply::Json(200, json!({ "users": users })))
}

async fn delete_user(db: &D1Database, id: &str) -> Result<Reply, OAuthError> {
    let now = now();
    if store::run(db, "DELETE FROM users WHERE id = ?", &[Arg::Text(id)]).await? == 0 {
        return Err(OAuthError::new(ErrorCode::NotFound, "no such user"));
    }
    store::revoke_families_of(db, Owner::User, id, "user_deleted", now).await?;
    store::audit(
        db,
        &AuditEvent {
            user_id: Some(id.to_string()),
            ..AuditEvent::new(now, event::USER_DELETED)
        },
    )
    .await?;
    Ok(Reply::Empty(204))
}

#[derive(Deserialize, serde::Serialize)]
struct AuditRow {
    id: u64,
    at: u64,
    event: String,
    token_id: Option<String>,
    client_id: Option<String>,
    user_id: Option<String>,
    family_id: Option<String>,
    detail: Option<String>,
}

async fn audit(db: &D1Database, query: &str) -> Result<Reply, OAuthError> {
    let params = crate::oauth::params::Params::from_form(query.as_bytes())?;
    let limit = params
        .get("limit")
        .and_then(|l| l.parse::<u64>().ok())
        .unwrap_or(100)
        .clamp(1, 1000);
    let rows: Vec<AuditRow> = match params.get("token_id") {
        Some(t) => {
            store::all(
                db,
                "SELECT * FROM audit WHERE token_id = ? ORDER BY id DESC LIMIT ?",
                &[Arg::Text(t), Arg::Int(limit)],
            )
            .await?
        }
        None => {
            store::all(
                db,
                "SELECT * FROM audit ORDER BY id DESC LIMIT ?",
                &[Arg::Int(limit)],
            )
            .await?
        }
    };
    Ok(Reply::Json(200, json!({ "events": rows })))
}
