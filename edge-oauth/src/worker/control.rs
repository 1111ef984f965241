//! The control plane's endpoints (`/relay/*` for relays, `/admin/usage`, `/turn/usage`), the
//! nearest relays for `/turn/credentials`, and the scheduled housekeeping. Rules are in
//! [`crate::oauth::control`], statements in [`crate::store`]; this adapter loads through
//! [`super::store`], applies the `Writes` it is given (one D1 batch per request that writes)
//! and answers. Relay answers carry what the request cost in
//! D1 (`d1.rows_read`, `d1.rows_written`), which relays sum into the figures of
//! docs/control-plane.md.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use serde_json::{Value, json};
use worker::{D1Database, Env, Request, console_error, event};

use super::http::{Reply, header, now, read_body};
use super::store::{self, Cost, batch, metered as rows};
use super::{bearer, env};
use crate::oauth::config::Config;
use crate::oauth::control::config::{ControlConfig, DEV_LOCATION_HEADER};
use crate::oauth::control::heartbeat::{self, Heartbeat};
use crate::oauth::control::select::{self, Location};
use crate::oauth::control::usage::{self, Batch, Query};
use crate::oauth::control::{RELAY_SCOPE, feed, revoke};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::params::MAX_ADMIN_BODY;
use crate::oauth::{ids, scope};
use crate::store::reads;
use crate::store::reads::{FeedRow, Relay};

thread_local! {
    static CONTROL: RefCell<Option<Rc<ControlConfig>>> = const { RefCell::new(None) };
    static RELAYS: RefCell<Option<(u64, Rc<Vec<Relay>>)>> = const { RefCell::new(None) };
}

/// The control plane's configuration, checked once per isolate.
pub(super) fn control(env: &Env, cfg: &Config) -> Result<Rc<ControlConfig>, OAuthError> {
    if let Some(c) = CONTROL.with(|c| c.borrow().clone()) {
        return Ok(c);
    }
    let c = Rc::new(
        ControlConfig::from_lookup(|name| env::read(env, name), &cfg.issuer)
            .map_err(|e| OAuthError::server_error(e.to_string()))?,
    );
    CONTROL.with(|slot| *slot.borrow_mut() = Some(c.clone()));
    Ok(c)
}

fn reply(r: Result<Reply, OAuthError>) -> Reply {
    r.unwrap_or_else(Reply::Error)
}

/// The relay client behind a request: a bearer token in good standing with scope `relay`.
async fn relay_client(
    req: &Request,
    cfg: &Config,
    db: &D1Database,
    now: u64,
) -> Result<String, OAuthError> {
    let b = bearer::active_bearer(req, cfg, db, now).await?;
    b.require_scope(RELAY_SCOPE)?;
    Ok(b.claims.client_id)
}

/// `GET /relay/revocations?cursor=N&wait=S`: a long poll of the feed.
pub async fn revocations(req: Request, env: &Env) -> Reply {
    reply(
        async {
            let cfg = env::config(env)?;
            let ctl = control(env, &cfg)?;
            let db = env::db(env)?;
            let started = now();
            relay_client(&req, &cfg, &db, started).await?;
            let url = req
                .url()
                .map_err(|_| OAuthError::invalid_request("bad URL"))?;
            let poll = feed::Poll::parse(url.query().unwrap_or(""), ctl.wait_max)?;
            let mut cost = Cost::default();
            loop {
                let t = now();
                let page: Vec<FeedRow> = rows(
                    &db,
                    &reads::feed_page(poll.cursor, t, feed::PAGE),
                    &mut cost,
                )
                .await?;
                let waited = t.saturating_sub(started);
                if !page.is_empty() || waited >= poll.wait {
                    let head = if page.is_empty() && poll.cursor > 0 {
                        rows(&db, &reads::feed_head(), &mut cost)
                            .await?
                            .first()
                            .map(|h| h.head)
                    } else {
                        None
                    };
                    let mut v = feed::page(poll, &page, head);
                    if let Some(o) = v.as_object_mut() {
                        o.insert("d1".into(), cost.json());
                    }
                    return Ok(Reply::Json(200, v));
                }
                worker::Delay::from(Duration::from_millis(ctl.poll_ms)).await;
            }
        }
        .await,
    )
}

