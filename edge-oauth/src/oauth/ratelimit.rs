//! Rate limits: which counters a request spends, and the answer when one is spent.
//!
//! The counters are Cloudflare's Workers rate-limiting bindings (`[[ratelimits]]` in
//! wrangler.toml): fixed windows of 10 or 60 seconds kept by Cloudflare per location, shared
//! by every isolate there, cheap enough for the token endpoint's hot path. Each limit below
//! names its binding; the numbers live in wrangler.toml. The worker asks the bindings in the
//! order [`checks`] returns and refuses at the first that is spent, before any password hash
//! or D1 row is touched.
//!
//! Keys: a client id (the one *presented*: counting before authentication is what protects
//! the PBKDF2 check from a flood, at the price that a stranger can spend a client's budget,
//! which the per-address limit then bounds), a source address (`CF-Connecting-IP`), or a
//! username (sign-in attempts against one account from many addresses).

use super::error::{ErrorCode, OAuthError};

/// A rate limit: a binding and what it counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// Token and device-authorization requests per client (`RL_CLIENT`).
    PerClient,
    /// Token, device-authorization and registration requests per source address
    /// (`RL_ADDRESS`).
    PerAddress,
    /// Password attempts (sign-in pages, the password grant) per source address and per
    /// username (`RL_PASSWORD`).
    Password,
    /// Account creation and client registration per source address (`RL_SIGNUP`).
    Signup,
}

impl Limit {
    /// The binding's name in wrangler.toml.
    pub fn binding(self) -> &'static str {
        match self {
            Limit::PerClient => "RL_CLIENT",
            Limit::PerAddress => "RL_ADDRESS",
            Limit::Password => "RL_PASSWORD",
            Limit::Signup => "RL_SIGNUP",
        }
    }

    /// The window in seconds (wrangler.toml's `period` for the binding): the longest a
    /// refused caller waits, sent as `Retry-After`.
    pub fn period(self) -> u32 {
        match self {
            Limit::PerClient | Limit::PerAddress => 10,
            Limit::Password | Limit::Signup => 60,
        }
    }
}

/// What a request is, for rate limiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action<'a> {
    /// A token request (any grant), by the client it names.
    Token {
        /// The presented client id, if any.
        client_id: Option<&'a str>,
        /// For the password grant, the username.
        username: Option<&'a str>,
    },
    /// A device authorization request.
    DeviceAuthorization {
        /// The presented client id.
        client_id: Option<&'a str>,
    },
    /// A password posted to a page (sign-in, the device page, `/create_client`).
    SignIn {
        /// The username typed.
        username: Option<&'a str>,
    },
    /// A sign-up.
    SignUp,
    /// A dynamic client registration (or an RFC 7592 call).
    Register,
}

/// One counter to spend: a binding and a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// Which limit.
    pub limit: Limit,
    /// The key within its binding.
    pub key: String,
}

fn check(limit: Limit, key: String) -> Check {
    Check { limit, key }
}

/// The counters `action` spends, from the source `address`, in the order to ask them.
pub fn checks(action: Action<'_>, address: &str) -> Vec<Check> {
    let mut out = Vec::with_capacity(3);
    match action {
        Action::Token {
            client_id,
            username,
        } => {
            if let Some(c) = client_id {
                out.push(check(Limit::PerClient, format!("token:{c}")));
            }
            out.push(check(Limit::PerAddress, format!("token:{address}")));
            if let Some(u) = username {
                out.push(check(Limit::Password, format!("user:{u}")));
            }
        }
        Action::DeviceAuthorization { client_id } => {
            if let Some(c) = client_id {
                out.push(check(Limit::PerClient, format!("device:{c}")));
            }
            out.push(check(Limit::PerAddress, format!("device:{address}")));
        }
        Action::SignIn { username } => {
            out.push(check(Limit::Password, format!("addr:{address}")));
            if let Some(u) = username {
                out.push(check(Limit::Password, format!("user:{u}")));
            }
        }
        Action::SignUp => out.push(check(Limit::Signup, format!("signup:{address}"))),
        Action::Register => {
            out.push(check(Limit::PerAddress, format!("register:{address}")));
            out.push(check(Limit::Signup, format!("register:{address}")));
        }
    }
    out
}

/// The answer when `limit` is spent: 429 with `Retry-After` (RFC 6585 section 4) and an RFC
/// 6749-style body. OAuth has no rate-limit code; `temporarily_unavailable` is RFC 6749's for
/// "cannot handle the request now", and the status says why.
pub fn refused(limit: Limit) -> OAuthError {
    OAuthError::new(
        ErrorCode::TemporarilyUnavailable,
        "too many requests: wait and try again",
    )
    .with_status(429)
    .with_retry_after(limit.period())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_requests_count_per_client_then_address_then_account() {
        let c = checks(
            Action::Token {
                client_id: Some("c1"),
                username: Some("alice"),
            },
            "192.0.2.1",
        );
        let keys: Vec<_> = c.iter().map(|c| (c.limit, c.key.as_str())).collect();
        assert_eq!(
            keys,
            [
                (Limit::PerClient, "token:c1"),
                (Limit::PerAddress, "token:192.0.2.1"),
                (Limit::Password, "user:alice")
            ]
        );
        let e = refused(Limit::PerClient);
        assert_eq!(
            (e.status, e.retry_after, e.code),
            (429, Some(10), ErrorCode::TemporarilyUnavailable)
        );
        assert_eq!(refused(Limit::Password).retry_after, Some(60));
    }

    #[test]
    fn pages_count_per_address_and_account() {
        let c = checks(
            Action::SignIn {
                username: Some("bob"),
            },
            "2001:db8::1",
        );
        assert_eq!(c.len(), 2);
        assert!(c.iter().all(|c| c.limit == Limit::Password));
        assert_eq!(checks(Action::SignUp, "a")[0].limit, Limit::Signup);
    }
}
