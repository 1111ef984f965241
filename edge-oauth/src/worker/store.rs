//! The one D1 adapter: runs the store's typed queries ([`crate::store::reads`]), applies
//! batches ([`crate::store::writes`]) in one transaction, and meters what a request cost in
//! rows read and written. It knows no SQL: every statement comes from [`crate::store`].

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, D1Result, console_error};

use crate::oauth::clients::client::ClientRecord;
use crate::oauth::effects::Writes;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::tokens::access_token::AccessClaims;
use crate::store::reads::{BearerStatus, ClientRow, CodeRow, RefreshRow, TurnStatus, UserRow};
use crate::store::reads::{DeviceRow, PendingRow};
use crate::store::{self, Query, Statement, Value, reads};

fn db_error(what: &'static str, e: worker::Error) -> OAuthError {
    // D1 messages name tables and constraints, never bound values.
    console_error!("d1: {what}: {e}");
    OAuthError::new(
        ErrorCode::TemporarilyUnavailable,
        "the database is unavailable",
    )
}

/// Rows read and written, summed over a request's D1 calls.
#[derive(Default)]
pub struct Cost {
    read: u64,
    written: u64,
}

impl Cost {
    fn add(&mut self, r: &D1Result) {
        if let Ok(Some(m)) = r.meta() {
            self.read += m.rows_read.unwrap_or(0) as u64;
            self.written += m.rows_written.unwrap_or(0) as u64;
        }
    }

    /// `{"rows_read": .., "rows_written": ..}`.
    pub fn json(&self) -> serde_json::Value {
        json!({ "rows_read": self.read, "rows_written": self.written })
    }
}

/// Prepares and binds a statement.
fn prepare(db: &D1Database, s: &Statement) -> Result<D1PreparedStatement, OAuthError> {
    let values: Vec<JsValue> = s.args.iter().map(value).collect();
    db.prepare(&s.sql)
        .bind(&values)
        .map_err(|e| db_error("bind", e))
}

/// The first row of `q`, if any.
pub async fn first<T: DeserializeOwned>(
    db: &D1Database,
    q: &Query<T>,
) -> Result<Option<T>, OAuthError> {
    prepare(db, &q.statement)?
        .first::<T>(None)
        .await
        .map_err(|e| db_error("query", e))
}

/// The first rows of `a` and of `b`, read in one batch (one round trip to D1).
pub async fn first_of_both<A: DeserializeOwned, B: DeserializeOwned>(
    db: &D1Database,
    a: &Query<A>,
    b: &Query<B>,
) -> Result<(Option<A>, Option<B>), OAuthError> {
    let results = unmetered(db, &[a.statement.clone(), b.statement.clone()]).await?;
    let first_a = returned::<A>(results.first())?.into_iter().next();
    let first_b = returned::<B>(results.get(1))?.into_iter().next();
    Ok((first_a, first_b))
}

/// All rows of `q`.
pub async fn all<T: DeserializeOwned>(db: &D1Database, q: &Query<T>) -> Result<Vec<T>, OAuthError> {
    let r = prepare(db, &q.statement)?
        .all()
        .await
        .map_err(|e| db_error("query", e))?;
    r.results::<T>().map_err(|e| db_error("rows", e))
}

/// All rows of `q`, adding what it cost to `cost`.
pub async fn metered<T: DeserializeOwned>(
    db: &D1Database,
    q: &Query<T>,
    cost: &mut Cost,
) -> Result<Vec<T>, OAuthError> {
    let r = prepare(db, &q.statement)?
        .all()
        .await
        .map_err(|e| db_error("query", e))?;
    cost.add(&r);
    r.results::<T>().map_err(|e| db_error("rows", e))
}

/// Runs `stmts` as one batch (one transaction), adding what it cost to `cost`; the results in
/// order.
pub async fn batch(
    db: &D1Database,
    stmts: &[Statement],
    cost: &mut Cost,
) -> Result<Vec<D1Result>, OAuthError> {
    let results = unmetered(db, stmts).await?;
    for r in &results {
        cost.add(r);
    }
    Ok(results)
}

async fn unmetered(db: &D1Database, stmts: &[Statement]) -> Result<Vec<D1Result>, OAuthError> {
    let prepared = stmts
        .iter()
        .map(|s| prepare(db, s))
        .collect::<Result<Vec<_>, _>>()?;
    db.batch(prepared).await.map_err(|e| db_error("batch", e))
}

/// True when a statement's result has a `RETURNING` row.
pub fn returned_any(r: Option<&D1Result>) -> Result<bool, OAuthError> {
    #[derive(Deserialize)]
    struct Any {}
    match r {
        Some(r) => Ok(!r
            .results::<Any>()
            .map_err(|e| db_error("returning", e))?
            .is_empty()),
        None => Ok(false),
    }
}

