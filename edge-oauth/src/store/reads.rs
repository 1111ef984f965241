//! Every read: a typed [`Query`] per question the edge asks D1, next to the row struct its
//! columns deserialize into (column names = field names). The D1 adapter (`worker/store.rs`)
//! runs them; `tests/store_sqlite.rs` runs every one against the migrations in SQLite.

use serde::{Deserialize, Serialize};

use super::query::Query;
use super::value::Value;

/// A `clients` row.
#[derive(Clone, Debug, Deserialize)]
pub struct ClientRow {
    /// `client_id`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// PBKDF2 record, NULL for public clients.
    pub secret_hash: Option<String>,
    /// JSON array of strings.
    pub redirect_uris: String,
    /// Space-separated grant types.
    pub grant_types: String,
    /// Space-separated scope.
    pub scopes: String,
    /// Seconds, optional.
    pub access_token_ttl: Option<u32>,
    /// Seconds, optional.
    pub refresh_token_ttl: Option<u32>,
    /// Unix seconds.
    pub created_at: u64,
    /// JSON array of strings.
    #[serde(default = "empty_list")]
    pub post_logout_redirect_uris: String,
    /// `RS256` or `ES256`.
    #[serde(default = "rs256")]
    pub id_token_alg: String,
    /// `admin`, `self_service` or `dynamic`.
    #[serde(default = "admin")]
    pub registered_by: String,
    /// The person who registered it on `/create_client`.
    #[serde(default)]
    pub owner_id: Option<String>,
    /// hex SHA-256 of its RFC 7592 registration access token.
    #[serde(default)]
    pub registration_key: Option<String>,
    /// Space-separated RFC 8707 resource indicators it may ask tokens for.
    #[serde(default)]
    pub resources: Option<String>,
    /// OpenID Connect Back-Channel Logout URI.
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    /// 1 when its logout tokens must carry `sid`.
    #[serde(default)]
    pub backchannel_logout_session_required: Option<u8>,
}

fn empty_list() -> String {
    "[]".into()
}
fn rs256() -> String {
    "RS256".into()
}
fn admin() -> String {
    "admin".into()
}

/// A `users` row.
#[derive(Clone, Deserialize)]
pub struct UserRow {
    /// User id.
    pub id: String,
    /// Sign-in name.
    pub username: String,
    /// PBKDF2 record.
    pub password_hash: String,
    /// Display name.
    pub name: Option<String>,
    /// Email.
    #[serde(default)]
    pub email: Option<String>,
    /// 1 once verified.
    #[serde(default)]
    pub email_verified: Option<u8>,
    /// Space-separated rights.
    #[serde(default)]
    pub rights: String,
}

impl std::fmt::Debug for UserRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRow")
            .field("id", &self.id)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// An `auth_codes` row.
#[derive(Clone, Debug, Deserialize)]
pub struct CodeRow {
    /// Client.
    pub client_id: String,
    /// User.
    pub user_id: String,
    /// Exact redirect URI of the request.
    pub redirect_uri: String,
    /// Scope.
    pub scope: String,
    /// S256 challenge.
    pub code_challenge: String,
    /// Unix seconds.
    pub expires_at: u64,
    /// Set when redeemed.
    pub used_at: Option<u64>,
    /// The family the redemption produced.
    pub family_id: Option<String>,
    /// The OpenID Connect nonce of the request.
    #[serde(default)]
    pub nonce: Option<String>,
    /// When the person signed in.
    #[serde(default)]
    pub auth_time: Option<u64>,
    /// The session's public id.
    #[serde(default)]
    pub sid: Option<String>,
    /// RFC 8176 methods, space-separated.
    #[serde(default)]
    pub amr: Option<String>,
    /// `acr`.
    #[serde(default)]
    pub acr: Option<String>,
    /// The RFC 8707 resources the authorization request named (space-separated).
    #[serde(default)]
    pub resource: Option<String>,
    /// The person's sign-in name (NULL once deleted).
    #[serde(default)]
    pub username: Option<String>,
    /// Their display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Their email.
    #[serde(default)]
    pub email: Option<String>,
    /// 1 once they verified it.
    #[serde(default)]
    pub email_verified: Option<u8>,
    /// Their rights.
    #[serde(default)]
    pub rights: Option<String>,
}

