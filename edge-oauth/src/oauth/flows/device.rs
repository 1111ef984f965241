//! The Device Authorization Grant (RFC 8628): a device without a browser starts an
//! authorization, shows a short user code, and polls the token endpoint while a person signs
//! in on another screen (`/device`) and approves it.
//!
//! Atomic in D1 like codes: the person's decision is a conditional UPDATE of a pending,
//! unexpired row, and redeeming the approval is another (`approved` -> `redeemed`), guarding the
//! family and tokens it creates. A device code presented after it was redeemed is a replay:
//! its family is revoked, as for codes.

use serde_json::{Value, json};

use super::grants::{self, Family, Grant, lifetimes, revoke_family};
use crate::oauth::clients::client::GrantType;
use crate::oauth::clients::client_auth::AuthenticatedClient;
use crate::oauth::config::Config;
use crate::oauth::effects::{AuditEvent, Claim, NewDevice, Write, Writes, event};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::ids;
use crate::oauth::params::Params;
use crate::oauth::people::session::{ACR_SIGNED_IN, AMR_PASSWORD, Authn};
use crate::oauth::records::UserProfile;
use crate::oauth::scope::{OPENID, Scope};
use crate::oauth::tokens::id_token::IdTokenPlan;
use crate::oauth::tokens::resource::{self, Resources};
use crate::store::reads::DeviceRow;

/// Prefix of device codes.
pub const DEVICE_PREFIX: &str = "dc1.";
/// Seconds between polls a device starts with (RFC 8628 section 3.2 default).
pub const INTERVAL: u32 = 5;
/// Seconds `slow_down` adds to the interval (RFC 8628 section 3.5).
pub const SLOW_DOWN_STEP: u32 = 5;
/// `revoked_reason` of a family whose device code was presented again.
pub const DEVICE_REPLAY: &str = "device_code_replay";
/// The user-code alphabet: consonants without look-alikes (RFC 8628 section 6.1).
const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
/// Letters in a user code (20^8: about 34 bits; guessing is bounded by expiry and rate limits).
pub const USER_CODE_LEN: usize = 8;

/// A fresh user code, normalised (no dash).
pub fn new_user_code() -> Result<String, OAuthError> {
    let bytes = ids::random::<USER_CODE_LEN>()?;
    // 256 is not a multiple of 20: reject-free mapping would bias; draw until uniform.
    let mut out = String::with_capacity(USER_CODE_LEN);
    let mut pool = bytes.to_vec();
    while out.len() < USER_CODE_LEN {
        let Some(b) = pool.pop() else {
            pool = ids::random::<USER_CODE_LEN>()?.to_vec();
            continue;
        };
        if b < 240 {
            out.push(char::from(
                ALPHABET.get(usize::from(b % 20)).copied().unwrap_or(b'B'),
            ));
        }
    }
    Ok(out)
}

/// What a person typed, normalised: upper case, dashes and spaces removed; `None` unless it is
/// [`USER_CODE_LEN`] letters of the alphabet.
pub fn normalise_user_code(typed: &str) -> Option<String> {
    let s: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (s.len() == USER_CODE_LEN && s.bytes().all(|b| ALPHABET.contains(&b))).then_some(s)
}

/// `XXXX-XXXX`, as shown and sent.
pub fn display_user_code(code: &str) -> String {
    match (code.get(..4), code.get(4..)) {
        (Some(a), Some(b)) => format!("{a}-{b}"),
        _ => code.to_string(),
    }
}

/// A started authorization: the device authorization response and its row.
#[derive(Clone, Debug)]
pub struct Started {
    /// RFC 8628 section 3.2.
    pub body: Value,
    /// The row and the audit row.
    pub writes: Writes,
}

