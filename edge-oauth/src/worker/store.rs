//! D1: loading rows, and applying [`Writes`] in one batch (one transaction). Single-use steps
//! are conditional UPDATEs (`... WHERE used_at IS NULL RETURNING id`); rows that depend on
//! them are `INSERT ... SELECT ... WHERE EXISTS (<the claim happened>)` in the same batch.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, console_error};

use crate::oauth::access_token::AccessClaims;
use crate::oauth::client::ClientRecord;
use crate::oauth::control::feed::{self, Source};
use crate::oauth::control::sql::{Statement as ControlStatement, Value as ControlValue};
use crate::oauth::effects::{AuditEvent, Claim, Writes};
use crate::oauth::error::OAuthError;
use crate::oauth::records::{BearerStatus, ClientRow, CodeRow, RefreshRow, TurnStatus, UserRow};

/// A bound value.
pub enum Arg<'a> {
    /// Text.
    Text(&'a str),
    /// Text or NULL.
    Opt(Option<&'a str>),
    /// An integer (Unix seconds, lifetimes).
    Int(u64),
    /// An integer or NULL.
    OptInt(Option<u32>),
}

fn js(a: &Arg<'_>) -> JsValue {
    match a {
        Arg::Text(s) => JsValue::from_str(s),
        Arg::Opt(Some(s)) => JsValue::from_str(s),
        Arg::Opt(None) | Arg::OptInt(None) => JsValue::NULL,
        // Unix seconds and lifetimes are far below 2^53: exact as f64.
        Arg::Int(n) => JsValue::from_f64(*n as f64),
        Arg::OptInt(Some(n)) => JsValue::from_f64(f64::from(*n)),
    }
}

fn db_error(what: &'static str, e: worker::Error) -> OAuthError {
    // D1 messages name tables and constraints, never bound values.
    console_error!("d1: {what}: {e}");
    OAuthError::new(
        crate::oauth::ErrorCode::TemporarilyUnavailable,
        "the database is unavailable",
    )
}

/// Prepares and binds a statement.
pub fn stmt(
    db: &D1Database,
    sql: &str,
    args: &[Arg<'_>],
) -> Result<D1PreparedStatement, OAuthError> {
    let values: Vec<JsValue> = args.iter().map(js).collect();
    db.prepare(sql)
        .bind(&values)
        .map_err(|e| db_error("bind", e))
}

/// The first row, if any.
pub async fn first<T: DeserializeOwned>(
    db: &D1Database,
    sql: &str,
    args: &[Arg<'_>],
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
    args: &[Arg<'_>],
) -> Result<Vec<T>, OAuthError> {
    let r = stmt(db, sql, args)?
        .all()
        .await
        .map_err(|e| db_error("query", e))?;
    r.results::<T>().map_err(|e| db_error("rows", e))
}

/// Runs one statement; returns the rows it changed.
pub async fn run(db: &D1Database, sql: &str, args: &[Arg<'_>]) -> Result<usize, OAuthError> {
    let r = stmt(db, sql, args)?
        .run()
        .await
        .map_err(|e| db_error("write", e))?;
    Ok(r.meta().ok().flatten().and_then(|m| m.changes).unwrap_or(0))
}

/// A client record.
pub async fn client(db: &D1Database, id: &str) -> Result<Option<ClientRecord>, OAuthError> {
    match first::<ClientRow>(db, "SELECT * FROM clients WHERE id = ?", &[Arg::Text(id)]).await? {
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
        "SELECT id, username, password_hash, name FROM users WHERE username = ?",
        &[Arg::Text(username)],
    )
    .await
}

/// A code by lookup key.
pub async fn code(db: &D1Database, key: &str) -> Result<Option<CodeRow>, OAuthError> {
    first(
        db,
        "SELECT client_id, user_id, redirect_uri, scope, code_challenge, expires_at, used_at, family_id FROM auth_codes WHERE id = ?",
        &[Arg::Text(key)],
    )
    .await
}

/// A refresh token by lookup key, with its family's revocation.
pub async fn refresh(db: &D1Database, key: &str) -> Result<Option<RefreshRow>, OAuthError> {
    first(
        db,
        "SELECT r.family_id, r.client_id, r.user_id, r.scope, r.created_at, r.expires_at, r.used_at, \
         f.revoked_at AS family_revoked_at \
         FROM refresh_tokens r LEFT JOIN families f ON f.id = r.family_id WHERE r.id = ?",
        &[Arg::Text(key)],
    )
    .await
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
         (SELECT revoked_before FROM users WHERE id = ?4) AS user_revoked_before",
        &[
            Arg::Text(&c.jti),
            Arg::Text(fid),
            Arg::Text(&c.client_id),
            Arg::Text(user),
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
        &[Arg::Text(token_id)],
    )
    .await?;
    Ok(row.unwrap_or_default())
}

#[derive(Deserialize)]
struct Claimed {
    #[allow(dead_code)]
    id: String,
}

/// Applies `writes` in one batch. Returns false when the claim failed (the code or refresh
/// token was used meanwhile): then nothing else was written.
pub async fn apply(db: &D1Database, w: &Writes) -> Result<bool, OAuthError> {
    let mut stmts = Vec::new();
    // The guard every dependent row carries, as SQL and its (text) arguments.
    let (guard, guard_args): (&str, Vec<String>) = match &w.claim {
        Claim::None => ("1", vec![]),
        Claim::Code {
            key,
            family_id,
            now,
        } => {
            stmts.push(stmt(
                db,
                "UPDATE auth_codes SET used_at = ?, family_id = ? WHERE id = ? AND used_at IS NULL RETURNING id",
                &[Arg::Int(*now), Arg::Text(family_id), Arg::Text(key)],
            )?);
            (
                "EXISTS (SELECT 1 FROM auth_codes WHERE id = ? AND family_id = ?)",
                vec![key.clone(), family_id.clone()],
            )
        }
        Claim::Refresh {
            old_key,
            new_key,
            now,
        } => {
            stmts.push(stmt(
                db,
                "UPDATE refresh_tokens SET used_at = ?1, replaced_by = ?2 \
                 WHERE id = ?3 AND used_at IS NULL AND expires_at > ?1 \
                 AND NOT EXISTS (SELECT 1 FROM families f WHERE f.id = refresh_tokens.family_id AND f.revoked_at IS NOT NULL) \
                 RETURNING id",
                &[Arg::Int(*now), Arg::Text(new_key), Arg::Text(old_key)],
            )?);
            (
                "EXISTS (SELECT 1 FROM refresh_tokens WHERE id = ? AND replaced_by = ?)",
                vec![old_key.clone(), new_key.clone()],
            )
        }
    };
    let guarded = |sql: &str, args: &[Arg<'_>]| -> Result<D1PreparedStatement, OAuthError> {
        let mut values: Vec<JsValue> = args.iter().map(js).collect();
        values.extend(guard_args.iter().map(|a| JsValue::from_str(a)));
        db.prepare(format!("{sql} WHERE {guard}"))
            .bind(&values)
            .map_err(|e| db_error("bind", e))
    };
    if let Some(f) = &w.family {
        stmts.push(guarded(
            "INSERT INTO families (id, client_id, user_id, scope, created_at) SELECT ?, ?, ?, ?, ?",
            &[
                Arg::Text(&f.id),
                Arg::Text(&f.client_id),
                Arg::Opt(f.user_id.as_deref()),
                Arg::Text(&f.scope),
                Arg::Int(f.created_at),
            ],
        )?);
    }
    if let Some(r) = &w.refresh {
        stmts.push(guarded(
            "INSERT INTO refresh_tokens (id, family_id, client_id, user_id, scope, expires_at, created_at) SELECT ?, ?, ?, ?, ?, ?, ?",
            &[
                Arg::Text(&r.key),
                Arg::Text(&r.family_id),
                Arg::Text(&r.client_id),
                Arg::Opt(r.user_id.as_deref()),
                Arg::Text(&r.scope),
                Arg::Int(r.expires_at),
                Arg::Int(r.created_at),
            ],
        )?);
    }
    if let Some(c) = &w.code {
        stmts.push(stmt(
            db,
            "INSERT INTO auth_codes (id, client_id, user_id, redirect_uri, scope, code_challenge, expires_at, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            &[
                Arg::Text(&c.key),
                Arg::Text(&c.client_id),
                Arg::Text(&c.user_id),
                Arg::Text(&c.redirect_uri),
                Arg::Text(&c.scope),
                Arg::Text(&c.code_challenge),
                Arg::Int(c.expires_at),
                Arg::Int(c.created_at),
            ],
        )?);
    }
    if let Some((family, reason)) = &w.revoke_family {
        stmts.push(revoke_family_stmt(db, family, reason, now_of(w))?);
    }
    if let Some(r) = &w.revoke_token {
        stmts.push(stmt(
            db,
            "INSERT OR IGNORE INTO revocations (token_id, kind, expires_at, revoked_at) VALUES (?, ?, ?, ?)",
            &[Arg::Text(&r.token_id), Arg::Text(r.kind), Arg::Int(r.expires_at), Arg::Int(r.revoked_at)],
        )?);
    }
    for a in &w.audit {
        stmts.push(guarded(
            "INSERT INTO audit (at, event, token_id, client_id, user_id, family_id, detail) SELECT ?, ?, ?, ?, ?, ?, ?",
            &audit_args(a),
        )?);
    }
    for c in &w.control {
        let mut s = c.clone();
        s.sql = format!("{} AND {guard}", s.sql);
        s.args
            .extend(guard_args.iter().map(|a| ControlValue::from(a.as_str())));
        stmts.push(super::control::prepare(db, &s)?);
    }
    if stmts.is_empty() {
        return Ok(true);
    }
    let results = db.batch(stmts).await.map_err(|e| db_error("batch", e))?;
    if matches!(w.claim, Claim::None) {
        return Ok(true);
    }
    let claimed = results
        .first()
        .map(|r| r.results::<Claimed>().map(|rows| !rows.is_empty()));
    match claimed {
        Some(Ok(c)) => Ok(c),
        Some(Err(e)) => Err(db_error("claim", e)),
        None => Ok(false),
    }
}

fn now_of(w: &Writes) -> u64 {
    match &w.claim {
        Claim::Code { now, .. } | Claim::Refresh { now, .. } => *now,
        Claim::None => w
            .audit
            .first()
            .map(|a| a.at)
            .or(w.revoke_token.as_ref().map(|r| r.revoked_at))
            .unwrap_or(0),
    }
}

fn audit_args(a: &AuditEvent) -> Vec<Arg<'_>> {
    vec![
        Arg::Int(a.at),
        Arg::Text(a.event),
        Arg::Opt(a.token_id.as_deref()),
        Arg::Opt(a.client_id.as_deref()),
        Arg::Opt(a.user_id.as_deref()),
        Arg::Opt(a.family_id.as_deref()),
        Arg::Opt(a.detail),
    ]
}

fn revoke_family_stmt(
    db: &D1Database,
    family: &str,
    reason: &str,
    now: u64,
) -> Result<D1PreparedStatement, OAuthError> {
    stmt(
        db,
        "UPDATE families SET revoked_at = ?, revoked_reason = ? WHERE id = ? AND revoked_at IS NULL",
        &[Arg::Int(now), Arg::Text(reason), Arg::Text(family)],
    )
}

/// Revokes a family (reuse of a refresh token, replay of a code) and records why; its TURN
/// tokens enter the relays' revocation feed.
pub async fn revoke_family(
    db: &D1Database,
    family: &str,
    reason: &'static str,
    event: AuditEvent,
) -> Result<(), OAuthError> {
    let at = event.at;
    let stmts = vec![
        revoke_family_stmt(db, family, reason, at)?,
        super::control::prepare(
            db,
            &feed::revoke(&Source::Family(family.to_string()), reason, at),
        )?,
        stmt(
            db,
            "INSERT INTO audit (at, event, token_id, client_id, user_id, family_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
            &audit_args(&event),
        )?,
    ];
    db.batch(stmts).await.map_err(|e| db_error("revoke", e))?;
    Ok(())
}

/// Revokes every family of a client or user (on deletion), and puts every TURN token issued
/// to it into the relays' revocation feed (those of client_credentials grants have no family).
pub async fn revoke_families_of(
    db: &D1Database,
    column: Owner,
    id: &str,
    reason: &'static str,
    now: u64,
) -> Result<(), OAuthError> {
    let source = match column {
        Owner::Client => Source::Client(id.to_string()),
        Owner::User => Source::User(id.to_string()),
    };
    let sql = match column {
        Owner::Client => {
            "UPDATE families SET revoked_at = ?, revoked_reason = ? WHERE client_id = ? AND revoked_at IS NULL"
        }
        Owner::User => {
            "UPDATE families SET revoked_at = ?, revoked_reason = ? WHERE user_id = ? AND revoked_at IS NULL"
        }
    };
    let stmts = vec![
        stmt(db, sql, &[Arg::Int(now), Arg::Text(reason), Arg::Text(id)])?,
        super::control::prepare(db, &feed::revoke(&source, reason, now))?,
    ];
    db.batch(stmts).await.map_err(|e| db_error("revoke", e))?;
    Ok(())
}

/// Whose families to revoke.
#[derive(Clone, Copy)]
pub enum Owner {
    /// By client.
    Client,
    /// By user.
    User,
}

/// Inserts one audit row and, in the same batch, control-plane rows (a TURN token issued).
pub async fn audit_with(
    db: &D1Database,
    a: &AuditEvent,
    control: &[ControlStatement],
) -> Result<(), OAuthError> {
    let mut stmts = vec![stmt(
        db,
        "INSERT INTO audit (at, event, token_id, client_id, user_id, family_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
        &audit_args(a),
    )?];
    for c in control {
        stmts.push(super::control::prepare(db, c)?);
    }
    db.batch(stmts).await.map_err(|e| db_error("audit", e))?;
    Ok(())
}

/// Inserts one audit row.
pub async fn audit(db: &D1Database, a: &AuditEvent) -> Result<(), OAuthError> {
    run(db, "INSERT INTO audit (at, event, token_id, client_id, user_id, family_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?)", &audit_args(a))
        .await
        .map(|_| ())
}