/// A `refresh_tokens` row joined with its family's revocation.
#[derive(Clone, Debug, Deserialize)]
pub struct RefreshRow {
    /// Family.
    pub family_id: String,
    /// Client.
    pub client_id: String,
    /// User.
    pub user_id: Option<String>,
    /// Scope.
    pub scope: String,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds.
    pub expires_at: u64,
    /// Set when rotated.
    pub used_at: Option<u64>,
    /// Set when the family was revoked.
    pub family_revoked_at: Option<u64>,
    /// When the person signed in for the family's authorization (code and device flows).
    #[serde(default)]
    pub auth_time: Option<u64>,
    /// The family's session's public id.
    #[serde(default)]
    pub sid: Option<String>,
    /// RFC 8176 methods, space-separated.
    #[serde(default)]
    pub amr: Option<String>,
    /// `acr`.
    #[serde(default)]
    pub acr: Option<String>,
    /// The RFC 8707 resources the family's authorization granted (space-separated).
    #[serde(default)]
    pub resource: Option<String>,
    /// The DPoP key the family's refresh tokens are bound to.
    #[serde(default)]
    pub dpop_jkt: Option<String>,
    /// The person's sign-in name (NULL once deleted).
    #[serde(default)]
    pub username: Option<String>,
    /// Their display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Their email.
    #[serde(default)]
    pub email: Option<String>,
    /// 1 once they verified it.
    #[serde(default)]
    pub email_verified: Option<u8>,
    /// Their rights.
    #[serde(default)]
    pub rights: Option<String>,
}

/// What D1 says about an access token's standing, loaded in one query.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct BearerStatus {
    /// 1 when the jti is revoked.
    pub revoked: Option<u8>,
    /// Set when its family is revoked.
    pub family_revoked_at: Option<u64>,
    /// 1 while the client exists.
    pub client_exists: Option<u8>,
    /// The user's name, while the user exists.
    pub username: Option<String>,
    /// The user's display name.
    pub name: Option<String>,
    /// The user's email.
    #[serde(default)]
    pub email: Option<String>,
    /// 1 once they verified it.
    #[serde(default)]
    pub email_verified: Option<u8>,
    /// Tokens of the user issued at or before this second are revoked ("revoke everything of
    /// user X").
    #[serde(default)]
    pub user_revoked_before: Option<u64>,
}

/// What D1 says about a TURN token: revoked, and who it was issued to (from the audit trail).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct TurnStatus {
    /// 1 when revoked.
    pub revoked: Option<u8>,
    /// The client it was issued to, if this server issued it.
    pub client_id: Option<String>,
    /// The user it was issued for.
    pub user_id: Option<String>,
}

/// A `device_codes` row, with the approving person's record.
#[derive(Clone, Debug, Deserialize)]
pub struct DeviceRow {
    /// Client.
    pub client_id: String,
    /// Scope asked for.
    pub scope: String,
    /// `pending`, `approved`, `denied` or `redeemed`.
    pub status: String,
    /// Seconds between polls.
    pub poll_interval: u32,
    /// The last poll.
    pub last_poll_at: Option<u64>,
    /// Unix seconds.
    pub expires_at: u64,
    /// When the approving person signed in.
    pub auth_time: Option<u64>,
    /// The family the redemption produced.
    pub family_id: Option<String>,
    /// The RFC 8707 resources the device authorization request named (space-separated).
    #[serde(default)]
    pub resource: Option<String>,
    /// The approving person.
    pub user_id: Option<String>,
    /// Their sign-in name (NULL once deleted).
    pub username: Option<String>,
    /// Their display name.
    pub name: Option<String>,
    /// Their email.
    pub email: Option<String>,
    /// 1 once they verified it.
    #[serde(default)]
    pub email_verified: Option<u8>,
    /// Their rights.
    pub rights: Option<String>,
}

