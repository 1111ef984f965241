//! Rate limits: which counters a request spends, and the answer when one is spent.
//!
//! The counters are Cloudflare's Workers rate-limiting bindings (`[[ratelimits]]` in
//! wrangler.toml): fixed windows of 10 or 60 seconds kept by Cloudflare per location, shared
//! by every isolate there, cheap enough for the token endpoint's hot path. Each limit below
//! names its binding; the numbers live in wrangler.toml. The worker asks the bindings in the
//! order [`checks`] returns and refuses at the first that is spent, before any password hash
//! or D1 row is touched.
//!
//! Keys: a source address (`CF-Connecting-IP`), a username (sign-in attempts against one
//! account from many addresses), a client id, or a person's account key. Nothing a stranger
//! can send spends a budget that is not theirs: before a client authenticates, only its
//! *failures* count, per (address, client) ([`Action::ClientFailure`]); its per-client budget
//! is spent after it authenticated ([`Action::Authenticated`]). A failure counter that is spent
//! refuses that (address, client) until its window ends, the right secret included
//! (docs/edge-oauth.md, "Rate limits and per-person keys").

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
    /// Account creation and client registration per source address, and apps registered
    /// per person on `/create_client` (`RL_SIGNUP`).
    Signup,
    /// Failed client authentications at the token endpoint per (address, client)
    /// (`RL_CLIENT_FAIL`).
    ClientFailures,
    /// Failed admin-secret checks per source address (`RL_ADMIN_FAIL`).
    AdminFailures,
    /// TURN credentials and TURN tokens per person (or per app, for tokens with no person)
    /// (`RL_TURN`).
    Turn,
}

impl Limit {
    /// The binding's name in wrangler.toml.
    pub fn binding(self) -> &'static str {
        match self {
            Limit::PerClient => "RL_CLIENT",
            Limit::PerAddress => "RL_ADDRESS",
            Limit::Password => "RL_PASSWORD",
            Limit::Signup => "RL_SIGNUP",
            Limit::ClientFailures => "RL_CLIENT_FAIL",
            Limit::AdminFailures => "RL_ADMIN_FAIL",
            Limit::Turn => "RL_TURN",
        }
    }

    /// The window in seconds (wrangler.toml's `period` for the binding): the longest a
    /// refused caller waits, sent as `Retry-After`.
    pub fn period(self) -> u32 {
        match self {
            Limit::PerClient | Limit::PerAddress => 10,
            Limit::Password
            | Limit::Signup
            | Limit::ClientFailures
            | Limit::AdminFailures
            | Limit::Turn => 60,
        }
    }
}

