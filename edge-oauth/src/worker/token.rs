//! `POST /oauth2/token` and the seed-compatible `POST /token`.

use worker::{Context, D1Database, Env, Request, console_error};

use super::http::{Reply, client_address, header, now, read_body};
use super::signin::check_password;
use super::{crypto, env, limits, store};
use crate::oauth::clients::client::GrantType;
use crate::oauth::clients::client_auth::{self, AuthenticatedClient, Step};
use crate::oauth::config::Config;
use crate::oauth::effects::Writes;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::flows::device;
use crate::oauth::flows::grants::{
    self, Grant, authorization_code, client_credentials, password, refresh_token,
};
use crate::oauth::params::{self, MAX_BODY, Params};
use crate::oauth::ratelimit::Action;
use crate::oauth::tokens::dpop::{self, Proof};
use crate::oauth::tokens::issue::{Issued, Source, issue};

/// Handles a token request. `seed` selects the seed-compatible `/token`: JSON or form bodies,
/// scope `turn` by default, and `LEGACY_CLIENT_ID` when the request names no client.
pub async fn handle(mut req: Request, env: &Env, ctx: &Context, seed: bool) -> Reply {
    match token(&mut req, env, ctx, seed).await {
        Ok(body) => Reply::Json(200, body),
        Err(e) => Reply::Error(e),
    }
}

async fn token(
    req: &mut Request,
    env: &Env,
    ctx: &Context,
    seed: bool,
) -> Result<serde_json::Value, OAuthError> {
    let cfg = env::config(env)?;
    let now = now();
    let content_type = header(req, "content-type");
    let authorization = header(req, "authorization");
    let dpop_header = header(req, dpop::HEADER);
    let htu = format!("{}{}", cfg.issuer, req.path());
    let address = client_address(req);
    let body = read_body(req, MAX_BODY).await?;
    let mut params = if seed {
        params::form_or_json_body(content_type.as_deref(), &body)?
            .with("scope", crate::oauth::scope::TURN)
    } else {
        params::form_body(content_type.as_deref(), &body)?
    };
    if seed
        && authorization.is_none()
        && params.get("client_id").is_none()
        && let Some(legacy) = &cfg.legacy_client_id
    {
        params = params.with("client_id", legacy);
    }
    let grant_type = grants::grant_type(&params)?;
    let action = Action::Token {
        username: (grant_type == GrantType::Password)
            .then(|| params.get("username"))
            .flatten(),
    };
    limits::spend(env, action, &address).await?;
    let db = env::db(env)?;
    let presented = Presented {
        authorization: authorization.as_deref(),
        params: &params,
        address: &address,
    };
    let client = authenticate_limited(env, &db, &cfg, presented, "token", now).await?;
    grants::check_allowed(client.record(), grant_type)?;
    let proof = dpop_proof(&cfg, dpop_header.as_deref(), &htu, now).await?;
    let proof = proof.as_ref();
    let public = !client.is_confidential();
    let turn = TurnLimit {
        env,
        address: &address,
    };
    match grant_type {
        GrantType::ClientCredentials => {
            let mut grant = client_credentials::decide(&client, &params, &cfg)?;
            dpop::bind(&mut grant, proof, None, public)?;
            let mut issued = issue(&grant, Source::Direct, &cfg, now)?;
            turn.spend(&issued).await?;
            sign_all(&cfg, &mut issued, now).await?;
            // Only audit rows to write: they go after the response (waitUntil), so the hot
            // path has no D1 round trip when the client record is cached.
            let writes = issued.writes.clone();
            let env = env.clone();
            ctx.wait_until(async move {
                let applied = match env::db(&env) {
                    Ok(db) => store::apply(&db, &writes).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = applied {
                    console_error!(
                        "audit write after client_credentials failed: {}",
                        e.description
                    );
                }
            });
            issued.into_body()
        }
        GrantType::Password => {
            let username = params.require("username")?;
            let pw = params.require("password")?;
            let user = check_password(&db, &cfg, username, pw)
                .await?
                .ok_or_else(|| OAuthError::invalid_grant("wrong username or password"))?;
            let mut grant = password::decide(&client, &user, &params, &cfg)?;
            dpop::bind(&mut grant, proof, None, public)?;
            let issued = issue(&grant, Source::Direct, &cfg, now)?;
            turn.spend(&issued).await?;
            finish(&db, &cfg, issued, now)
                .await?
                .ok_or_else(|| OAuthError::server_error("an unclaimed grant was not written"))
        }
        GrantType::AuthorizationCode => code(&db, &cfg, &turn, &client, &params, proof, now).await,
        GrantType::RefreshToken => refresh(&db, &cfg, &turn, &client, &params, proof, now).await,
        GrantType::DeviceCode => device_code(&db, &cfg, &turn, &client, &params, proof, now).await,
    }
}

/// The request's DPoP proof (RFC 9449), checked: shape, signature (WebCrypto, with the key in
/// the proof), method, URL, time and (`DPOP_NONCE=required`) the server nonce.
async fn dpop_proof(
    cfg: &Config,
    header: Option<&str>,
    htu: &str,
    now: u64,
) -> Result<Option<Proof>, OAuthError> {
    let Some(h) = header else {
        return Ok(None);
    };
    let unverified = dpop::parse(h)?;
    let valid = crypto::verify_dpop(&unverified).await?.ok_or_else(|| {
        OAuthError::new(
            ErrorCode::InvalidDpopProof,
            "the DPoP proof's signature does not verify",
        )
    })?;
    let nonces = cfg.dpop_nonce.then_some(&cfg.signing_key);
    dpop::check(unverified, valid, "POST", htu, now, nonces).map(Some)
}

/// The per-person TURN limit of the token endpoint: spent for a TURN token before anything
/// is written (a refused refresh keeps its refresh token).
struct TurnLimit<'a> {
    env: &'a Env,
    address: &'a str,
}