/// A pending authorization as the verification page shows it.
#[derive(Clone, Debug, Deserialize)]
pub struct PendingRow {
    /// The device code's lookup key.
    pub id: String,
    /// Client.
    pub client_id: String,
    /// Scope asked for.
    pub scope: String,
}

/// A row of the relays' revocation feed (`turn_revocations`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct FeedRow {
    /// Sequence number.
    pub seq: u64,
    /// The token's id.
    pub token_id: String,
    /// Unix second the token expires.
    pub expires_at: u64,
}

/// A relay as the list query reads it.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Relay {
    /// Its name.
    pub relay_id: String,
    /// JSON array of URLs.
    pub urls: String,
    /// Degrees.
    pub latitude: Option<f64>,
    /// Degrees.
    pub longitude: Option<f64>,
    /// allocations / capacity.
    pub load: f64,
    /// 1 when draining.
    pub draining: u64,
    /// Unix second of its last heartbeat.
    pub last_seen: u64,
}

/// Only that a row exists.
#[derive(Clone, Debug, Deserialize)]
pub struct Exists {
    /// Always 1.
    pub one: u64,
}

/// A person as the admin API lists them.
#[derive(Clone, Debug, Deserialize)]
pub struct UserListRow {
    /// User id.
    pub id: String,
    /// Sign-in name.
    pub username: String,
    /// Display name.
    pub name: Option<String>,
    /// Unix seconds.
    pub created_at: u64,
}

/// An `audit` row.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct AuditRow {
    /// Sequence.
    pub id: u64,
    /// Unix seconds.
    pub at: u64,
    /// Event name.
    pub event: String,
    /// Token id.
    pub token_id: Option<String>,
    /// Client.
    pub client_id: Option<String>,
    /// User.
    pub user_id: Option<String>,
    /// Family.
    pub family_id: Option<String>,
    /// Reason.
    pub detail: Option<String>,
    /// The person who made the change from the console.
    #[serde(default)]
    pub actor_id: Option<String>,
}

/// A count.
#[derive(Clone, Debug, Deserialize)]
pub struct Count {
    /// How many.
    pub n: u64,
}

/// The feed's head.
#[derive(Clone, Debug, Deserialize)]
pub struct Head {
    /// The highest sequence number, 0 when empty.
    pub head: u64,
}

/// The relay client a relay id is bound to.
#[derive(Clone, Debug, Deserialize)]
pub struct RelayOwner {
    /// The client.
    pub client_id: String,
}

/// A usage cursor.
#[derive(Clone, Debug, Deserialize)]
pub struct Cursor {
    /// The last sequence number applied.
    pub applied_through: u64,
}

// ---- the queries ----

/// A client by id.
pub fn client(id: &str) -> Query<ClientRow> {
    Query::new("SELECT * FROM clients WHERE id = ?", vec![id.into()])
}

/// Every client, oldest first.
pub fn clients() -> Query<ClientRow> {
    Query::new("SELECT * FROM clients ORDER BY created_at, id", vec![])
}

/// The clients a person registered on `/create_client`.
pub fn clients_owned_by(user_id: &str) -> Query<ClientRow> {
    Query::new(
        "SELECT * FROM clients WHERE owner_id = ? ORDER BY created_at, id",
        vec![user_id.into()],
    )
}

/// How many clients there are (the health check).
pub fn client_count() -> Query<Count> {
    Query::new("SELECT count(*) AS n FROM clients", vec![])
}

/// A user by sign-in name, unless disabled from the console (then no password is right).
pub fn user_by_name(username: &str) -> Query<UserRow> {
    Query::new(
        "SELECT id, username, password_hash, name, email, email_verified, rights FROM users WHERE username = ? AND disabled_at IS NULL",
        vec![username.into()],
    )
}

/// A row when a person with this id exists (not deleted).
pub fn user_exists(id: &str) -> Query<Exists> {
    Query::new("SELECT 1 AS one FROM users WHERE id = ?", vec![id.into()])
}

/// Every person, oldest first.
pub fn users() -> Query<UserListRow> {
    Query::new(
        "SELECT id, username, name, created_at FROM users ORDER BY created_at, id",
        vec![],
    )
}

