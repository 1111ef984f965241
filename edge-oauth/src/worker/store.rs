//! D1: loading rows, and applying [`Writes`] in one batch (one transaction), with the
//! statements [`crate::oauth::sql`] makes of them.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, console_error};

use crate::oauth::access_token::AccessClaims;
use crate::oauth::client::ClientRecord;
use crate::oauth::device::{DeviceRow, PendingRow};
use crate::oauth::effects::Writes;
use crate::oauth::error::OAuthError;
use crate::oauth::records::{BearerStatus, ClientRow, CodeRow, RefreshRow, TurnStatus, UserRow};
use crate::oauth::sql::{self, Value};

fn db_error(what: &'static str, e: worker::Error) -> OAuthError {
    // D1 messages name tables and constraints, never bound values.
    console_error!("d1: {what}: {e}");
    OAuthError::new(
        crate::oauth::ErrorCode::TemporarilyUnavailable,
        "the database is unavailable",
    )
}

/// Prepares and binds a statement.
pub fn stmt(db: &D1Database, sql: &str, args: &[Value]) -> Result<D1PreparedStatement, OAuthError> {
    let values: Vec<JsValue> = args.iter().map(value).collect();
    db.prepare(sql)
        .bind(&values)
        .map_err(|e| db_error("bind", e))
}

/// The first row, if any.
pub async fn first<T: DeserializeOwned>(
    db: &D1Database,
    sql: &str,
    args: &[Value],
) -> Result<Option<T>, OAuthError> {
    stmt(db, sql, args)?
        .first::<T>(None)
        .await
        .map_err(|e| db_error("query", e))
}

/// All rows.
pub async fn all<T: DeserializeOwned>(
    db: &D1Database,
    sql: &str,
    args: &[Value],
) -> Result<Vec<T>, OAuthError> {
    let r = stmt(db, sql, args)?
        .all()
        .await
        .map_err(|e| db_error("query", e))?;
    r.results::<T>().map_err(|e| db_error("rows", e))
}

/// A client record.
pub async fn client(db: &D1Database, id: &str) -> Result<Option<ClientRecord>, OAuthError> {
    match first::<ClientRow>(db, "SELECT * FROM clients WHERE id = ?", &[Value::from(id)]).await? {
        Some(row) => Ok(Some(row.into_record()?)),
        None => Ok(None),
    }
}

/// A client record through the isolate's cache (see [`crate::oauth::client_cache`]).
pub async fn client_cached(
    db: &D1Database,
    id: &str,
    now: u64,
    ttl: u32,
) -> Result<Option<ClientRecord>, OAuthError> {
    if let Some(r) = super::env::with_clients(|c| c.get(id, now)) {
        return Ok(Some(r));
    }
    let record = client(db, id).await?;
    if let Some(r) = &record {
        super::env::with_clients(|c| c.put(r, now, ttl));
    }
    Ok(record)
}

/// A user by sign-in name.
pub async fn user_by_name(db: &D1Database, username: &str) -> Result<Option<UserRow>, OAuthError> {
    first(
        db,
        "SELECT id, username, password_hash, name, email, rights FROM users WHERE username = ?",
        &[Value::from(username)],
    )
    .await
}

/// True when a person with this id exists (not deleted).
pub async fn user_exists(db: &D1Database, id: &str) -> Result<bool, OAuthError> {
    #[derive(serde::Deserialize)]
    struct Found {
        #[allow(dead_code)] // only its presence is read
        id: String,
    }
    Ok(
        first::<Found>(db, "SELECT id FROM users WHERE id = ?", &[Value::from(id)])
            .await?
            .is_some(),
    )
}

/// A code by lookup key.
pub async fn code(db: &D1Database, key: &str) -> Result<Option<CodeRow>, OAuthError> {
    first(
        db,
        "SELECT c.client_id, c.user_id, c.redirect_uri, c.scope, c.code_challenge, c.expires_at, c.used_at, c.family_id, \
         c.nonce, c.auth_time, u.username, u.name, u.email, u.rights \
         FROM auth_codes c LEFT JOIN users u ON u.id = c.user_id WHERE c.id = ?",
        &[Value::from(key)],
    )
    .await
}

/// A refresh token by lookup key, with its family's revocation.
pub async fn refresh(db: &D1Database, key: &str) -> Result<Option<RefreshRow>, OAuthError> {
    first(
        db,
        "SELECT r.family_id, r.client_id, r.user_id, r.scope, r.created_at, r.expires_at, r.used_at, \
         f.revoked_at AS family_revoked_at, f.auth_time, u.username, u.name, u.email, u.rights \
         FROM refresh_tokens r LEFT JOIN families f ON f.id = r.family_id LEFT JOIN users u ON u.id = r.user_id \
         WHERE r.id = ?",
        &[Value::from(key)],
    )
    .await
}