/// `POST /oauth2/device_authorization` for an authenticated client.
pub fn start(
    client: &AuthenticatedClient,
    params: &Params,
    config: &Config,
    now: u64,
) -> Result<Started, OAuthError> {
    let record = client.record();
    grants::check_allowed(record, GrantType::DeviceCode)?;
    let scope = Scope::grant(params.get("scope"), &record.scope)?;
    let resources = resource::requested(params, &record.resources, &config.issuer)?;
    let device_code = ids::new_opaque(DEVICE_PREFIX)?;
    let user_code = new_user_code()?;
    let shown = display_user_code(&user_code);
    let verification_uri = format!("{}/device", config.issuer);
    let complete = format!(
        "{verification_uri}?{}",
        form_urlencoded::Serializer::new(String::new())
            .append_pair("user_code", &shown)
            .finish()
    );
    let writes = Writes::none()
        .with(Write::Device(NewDevice {
            key: ids::lookup_key(&device_code),
            user_code,
            client_id: record.id.clone(),
            scope: scope.to_string(),
            interval: INTERVAL,
            expires_at: now.saturating_add(u64::from(config.device_code_ttl)),
            created_at: now,
            resource: resources.to_column(),
        }))
        .with(Write::Audit(AuditEvent {
            token_id: Some(ids::token_id(device_code.as_bytes())),
            client_id: Some(record.id.clone()),
            ..AuditEvent::new(now, event::DEVICE_STARTED)
        }));
    Ok(Started {
        body: json!({
            "device_code": device_code,
            "user_code": shown,
            "verification_uri": verification_uri,
            "verification_uri_complete": complete,
            "expires_in": config.device_code_ttl,
            "interval": INTERVAL,
        }),
        writes,
    })
}

/// What a poll gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Polled {
    /// Approved: issue, after claiming the approval ([`Claim::Device`]).
    Issue(Grant),
    /// Not (yet): apply `writes` (the poll's time, a longer interval, a replay's revocation),
    /// then answer `error`.
    Refuse {
        /// The RFC 8628 section 3.5 error.
        error: OAuthError,
        /// What to write first.
        writes: Writes,
    },
}

fn refuse(code: ErrorCode, description: &'static str, writes: Writes) -> Polled {
    Polled::Refuse {
        error: OAuthError::new(code, description).with_status(400),
        writes,
    }
}

/// The device code's lookup key (`invalid_request` when missing).
pub fn code_key(params: &Params) -> Result<String, OAuthError> {
    Ok(ids::lookup_key(params.require("device_code")?))
}

/// Decides a poll (`grant_type=urn:ietf:params:oauth:grant-type:device_code`).
pub fn poll(
    client: &AuthenticatedClient,
    params: &Params,
    row: Option<DeviceRow>,
    key: &str,
    config: &Config,
    now: u64,
) -> Result<Polled, OAuthError> {
    let row = row.ok_or_else(|| OAuthError::invalid_grant("the device code is invalid"))?;
    if row.client_id != client.id() {
        return Err(OAuthError::invalid_grant(
            "the device code was issued to another client",
        ));
    }
    if row.status == "redeemed" {
        let writes = match &row.family_id {
            Some(f) => revoke_family(client.id(), f, DEVICE_REPLAY, now),
            None => Writes::none(),
        };
        return Ok(Polled::Refuse {
            error: OAuthError::invalid_grant(
                "the device code was already used; tokens issued from it are revoked",
            ),
            writes,
        });
    }
    if now >= row.expires_at {
        return Ok(refuse(
            ErrorCode::ExpiredToken,
            "the device code has expired; start again",
            Writes::none(),
        ));
    }
    let polled = |interval| {
        Writes::none().with(Write::DevicePolled {
            key: key.to_string(),
            at: now,
            interval,
        })
    };
    if row
        .last_poll_at
        .is_some_and(|t| now < t.saturating_add(u64::from(row.poll_interval)))
    {
        let slower = row.poll_interval.saturating_add(SLOW_DOWN_STEP).min(60);
        return Ok(refuse(
            ErrorCode::SlowDown,
            "polling too often: wait 5 seconds more between requests",
            polled(slower),
        ));
    }
    match row.status.as_str() {
        "pending" => Ok(refuse(
            ErrorCode::AuthorizationPending,
            "the person has not answered yet",
            polled(row.poll_interval),
        )),
        "denied" => Ok(refuse(
            ErrorCode::AccessDenied,
            "the person denied the request",
            Writes::none(),
        )),
        "approved" => approved(client, params, row, config),
        _ => Err(OAuthError::server_error(
            "a stored device status is unknown",
        )),
    }
}