/// The rows a statement of a batch returned (RETURNING), typed; none when there is no result.
pub fn returned<T: DeserializeOwned>(r: Option<&D1Result>) -> Result<Vec<T>, OAuthError> {
    match r {
        Some(r) => r.results::<T>().map_err(|e| db_error("returning", e)),
        None => Ok(Vec::new()),
    }
}

/// How many rows a statement's result changed.
pub fn changes(r: Option<&D1Result>) -> usize {
    r.and_then(|r| r.meta().ok().flatten())
        .and_then(|m| m.changes)
        .unwrap_or(0)
}

/// A client record.
pub async fn client(db: &D1Database, id: &str) -> Result<Option<ClientRecord>, OAuthError> {
    match first(db, &reads::client(id)).await? {
        Some(row) => Ok(Some(row.into_record()?)),
        None => Ok(None),
    }
}

/// A client record through the isolate's cache (see [`crate::oauth::clients::client_cache`]).
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
    first(db, &reads::user_by_name(username)).await
}

/// True when a person with this id exists (not deleted).
pub async fn user_exists(db: &D1Database, id: &str) -> Result<bool, OAuthError> {
    Ok(first(db, &reads::user_exists(id)).await?.is_some())
}

/// A code by lookup key.
pub async fn code(db: &D1Database, key: &str) -> Result<Option<CodeRow>, OAuthError> {
    first(db, &reads::code(key)).await
}

/// A refresh token by lookup key, with its family's revocation.
pub async fn refresh(db: &D1Database, key: &str) -> Result<Option<RefreshRow>, OAuthError> {
    first(db, &reads::refresh(key)).await
}

/// A device authorization by the device code's lookup key, with the approving person.
pub async fn device(db: &D1Database, key: &str) -> Result<Option<DeviceRow>, OAuthError> {
    first(db, &reads::device(key)).await
}

/// A pending, unexpired device authorization by its (normalised) user code.
pub async fn device_pending(
    db: &D1Database,
    user_code: &str,
    now: u64,
) -> Result<Option<PendingRow>, OAuthError> {
    first(db, &reads::device_pending(user_code, now)).await
}

/// The clients a person registered on `/create_client`.
pub async fn clients_owned_by(
    db: &D1Database,
    user_id: &str,
) -> Result<Vec<ClientRow>, OAuthError> {
    all(db, &reads::clients_owned_by(user_id)).await
}

/// True when an unexpired initial access token has this lookup key.
pub async fn initial_token_valid(db: &D1Database, key: &str, now: u64) -> Result<bool, OAuthError> {
    Ok(first(db, &reads::initial_token_valid(key, now))
        .await?
        .is_some())
}

/// An access token's standing and its user, in one query.
pub async fn bearer_status(db: &D1Database, c: &AccessClaims) -> Result<BearerStatus, OAuthError> {
    let q = reads::bearer_status(
        &c.jti,
        c.fid.as_deref().unwrap_or(""),
        &c.client_id,
        c.user_id().unwrap_or(""),
    );
    Ok(first(db, &q).await?.unwrap_or_default())
}

/// A TURN token's revocation and, from the audit trail, who it was issued to.
pub async fn turn_status(db: &D1Database, token_id: &str) -> Result<TurnStatus, OAuthError> {
    Ok(first(db, &reads::turn_status(token_id))
        .await?
        .unwrap_or_default())
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

/// Applies `writes` in one batch (one transaction), as [`store::writes::batch`] lays them
/// out. Returns false when the claim failed (the code or refresh token was used meanwhile,
/// the client id or username is taken, the row to delete is gone): then nothing was written.
pub async fn apply(db: &D1Database, writes: &Writes) -> Result<bool, OAuthError> {
    Ok(applied(db, writes, None).await?.0)
}

/// [`apply`], adding what it cost to `cost`; also the batch's results.
pub async fn apply_metered(
    db: &D1Database,
    writes: &Writes,
    cost: &mut Cost,
) -> Result<(bool, Vec<D1Result>), OAuthError> {
    applied(db, writes, Some(cost)).await
}

async fn applied(
    db: &D1Database,
    writes: &Writes,
    cost: Option<&mut Cost>,
) -> Result<(bool, Vec<D1Result>), OAuthError> {
    let plan = store::writes::batch(writes);
    if plan.statements.is_empty() {
        return Ok((true, Vec::new()));
    }
    let results = match cost {
        Some(cost) => batch(db, &plan.statements, cost).await?,
        None => unmetered(db, &plan.statements).await?,
    };
    let took = match plan.claim {
        None => true,
        Some(index) => returned_any(results.get(index))?,
    };
    Ok((took, results))
}
