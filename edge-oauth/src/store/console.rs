//! The operator console's storage (migrations/0013_console.sql): its sessions, the people,
//! relays and audit rows it lists, each query next to its row, and the statements of its
//! claims and rows ([`super::writes`] places them in a batch).

use serde::Deserialize;

use super::query::Query;
use super::value::{Statement, Value};
use crate::oauth::effects::Claim;

// ---- rows ----

/// The person behind a console session.
#[derive(Clone, Debug, Deserialize)]
pub struct SessionRow {
    /// User id.
    pub user_id: String,
    /// Sign-in name.
    pub username: String,
    /// Space-separated rights.
    pub rights: String,
    /// Set when the person was disabled.
    pub disabled_at: Option<u64>,
    /// Everything of the person issued before this second was revoked.
    pub revoked_before: Option<u64>,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds.
    pub expires_at: u64,
}

/// A person as the console lists them (never the password record).
#[derive(Clone, Debug, Deserialize)]
pub struct PersonRow {
    /// User id.
    pub id: String,
    /// Sign-in name.
    pub username: String,
    /// Display name.
    pub name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Space-separated rights.
    pub rights: String,
    /// Set when disabled.
    pub disabled_at: Option<u64>,
    /// Everything issued before this second was revoked.
    pub revoked_before: Option<u64>,
    /// Live token families (sessions at apps).
    pub families: u64,
    /// Unix seconds.
    pub created_at: u64,
}

/// A relay as the console shows it.
#[derive(Clone, Debug, Deserialize)]
pub struct RelayRow {
    /// Its name.
    pub relay_id: String,
    /// The relay client.
    pub client_id: String,
    /// JSON array of URLs.
    pub urls: String,
    /// Region, if told.
    pub region: Option<String>,
    /// Allocations now.
    pub allocations: u64,
    /// Most allocations.
    pub capacity: u64,
    /// allocations / capacity.
    pub load: f64,
    /// 1 while the relay reports draining.
    pub draining: u64,
    /// Version.
    pub version: Option<String>,
    /// Its revocation feed cursor.
    pub revocation_cursor: Option<u64>,
    /// Usage records not yet sent.
    pub usage_backlog: Option<u64>,
    /// Usage records dropped.
    pub usage_dropped: Option<u64>,
    /// Unix seconds.
    pub first_seen: u64,
    /// Unix seconds of the last heartbeat.
    pub last_seen: u64,
    /// Set while the console asks that it get no new callers.
    pub drain_requested_at: Option<u64>,
}

// ---- queries ----

/// The live session with this lookup key, with its person (who must still exist).
pub fn session(key: &str, now: u64) -> Query<SessionRow> {
    Query::new(
        "SELECT s.user_id, u.username, u.rights, u.disabled_at, u.revoked_before, s.created_at, s.expires_at FROM console_sessions s \
         JOIN users u ON u.id = s.user_id WHERE s.id = ? AND s.expires_at > ?",
        vec![key.into(), now.into()],
    )
}

const PERSON: &str = "SELECT u.id, u.username, u.name, u.email, u.rights, u.disabled_at, u.revoked_before, u.created_at, \
     (SELECT count(*) FROM families f WHERE f.user_id = u.id AND f.revoked_at IS NULL) AS families FROM users u";

/// People whose id, sign-in name, name or email contains `search` (every person when empty),
/// newest first, at most `limit`.
pub fn people(search: &str, limit: u64) -> Query<PersonRow> {
    if search.is_empty() {
        return Query::new(
            format!("{PERSON} ORDER BY u.created_at DESC, u.id LIMIT ?"),
            vec![limit.into()],
        );
    }
    // LIKE with `\` as the escape character, so `%` and `_` in the search are literal.
    let mut pattern = String::from("%");
    for c in search.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    Query::new(
        format!(
            "{PERSON} WHERE u.id LIKE ?1 ESCAPE '\\' OR u.username LIKE ?1 ESCAPE '\\' \
             OR u.name LIKE ?1 ESCAPE '\\' OR u.email LIKE ?1 ESCAPE '\\' ORDER BY u.created_at DESC, u.id LIMIT ?2"
        ),
        vec![pattern.as_str().into(), limit.into()],
    )
}

/// One person by id.
pub fn person(id: &str) -> Query<PersonRow> {
    Query::new(format!("{PERSON} WHERE u.id = ?"), vec![id.into()])
}

/// Every relay the edge has heard from, by id.
pub fn relays() -> Query<RelayRow> {
    Query::new(
        "SELECT relay_id, client_id, urls, region, allocations, capacity, load, draining, version, revocation_cursor, \
         usage_backlog, usage_dropped, first_seen, last_seen, drain_requested_at FROM relays ORDER BY relay_id",
        vec![],
    )
}

