//! Every write: [`Writes`] as SQL: the statements of one D1 batch, in order, with their bound values. The
//! worker only binds and runs them; every rule about what is written lives here and in the
//! decisions.
//!
//! A claim is one conditional statement whose `RETURNING` row says it succeeded. Every other
//! statement carries the claim's guard in its `WHERE`, so within the batch's transaction the
//! rows are written exactly when the claim succeeds:
//!
//! - single-use steps (a code, a refresh token) run **first** and are guarded by their effect:
//!   `EXISTS (SELECT 1 FROM auth_codes WHERE id = ? AND family_id = ?)`;
//! - inserts and deletes of a client or user run **last**, and the rows before them are guarded
//!   by the state the claim needs: `NOT EXISTS (...)` before an insert, `EXISTS (...)` before a
//!   delete (the audit row of a delete, and the revocation of its families, must see the row).

use super::control::feed_revoke;
use super::value::{Batch, Statement, Value};
use crate::oauth::control::{self, heartbeat::Heartbeat};
use crate::oauth::effects::{Claim, ClientWrite, Owner, UserWrite, Write, Writes};
use crate::oauth::people::session::Authn;

/// Where a claim's statement goes.
enum Position {
    First,
    Last,
}

/// A claim: its statement, where it goes, and the guard for the rest.
struct ClaimSql {
    statement: Statement,
    position: Position,
    guard: &'static str,
    guard_args: Vec<Value>,
}

fn st(sql: impl Into<String>, args: Vec<Value>) -> Statement {
    Statement::new(sql, args)
}

fn insert_client(c: &ClientWrite) -> Statement {
    st(
        "INSERT INTO clients (id, name, secret_hash, redirect_uris, grant_types, scopes, access_token_ttl, refresh_token_ttl, created_at, \
         post_logout_redirect_uris, id_token_alg, registered_by, owner_id, registration_key, resources, \
         backchannel_logout_uri, backchannel_logout_session_required) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
        vec![
            (&c.id).into(),
            (&c.name).into(),
            (&c.secret_hash).into(),
            (&c.redirect_uris).into(),
            (&c.grant_types).into(),
            (&c.scopes).into(),
            c.access_token_ttl.into(),
            c.refresh_token_ttl.into(),
            c.created_at.into(),
            (&c.post_logout_redirect_uris).into(),
            (&c.id_token_alg).into(),
            c.registered_by.into(),
            (&c.owner_id).into(),
            (&c.registration_key).into(),
            (&c.resources).into(),
            backchannel_uri(c),
            backchannel_session(c),
        ],
    )
}

fn backchannel_uri(c: &ClientWrite) -> Value {
    c.backchannel.as_ref().map(|b| b.uri.as_str()).into()
}

fn backchannel_session(c: &ClientWrite) -> Value {
    u64::from(c.backchannel.as_ref().is_some_and(|b| b.session_required)).into()
}

/// RFC 7592 update: the metadata changes; the secret, owner, registration token and creation
/// time stay.
fn update_client(c: &ClientWrite) -> Statement {
    st(
        "UPDATE clients SET name = ?, redirect_uris = ?, post_logout_redirect_uris = ?, grant_types = ?, scopes = ?, id_token_alg = ?, \
         resources = ?, backchannel_logout_uri = ?, backchannel_logout_session_required = ? WHERE id = ? RETURNING id",
        vec![
            (&c.name).into(),
            (&c.redirect_uris).into(),
            (&c.post_logout_redirect_uris).into(),
            (&c.grant_types).into(),
            (&c.scopes).into(),
            (&c.id_token_alg).into(),
            (&c.resources).into(),
            backchannel_uri(c),
            backchannel_session(c),
            (&c.id).into(),
        ],
    )
}

fn insert_user(u: &UserWrite) -> Statement {
    st(
        "INSERT INTO users (id, username, password_hash, name, email, created_at) VALUES (?, ?, ?, ?, ?, ?) \
         ON CONFLICT DO NOTHING RETURNING id",
        vec![
            (&u.id).into(),
            (&u.username).into(),
            (&u.password_hash).into(),
            (&u.name).into(),
            (&u.email).into(),
            u.created_at.into(),
        ],
    )
}