/// `POST /relay/heartbeat`.
pub async fn heartbeat(mut req: Request, env: &Env) -> Reply {
    reply(
        async {
            let cfg = env::config(env)?;
            let ctl = control(env, &cfg)?;
            let db = env::db(env)?;
            let now = now();
            let client = relay_client(&req, &cfg, &db, now).await?;
            let hb = Heartbeat::parse(&read_body(&mut req, MAX_ADMIN_BODY).await?)?;
            let mut cost = Cost::default();
            let (took, results) =
                store::apply_metered(&db, &hb.writes(&client, now), &mut cost).await?;
            if !took {
                return Err(heartbeat::taken());
            }
            // The upsert is the batch's first statement; its row says whether to drain.
            let row = store::returned::<heartbeat::Upserted>(results.first())?;
            Ok(Reply::Json(
                200,
                heartbeat::answer(row.first(), ctl.stale_after, cost.json()),
            ))
        }
        .await,
    )
}

/// `POST /relay/usage`: applies a batch once; answers the cursor.
pub async fn usage(mut req: Request, env: &Env) -> Reply {
    reply(
        async {
            let cfg = env::config(env)?;
            let db = env::db(env)?;
            let now = now();
            let client = relay_client(&req, &cfg, &db, now).await?;
            let b = Batch::parse(&read_body(&mut req, MAX_ADMIN_BODY * 4).await?)?;
            let mut cost = Cost::default();
            // Bound like heartbeats: a relay id bound to another relay client is not this
            // caller's to report for.
            let owner = rows(&db, &reads::relay_owner(&b.relay_id), &mut cost).await?;
            if owner.first().is_some_and(|o| o.client_id != client) {
                return Err(heartbeat::taken());
            }
            // Two tries: a concurrent batch of the same relay may move the cursor between
            // the read and the claim.
            for _ in 0..2 {
                let applied = rows(&db, &reads::usage_cursor(&b.relay_id, &b.epoch), &mut cost)
                    .await?
                    .first()
                    .map(|c| c.applied_through);
                let nonce = ids::new_jti()?;
                let plan = usage::decide(&b, applied, &nonce, now);
                // Nothing to apply: no D1 call, the cursor as it is.
                let (took, _) = store::apply_metered(&db, &plan.writes, &mut cost).await?;
                if took {
                    return Ok(usage_answer(plan.through, &cost));
                }
            }
            Err(OAuthError::invalid_request(
                "another usage batch of this relay was applied at the same time; send again",
            )
            .with_status(409))
        }
        .await,
    )
}

fn usage_answer(through: u64, cost: &Cost) -> Reply {
    Reply::Json(
        200,
        json!({ "applied_through": through, "d1": cost.json() }),
    )
}

/// `GET /admin/usage`.
pub async fn admin_usage(req: Request, env: &Env) -> Reply {
    reply(
        async {
            let cfg = env::config(env)?;
            super::limits::admin(env, &cfg, &req).await?;
            let url = req
                .url()
                .map_err(|_| OAuthError::invalid_request("bad URL"))?;
            let q = Query::parse_admin(url.query().unwrap_or(""), now())?;
            report(&env::db(env)?, &q).await
        }
        .await,
    )
}

/// `GET /turn/usage`: the signed-in person's own relay usage (a bearer token of theirs with
/// scope `openid` or `turn`).
pub async fn own_usage(req: Request, env: &Env) -> Reply {
    reply(
        async {
            let cfg = env::config(env)?;
            let db = env::db(env)?;
            let now = now();
            let b = bearer::active_bearer(&req, &cfg, &db, now).await?;
            if b.require_scope(scope::OPENID).is_err() {
                b.require_scope(scope::TURN)?;
            }
            let user = b.claims.user_id().ok_or_else(|| {
                OAuthError::new(
                    ErrorCode::InsufficientScope,
                    "a client_credentials token has no user",
                )
            })?;
            report(&db, &Query::own(user, now)).await
        }
        .await,
    )
}

async fn report(db: &D1Database, q: &Query) -> Result<Reply, OAuthError> {
    let (grouped, total) = q.report();
    let mut cost = Cost::default();
    let rows: Vec<Value> = rows(db, &grouped, &mut cost).await?;
    let total: Vec<Value> = self::rows(db, &total, &mut cost).await?;
    Ok(Reply::Json(200, q.answer(rows, total.into_iter().next())))
}