/// A code by lookup key, with its person.
pub fn code(key: &str) -> Query<CodeRow> {
    Query::new(
        "SELECT c.client_id, c.user_id, c.redirect_uri, c.scope, c.code_challenge, c.expires_at, c.used_at, c.family_id, \
         c.nonce, c.auth_time, c.sid, c.amr, c.acr, c.resource, u.username, u.name, u.email, u.email_verified, u.rights \
         FROM auth_codes c LEFT JOIN users u ON u.id = c.user_id WHERE c.id = ?",
        vec![key.into()],
    )
}

/// A refresh token by lookup key, with its family's revocation and its person.
pub fn refresh(key: &str) -> Query<RefreshRow> {
    Query::new(
        "SELECT r.family_id, r.client_id, r.user_id, r.scope, r.created_at, r.expires_at, r.used_at, \
         f.revoked_at AS family_revoked_at, f.auth_time, f.sid, f.amr, f.acr, f.resource, f.dpop_jkt, u.username, u.name, u.email, u.email_verified, u.rights \
         FROM refresh_tokens r LEFT JOIN families f ON f.id = r.family_id LEFT JOIN users u ON u.id = r.user_id \
         WHERE r.id = ?",
        vec![key.into()],
    )
}

/// A device authorization by the device code's lookup key, with the approving person.
pub fn device(key: &str) -> Query<DeviceRow> {
    Query::new(
        "SELECT d.client_id, d.scope, d.status, d.poll_interval, d.last_poll_at, d.expires_at, d.auth_time, d.family_id, \
         d.resource, d.user_id, u.username, u.name, u.email, u.email_verified, u.rights \
         FROM device_codes d LEFT JOIN users u ON u.id = d.user_id WHERE d.id = ?",
        vec![key.into()],
    )
}

/// A pending, unexpired device authorization by its (normalised) user code.
pub fn device_pending(user_code: &str, now: u64) -> Query<PendingRow> {
    Query::new(
        "SELECT id, client_id, scope FROM device_codes \
         WHERE user_code = ? AND status = 'pending' AND expires_at > ? ORDER BY created_at DESC LIMIT 1",
        vec![user_code.into(), now.into()],
    )
}

/// A row when an unexpired initial access token has this lookup key.
pub fn initial_token_valid(key: &str, now: u64) -> Query<Exists> {
    Query::new(
        "SELECT 1 AS one FROM initial_access_tokens WHERE id = ? AND expires_at > ?",
        vec![key.into(), now.into()],
    )
}

/// An access token's standing and its user, in one query (one row, always).
pub fn bearer_status(
    jti: &str,
    family_id: &str,
    client_id: &str,
    user_id: &str,
) -> Query<BearerStatus> {
    Query::new(
        "SELECT (SELECT 1 FROM revocations WHERE token_id = ?1) AS revoked, \
         (SELECT revoked_at FROM families WHERE id = ?2) AS family_revoked_at, \
         (SELECT 1 FROM clients WHERE id = ?3) AS client_exists, \
         (SELECT username FROM users WHERE id = ?4) AS username, \
         (SELECT name FROM users WHERE id = ?4) AS name, \
         (SELECT email FROM users WHERE id = ?4) AS email, \
         (SELECT email_verified FROM users WHERE id = ?4) AS email_verified, \
         (SELECT revoked_before FROM users WHERE id = ?4) AS user_revoked_before",
        vec![
            jti.into(),
            family_id.into(),
            client_id.into(),
            user_id.into(),
        ],
    )
}

/// A TURN token's revocation and, from the audit trail, who it was issued to (one row,
/// always).
pub fn turn_status(token_id: &str) -> Query<TurnStatus> {
    Query::new(
        "SELECT (SELECT 1 FROM revocations WHERE token_id = ?1) AS revoked, \
         (SELECT client_id FROM audit WHERE token_id = ?1 AND event IN ('turn_token.issued', 'turn_credential.issued') LIMIT 1) AS client_id, \
         (SELECT user_id FROM audit WHERE token_id = ?1 AND event IN ('turn_token.issued', 'turn_credential.issued') LIMIT 1) AS user_id",
        vec![token_id.into()],
    )
}