fn claim_sql(claim: &Claim) -> Option<ClaimSql> {
    let c = match claim {
        Claim::None => return None,
        Claim::Code {
            key,
            family_id,
            now,
        } => ClaimSql {
            statement: st(
                "UPDATE auth_codes SET used_at = ?, family_id = ? WHERE id = ? AND used_at IS NULL RETURNING id",
                vec![(*now).into(), family_id.into(), key.into()],
            ),
            position: Position::First,
            guard: "EXISTS (SELECT 1 FROM auth_codes WHERE id = ? AND family_id = ?)",
            guard_args: vec![key.into(), family_id.into()],
        },
        Claim::EmailToken {
            key,
            purpose,
            nonce,
            now,
        } => ClaimSql {
            statement: st(
                "UPDATE email_tokens SET used_at = ?1, claimed_by = ?2 \
                 WHERE id = ?3 AND purpose = ?4 AND used_at IS NULL AND expires_at > ?1 RETURNING id",
                vec![(*now).into(), nonce.into(), key.into(), (*purpose).into()],
            ),
            position: Position::First,
            guard: "EXISTS (SELECT 1 FROM email_tokens WHERE id = ? AND claimed_by = ?)",
            guard_args: vec![key.into(), nonce.into()],
        },
        Claim::Refresh {
            old_key,
            new_key,
            now,
        } => ClaimSql {
            statement: st(
                "UPDATE refresh_tokens SET used_at = ?1, replaced_by = ?2 \
                 WHERE id = ?3 AND used_at IS NULL AND expires_at > ?1 \
                 AND NOT EXISTS (SELECT 1 FROM families f WHERE f.id = refresh_tokens.family_id AND f.revoked_at IS NOT NULL) \
                 RETURNING id",
                vec![(*now).into(), new_key.into(), old_key.into()],
            ),
            position: Position::First,
            guard: "EXISTS (SELECT 1 FROM refresh_tokens WHERE id = ? AND replaced_by = ?)",
            guard_args: vec![old_key.into(), new_key.into()],
        },
        Claim::Device {
            key,
            family_id,
            now,
        } => ClaimSql {
            statement: st(
                "UPDATE device_codes SET status = 'redeemed', family_id = ?, last_poll_at = ? \
                 WHERE id = ? AND status = 'approved' AND expires_at > ? RETURNING id",
                vec![family_id.into(), (*now).into(), key.into(), (*now).into()],
            ),
            position: Position::First,
            guard: "EXISTS (SELECT 1 FROM device_codes WHERE id = ? AND family_id = ?)",
            guard_args: vec![key.into(), family_id.into()],
        },
        Claim::DeviceDecision {
            key,
            decision_id,
            user_id,
            approve,
            auth_time,
            now,
        } => ClaimSql {
            statement: st(
                "UPDATE device_codes SET status = ?, user_id = ?, auth_time = ?, decided_at = ?, \
                 decision_id = ? WHERE id = ? AND status = 'pending' AND expires_at > ? RETURNING id",
                vec![
                    (if *approve { "approved" } else { "denied" }).into(),
                    user_id.into(),
                    (*auth_time).into(),
                    (*now).into(),
                    decision_id.into(),
                    key.into(),
                    (*now).into(),
                ],
            ),
            position: Position::First,
            guard: "EXISTS (SELECT 1 FROM device_codes WHERE id = ? AND decision_id = ?)",
            guard_args: vec![key.into(), decision_id.into()],
        },
        Claim::UpdateClient(c) => ClaimSql {
            statement: update_client(c),
            position: Position::Last,
            guard: "EXISTS (SELECT 1 FROM clients WHERE id = ?)",
            guard_args: vec![(&c.id).into()],
        },
        Claim::SetRights { user_id, rights } => ClaimSql {
            statement: st(
                "UPDATE users SET rights = ? WHERE id = ? RETURNING id",
                vec![rights.into(), user_id.into()],
            ),
            position: Position::Last,
            guard: "EXISTS (SELECT 1 FROM users WHERE id = ?)",
            guard_args: vec![user_id.into()],
        },
        Claim::InsertClient(c) => ClaimSql {
            statement: insert_client(c),
            position: Position::Last,
            guard: "NOT EXISTS (SELECT 1 FROM clients WHERE id = ?)",
            guard_args: vec![(&c.id).into()],
        },
        Claim::Challenge { key, expires_at } => ClaimSql {
            statement: st(
                "INSERT INTO webauthn_used (id, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING id",
                vec![key.into(), (*expires_at).into()],
            ),
            position: Position::Last,
            guard: "NOT EXISTS (SELECT 1 FROM webauthn_used WHERE id = ?)",
            guard_args: vec![key.into()],
        },
        Claim::InsertUser(u) => ClaimSql {
            statement: insert_user(u),
            position: Position::Last,
            guard: "NOT EXISTS (SELECT 1 FROM users WHERE username = ? OR id = ?)",
            guard_args: vec![(&u.username).into(), (&u.id).into()],
        },
        Claim::DeleteClient { id, owner: None } => ClaimSql {
            statement: st(
                "DELETE FROM clients WHERE id = ? RETURNING id",
                vec![id.into()],
            ),
            position: Position::Last,
            guard: "EXISTS (SELECT 1 FROM clients WHERE id = ?)",
            guard_args: vec![id.into()],
        },
        Claim::DeleteClient {
            id,
            owner: Some(owner),
        } => ClaimSql {
            statement: st(
                "DELETE FROM clients WHERE id = ? AND owner_id = ? RETURNING id",
                vec![id.into(), owner.into()],
            ),
            position: Position::Last,
            guard: "EXISTS (SELECT 1 FROM clients WHERE id = ? AND owner_id = ?)",
            guard_args: vec![id.into(), owner.into()],
        },
        Claim::DeleteUser { id } => ClaimSql {
            statement: st(
                "DELETE FROM users WHERE id = ? RETURNING id",
                vec![id.into()],
            ),
            position: Position::Last,
            guard: "EXISTS (SELECT 1 FROM users WHERE id = ?)",
            guard_args: vec![id.into()],
        },
        Claim::RotateSecret { .. }
        | Claim::SetRedirectUris { .. }
        | Claim::SetResources { .. }
        | Claim::SetDisabled { .. }
        | Claim::DrainRelay { .. } => {
            let (statement, guard, guard_args) = super::console::claim(claim)?;
            ClaimSql {
                statement,
                position: Position::Last,
                guard,
                guard_args,
            }
        }
        Claim::Heartbeat {
            beat,
            client_id,
            now,
        } => ClaimSql {
            statement: relay_upsert(beat, client_id, *now),
            position: Position::First,
            guard: "EXISTS (SELECT 1 FROM relays WHERE relay_id = ? AND client_id = ?)",
            guard_args: vec![(&beat.relay_id).into(), client_id.into()],
        },
        Claim::UsageCursor {
            relay_id,
            epoch,
            read,
            through,
            nonce,
            now,
        } => ClaimSql {
            statement: match read {
                None => st(
                    "INSERT INTO usage_cursors (relay_id, epoch, applied_through, claim, updated_at) VALUES (?, ?, ?, ?, ?) \
                     ON CONFLICT (relay_id, epoch) DO NOTHING RETURNING applied_through",
                    vec![
                        relay_id.into(),
                        epoch.into(),
                        (*through).into(),
                        nonce.into(),
                        (*now).into(),
                    ],
                ),
                Some(read) => st(
                    "UPDATE usage_cursors SET applied_through = ?, claim = ?, updated_at = ? \
                     WHERE relay_id = ? AND epoch = ? AND applied_through = ? RETURNING applied_through",
                    vec![
                        (*through).into(),
                        nonce.into(),
                        (*now).into(),
                        relay_id.into(),
                        epoch.into(),
                        (*read).into(),
                    ],
                ),
            },
            position: Position::First,
            guard: "EXISTS (SELECT 1 FROM usage_cursors WHERE relay_id = ? AND epoch = ? AND claim = ?)",
            guard_args: vec![relay_id.into(), epoch.into(), nonce.into()],
        },
    };
    Some(c)
}