/// `POST /admin/users/{id}/revoke`: everything of a user, at once (families, TURN tokens at
/// the relays).
pub async fn admin_revoke_user(req: Request, env: &Env, user_id: &str) -> Reply {
    reply(
        async {
            let cfg = env::config(env)?;
            super::limits::admin(env, &cfg, &req).await?;
            let db = env::db(env)?;
            let mut cost = Cost::default();
            let exists = rows(&db, &reads::user_exists(user_id), &mut cost).await?;
            if exists.is_empty() {
                return Err(OAuthError::new(ErrorCode::NotFound, "no such user"));
            }
            // The apps the person registered go too: this isolate forgets them at once, other
            // isolates within CLIENT_CACHE_TTL.
            for app in store::clients_owned_by(&db, user_id).await? {
                env::with_clients(|c| c.forget(&app.id));
            }
            let (_, results) =
                store::apply_metered(&db, &revoke::everything_of_user(user_id, now()), &mut cost)
                    .await?;
            let changed = |i: usize| store::changes(results.get(i));
            Ok(Reply::Json(
                200,
                json!({
                    "user_id": user_id,
                    "families": changed(0) + changed(4),
                    "turn_tokens": changed(1) + changed(5),
                    "apps_deleted": changed(6),
                }),
            ))
        }
        .await,
    )
}

/// Where the caller is: `request.cf`'s coordinates; with `DEV_CALLER_LOCATION=1` (local runs
/// only) the `X-Dev-Caller-Location` header first.
fn caller(req: &Request, ctl: &ControlConfig) -> Option<Location> {
    if ctl.dev_location
        && let Some(at) = header(req, DEV_LOCATION_HEADER).and_then(|h| select::parse_location(&h))
    {
        return Some(at);
    }
    req.cf()
        .and_then(|cf| cf.coordinates())
        .map(|(lat, lon)| (f64::from(lat), f64::from(lon)))
        .filter(|(lat, lon)| lat.is_finite() && lon.is_finite())
}

/// The URLs of the healthy relays nearest the caller, one list per relay, nearest first;
/// empty when no relay is healthy (the static `TURN_URLS` then).
pub async fn nearest(
    req: &Request,
    env: &Env,
    cfg: &Config,
    db: &D1Database,
    now: u64,
) -> Result<Vec<Vec<String>>, OAuthError> {
    let ctl = control(env, cfg)?;
    let cached = RELAYS.with(|r| {
        r.borrow()
            .as_ref()
            .filter(|(at, _)| ctl.relay_cache_ttl > 0 && now < at + ctl.relay_cache_ttl)
            .map(|(_, list)| list.clone())
    });
    let list = match cached {
        Some(l) => l,
        None => {
            let mut cost = Cost::default();
            let l: Rc<Vec<Relay>> =
                Rc::new(rows(db, &reads::healthy_relays(now, ctl.stale_after), &mut cost).await?);
            RELAYS.with(|r| *r.borrow_mut() = Some((now, l.clone())));
            l
        }
    };
    let chosen = select::nearest(&list, caller(req, &ctl), now, ctl.stale_after, ctl.choices);
    Ok(chosen.into_iter().map(|c| c.urls).collect())
}

/// `GET /admin/relays`: every relay with its last heartbeat, and whether it is handed out now.
pub async fn admin_relays(req: Request, env: &Env) -> Reply {
    reply(
        async {
            let cfg = env::config(env)?;
            super::limits::admin(env, &cfg, &req).await?;
            let ctl = control(env, &cfg)?;
            let db = env::db(env)?;
            let now = now();
            let mut cost = Cost::default();
            let list = select::listing(
                rows(&db, &reads::relays(), &mut cost).await?,
                now,
                ctl.stale_after,
            );
            Ok(Reply::Json(
                200,
                json!({ "relays": list, "stale_after": ctl.stale_after, "now": now }),
            ))
        }
        .await,
    )
}

/// Deletes what outlived its use (cron trigger; also `POST /admin/housekeeping`).
async fn housekeep(env: &Env) -> Result<Value, OAuthError> {
    let db = env::db(env)?;
    let mut cost = Cost::default();
    batch(&db, &crate::store::control::housekeeping(now()), &mut cost).await?;
    Ok(json!({ "d1": cost.json() }))
}

/// `POST /admin/housekeeping`.
pub async fn admin_housekeeping(req: Request, env: &Env) -> Reply {
    reply(
        async {
            let cfg = env::config(env)?;
            super::limits::admin(env, &cfg, &req).await?;
            Ok(Reply::Json(200, housekeep(env).await?))
        }
        .await,
    )
}

#[event(scheduled)]
async fn scheduled(_event: worker::ScheduledEvent, env: Env, _ctx: worker::ScheduleContext) {
    if let Err(e) = housekeep(&env).await {
        console_error!("housekeeping: {}", e.description);
    }
}