impl TurnLimit<'_> {
    async fn spend(&self, issued: &Issued) -> Result<(), OAuthError> {
        let Some(account) = issued.turn_account else {
            return Ok(());
        };
        let account = account.to_string();
        limits::spend(self.env, Action::Turn { account: &account }, self.address).await
    }
}

/// What a request presents to authenticate its client, and where from.
#[derive(Clone, Copy)]
pub struct Presented<'a> {
    /// The `Authorization` header.
    pub authorization: Option<&'a str>,
    /// The form.
    pub params: &'a Params,
    /// The source address.
    pub address: &'a str,
}

/// [`authenticate`] under the rate limits: before, only this address's failures for the
/// presented client count (`RL_CLIENT_FAIL`, refused until the window ends once spent); after,
/// the client's own budget at `endpoint` (`RL_CLIENT`). A stranger's wrong secrets never spend
/// the client's budget.
pub async fn authenticate_limited(
    env: &Env,
    db: &D1Database,
    cfg: &Config,
    p: Presented<'_>,
    endpoint: &'static str,
    now: u64,
) -> Result<AuthenticatedClient, OAuthError> {
    let named = client_auth::presented(p.authorization, p.params).ok();
    let failure = named.as_ref().map(|n| Action::ClientFailure {
        client_id: n.client_id.as_str(),
    });
    if let Some(f) = failure {
        limits::still_refused(f, p.address, now)?;
    }
    let client = match authenticate(db, cfg, p.authorization, p.params, now).await {
        Ok(c) => c,
        Err(e) => {
            return Err(match failure {
                Some(f) if e.code == ErrorCode::InvalidClient => {
                    limits::failed(env, f, p.address, now, e).await
                }
                _ => e,
            });
        }
    };
    let own = Action::Authenticated {
        endpoint,
        client_id: &client.record().id,
    };
    limits::spend(env, own, p.address).await?;
    Ok(client)
}

/// Authenticates the client: load it, then (confidential) PBKDF2 through WebCrypto, unless
/// this isolate verified the same secret against the same record recently.
pub async fn authenticate(
    db: &D1Database,
    cfg: &Config,
    authorization: Option<&str>,
    params: &Params,
    now: u64,
) -> Result<AuthenticatedClient, OAuthError> {
    let presented = client_auth::presented(authorization, params)?;
    let record = super::client_metadata::client_cached(db, cfg, &presented.client_id, now).await?;
    match client_auth::begin(record, presented)? {
        Step::Done(client) => Ok(*client),
        Step::Verify(pending) => {
            let pending = match env::with_verified(|cache| pending.accept_cached(cache, now)) {
                Ok(client) => return Ok(client),
                Err(pending) => pending,
            };
            let h = pending.hash();
            let derived = crypto::pbkdf2(pending.secret_bytes(), h.salt(), h.iterations()).await?;
            env::with_verified(|cache| pending.verify(&derived, cache, now))
        }
    }
}

/// Signs every JWT of `issued` with WebCrypto, in the order it asks.
pub async fn sign_all(cfg: &Config, issued: &mut Issued, now: u64) -> Result<(), OAuthError> {
    while let Some(u) = issued.to_sign() {
        let key = cfg
            .signing_keys
            .by_kid(&u.kid)
            .ok_or_else(|| OAuthError::server_error("a signing key vanished"))?;
        let signature = crypto::sign(key, u.input.as_bytes()).await?;
        issued.signed(&signature, &cfg.signing_keys, now)?;
    }
    Ok(())
}