/// A heartbeat's upsert, owned by `client_id`: it returns the relay id (and whether the console
/// asked it to drain, [`crate::oauth::control::heartbeat::Upserted`]) only when the row is
/// (now) this client's; no row back means another client holds the id.
fn relay_upsert(hb: &Heartbeat, client_id: &str, now: u64) -> Statement {
    let urls = serde_json::to_string(&hb.urls).unwrap_or_else(|_| "[]".into());
    st(
        "INSERT INTO relays (relay_id, client_id, urls, region, latitude, longitude, allocations, capacity, load, \
         draining, version, revocation_cursor, usage_backlog, usage_dropped, first_seen, last_seen) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15) \
         ON CONFLICT (relay_id) DO UPDATE SET urls = excluded.urls, region = excluded.region, \
         latitude = excluded.latitude, longitude = excluded.longitude, allocations = excluded.allocations, \
         capacity = excluded.capacity, load = excluded.load, draining = excluded.draining, \
         version = excluded.version, revocation_cursor = excluded.revocation_cursor, \
         usage_backlog = excluded.usage_backlog, usage_dropped = excluded.usage_dropped, \
         last_seen = excluded.last_seen \
         WHERE relays.client_id = excluded.client_id RETURNING relay_id, drain_requested_at",
        vec![
            (&hb.relay_id).into(),
            client_id.into(),
            urls.as_str().into(),
            (&hb.region).into(),
            hb.latitude.into(),
            hb.longitude.into(),
            hb.allocations.into(),
            hb.capacity.into(),
            hb.load.into(),
            u64::from(hb.draining).into(),
            (&hb.version).into(),
            hb.revocation_cursor.into(),
            hb.usage_backlog.into(),
            hb.usage_dropped.into(),
            now.into(),
        ],
    )
}