fn approved(
    client: &AuthenticatedClient,
    params: &Params,
    row: DeviceRow,
    config: &Config,
) -> Result<Polled, OAuthError> {
    let (Some(user_id), Some(username), Some(auth_time)) =
        (row.user_id, row.username, row.auth_time)
    else {
        return Err(OAuthError::invalid_grant(
            "the approving account no longer exists",
        ));
    };
    let record = client.record();
    let scope = Scope::parse(&row.scope)?;
    let granted = Resources::from_stored(row.resource.as_deref())?;
    let resources = resource::narrowed(params, &granted, &record.resources, &config.issuer)?;
    let (access_ttl, refresh_ttl) = lifetimes(record, config, false);
    let user = UserProfile {
        id: user_id.clone(),
        username,
        name: row.name,
        email: row.email,
        email_verified: row.email_verified == Some(1),
        rights: row.rights.unwrap_or_default(),
    };
    Ok(Polled::Issue(Grant {
        client_id: record.id.clone(),
        user_id: Some(user_id),
        family_scope: scope.clone(),
        id_token: scope.contains(OPENID).then_some(IdTokenPlan {
            nonce: None,
            auth_time,
            alg: record.id_token_alg,
            authn: Some(device_authn()),
        }),
        scope,
        grant_type: GrantType::DeviceCode,
        family: Family::New,
        refresh: record.allows(GrantType::RefreshToken),
        turn: false,
        access_ttl,
        refresh_ttl,
        user: Some(user),
        auth_time: Some(auth_time),
        authn: Some(device_authn()),
        resources,
        family_resources: granted,
        dpop_jkt: None,
        family_dpop_jkt: None,
    }))
}

/// A person's decision on the verification page: the claim (still pending and unexpired) and
/// the audit row, guarded by a fresh decision id so a resubmitted form writes nothing.
pub fn decide(
    key: &str,
    client_id: &str,
    user_id: &str,
    approve: bool,
    auth_time: u64,
    now: u64,
) -> Result<Writes, OAuthError> {
    Ok(Writes::new(Claim::DeviceDecision {
        key: key.to_string(),
        decision_id: ids::new_id("dd")?,
        user_id: user_id.to_string(),
        approve,
        auth_time,
        now,
    })
    .with(Write::Audit(AuditEvent {
        client_id: Some(client_id.to_string()),
        user_id: Some(user_id.to_string()),
        detail: Some(if approve { "approved" } else { "denied" }),
        ..AuditEvent::new(now, event::DEVICE_DECIDED)
    })))
}

/// How a person approving on `/device` was authenticated: a password entered on that page
/// (the device page keeps no session).
fn device_authn() -> Authn {
    Authn {
        sid: None,
        amr: AMR_PASSWORD.to_string(),
        acr: ACR_SIGNED_IN.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes() {
        for _ in 0..50 {
            let c = new_user_code().unwrap();
            assert_eq!(c.len(), 8);
            assert!(c.bytes().all(|b| ALPHABET.contains(&b)));
            assert_eq!(
                normalise_user_code(&display_user_code(&c)).as_deref(),
                Some(c.as_str())
            );
        }
        assert_eq!(
            normalise_user_code("wdjb-mjht").as_deref(),
            Some("WDJBMJHT")
        );
        assert_eq!(
            normalise_user_code(" WDJB MJHT ").as_deref(),
            Some("WDJBMJHT")
        );
        for bad in ["", "WDJB-MJH", "WDJB-MJHTX", "WDJB-MJH1", "AEIO-UAEI"] {
            assert!(normalise_user_code(bad).is_none(), "{bad}");
        }
    }
}
