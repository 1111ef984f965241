//! OpenID Connect Back-Channel Logout 1.0: when a sign-in session ends (RP-initiated logout,
//! "sign out everywhere"), every client that got tokens in it and registered a
//! `backchannel_logout_uri` is sent a logout token: a JWT signed like the ID tokens, with `iss`,
//! `aud`, `iat`, `exp`, `jti`, `sub`, `sid` and the back-channel logout event, never a `nonce`
//! (section 2.4). The worker sends them after answering the person (`waitUntil`), with a
//! timeout and a few retries ([`Retry`]); a client that is down cannot hold anyone up.

use serde::{Deserialize, Serialize};

use crate::oauth::tokens::signing_keys::Alg;
pub use crate::store::reads::BackchannelTarget;

/// The event member (section 2.4).
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// The JWT `typ` of logout tokens (section 2.4 recommends explicit typing).
pub const TYP: &str = "logout+jwt";
/// Seconds a logout token is valid (it is sent at once; retries stay within this).
pub const TTL: u64 = 120;

/// The logout token's claims (section 2.4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoutClaims {
    /// Issuer.
    pub iss: String,
    /// The client.
    pub aud: String,
    /// Issued at.
    pub iat: u64,
    /// Expiry.
    pub exp: u64,
    /// Unique id.
    pub jti: String,
    /// The person.
    pub sub: String,
    /// The session that ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// `{"http://schemas.openid.net/event/backchannel-logout": {}}`.
    pub events: serde_json::Value,
}

/// One logout token to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// `backchannel_logout_uri`.
    pub uri: String,
    /// The client's `id_token_signed_response_alg`.
    pub alg: Alg,
    /// What the token says.
    pub claims: LogoutClaims,
}

/// The logout tokens for `targets` (clients with a back-channel URI that got tokens in the
/// ended sessions), one per client and session; `jti` gives each its id. Rows whose client
/// needs a `sid` the family lacks, or whose algorithm is unknown, are skipped.
pub fn plan(
    issuer: &str,
    targets: &[BackchannelTarget],
    now: u64,
    mut jti: impl FnMut() -> Option<String>,
) -> Vec<Delivery> {
    let mut seen: Vec<(&str, Option<&str>)> = Vec::new();
    let mut out = Vec::new();
    for t in targets {
        let key = (t.client_id.as_str(), t.sid.as_deref());
        if seen.contains(&key) || (t.session_required == 1 && t.sid.is_none()) {
            continue;
        }
        seen.push(key);
        let (Some(alg), Some(jti)) = (Alg::parse(&t.id_token_alg), jti()) else {
            continue;
        };
        out.push(Delivery {
            uri: t.uri.clone(),
            alg,
            claims: LogoutClaims {
                iss: issuer.to_string(),
                aud: t.client_id.clone(),
                iat: now,
                exp: now.saturating_add(TTL),
                jti,
                sub: t.user_id.clone(),
                sid: t.sid.clone(),
                events: serde_json::json!({ EVENT: {} }),
            },
        });
    }
    out
}

/// How the worker retries a delivery: [`Retry::ATTEMPTS`] tries, each bounded by
/// [`Retry::TIMEOUT_MS`], waiting [`Retry::backoff_ms`] before the next.
pub struct Retry;

impl Retry {
    /// Tries per logout token.
    pub const ATTEMPTS: u32 = 3;
    /// Milliseconds one try may take.
    pub const TIMEOUT_MS: u64 = 5_000;

    /// Milliseconds to wait before try `attempt` (0-based).
    pub fn backoff_ms(attempt: u32) -> u64 {
        match attempt {
            0 => 0,
            n => 1_000u64.saturating_mul(1 << n.min(5)),
        }
    }

    /// Whether an answer ends the delivery: a 2xx is done; a 4xx is the client's refusal of
    /// this token (section 2.8: 400 for a token it cannot accept), which another try would not
    /// change; a 5xx, or no answer (`None`), is tried again.
    pub fn done(status: Option<u16>) -> bool {
        matches!(status, Some(200..=499))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(client: &str, sid: Option<&str>, required: u8) -> BackchannelTarget {
        BackchannelTarget {
            client_id: client.into(),
            user_id: "u_1".into(),
            sid: sid.map(str::to_string),
            uri: format!("https://{client}.example/bc"),
            session_required: required,
            id_token_alg: "ES256".into(),
        }
    }

    #[test]
    fn one_token_per_client_and_session_with_the_event_and_no_nonce() {
        let mut n = 0;
        let jti = || {
            n += 1;
            Some(format!("j{n}"))
        };
        let t = [
            target("a", Some("s_1"), 0),
            target("a", Some("s_1"), 0),
            target("b", Some("s_1"), 1),
            target("c", None, 1),
            target("a", Some("s_2"), 0),
        ];
        let d = plan("https://i", &t, 100, jti);
        assert_eq!(d.len(), 3, "{d:?}");
        let first = &d[0];
        assert_eq!(first.uri, "https://a.example/bc");
        assert_eq!(first.alg, Alg::Es256);
        let v = serde_json::to_value(&first.claims).unwrap();
        assert_eq!(v["events"], serde_json::json!({ EVENT: {} }));
        assert_eq!(
            (v["iss"].as_str(), v["aud"].as_str()),
            (Some("https://i"), Some("a"))
        );
        assert_eq!(
            (v["iat"].as_u64(), v["exp"].as_u64()),
            (Some(100), Some(100 + TTL))
        );
        assert_eq!(
            (v["sub"].as_str(), v["sid"].as_str()),
            (Some("u_1"), Some("s_1"))
        );
        assert!(v.get("nonce").is_none());
        assert_ne!(d[0].claims.jti, d[1].claims.jti);
        // A client requiring sid gets none without one.
        assert!(d.iter().all(|x| x.claims.aud != "c"));
    }

    #[test]
    fn retries_only_what_another_try_could_change() {
        assert!(Retry::done(Some(200)) && Retry::done(Some(204)));
        assert!(Retry::done(Some(400)), "the client refused this token");
        assert!(!Retry::done(Some(503)) && !Retry::done(None));
        assert_eq!(Retry::backoff_ms(0), 0);
        assert!(Retry::backoff_ms(1) < Retry::backoff_ms(2));
        let worst: u64 = (0..Retry::ATTEMPTS)
            .map(|a| Retry::backoff_ms(a) + Retry::TIMEOUT_MS)
            .sum();
        assert!(
            worst < TTL * 1000,
            "every try happens while the token is valid"
        );
    }
}