/// A control plane row's statement without its guard.
fn control_row(c: &control::Write) -> (String, Vec<Value>, Tail) {
    match c {
        control::Write::TurnToken(t) => (
            "INSERT OR IGNORE INTO turn_tokens (token_id, client_id, user_id, family_id, issued_at, expires_at) \
             SELECT ?, ?, ?, ?, ?, ? WHERE"
                .into(),
            vec![
                (&t.token_id).into(),
                (&t.client_id).into(),
                (&t.user_id).into(),
                (&t.family_id).into(),
                t.issued_at.into(),
                t.expires_at.into(),
            ],
            Tail::Where,
        ),
        control::Write::UserRevokedBefore { user_id, at } => (
            "UPDATE users SET revoked_before = ? WHERE id = ?".into(),
            vec![(*at).into(), user_id.into()],
            Tail::And,
        ),
        control::Write::SpendCodesOf { user_id, at } => (
            "UPDATE auth_codes SET used_at = ? WHERE user_id = ? AND used_at IS NULL".into(),
            vec![(*at).into(), user_id.into()],
            Tail::And,
        ),
        control::Write::PasswordHash { user_id, old, new } => (
            "UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?".into(),
            vec![new.into(), user_id.into(), old.into()],
            Tail::And,
        ),
        // Numbered values ?1 to ?11; the guard's plain `?`s take the numbers after them.
        control::Write::Usage(g) => (
            "INSERT INTO relay_usage (day, token_id, transport, client_id, user_id, allocations, to_peer_packets, \
             to_peer_bytes, to_client_packets, to_client_bytes, first_start, last_end, updated_at) \
             SELECT ?1, ?2, ?3, t.client_id, t.user_id, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11 \
             FROM (SELECT 1) LEFT JOIN turn_tokens t ON t.token_id = ?2 WHERE"
                .into(),
            vec![
                g.day.as_str().into(),
                g.token_id.as_str().into(),
                g.transport.as_str().into(),
                g.sum.allocations.into(),
                g.sum.to_peer_packets.into(),
                g.sum.to_peer_bytes.into(),
                g.sum.to_client_packets.into(),
                g.sum.to_client_bytes.into(),
                g.sum.first_start.into(),
                g.sum.last_end.into(),
                g.now.into(),
            ],
            Tail::WhereThen(
                "ON CONFLICT (day, token_id, transport) DO UPDATE SET \
                 allocations = allocations + excluded.allocations, \
                 to_peer_packets = to_peer_packets + excluded.to_peer_packets, \
                 to_peer_bytes = to_peer_bytes + excluded.to_peer_bytes, \
                 to_client_packets = to_client_packets + excluded.to_client_packets, \
                 to_client_bytes = to_client_bytes + excluded.to_client_bytes, \
                 first_start = min(first_start, excluded.first_start), \
                 last_end = CASE WHEN excluded.last_end IS NULL THEN last_end \
                 WHEN last_end IS NULL THEN excluded.last_end ELSE max(last_end, excluded.last_end) END, \
                 updated_at = excluded.updated_at",
            ),
        ),
    }
}