/// What the audit view filters on; empty fields match everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// The person changed, or who made the change.
    pub person: String,
    /// The client.
    pub client: String,
    /// The token id.
    pub token: String,
    /// The event name, or its prefix before the dot (`client`, `user`).
    pub kind: String,
}

/// Audit rows matching `f` with ids below `before` (paging; `None`: the newest), newest
/// first, at most `limit`.
pub fn audit(f: &AuditFilter, before: Option<u64>, limit: u64) -> Query<super::reads::AuditRow> {
    let mut sql = String::from("SELECT * FROM audit WHERE 1");
    let mut args: Vec<Value> = Vec::new();
    if !f.person.is_empty() {
        sql.push_str(" AND (user_id = ? OR actor_id = ?)");
        args.push(f.person.as_str().into());
        args.push(f.person.as_str().into());
    }
    if !f.client.is_empty() {
        sql.push_str(" AND client_id = ?");
        args.push(f.client.as_str().into());
    }
    if !f.token.is_empty() {
        sql.push_str(" AND token_id = ?");
        args.push(f.token.as_str().into());
    }
    if !f.kind.is_empty() {
        sql.push_str(" AND (event = ? OR substr(event, 1, instr(event, '.') - 1) = ?)");
        args.push(f.kind.as_str().into());
        args.push(f.kind.as_str().into());
    }
    if let Some(b) = before {
        sql.push_str(" AND id < ?");
        args.push(b.into());
    }
    sql.push_str(" ORDER BY id DESC LIMIT ?");
    args.push(limit.into());
    Query::new(sql, args)
}

// ---- statements ([`super::writes`] adds their guards) ----

/// A session row: `INSERT ... SELECT ... WHERE` (the guard follows).
pub(super) fn session_insert(
    key: &str,
    user_id: &str,
    created_at: u64,
    expires_at: u64,
) -> (String, Vec<Value>) {
    (
        "INSERT INTO console_sessions (id, user_id, created_at, expires_at) SELECT ?, ?, ?, ? WHERE".into(),
        vec![
            key.into(),
            user_id.into(),
            created_at.into(),
            expires_at.into(),
        ],
    )
}

/// Ends a session and every expired one (a condition follows).
pub(super) fn session_delete(key: &str, now: u64) -> (String, Vec<Value>) {
    (
        "DELETE FROM console_sessions WHERE (id = ? OR expires_at <= ?)".into(),
        vec![key.into(), now.into()],
    )
}

/// The console's claims: the statement (its `RETURNING` row says it took), and the guard the
/// other rows of the batch carry. `None` for claims that are not the console's.
pub(super) fn claim(c: &Claim) -> Option<(Statement, &'static str, Vec<Value>)> {
    Some(match c {
        Claim::RotateSecret { id, secret_hash } => (
            Statement::new(
                "UPDATE clients SET secret_hash = ? WHERE id = ? AND secret_hash IS NOT NULL RETURNING id",
                vec![secret_hash.into(), id.into()],
            ),
            "EXISTS (SELECT 1 FROM clients WHERE id = ? AND secret_hash IS NOT NULL)",
            vec![id.into()],
        ),
        Claim::SetRedirectUris { id, redirect_uris } => (
            Statement::new(
                "UPDATE clients SET redirect_uris = ? WHERE id = ? RETURNING id",
                vec![redirect_uris.into(), id.into()],
            ),
            "EXISTS (SELECT 1 FROM clients WHERE id = ?)",
            vec![id.into()],
        ),
        Claim::SetResources { id, resources } => (
            Statement::new(
                "UPDATE clients SET resources = ? WHERE id = ? RETURNING id",
                vec![resources.into(), id.into()],
            ),
            "EXISTS (SELECT 1 FROM clients WHERE id = ?)",
            vec![id.into()],
        ),
        Claim::SetDisabled { user_id, at } => (
            Statement::new(
                "UPDATE users SET disabled_at = ? WHERE id = ? RETURNING id",
                vec![(*at).into(), user_id.into()],
            ),
            "EXISTS (SELECT 1 FROM users WHERE id = ?)",
            vec![user_id.into()],
        ),
        Claim::DrainRelay { relay_id, at } => (
            Statement::new(
                "UPDATE relays SET drain_requested_at = ? WHERE relay_id = ? RETURNING relay_id",
                vec![(*at).into(), relay_id.into()],
            ),
            "EXISTS (SELECT 1 FROM relays WHERE relay_id = ?)",
            vec![relay_id.into()],
        ),
        _ => return None,
    })
}