/// The audit trail, newest first, of one token or of everything.
pub fn audit(token_id: Option<&str>, limit: u64) -> Query<AuditRow> {
    match token_id {
        Some(t) => Query::new(
            "SELECT * FROM audit WHERE token_id = ? ORDER BY id DESC LIMIT ?",
            vec![t.into(), limit.into()],
        ),
        None => Query::new(
            "SELECT * FROM audit ORDER BY id DESC LIMIT ?",
            vec![limit.into()],
        ),
    }
}

/// The rows past `cursor` whose tokens have not expired at `now`, in order.
/// At most `limit` rows.
pub fn feed_page(cursor: u64, now: u64, limit: u64) -> Query<FeedRow> {
    Query::new(
        "SELECT seq, token_id, expires_at FROM turn_revocations WHERE seq > ?1 AND expires_at > ?2 ORDER BY seq LIMIT ?3",
        vec![cursor.into(), now.into(), limit.into()],
    )
}

/// The highest sequence number in the feed (0 when empty), asked only when a cursor finds
/// nothing, to notice a cursor from another database.
pub fn feed_head() -> Query<Head> {
    Query::new(
        "SELECT COALESCE(MAX(seq), 0) AS head FROM turn_revocations",
        vec![],
    )
}

/// The relays that may be healthy at `now` (a heartbeat within `stale_after`, not drained from the console, not
/// draining); the rest is decided in [`crate::oauth::control::select::nearest`].
pub fn healthy_relays(now: u64, stale_after: u64) -> Query<Relay> {
    Query::new(
        "SELECT relay_id, urls, latitude, longitude, load, draining, last_seen FROM relays \
         WHERE last_seen >= ? AND draining = 0 AND drain_requested_at IS NULL",
        vec![now.saturating_sub(stale_after).into()],
    )
}

/// Every relay the edge has heard from (housekeeping forgets those silent for a week), for
/// `GET /admin/relays`: is each one fresh, caught up with the feed, its usage sent?
pub fn relays() -> Query<serde_json::Value> {
    Query::new(
        "SELECT relay_id, client_id, urls, region, latitude, longitude, allocations, capacity, load, draining, \
         version, revocation_cursor, usage_backlog, usage_dropped, first_seen, last_seen FROM relays ORDER BY relay_id",
        vec![],
    )
}

/// The relay client a relay id is bound to (by its first heartbeat): `SELECT client_id`.
pub fn relay_owner(relay_id: &str) -> Query<RelayOwner> {
    Query::new(
        "SELECT client_id FROM relays WHERE relay_id = ?",
        vec![relay_id.into()],
    )
}

/// The cursor of a relay's epoch: `SELECT applied_through`.
pub fn usage_cursor(relay_id: &str, epoch: &str) -> Query<Cursor> {
    Query::new(
        "SELECT applied_through FROM usage_cursors WHERE relay_id = ? AND epoch = ?",
        vec![relay_id.into(), epoch.into()],
    )
}

/// What a usage report asks: the days `from` to `to` (`YYYY-MM-DD`, inclusive), one user
/// and one client if given, grouped by the columns `by` of `relay_usage` (from a fixed list,
/// never a caller's text), at most `limit` groups.
pub struct UsageFilter<'a> {
    /// First day.
    pub from: &'a str,
    /// Last day.
    pub to: &'a str,
    /// One user.
    pub user_id: Option<&'a str>,
    /// One client.
    pub client_id: Option<&'a str>,
    /// Group by these columns.
    pub by: &'a [&'static str],
    /// At most this many groups.
    pub limit: u64,
}