/// Where a row's guard goes.
enum Tail {
    /// The SQL ends with `WHERE` (an `INSERT ... SELECT`): the guard follows.
    Where,
    /// The SQL ends with a condition: `AND <guard>` follows.
    And,
    /// The SQL ends with `WHERE`, the guard follows, then this (an upsert's `ON CONFLICT`).
    WhereThen(&'static str),
}

/// A row's statement without its guard: SQL ending in a `WHERE` clause (or `WHERE` itself
/// for `INSERT ... SELECT`), to which `AND <guard>` / `<guard>` is appended.
fn row_sql(w: &Write) -> (String, Vec<Value>, Tail) {
    match w {
        Write::Family(f) => (
            "INSERT INTO families (id, client_id, user_id, scope, auth_time, sid, amr, acr, created_at, resource, dpop_jkt) \
             SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE"
                .into(),
            vec![
                (&f.id).into(),
                (&f.client_id).into(),
                (&f.user_id).into(),
                (&f.scope).into(),
                f.auth_time.into(),
                authn_sid(&f.authn),
                authn_amr(&f.authn),
                authn_acr(&f.authn),
                f.created_at.into(),
                (&f.resource).into(),
                (&f.dpop_jkt).into(),
            ],
            Tail::Where,
        ),
        Write::Refresh(r) => (
            "INSERT INTO refresh_tokens (id, family_id, client_id, user_id, scope, expires_at, created_at) \
             SELECT ?, ?, ?, ?, ?, ?, ? WHERE"
                .into(),
            vec![
                (&r.key).into(),
                (&r.family_id).into(),
                (&r.client_id).into(),
                (&r.user_id).into(),
                (&r.scope).into(),
                r.expires_at.into(),
                r.created_at.into(),
            ],
            Tail::Where,
        ),
        Write::Code(c) => (
            "INSERT INTO auth_codes (id, client_id, user_id, redirect_uri, scope, code_challenge, nonce, auth_time, sid, amr, acr, expires_at, created_at, resource) \
             SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE"
                .into(),
            vec![
                (&c.key).into(),
                (&c.client_id).into(),
                (&c.user_id).into(),
                (&c.redirect_uri).into(),
                (&c.scope).into(),
                (&c.code_challenge).into(),
                (&c.nonce).into(),
                c.auth_time.into(),
                authn_sid(&c.authn),
                authn_amr(&c.authn),
                authn_acr(&c.authn),
                c.expires_at.into(),
                c.created_at.into(),
                (&c.resource).into(),
            ],
            Tail::Where,
        ),
        Write::Device(d) => (
            "INSERT INTO device_codes (id, user_code, client_id, scope, poll_interval, expires_at, created_at, resource) \
             SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE"
                .into(),
            vec![
                (&d.key).into(),
                (&d.user_code).into(),
                (&d.client_id).into(),
                (&d.scope).into(),
                u64::from(d.interval).into(),
                d.expires_at.into(),
                d.created_at.into(),
                (&d.resource).into(),
            ],
            Tail::Where,
        ),
        Write::DevicePolled { key, at, interval } => (
            "UPDATE device_codes SET last_poll_at = ?, poll_interval = ? WHERE id = ?".into(),
            vec![(*at).into(), u64::from(*interval).into(), key.into()],
            Tail::And,
        ),
        Write::DeleteClientsOwnedBy(user) => (
            "DELETE FROM clients WHERE owner_id = ?".into(),
            vec![user.into()],
            Tail::And,
        ),
        Write::InitialToken {
            key,
            expires_at,
            created_at,
        } => (
            "INSERT INTO initial_access_tokens (id, expires_at, created_at) SELECT ?, ?, ? WHERE"
                .into(),
            vec![key.into(), (*expires_at).into(), (*created_at).into()],
            Tail::Where,
        ),
        Write::RevokeFamily { id, reason, at } => (
            "UPDATE families SET revoked_at = ?, revoked_reason = ? WHERE id = ? AND revoked_at IS NULL".into(),
            vec![(*at).into(), (*reason).into(), id.into()],
            Tail::And,
        ),
        Write::RevokeFamiliesOf { owner, reason, at } => {
            let (which, ids): (&str, Vec<Value>) = match owner {
                Owner::Client(id) => ("client_id = ?", vec![id.into()]),
                Owner::User(id) => ("user_id = ?", vec![id.into()]),
                Owner::ClientUser { client_id, user_id } => (
                    "client_id = ? AND user_id = ?",
                    vec![client_id.into(), user_id.into()],
                ),
                Owner::ClientsOwnedBy(user) => (
                    "client_id IN (SELECT id FROM clients WHERE owner_id = ?)",
                    vec![user.into()],
                ),
            };
            let mut args = vec![(*at).into(), (*reason).into()];
            args.extend(ids);
            (
                format!(
                    "UPDATE families SET revoked_at = ?, revoked_reason = ? WHERE {which} AND revoked_at IS NULL"
                ),
                args,
                Tail::And,
            )
        }
        Write::RevokeToken(r) => (
            "INSERT OR IGNORE INTO revocations (token_id, kind, expires_at, revoked_at) SELECT ?, ?, ?, ? WHERE".into(),
            vec![
                (&r.token_id).into(),
                r.kind.into(),
                r.expires_at.into(),
                r.revoked_at.into(),
            ],
            Tail::Where,
        ),
        Write::Control(c) => control_row(c),
        Write::Session(n) => (
            "INSERT INTO sessions (id, sid, user_id, amr, auth_time, created_at, last_seen_at, expires_at, user_agent) \
             SELECT ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE"
                .into(),
            vec![
                (&n.key).into(),
                (&n.sid).into(),
                (&n.user_id).into(),
                (&n.amr).into(),
                n.auth_time.into(),
                n.auth_time.into(),
                n.auth_time.into(),
                n.expires_at.into(),
                (&n.user_agent).into(),
            ],
            Tail::Where,
        ),
        Write::SessionSeen { key, at } => (
            "UPDATE sessions SET last_seen_at = ? WHERE id = ?".into(),
            vec![(*at).into(), key.into()],
            Tail::And,
        ),
        Write::EndSession { key } => (
            "DELETE FROM sessions WHERE id = ?".into(),
            vec![key.into()],
            Tail::And,
        ),
        Write::EndSessionsOf { user_id } => (
            "DELETE FROM sessions WHERE user_id = ?".into(),
            vec![user_id.into()],
            Tail::And,
        ),
        Write::EndSessionSid { user_id, sid } => (
            "DELETE FROM sessions WHERE sid = ? AND user_id = ?".into(),
            vec![sid.into(), user_id.into()],
            Tail::And,
        ),
        Write::Consent {
            user_id,
            client_id,
            scope,
            at,
        } => (
            "INSERT INTO consents (user_id, client_id, scope, granted_at) SELECT ?, ?, ?, ? WHERE".into(),
            vec![user_id.into(), client_id.into(), scope.into(), (*at).into()],
            Tail::WhereThen(
                "ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at",
            ),
        ),
        Write::Passkey(p) => (
            "INSERT INTO passkeys (id, user_id, public_key, alg, sign_count, created_at) SELECT ?, ?, ?, ?, ?, ? WHERE"
                .into(),
            vec![
                (&p.id).into(),
                (&p.user_id).into(),
                (&p.public_key).into(),
                p.alg.into(),
                u64::from(p.sign_count).into(),
                p.created_at.into(),
            ],
            Tail::Where,
        ),
        Write::PasskeyUsed { id, sign_count, at } => (
            "UPDATE passkeys SET sign_count = ?, last_used_at = ? WHERE id = ?".into(),
            vec![u64::from(*sign_count).into(), (*at).into(), id.into()],
            Tail::And,
        ),
        Write::EmailToken(t) => (
            "INSERT INTO email_tokens (id, user_id, purpose, email, expires_at, created_at) SELECT ?, ?, ?, ?, ?, ? WHERE"
                .into(),
            vec![
                (&t.key).into(),
                (&t.user_id).into(),
                t.purpose.into(),
                (&t.email).into(),
                t.expires_at.into(),
                t.created_at.into(),
            ],
            Tail::Where,
        ),
        Write::Outbox(m) => (
            "INSERT INTO outbox (to_addr, subject, body, created_at) SELECT ?, ?, ?, unixepoch() WHERE".into(),
            vec![(&m.to).into(), (&m.subject).into(), (&m.body).into()],
            Tail::Where,
        ),
        Write::EmailVerified { user_id, email } => (
            "UPDATE users SET email_verified = 1 WHERE id = ? AND email = ?".into(),
            vec![user_id.into(), email.into()],
            Tail::And,
        ),
        Write::SetPassword { user_id, hash } => (
            "UPDATE users SET password_hash = ? WHERE id = ?".into(),
            vec![hash.into(), user_id.into()],
            Tail::And,
        ),
        Write::Audit(a) => (
            "INSERT INTO audit (at, event, token_id, client_id, user_id, family_id, detail, actor_id) \
             SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE"
                .into(),
            vec![
                a.at.into(),
                a.event.into(),
                (&a.token_id).into(),
                (&a.client_id).into(),
                (&a.user_id).into(),
                (&a.family_id).into(),
                a.detail.into(),
                (&a.actor).into(),
            ],
            Tail::Where,
        ),
        Write::ConsoleSession {
            key,
            user_id,
            created_at,
            expires_at,
        } => {
            let (sql, args) = super::console::session_insert(key, user_id, *created_at, *expires_at);
            (sql, args, Tail::Where)
        }
        Write::EndConsoleSession { key, now } => {
            let (sql, args) = super::console::session_delete(key, *now);
            (sql, args, Tail::And)
        }
    }
}

fn authn_sid(a: &Option<Authn>) -> Value {
    a.as_ref().and_then(|a| a.sid.as_deref()).into()
}

fn authn_amr(a: &Option<Authn>) -> Value {
    a.as_ref().map(|a| a.amr.as_str()).into()
}

fn authn_acr(a: &Option<Authn>) -> Value {
    a.as_ref().map(|a| a.acr.as_str()).into()
}

/// The batch for `w`.
pub fn batch(w: &Writes) -> Batch {
    let claim = claim_sql(&w.claim);
    let (guard, guard_args) = match &claim {
        Some(c) => (c.guard, c.guard_args.clone()),
        None => ("1", Vec::new()),
    };
    let guarded = |(mut sql, mut args, tail): (String, Vec<Value>, Tail)| {
        sql.push_str(if matches!(tail, Tail::And) {
            " AND "
        } else {
            " "
        });
        sql.push_str(guard);
        if let Tail::WhereThen(rest) = tail {
            sql.push(' ');
            sql.push_str(rest);
        }
        args.extend(guard_args.iter().cloned());
        st(sql, args)
    };
    // A revocation that reaches TURN tokens puts them into the relays' feed, in the same
    // place of the batch and under the same guard.
    let rows = w.rows.iter().flat_map(|row| {
        let feed = control::writes::feed_following(row).map(|(source, reason, at)| {
            let f = feed_revoke(&source, reason, at);
            guarded((f.sql, f.args, Tail::And))
        });
        std::iter::once(guarded(row_sql(row))).chain(feed)
    });
    let mut statements = Vec::with_capacity(w.rows.len() + 1);
    let mut claim_at = None;
    match claim {
        None => statements.extend(rows),
        Some(ClaimSql {
            statement,
            position: Position::First,
            ..
        }) => {
            claim_at = Some(0);
            statements.push(statement);
            statements.extend(rows);
        }
        Some(ClaimSql {
            statement,
            position: Position::Last,
            ..
        }) => {
            statements.extend(rows);
            claim_at = Some(statements.len());
            statements.push(statement);
        }
    }
    Batch {
        statements,
        claim: claim_at,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::oauth::effects::{AuditEvent, Revocation, event};

    fn audit() -> Write {
        Write::Audit(AuditEvent::new(7, event::CLIENT_DELETED))
    }

    /// Every statement binds exactly as many values as it has placeholders.
    pub(crate) fn well_formed(stmts: &[Statement]) {
        for s in stmts {
            assert_eq!(placeholders(s), s.args.len(), "{}", s.sql);
        }
    }

    #[test]
    fn values_and_placeholders() {
        assert_eq!(Value::from(Some("a")), Value::Text("a".into()));
        assert_eq!(Value::from(None::<u64>), Value::Null);
        assert_eq!(
            placeholders(&Statement::new("?1 ?2 ?1 ?", vec![])),
            3,
            "two numbered, one plain"
        );
        assert_eq!(
            placeholders(&Statement::new("?10 ?1 ?", vec![])),
            3,
            "numbers of two digits"
        );
    }

    /// How many values a statement takes: its plain `?`s plus its distinct numbered `?N`s.
    pub(crate) fn placeholders(s: &Statement) -> usize {
        let b = s.sql.as_bytes();
        let mut numbered = std::collections::BTreeSet::new();
        let mut plain = 0;
        let mut i = 0;
        while let Some(c) = b.get(i) {
            if *c == b'?' {
                let digits: Vec<u8> = b
                    .iter()
                    .skip(i + 1)
                    .take_while(|d| d.is_ascii_digit())
                    .copied()
                    .collect();
                if digits.is_empty() {
                    plain += 1;
                } else {
                    i += digits.len();
                    numbered.insert(digits);
                }
            }
            i += 1;
        }
        plain + numbered.len()
    }

    #[test]
    fn no_claim_means_unguarded_rows_in_order() {
        let w = Writes::none()
            .with(Write::RevokeToken(Revocation {
                token_id: "t".into(),
                kind: "access",
                expires_at: 9,
                revoked_at: 7,
            }))
            .with(audit());
        let b = batch(&w);
        assert_eq!(b.claim, None);
        assert_eq!(b.statements.len(), 2);
        assert!(b.statements[0].sql.ends_with("WHERE 1"));
        for s in &b.statements {
            assert_eq!(placeholders(s), s.args.len(), "{}", s.sql);
        }
    }

    #[test]
    fn single_use_claims_go_first_and_guard_the_rest() {
        let mut w = Writes::new(Claim::Code {
            key: "k".into(),
            family_id: "f".into(),
            now: 5,
        });
        w.push(audit());
        let b = batch(&w);
        assert_eq!(b.claim, Some(0));
        assert!(b.statements[0].sql.starts_with("UPDATE auth_codes"));
        assert!(b.statements[0].sql.ends_with("RETURNING id"));
        let a = &b.statements[1];
        assert!(
            a.sql.ends_with(
                "WHERE EXISTS (SELECT 1 FROM auth_codes WHERE id = ? AND family_id = ?)"
            )
        );
        assert_eq!(a.args[8..], [Value::from("k"), Value::from("f")]);
        for s in &b.statements {
            assert_eq!(placeholders(s), s.args.len(), "{}", s.sql);
        }
    }

    #[test]
    fn deletes_go_last_and_everything_before_needs_the_row() {
        let w = Writes::new(Claim::DeleteClient {
            id: "c1".into(),
            owner: None,
        })
        .with(Write::RevokeFamiliesOf {
            owner: Owner::Client("c1".into()),
            reason: "client_deleted",
            at: 7,
        })
        .with(audit());
        let b = batch(&w);
        // The client's TURN tokens enter the relays' feed right after its families, under the
        // same guard.
        assert_eq!(b.claim, Some(3));
        assert!(b.statements[3].sql.starts_with("DELETE FROM clients"));
        let feed = &b.statements[1];
        assert!(feed.sql.contains("INTO turn_revocations"), "{}", feed.sql);
        assert!(
            feed.sql
                .ends_with("client_id = ? AND EXISTS (SELECT 1 FROM clients WHERE id = ?)")
        );
        let revoke = &b.statements[0];
        assert!(revoke.sql.contains("WHERE client_id = ? AND revoked_at IS NULL AND EXISTS (SELECT 1 FROM clients WHERE id = ?)"));
        assert_eq!(
            revoke.args,
            [
                Value::Int(7),
                Value::from("client_deleted"),
                Value::from("c1"),
                Value::from("c1")
            ]
        );
        for s in &b.statements {
            assert_eq!(placeholders(s), s.args.len(), "{}", s.sql);
        }
    }

    #[test]
    fn inserts_go_last_behind_a_not_exists_guard() {
        let w = Writes::new(Claim::InsertUser(UserWrite {
            id: "u_1".into(),
            username: "alice".into(),
            password_hash: "h".into(),
            name: None,
            email: None,
            created_at: 3,
        }))
        .with(audit());
        let b = batch(&w);
        assert_eq!(b.claim, Some(1));
        assert!(
            b.statements[0]
                .sql
                .ends_with("WHERE NOT EXISTS (SELECT 1 FROM users WHERE username = ? OR id = ?)")
        );
        assert!(
            b.statements[1]
                .sql
                .contains("ON CONFLICT DO NOTHING RETURNING id")
        );
        assert_eq!(b.statements[1].args[3], Value::Null);
    }

    #[test]
    fn every_claim_and_row_binds_as_many_values_as_it_names() {
        use crate::oauth::effects::{NewCode, NewDevice, NewFamily};
        let client = ClientWrite {
            id: "c".into(),
            name: "n".into(),
            secret_hash: None,
            redirect_uris: "[]".into(),
            post_logout_redirect_uris: "[]".into(),
            grant_types: "authorization_code".into(),
            scopes: "openid".into(),
            access_token_ttl: None,
            refresh_token_ttl: Some(5),
            id_token_alg: "RS256".into(),
            owner_id: Some("u".into()),
            registered_by: "self_service",
            registration_key: None,
            backchannel: None,
            created_at: 1,
            resources: Some("https://api.example/".into()),
        };
        let claims = [
            Claim::None,
            Claim::Refresh {
                old_key: "o".into(),
                new_key: "n".into(),
                now: 1,
            },
            Claim::Device {
                key: "k".into(),
                family_id: "f".into(),
                now: 1,
            },
            Claim::DeviceDecision {
                key: "k".into(),
                decision_id: "d".into(),
                user_id: "u".into(),
                approve: true,
                auth_time: 1,
                now: 2,
            },
            Claim::InsertClient(client.clone()),
            Claim::UpdateClient(client),
            Claim::DeleteClient {
                id: "c".into(),
                owner: Some("u".into()),
            },
            Claim::DeleteUser { id: "u".into() },
            Claim::SetRights {
                user_id: "u".into(),
                rights: "a:b".into(),
            },
            Claim::Heartbeat {
                beat: Box::new(
                    Heartbeat::parse(
                        br#"{"relay_id":"r","urls":["turn:192.0.2.1:3478"],"allocations":0,"capacity":1,"load":0.0,"draining":false}"#,
                    )
                    .unwrap(),
                ),
                client_id: "rc".into(),
                now: 1,
            },
            Claim::UsageCursor {
                relay_id: "r".into(),
                epoch: "e".into(),
                read: None,
                through: 2,
                nonce: "n".into(),
                now: 1,
            },
            Claim::UsageCursor {
                relay_id: "r".into(),
                epoch: "e".into(),
                read: Some(1),
                through: 2,
                nonce: "n".into(),
                now: 1,
            },
        ];
        let rows = vec![
            Write::Family(NewFamily {
                id: "f".into(),
                client_id: "c".into(),
                user_id: None,
                scope: "s".into(),
                auth_time: Some(1),
                authn: Some(Authn {
                    sid: Some("s".into()),
                    amr: "pwd".into(),
                    acr: "1".into(),
                }),
                created_at: 1,
                resource: Some("https://api.example/".into()),
                dpop_jkt: Some("jkt".into()),
            }),
            Write::Code(NewCode {
                key: "k".into(),
                client_id: "c".into(),
                user_id: "u".into(),
                redirect_uri: "r".into(),
                scope: "s".into(),
                code_challenge: "x".into(),
                nonce: None,
                auth_time: 1,
                authn: None,
                expires_at: 2,
                created_at: 1,
                resource: None,
            }),
            Write::Device(NewDevice {
                key: "k".into(),
                user_code: "BCDFGHJK".into(),
                client_id: "c".into(),
                scope: "s".into(),
                interval: 5,
                expires_at: 2,
                created_at: 1,
                resource: Some("https://api.example/".into()),
            }),
            Write::DevicePolled {
                key: "k".into(),
                at: 1,
                interval: 10,
            },
            Write::RevokeFamiliesOf {
                owner: Owner::ClientUser {
                    client_id: "c".into(),
                    user_id: "u".into(),
                },
                reason: "logout",
                at: 1,
            },
            Write::RevokeFamiliesOf {
                owner: Owner::ClientsOwnedBy("u".into()),
                reason: "user_deleted",
                at: 1,
            },
            Write::DeleteClientsOwnedBy("u".into()),
            Write::Control(control::Write::TurnToken(control::tokens::Issued {
                token_id: "t".into(),
                client_id: "c".into(),
                user_id: None,
                family_id: Some("f".into()),
                issued_at: 1,
                expires_at: 2,
            })),
            Write::InitialToken {
                key: "k".into(),
                expires_at: 2,
                created_at: 1,
            },
            Write::Control(control::Write::Usage(control::usage::Group {
                day: "2027-01-15".into(),
                token_id: "t".into(),
                transport: "udp".into(),
                sum: control::usage::Sum::default(),
                now: 1,
            })),
            Write::Session(crate::oauth::people::session::NewSession {
                key: "k".into(),
                sid: "s".into(),
                user_id: "u".into(),
                amr: "pwd".into(),
                auth_time: 1,
                expires_at: 2,
                user_agent: None,
            }),
            Write::SessionSeen {
                key: "k".into(),
                at: 1,
            },
            Write::EndSession { key: "k".into() },
            Write::EndSessionsOf {
                user_id: "u".into(),
            },
            Write::EndSessionSid {
                user_id: "u".into(),
                sid: "s_1".into(),
            },
            Write::Consent {
                user_id: "u".into(),
                client_id: "c".into(),
                scope: "openid".into(),
                at: 1,
            },
            audit(),
        ];
        for claim in claims {
            let b = batch(&Writes {
                claim,
                rows: rows.clone(),
            });
            let feed = rows
                .iter()
                .filter(|r| control::writes::feed_following(r).is_some())
                .count();
            assert_eq!(
                b.statements.len(),
                rows.len() + feed + usize::from(b.claim.is_some())
            );
            for s in &b.statements {
                assert_eq!(placeholders(s), s.args.len(), "{}", s.sql);
            }
        }
    }
}
