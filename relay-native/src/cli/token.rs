//! `relay-native token mint|open`: coturn's turnutils_oauth for edgeturn's key file, with
//! JSON out and one clear line on stderr for every way a token can be wrong.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clap::Args;
use serde_json::json;
use shared_token::{
    AccountKey, BrowserCredential, MacKeyProfile, MintRequest, TokenError, Validation,
};

use super::KeySource;

/// `token mint`.
#[derive(Args, Debug)]
pub struct MintArgs {
    #[command(flatten)]
    keys: KeySource,
    /// TURN server name (the AAD).
    #[arg(long)]
    server_name: String,
    /// Key to seal with [default: the last active key in the file].
    #[arg(long)]
    kid: Option<String>,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    lifetime: u32,
    /// mac_key for MESSAGE-INTEGRITY-SHA256 (32 bytes) instead of the coturn-compatible 20.
    #[arg(long)]
    sha256: bool,
    /// Token timestamp, unix seconds [default: now] (turnutils_oauth's -t; for testing
    /// expired and future tokens).
    #[arg(long)]
    issued_at: Option<u64>,
    /// Charge the token to this account: `KIND:ID` (e.g. `user:42`, `client:my-app`),
    /// derived with the secret in --account-secret-file as the edge derives it.
    #[arg(long, requires = "account_secret_file", conflicts_with = "account_key")]
    account: Option<String>,
    /// File holding the issuer's account secret (its bytes, trailing newline ignored).
    #[arg(long)]
    account_secret_file: Option<std::path::PathBuf>,
    /// Charge the token to this account key as is: 16 base64url characters (what logs show).
    #[arg(long)]
    account_key: Option<String>,
}

/// `token open`.
#[derive(Args, Debug)]
pub struct OpenArgs {
    #[command(flatten)]
    keys: KeySource,
    /// TURN server name (the AAD).
    #[arg(long)]
    server_name: String,
    /// The kid the token was sealed with (the client's USERNAME).
    #[arg(long)]
    kid: String,
    /// Accept tokens up to this many seconds outside their validity (clock skew).
    #[arg(long, default_value_t = 5)]
    clock_skew: u32,
    /// The token, standard base64.
    token: String,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Runs `mint`; the error is the one line to print.
pub fn mint(a: &MintArgs) -> Result<serde_json::Value, String> {
    let ring = a.keys.load()?;
    let profile = if a.sha256 {
        MacKeyProfile::Sha256
    } else {
        MacKeyProfile::Sha1Coturn
    };
    let req = MintRequest {
        kid: a.kid.as_deref(),
        server_name: &a.server_name,
        lifetime: a.lifetime,
        profile,
        now: a.issued_at.unwrap_or_else(now),
        account: account(a)?,
    };
    let m = ring.mint(&req).map_err(|e| format!("cannot mint: {e}"))?;
    let browser = BrowserCredential::new(&m.kid, &m.token, &m.mac_key)
        .map_err(|e| format!("cannot mint: {e}"))?;
    Ok(json!({
        "kid": m.kid,
        "alg": m.alg.as_str(),
        "access_token": STANDARD.encode(&m.token),
        "mac_key": STANDARD.encode(m.mac_key.secret()),
        "issued_at": m.timestamp.unix_secs(),
        "lifetime": m.lifetime,
        "expires_at": m.expires_at(),
        "token_id": m.id.to_string(),
        "account": req.account.map(|k| k.to_string()),
        "server_name": a.server_name,
        "browser": { "username": browser.username, "credential": browser.credential },
    }))
}

/// The account key `mint` seals: given as is, or derived from `KIND:ID` and the secret file.
fn account(a: &MintArgs) -> Result<Option<AccountKey>, String> {
    if let Some(k) = &a.account_key {
        return k
            .parse()
            .map(Some)
            .map_err(|e| format!("--account-key: {e}"));
    }
    let (Some(spec), Some(path)) = (&a.account, &a.account_secret_file) else {
        return Ok(None);
    };
    let (kind, id) = spec
        .split_once(':')
        .filter(|(k, i)| !k.is_empty() && !i.is_empty())
        .ok_or_else(|| format!("--account {spec:?}: expected KIND:ID, e.g. user:42"))?;
    let secret = std::fs::read(path)
        .map_err(|e| format!("cannot read --account-secret-file {}: {e}", path.display()))?;
    let secret = secret.strip_suffix(b"\n").unwrap_or(&secret);
    if secret.is_empty() {
        return Err(format!("--account-secret-file {} is empty", path.display()));
    }
    Ok(Some(AccountKey::derive(secret, kind, id)))
}

/// Runs `open`; the error is the one line to print.
pub fn open(a: &OpenArgs) -> Result<serde_json::Value, String> {
    let ring = a.keys.load()?;
    let token = STANDARD
        .decode(a.token.trim())
        .map_err(|_| "token is not valid base64".to_string())?;
    let v = Validation {
        clock_skew_secs: a.clock_skew,
        ..Validation::default()
    };
    let t = ring.open(&a.kid, &token, a.server_name.as_bytes(), now(), &v).map_err(|e| match e {
        TokenError::UnknownKid => format!("no key with kid {:?} in the key file", a.kid),
        TokenError::Authentication => {
            "token does not open: wrong key for this kid, wrong server name, or the token was altered".to_string()
        }
        other => other.to_string(),
    })?;
    Ok(json!({
        "kid": t.key.kid(),
        "alg": t.key.alg().as_str(),
        "mac_key": STANDARD.encode(t.claims.mac_key.secret()),
        "mac_key_length": t.claims.mac_key.len(),
        "issued_at": t.claims.timestamp.unix_secs(),
        "lifetime": t.claims.lifetime,
        "expires_at": t.claims.expires_at(),
        "token_id": t.id.to_string(),
        "account": t.claims.account.map(|k| k.to_string()),
    }))
}
