//! Dynamic Client Registration (RFC 7591) at `POST /oauth2/register`, and its management
//! protocol (RFC 7592) at `registration_client_uri` = `/oauth2/register/{client_id}`.
//!
//! Registering needs an initial access token from the admin API (`Authorization: Bearer`),
//! unless `REGISTRATION=open`. Managing a client needs the registration access token issued
//! with it. Both are bearer secrets stored only as their SHA-256.

use worker::{D1Database, Env, Request};

use super::http::{Reply, client_address, header, now, read_body};
use super::pages::hash;
use super::{env, limits, store};
use crate::oauth::admin;
use crate::oauth::clients::client::ClientRecord;
use crate::oauth::clients::registration::{
    self, Metadata, REGISTRATION_TOKEN_PREFIX, RegisteredBy,
};
use crate::oauth::config::Config;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::ids;
use crate::oauth::params::MAX_BODY;
use crate::oauth::ratelimit::Action;
use crate::oauth::routes::Method;
use crate::oauth::tokens::bearer;

fn uri(cfg: &Config, id: &str) -> String {
    format!("{}/oauth2/register/{id}", cfg.issuer)
}

/// `POST /oauth2/register`.
pub async fn register(mut req: Request, env: &Env) -> Reply {
    let run = async {
        let cfg = env::config(env)?;
        let now = now();
        let address = client_address(&req);
        limits::spend(env, Action::Register, &address).await?;
        let db = env::db(env)?;
        if !cfg.open_registration {
            let auth = header(&req, "authorization");
            let token = bearer::from_header(auth.as_deref()).map_err(|_| {
                OAuthError::invalid_token("registration needs an initial access token")
            })?;
            if !store::initial_token_valid(&db, &ids::lookup_key(token), now).await? {
                return Err(OAuthError::invalid_token(
                    "the initial access token is not valid",
                ));
            }
        }
        let body = read_body(&mut req, MAX_BODY).await?;
        let reg =
            Metadata::parse(&body)?.validate(&cfg.registration_scopes, &cfg.signing_keys.algs())?;
        let id = ids::new_id("c_")?;
        let (secret, secret_hash) = if reg.public {
            (None, None)
        } else {
            let s = ids::new_client_secret()?;
            let h = hash(&s, cfg.client_secret_iterations).await?;
            (Some(s), Some(h))
        };
        let rat = ids::new_opaque(REGISTRATION_TOKEN_PREFIX)?;
        let row = reg.row(
            &id,
            secret_hash,
            RegisteredBy::Dynamic,
            None,
            Some(ids::lookup_key(&rat)),
            now,
        );
        if !store::apply(&db, &reg.create(row, now)).await? {
            return Err(OAuthError::server_error("a fresh client id was taken"));
        }
        let client = store::client(&db, &id)
            .await?
            .ok_or_else(|| OAuthError::server_error("the registered client is missing"))?;
        Ok::<Reply, OAuthError>(Reply::Json(
            201,
            registration::response(&client, now, secret.as_deref(), Some(&rat), &uri(&cfg, &id)),
        ))
    };
    run.await.unwrap_or_else(Reply::Error)
}

/// The client `id` if `Authorization: Bearer` carries its registration access token
/// (`invalid_token` otherwise, and for clients registered any other way).
async fn managed(db: &D1Database, req: &Request, id: &str) -> Result<ClientRecord, OAuthError> {
    let auth = header(req, "authorization");
    let token = bearer::from_header(auth.as_deref())?;
    let refused = || OAuthError::invalid_token("the registration access token is not valid");
    let client = store::client(db, id).await?.ok_or_else(refused)?;
    let stored = client.registration_key.as_deref().ok_or_else(refused)?;
    if !shared_token::ct_eq(stored.as_bytes(), ids::lookup_key(token).as_bytes()) {
        return Err(refused());
    }
    Ok(client)
}

/// `GET|PUT|DELETE /oauth2/register/{client_id}`.
pub async fn manage(mut req: Request, env: &Env, method: Method, id: &str) -> Reply {
    let run = async {
        let cfg = env::config(env)?;
        let address = client_address(&req);
        limits::spend(env, Action::Register, &address).await?;
        let db = env::db(env)?;
        let client = managed(&db, &req, id).await?;
        let now = now();
        match method {
            Method::Delete => {
                env::with_clients(|c| c.forget(id));
                store::apply(&db, &admin::delete_client(id, None, now)).await?;
                Ok(Reply::Empty(204))
            }
            Method::Put => {
                let body = read_body(&mut req, MAX_BODY).await?;
                let meta = Metadata::parse(&body)?;
                if meta.client_id.as_deref() != Some(id) {
                    return Err(OAuthError::new(
                        ErrorCode::InvalidClientMetadata,
                        "client_id must be the registered client's",
                    ));
                }
                let reg = meta.validate(&cfg.registration_scopes, &cfg.signing_keys.algs())?;
                if reg.public != client.is_public() {
                    return Err(OAuthError::new(
                        ErrorCode::InvalidClientMetadata,
                        "token_endpoint_auth_method cannot switch between public and confidential",
                    ));
                }
                let row = reg.row(
                    id,
                    None,
                    RegisteredBy::Dynamic,
                    None,
                    None,
                    client.created_at,
                );
                env::with_clients(|c| c.forget(id));
                if !store::apply(&db, &reg.update(row, now)).await? {
                    return Err(OAuthError::invalid_token("the client is gone"));
                }
                let updated = store::client(&db, id)
                    .await?
                    .ok_or_else(|| OAuthError::invalid_token("the client is gone"))?;
                Ok(Reply::Json(
                    200,
                    registration::response(
                        &updated,
                        updated.created_at,
                        None,
                        None,
                        &uri(&cfg, id),
                    ),
                ))
            }
            _ => Ok(Reply::Json(
                200,
                registration::response(&client, client.created_at, None, None, &uri(&cfg, id)),
            )),
        }
    };
    run.await.unwrap_or_else(Reply::Error)
}