/// What a request is, for rate limiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action<'a> {
    /// A token request (any grant), before the client authenticates.
    Token {
        /// For the password grant, the username.
        username: Option<&'a str>,
    },
    /// A token or device-authorization request whose client authenticated: the client's
    /// own budget.
    Authenticated {
        /// The endpoint (`token` or `device`): each has its own budget.
        endpoint: &'static str,
        /// The authenticated client.
        client_id: &'a str,
    },
    /// A token or device-authorization request whose client failed to authenticate.
    ClientFailure {
        /// The presented client id.
        client_id: &'a str,
    },
    /// A request to the admin API with a wrong secret.
    AdminFailure,
    /// A TURN credential (`/turn/credentials`) or TURN token (token endpoint) for an account.
    Turn {
        /// The account key the token carries (shared-token's `AccountKey`, as text).
        account: &'a str,
    },
    /// An app registered on `/create_client` by a signed-in person.
    CreateApp {
        /// The person.
        user_id: &'a str,
    },
    /// A device authorization request, before the client authenticates.
    DeviceAuthorization,
    /// A password posted to a page (sign-in, the device page, `/create_client`).
    SignIn {
        /// The username typed.
        username: Option<&'a str>,
    },
    /// A sign-up.
    SignUp,
    /// A dynamic client registration (or an RFC 7592 call).
    Register,
    /// A "forgot password" request or a reset link used: per address, and per email address
    /// (an account) whether it exists or not.
    Recovery {
        /// The address typed (or the link's account).
        account: &'a str,
    },
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
        Action::Token { username } => {
            out.push(check(Limit::PerAddress, format!("token:{address}")));
            // The password grant: the sign-in page's limits, per address and per account.
            if let Some(u) = username {
                out.push(check(Limit::Password, format!("addr:{address}")));
                out.push(check(Limit::Password, format!("user:{u}")));
            }
        }
        Action::Authenticated {
            endpoint,
            client_id,
        } => {
            out.push(check(Limit::PerClient, format!("{endpoint}:{client_id}")));
        }
        Action::ClientFailure { client_id } => {
            out.push(check(
                Limit::ClientFailures,
                format!("client:{client_id} addr:{address}"),
            ));
        }
        Action::AdminFailure => out.push(check(Limit::AdminFailures, format!("admin:{address}"))),
        Action::Turn { account } => out.push(check(Limit::Turn, format!("turn:{account}"))),
        Action::CreateApp { user_id } => {
            out.push(check(Limit::Signup, format!("register:{address}")));
            out.push(check(Limit::Signup, format!("apps:{user_id}")));
        }
        Action::DeviceAuthorization => {
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
        Action::Recovery { account } => {
            out.push(check(Limit::Signup, format!("recover:{address}")));
            out.push(check(Limit::Signup, format!("recover-account:{account}")));
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
    fn token_requests_count_per_address_and_account_and_the_client_only_once_authenticated() {
        let c = checks(
            Action::Token {
                username: Some("alice"),
            },
            "192.0.2.1",
        );
        let keys: Vec<_> = c.iter().map(|c| (c.limit, c.key.as_str())).collect();
        assert_eq!(
            keys,
            [
                (Limit::PerAddress, "token:192.0.2.1"),
                (Limit::Password, "addr:192.0.2.1"),
                (Limit::Password, "user:alice")
            ]
        );
        let c = checks(Action::Token { username: None }, "192.0.2.1");
        assert_eq!(c.len(), 1);
        let c = checks(
            Action::Authenticated {
                endpoint: "token",
                client_id: "c1",
            },
            "192.0.2.1",
        );
        assert_eq!(
            (c[0].limit, c[0].key.as_str()),
            (Limit::PerClient, "token:c1")
        );
        let c = checks(Action::ClientFailure { client_id: "c1" }, "192.0.2.1");
        assert_eq!(
            (c[0].limit, c[0].key.as_str()),
            (Limit::ClientFailures, "client:c1 addr:192.0.2.1")
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
        // Account recovery: per address and per account (an address typed, or a link's
        // person), the same whether the account exists or not.
        let r = checks(
            Action::Recovery {
                account: "a@b.example",
            },
            "192.0.2.1",
        );
        assert_eq!(
            r.iter().map(|c| c.key.as_str()).collect::<Vec<_>>(),
            ["recover:192.0.2.1", "recover-account:a@b.example"]
        );
    }

    #[test]
    fn turn_apps_and_admin_count_per_person_and_per_address() {
        let keys = |a| {
            checks(a, "192.0.2.9")
                .into_iter()
                .map(|c| (c.limit.binding(), c.key))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            keys(Action::Turn { account: "acct" }),
            [("RL_TURN", "turn:acct".to_string())]
        );
        assert_eq!(
            keys(Action::CreateApp { user_id: "u1" }),
            [
                ("RL_SIGNUP", "register:192.0.2.9".to_string()),
                ("RL_SIGNUP", "apps:u1".to_string())
            ]
        );
        assert_eq!(
            keys(Action::AdminFailure),
            [("RL_ADMIN_FAIL", "admin:192.0.2.9".to_string())]
        );
        for l in [Limit::ClientFailures, Limit::AdminFailures, Limit::Turn] {
            assert_eq!(l.period(), 60);
        }
    }
}