/// A device authorization by the device code's lookup key, with the approving person.
pub async fn device(db: &D1Database, key: &str) -> Result<Option<DeviceRow>, OAuthError> {
    first(
        db,
        "SELECT d.client_id, d.scope, d.status, d.poll_interval, d.last_poll_at, d.expires_at, d.auth_time, d.family_id, \
         d.user_id, u.username, u.name, u.email, u.rights \
         FROM device_codes d LEFT JOIN users u ON u.id = d.user_id WHERE d.id = ?",
        &[Value::from(key)],
    )
    .await
}

/// A pending, unexpired device authorization by its (normalised) user code.
pub async fn device_pending(
    db: &D1Database,
    user_code: &str,
    now: u64,
) -> Result<Option<PendingRow>, OAuthError> {
    first(
        db,
        "SELECT id, client_id, scope FROM device_codes \
         WHERE user_code = ? AND status = 'pending' AND expires_at > ? ORDER BY created_at DESC LIMIT 1",
        &[Value::from(user_code), Value::Int(now)],
    )
    .await
}

/// The clients a person registered on `/create_client`.
pub async fn clients_owned_by(
    db: &D1Database,
    user_id: &str,
) -> Result<Vec<ClientRow>, OAuthError> {
    all(
        db,
        "SELECT * FROM clients WHERE owner_id = ? ORDER BY created_at, id",
        &[Value::from(user_id)],
    )
    .await
}

/// True when an unexpired initial access token has this lookup key.
pub async fn initial_token_valid(db: &D1Database, key: &str, now: u64) -> Result<bool, OAuthError> {
    #[derive(Deserialize)]
    struct Found {
        #[allow(dead_code)]
        id: String,
    }
    Ok(first::<Found>(
        db,
        "SELECT id FROM initial_access_tokens WHERE id = ? AND expires_at > ?",
        &[Value::from(key), Value::Int(now)],
    )
    .await?
    .is_some())
}

/// An access token's standing and its user, in one query.
pub async fn bearer_status(db: &D1Database, c: &AccessClaims) -> Result<BearerStatus, OAuthError> {
    let user = c.user_id().unwrap_or("");
    let fid = c.fid.as_deref().unwrap_or("");
    let row = first::<BearerStatus>(
        db,
        "SELECT (SELECT 1 FROM revocations WHERE token_id = ?1) AS revoked, \
         (SELECT revoked_at FROM families WHERE id = ?2) AS family_revoked_at, \
         (SELECT 1 FROM clients WHERE id = ?3) AS client_exists, \
         (SELECT username FROM users WHERE id = ?4) AS username, \
         (SELECT name FROM users WHERE id = ?4) AS name, \
         (SELECT email FROM users WHERE id = ?4) AS email, \
         (SELECT revoked_before FROM users WHERE id = ?4) AS user_revoked_before",
        &[
            Value::from(&c.jti),
            Value::from(fid),
            Value::from(&c.client_id),
            Value::from(user),
        ],
    )
    .await?;
    Ok(row.unwrap_or_default())
}

/// A TURN token's revocation and, from the audit trail, who it was issued to.
pub async fn turn_status(db: &D1Database, token_id: &str) -> Result<TurnStatus, OAuthError> {
    let row = first::<TurnStatus>(
        db,
        "SELECT (SELECT 1 FROM revocations WHERE token_id = ?1) AS revoked, \
         (SELECT client_id FROM audit WHERE token_id = ?1 AND event IN ('turn_token.issued', 'turn_credential.issued') LIMIT 1) AS client_id, \
         (SELECT user_id FROM audit WHERE token_id = ?1 AND event IN ('turn_token.issued', 'turn_credential.issued') LIMIT 1) AS user_id",
        &[Value::from(token_id)],
    )
    .await?;
    Ok(row.unwrap_or_default())
}

#[derive(Deserialize)]
struct Claimed {
    #[allow(dead_code)]
    id: String,
}

fn value(v: &Value) -> JsValue {
    match v {
        Value::Text(s) => JsValue::from_str(s),
        // Unix seconds and lifetimes are far below 2^53, counters checked against MAX_EXACT
        // where they come in: exact as f64.
        Value::Int(n) => JsValue::from_f64(*n as f64),
        Value::Real(x) => JsValue::from_f64(*x),
        Value::Null => JsValue::NULL,
    }
}

/// Applies `writes` in one batch (one transaction), as [`sql::batch`] lays them out. Returns
/// false when the claim failed (the code or refresh token was used meanwhile, the client id
/// or username is taken, the row to delete is gone): then nothing was written.
pub async fn apply(db: &D1Database, writes: &Writes) -> Result<bool, OAuthError> {
    let batch = sql::batch(writes);
    if batch.statements.is_empty() {
        return Ok(true);
    }
    let mut stmts = Vec::with_capacity(batch.statements.len());
    for s in &batch.statements {
        stmts.push(stmt(db, &s.sql, &s.args)?);
    }
    let results = db.batch(stmts).await.map_err(|e| db_error("batch", e))?;
    let Some(index) = batch.claim else {
        return Ok(true);
    };
    match results.get(index).map(|r| r.results::<Claimed>()) {
        Some(Ok(rows)) => Ok(!rows.is_empty()),
        Some(Err(e)) => Err(db_error("claim", e)),
        None => Ok(false),
    }
}