/// A usage report: the rows grouped as asked, and the total.
pub fn usage_report(q: &UsageFilter<'_>) -> (Query<serde_json::Value>, Query<serde_json::Value>) {
    let mut filter = String::from("day >= ? AND day <= ?");
    let mut args: Vec<Value> = vec![q.from.into(), q.to.into()];
    if let Some(u) = q.user_id {
        filter.push_str(" AND user_id = ?");
        args.push(u.into());
    }
    if let Some(c) = q.client_id {
        filter.push_str(" AND client_id = ?");
        args.push(c.into());
    }
    const SUMS: &str = "SUM(allocations) AS allocations, SUM(to_peer_packets) AS to_peer_packets, \
         SUM(to_peer_bytes) AS to_peer_bytes, SUM(to_client_packets) AS to_client_packets, \
         SUM(to_client_bytes) AS to_client_bytes";
    let cols = q.by.join(", ");
    let mut grouped_args = args.clone();
    grouped_args.push(q.limit.into());
    let grouped = Query::new(
        format!(
            "SELECT {cols}, {SUMS} FROM relay_usage WHERE {filter} GROUP BY {cols} ORDER BY {cols} LIMIT ?"
        ),
        grouped_args,
    );
    let total = Query::new(
        format!("SELECT {SUMS} FROM relay_usage WHERE {filter}"),
        args,
    );
    (grouped, total)
}

/// A `sessions` row with its person's sign-in name (NULL once deleted).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct SessionRow {
    /// hex SHA-256 of the cookie value.
    pub id: String,
    /// Public id.
    pub sid: String,
    /// The person.
    pub user_id: String,
    /// Their sign-in name.
    pub username: Option<String>,
    /// RFC 8176 methods, space-separated.
    pub amr: String,
    /// When they signed in.
    pub auth_time: u64,
    /// Unix seconds.
    pub created_at: u64,
    /// The last use.
    pub last_seen_at: u64,
    /// Absolute end.
    pub expires_at: u64,
}

/// A session by its key, with its person.
pub fn session(key: &str) -> Query<SessionRow> {
    Query::new(
        "SELECT s.id, s.sid, s.user_id, u.username, s.amr, s.auth_time, s.created_at, s.last_seen_at, s.expires_at \
         FROM sessions s LEFT JOIN users u ON u.id = s.user_id WHERE s.id = ?",
        vec![key.into()],
    )
}

/// A session as the account page lists it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct SessionListRow {
    /// Public id.
    pub sid: String,
    /// RFC 8176 methods.
    pub amr: String,
    /// When the person signed in.
    pub created_at: u64,
    /// The last use.
    pub last_seen_at: u64,
    /// Absolute end.
    pub expires_at: u64,
    /// Truncated `User-Agent`.
    pub user_agent: Option<String>,
}

/// A person's unexpired sessions, newest first (at most 50).
pub fn sessions_of(user_id: &str, now: u64) -> Query<SessionListRow> {
    Query::new(
        "SELECT sid, amr, created_at, last_seen_at, expires_at, user_agent FROM sessions \
         WHERE user_id = ? AND expires_at > ? ORDER BY created_at DESC LIMIT 50",
        vec![user_id.into(), now.into()],
    )
}

/// What a person consented to for a client.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ConsentRow {
    /// Space-separated scope.
    pub scope: String,
}

/// The consent of a person for a client.
pub fn consent(user_id: &str, client_id: &str) -> Query<ConsentRow> {
    Query::new(
        "SELECT scope FROM consents WHERE user_id = ? AND client_id = ?",
        vec![user_id.into(), client_id.into()],
    )
}

/// The consent for a client of the person whose session has `key`: read beside
/// [`session`] in one batch, so the authorization endpoint asks D1 once.
pub fn consent_of_session(key: &str, client_id: &str) -> Query<ConsentRow> {
    Query::new(
        "SELECT c.scope FROM sessions s JOIN consents c ON c.user_id = s.user_id AND c.client_id = ? \
         WHERE s.id = ?",
        vec![client_id.into(), key.into()],
    )
}

/// A client to send a back-channel logout token to: it got tokens in an ended session (a
/// family with that `sid`) and registered a `backchannel_logout_uri`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct BackchannelTarget {
    /// The client.
    pub client_id: String,
    /// The person.
    pub user_id: String,
    /// The session.
    pub sid: Option<String>,
    /// `backchannel_logout_uri`.
    pub uri: String,
    /// 1 when the client requires `sid`.
    pub session_required: u8,
    /// `id_token_signed_response_alg`.
    pub id_token_alg: String,
}

