//! Passkeys at the edge: the options endpoints (`POST /passkey/options` for signing in,
//! `POST /account/passkey-options` for registering) and the checks of a posted registration or
//! assertion ([`crate::oauth::people::passkey`] decides; WebCrypto verifies the signature).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use worker::{D1Database, Env, Request};

use super::http::{Reply, client_address, csrf_cookie_of, header, now, read_body};
use super::{crypto, env, limits, session, store};
use crate::oauth::config::Config;
use crate::oauth::effects::Writes;
use crate::oauth::error::OAuthError;
use crate::oauth::flows::sealed::cookie_matches_field;
use crate::oauth::params::{self, MAX_BODY, Params};
use crate::oauth::people::account::PATH as ACCOUNT;
use crate::oauth::people::passkey::ceremony::{self, Ceremony, Opened, PasskeyRow};
use crate::oauth::people::passkey::webauthn::{self, Expect, PasskeyError};
use crate::oauth::ratelimit::Action;
use crate::oauth::tokens::signing_keys::Alg;
use crate::store::reads;

fn field(p: &Params, name: &str) -> Result<Vec<u8>, PasskeyError> {
    URL_SAFE_NO_PAD
        .decode(p.get(name).unwrap_or_default())
        .map_err(|_| PasskeyError::Malformed)
}

fn rp(cfg: &Config) -> Result<(String, String), OAuthError> {
    webauthn::rp_of(&cfg.issuer).ok_or_else(|| OAuthError::server_error("ISSUER has no host"))
}

/// `POST /passkey/options`: a sign-in challenge (rate limited per address like passwords).
pub async fn login_options(req: Request, env: &Env) -> Reply {
    let run = async {
        let cfg = env::config(env)?;
        limits::spend(
            env,
            Action::SignIn { username: None },
            &client_address(&req),
        )
        .await?;
        let (rp_id, _) = rp(&cfg)?;
        let challenge = ceremony::challenge(&cfg.signing_key, Ceremony::Login, now())?;
        Ok::<Reply, OAuthError>(Reply::Json(
            200,
            ceremony::request_options(&rp_id, &challenge),
        ))
    };
    run.await.unwrap_or_else(Reply::Error)
}

/// `POST /account/passkey-options`: a registration challenge for the signed-in person (the
/// account page's CSRF cookie and field must agree).
pub async fn register_options(mut req: Request, env: &Env) -> Reply {
    let run = async {
        let cfg = env::config(env)?;
        let cookie = csrf_cookie_of(&req, &cfg.issuer, ACCOUNT);
        let secret = session::secret_of(&req, &cfg.issuer);
        let ct = header(&req, "content-type");
        let body = read_body(&mut req, MAX_BODY).await?;
        let p = params::form_body(ct.as_deref(), &body)?;
        cookie_matches_field(cookie.as_deref(), p.get("csrf")).map_err(|_| {
            OAuthError::new(
                crate::oauth::error::ErrorCode::AccessDenied,
                "CSRF check failed",
            )
        })?;
        let db = env::db(env)?;
        let now = now();
        let s = session::live(&db, secret.as_ref(), now)
            .await?
            .ok_or_else(|| {
                OAuthError::new(
                    crate::oauth::error::ErrorCode::AccessDenied,
                    "not signed in",
                )
            })?;
        let (rp_id, _) = rp(&cfg)?;
        let challenge = ceremony::challenge(
            &cfg.signing_key,
            Ceremony::Register {
                u: s.user_id.clone(),
            },
            now,
        )?;
        let name = s.username.clone().unwrap_or_default();
        Ok::<Reply, OAuthError>(Reply::Json(
            200,
            ceremony::creation_options(&rp_id, "edgeturn", &s.user_id, &name, &challenge),
        ))
    };
    run.await.unwrap_or_else(Reply::Error)
}

/// A refused ceremony, for the page.
#[derive(Debug)]
pub enum Refused {
    /// The WebAuthn check that failed.
    Check(PasskeyError),
    /// D1 or WebCrypto failed.
    Server(OAuthError),
}

impl From<PasskeyError> for Refused {
    fn from(e: PasskeyError) -> Refused {
        Refused::Check(e)
    }
}

impl From<OAuthError> for Refused {
    fn from(e: OAuthError) -> Refused {
        Refused::Server(e)
    }
}

/// Whether the challenge was answered before.
async fn used(db: &D1Database, opened: &Opened) -> Result<bool, OAuthError> {
    Ok(store::first(db, &reads::webauthn_used(&opened.key))
        .await?
        .is_some())
}

/// Checks a posted registration for `user_id`: the writes that store the passkey.
pub async fn check_registration(
    db: &D1Database,
    cfg: &Config,
    p: &Params,
    user_id: &str,
    now: u64,
) -> Result<Writes, Refused> {
    let client_data = field(p, "client_data")?;
    let opened = ceremony::open(&cfg.signing_key, &client_data, now)?;
    if opened.ceremony
        != (Ceremony::Register {
            u: user_id.to_string(),
        })
        || used(db, &opened).await?
    {
        return Err(PasskeyError::WrongChallenge.into());
    }
    let (rp_id, origin) = rp(cfg)?;
    let expect = Expect {
        rp_id: &rp_id,
        origin: &origin,
        challenge: &opened.bytes,
    };
    let cred = webauthn::register(&field(p, "attestation_object")?, &client_data, &expect)?;
    if store::all(db, &reads::passkeys_of(user_id)).await?.len() >= ceremony::MAX_PER_PERSON {
        return Err(PasskeyError::UnsupportedKey.into());
    }
    Ok(ceremony::registered(user_id, cred, &opened, now))
}

/// Checks a posted sign-in: the passkey (with its person) and the writes of its use.
pub async fn check_login(
    db: &D1Database,
    cfg: &Config,
    p: &Params,
    now: u64,
) -> Result<(PasskeyRow, Writes), Refused> {
    let client_data = field(p, "client_data")?;
    let opened: Opened = ceremony::open(&cfg.signing_key, &client_data, now)?;
    if opened.ceremony != Ceremony::Login || used(db, &opened).await? {
        // Not a sign-in challenge, or one already answered (a replay): the claim in the
        // batch guards races; this names the refusal.
        return Err(PasskeyError::WrongChallenge.into());
    }
    let id = p.get("credential_id").unwrap_or_default();
    let row = store::first(db, &reads::passkey(id))
        .await?
        .filter(|r| r.username.is_some())
        .ok_or(PasskeyError::UnknownCredential)?;
    let alg = Alg::parse(&row.alg).ok_or(PasskeyError::UnsupportedKey)?;
    let (rp_id, origin) = rp(cfg)?;
    let expect = Expect {
        rp_id: &rp_id,
        origin: &origin,
        challenge: &opened.bytes,
    };
    let a = webauthn::assertion(
        &field(p, "authenticator_data")?,
        &client_data,
        &field(p, "signature")?,
        alg,
        row.sign_count,
        &expect,
    )?;
    if !crypto::verify_jwk(alg, &row.public_key, &a.signed, &a.signature).await? {
        return Err(PasskeyError::BadSignature.into());
    }
    let w = ceremony::signed_in(&row, a.sign_count, &opened, now);
    Ok((row, w))
}