/// Signs, applies the writes, and answers; `None` when the claim was lost (nothing written).
async fn finish(
    db: &D1Database,
    cfg: &Config,
    mut issued: Issued,
    now: u64,
) -> Result<Option<serde_json::Value>, OAuthError> {
    sign_all(cfg, &mut issued, now).await?;
    if store::apply(db, &issued.writes).await? {
        issued.into_body().map(Some)
    } else {
        Ok(None)
    }
}

/// What a single-use grant's decision came to.
enum Decided {
    /// Issue, after claiming what `Source` names.
    Issue(Grant, Source),
    /// Write this (a replay's revocation, a poll's time) and refuse.
    Refuse(OAuthError, Writes),
}

/// Load, decide, apply, for grants with a claim (codes, refresh tokens, device codes). A lost
/// claim means the row changed under us (a concurrent request won, or it expired or was
/// revoked meanwhile): load it again and decide again, which then sees the replay or refusal.
async fn claim_and_issue<F, Fut>(
    db: &D1Database,
    cfg: &Config,
    turn: &TurnLimit<'_>,
    now: u64,
    mut decide: F,
) -> Result<serde_json::Value, OAuthError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Decided, OAuthError>>,
{
    for _ in 0..2 {
        match decide().await? {
            Decided::Issue(grant, source) => {
                let issued = issue(&grant, source, cfg, now)?;
                turn.spend(&issued).await?;
                if let Some(body) = finish(db, cfg, issued, now).await? {
                    return Ok(body);
                }
            }
            Decided::Refuse(error, writes) => {
                store::apply(db, &writes).await?;
                return Err(error);
            }
        }
    }
    Err(lost_twice())
}

/// Redeems a code; a code presented again is a replay ([`authorization_code`]).
async fn code(
    db: &D1Database,
    cfg: &Config,
    turn: &TurnLimit<'_>,
    client: &AuthenticatedClient,
    params: &Params,
    proof: Option<&Proof>,
    now: u64,
) -> Result<serde_json::Value, OAuthError> {
    let key = authorization_code::code_key(params)?;
    claim_and_issue(db, cfg, turn, now, || async {
        let row = store::code(db, &key).await?;
        Ok(
            match authorization_code::decide(client, params, row, cfg, now)? {
                authorization_code::Outcome::Redeem(mut g) => {
                    dpop::bind(&mut g, proof, None, !client.is_confidential())?;
                    Decided::Issue(g, Source::Code { key: key.clone() })
                }
                authorization_code::Outcome::Replayed { revoke } => {
                    Decided::Refuse(authorization_code::replayed(), revoke)
                }
            },
        )
    })
    .await
}

/// Rotates a refresh token; a spent one presented again is a reuse ([`refresh_token`]).
async fn refresh(
    db: &D1Database,
    cfg: &Config,
    turn: &TurnLimit<'_>,
    client: &AuthenticatedClient,
    params: &Params,
    proof: Option<&Proof>,
    now: u64,
) -> Result<serde_json::Value, OAuthError> {
    let key = refresh_token::token_key(params)?;
    claim_and_issue(db, cfg, turn, now, || async {
        let row = store::refresh(db, &key).await?;
        let bound = row.as_ref().and_then(|r| r.dpop_jkt.clone());
        Ok(
            match refresh_token::decide(client, params, row, cfg, now)? {
                refresh_token::Outcome::Rotate(mut g) => {
                    // A bound family's refresh needs a proof with its key (RFC 9449 5).
                    dpop::bind(&mut g, proof, bound.as_deref(), !client.is_confidential())?;
                    Decided::Issue(
                        g,
                        Source::Refresh {
                            old_key: key.clone(),
                        },
                    )
                }
                refresh_token::Outcome::Reused { revoke } => {
                    Decided::Refuse(refresh_token::reused(), revoke)
                }
            },
        )
    })
    .await
}

/// A device polls (RFC 8628 section 3.4).
async fn device_code(
    db: &D1Database,
    cfg: &Config,
    turn: &TurnLimit<'_>,
    client: &AuthenticatedClient,
    params: &Params,
    proof: Option<&Proof>,
    now: u64,
) -> Result<serde_json::Value, OAuthError> {
    let key = device::code_key(params)?;
    claim_and_issue(db, cfg, turn, now, || async {
        let row = store::device(db, &key).await?;
        Ok(match device::poll(client, params, row, &key, cfg, now)? {
            device::Polled::Issue(mut g) => {
                dpop::bind(&mut g, proof, None, !client.is_confidential())?;
                Decided::Issue(g, Source::Device { key: key.clone() })
            }
            device::Polled::Refuse { error, writes } => Decided::Refuse(error, writes),
        })
    })
    .await
}

/// A claim lost, and then the reloaded row still looked claimable: D1 answered inconsistently.
fn lost_twice() -> OAuthError {
    OAuthError::new(
        crate::oauth::ErrorCode::TemporarilyUnavailable,
        "the grant could not be claimed; try again",
    )
}