const BACKCHANNEL: &str = "SELECT DISTINCT f.client_id, f.user_id, f.sid, c.backchannel_logout_uri AS uri, \
     c.backchannel_logout_session_required AS session_required, c.id_token_alg \
     FROM families f JOIN clients c ON c.id = f.client_id \
     WHERE c.backchannel_logout_uri IS NOT NULL AND f.user_id IS NOT NULL AND ";

/// The back-channel targets of one session (by its public id).
pub fn backchannel_of_session(sid: &str) -> Query<BackchannelTarget> {
    Query::new(
        format!("{BACKCHANNEL}f.sid = ? LIMIT 100"),
        vec![sid.into()],
    )
}

/// The back-channel targets of every session of a person (read before they end).
pub fn backchannel_of_user(user_id: &str) -> Query<BackchannelTarget> {
    Query::new(
        format!("{BACKCHANNEL}f.sid IN (SELECT sid FROM sessions WHERE user_id = ?) LIMIT 100"),
        vec![user_id.into()],
    )
}

/// An `email_tokens` row.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct EmailTokenRow {
    /// The person.
    pub user_id: String,
    /// `verify` or `reset`.
    pub purpose: String,
    /// The address it went to.
    pub email: String,
    /// Unix seconds.
    pub expires_at: u64,
    /// Set once used.
    pub used_at: Option<u64>,
}

/// An email link by its key.
pub fn email_token(key: &str) -> Query<EmailTokenRow> {
    Query::new(
        "SELECT user_id, purpose, email, expires_at, used_at FROM email_tokens WHERE id = ?",
        vec![key.into()],
    )
}

/// The oldest account with this email address.
pub fn user_by_email(email: &str) -> Query<UserRow> {
    Query::new(
        "SELECT id, username, password_hash, name, email, email_verified, rights FROM users \
         WHERE lower(email) = ? ORDER BY created_at, id LIMIT 1",
        vec![email.into()],
    )
}

/// A message of the local outbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxRow {
    /// Sequence.
    pub id: u64,
    /// Recipient.
    pub to_addr: String,
    /// Subject.
    pub subject: String,
    /// Body.
    pub body: String,
    /// Unix seconds.
    pub created_at: u64,
}

/// The newest messages of the local outbox.
pub fn outbox(limit: u32) -> Query<OutboxRow> {
    Query::new(
        "SELECT id, to_addr, subject, body, created_at FROM outbox ORDER BY id DESC LIMIT ?",
        vec![u64::from(limit).into()],
    )
}

/// A passkey with its person.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct PasskeyRow {
    /// Credential id, base64url.
    pub id: String,
    /// The person.
    pub user_id: String,
    /// Their sign-in name (NULL once deleted).
    pub username: Option<String>,
    /// JWK JSON.
    pub public_key: String,
    /// `ES256` or `RS256`.
    pub alg: String,
    /// The last counter seen.
    pub sign_count: u32,
    /// Unix seconds.
    pub created_at: u64,
}

/// A passkey by credential id.
pub fn passkey(id: &str) -> Query<PasskeyRow> {
    Query::new(
        "SELECT p.id, p.user_id, u.username, p.public_key, p.alg, p.sign_count, p.created_at \
         FROM passkeys p LEFT JOIN users u ON u.id = p.user_id WHERE p.id = ?",
        vec![id.into()],
    )
}

/// A person's passkeys, oldest first.
pub fn passkeys_of(user_id: &str) -> Query<PasskeyRow> {
    Query::new(
        "SELECT p.id, p.user_id, u.username, p.public_key, p.alg, p.sign_count, p.created_at \
         FROM passkeys p LEFT JOIN users u ON u.id = p.user_id WHERE p.user_id = ? ORDER BY p.created_at LIMIT 50",
        vec![user_id.into()],
    )
}

/// A row when this WebAuthn challenge (by its hash) was already used.
pub fn webauthn_used(key: &str) -> Query<Exists> {
    Query::new(
        "SELECT 1 AS one FROM webauthn_used WHERE id = ?",
        vec![key.into()],
    )
}
