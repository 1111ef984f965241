//! Introspection (RFC 7662), revocation (RFC 7009), userinfo and `/turn/credentials`.

use worker::{Env, Request};

use super::bearer::active_bearer;
use super::http::{Reply, client_address, header, now, read_body};
use super::token::authenticate;
use super::{crypto, env, limits, store};
use crate::oauth::control::{self, tokens};
use crate::oauth::effects::{AuditEvent, Write, Writes, event};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::params::{self, MAX_BODY};
use crate::oauth::ratelimit::Action;
use crate::oauth::scope::{OPENID, TURN};
use crate::oauth::tokens::introspect::{self, Presented};
use crate::oauth::{ids, tokens::account, tokens::revoke, tokens::turn};

fn reply(r: Result<Reply, OAuthError>) -> Reply {
    r.unwrap_or_else(Reply::Error)
}

/// Seconds caches may keep the public keys. Rotation publishes a key at least this long
/// before it signs (its `nbf`), so caches have it when the first token it signed arrives.
pub const JWKS_MAX_AGE: u32 = 300;

/// `GET /certs` and `GET /.well-known/jwks.json`: the public signing keys.
pub fn jwks(env: &Env) -> Reply {
    match env::config(env) {
        Ok(cfg) => Reply::Public {
            body: cfg.signing_keys.public_jwks(),
            max_age: JWKS_MAX_AGE,
        },
        Err(e) => Reply::Error(e),
    }
}

/// `POST /oauth2/introspect`.
pub async fn introspect(mut req: Request, env: &Env) -> Reply {
    reply(
        async {
            let cfg = env::config(env)?;
            let now = now();
            let (ct, auth) = (header(&req, "content-type"), header(&req, "authorization"));
            let body = read_body(&mut req, MAX_BODY).await?;
            let params = params::form_body(ct.as_deref(), &body)?;
            let db = env::db(env)?;
            let caller = authenticate(&db, &cfg, auth.as_deref(), &params, now).await?;
            introspect::require_confidential(&caller)?;
            let token = params.require("token")?;
            let answer = match introspect::classify(&cfg, token, now) {
                Presented::Access(parsed) => {
                    let proof = crypto::verify(&cfg.signing_keys, &parsed).await?;
                    match introspect::access_claims(&cfg, &parsed, proof, now) {
                        Some(claims) => introspect::access(
                            &caller,
                            &claims,
                            &store::bearer_status(&db, &claims).await?,
                        ),
                        None => introspect::inactive(),
                    }
                }
                Presented::Refresh { key } => {
                    introspect::refresh(&caller, store::refresh(&db, &key).await?.as_ref(), now)
                }
                Presented::Turn(opened) => introspect::turn(
                    &caller,
                    &opened,
                    &store::turn_status(&db, &opened.token_id).await?,
                ),
                Presented::Unknown => introspect::inactive(),
            };
            Ok(Reply::Json(200, answer))
        }
        .await,
    )
}

/// `POST /oauth2/revoke`.
pub async fn revoke(mut req: Request, env: &Env) -> Reply {
    reply(
        async {
            let cfg = env::config(env)?;
            let now = now();
            let (ct, auth) = (header(&req, "content-type"), header(&req, "authorization"));
            let body = read_body(&mut req, MAX_BODY).await?;
            let params = params::form_body(ct.as_deref(), &body)?;
            let db = env::db(env)?;
            let caller = authenticate(&db, &cfg, auth.as_deref(), &params, now).await?;
            let token = params.require("token")?;
            let writes = match introspect::classify(&cfg, token, now) {
                Presented::Access(parsed) => {
                    let proof = crypto::verify(&cfg.signing_keys, &parsed).await?;
                    match introspect::access_claims(&cfg, &parsed, proof, now) {
                        Some(claims) => Some(revoke::access(&caller, &claims, now)?),
                        None => None,
                    }
                }
                Presented::Refresh { key } => {
                    let row = store::refresh(&db, &key).await?;
                    Some(revoke::refresh(
                        &caller,
                        row.as_ref(),
                        ids::token_id(token.as_bytes()),
                        now,
                    )?)
                }
                Presented::Turn(opened) => {
                    let status = store::turn_status(&db, &opened.token_id).await?;
                    Some(revoke::turn(&caller, &opened, &status, now)?)
                }
                Presented::Unknown if token.starts_with(ids::CODE_PREFIX) => {
                    return Err(OAuthError::new(
                        ErrorCode::UnsupportedTokenType,
                        "authorization codes cannot be revoked",
                    ));
                }
                Presented::Unknown => None,
            };
            if let Some(w) = writes {
                store::apply(&db, &w).await?;
            }
            Ok(Reply::Empty(200))
        }
        .await,
    )
}

/// `GET|POST /oauth2/userinfo`.
pub async fn userinfo(req: Request, env: &Env) -> Reply {
    reply(
        async {
            let cfg = env::config(env)?;
            let db = env::db(env)?;
            let b = active_bearer(&req, &cfg, &db, now()).await?;
            b.require_scope(OPENID)?;
            Ok(Reply::Json(200, b.userinfo()?))
        }
        .await,
    )
}

/// `GET|POST /turn/credentials`: fresh `iceServers` for a bearer token with scope `turn`.
pub async fn turn_credentials(req: Request, env: &Env) -> Reply {
    reply(
        async {
            let cfg = env::config(env)?;
            let db = env::db(env)?;
            let now = now();
            let b = active_bearer(&req, &cfg, &db, now).await?;
            b.require_scope(TURN)?;
            // Charged to the person (or the app, for a token with no person): relays keep
            // per-user quotas on it, and minting is limited per person here.
            let account = account::of(&cfg.signing_key, b.claims.user_id(), &b.claims.client_id);
            let key = account.to_string();
            limits::spend(env, Action::Turn { account: &key }, &client_address(&req)).await?;
            let minted = turn::mint(&cfg, cfg.turn_token_ttl, account, now)?;
            let relays = super::control::nearest(&req, env, &cfg, &db, now).await?;
            let body = turn::ice_servers(&cfg, &minted, &relays)?;
            let audit = AuditEvent {
                token_id: Some(minted.id.to_string()),
                client_id: Some(b.claims.client_id.clone()),
                user_id: b.claims.user_id().map(str::to_string),
                family_id: b.claims.fid.clone(),
                ..AuditEvent::new(now, event::TURN_CREDENTIAL_ISSUED)
            };
            let issued = control::Write::TurnToken(tokens::Issued {
                token_id: minted.id.to_string(),
                client_id: b.claims.client_id.clone(),
                user_id: b.claims.user_id().map(str::to_string),
                family_id: b.claims.fid.clone(),
                issued_at: now,
                expires_at: minted.expires_at(),
            });
            let writes = Writes::none()
                .with(Write::Audit(audit))
                .with(Write::Control(issued));
            store::apply(&db, &writes).await?;
            Ok(Reply::Json(200, body))
        }
        .await,
    )
}
