//! The route table, declared once: every path the worker answers, the methods each takes, and
//! whether pages on other origins may call it (CORS). The worker resolves a request here and
//! dispatches on the [`Endpoint`]; `405` with its `Allow` header, `404`, and the CORS headers
//! all come from this table.

/// An HTTP method this server knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// GET (and HEAD, which workerd answers from GET).
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// DELETE.
    Delete,
    /// OPTIONS (CORS preflight).
    Options,
}

impl Method {
    /// Parses a request method; `None` for methods no route takes.
    pub fn parse(m: &str) -> Option<Method> {
        Some(match m {
            "GET" | "HEAD" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            _ => return None,
        })
    }

    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
        }
    }
}

/// What a request is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `/health`.
    Health,
    /// RFC 8414 metadata.
    AuthorizationServerMetadata,
    /// OpenID Connect Discovery.
    OpenIdConfiguration,
    /// The authorization endpoint (pages).
    Authorize,
    /// The token endpoint.
    Token,
    /// The seed-compatible `POST /token`.
    SeedToken,
    /// RFC 7662.
    Introspect,
    /// RFC 7009.
    Revoke,
    /// OpenID Connect userinfo.
    Userinfo,
    /// `iceServers` for a bearer token.
    TurnCredentials,
    /// `/admin/clients`.
    AdminClients,
    /// `/admin/clients/{id}`.
    AdminClient,
    /// `/admin/users`.
    AdminUsers,
    /// `/admin/users/{id}`.
    AdminUser,
    /// `/admin/audit`.
    AdminAudit,
    /// `/admin/users/{id}/rights`.
    AdminUserRights,
    /// `/admin/initial-access-tokens`.
    AdminInitialTokens,
    /// The public signing keys (`/certs`, `jwks_uri`).
    Jwks,
    /// RP-initiated logout (`end_session_endpoint`).
    Logout,
    /// RFC 8628 `device_authorization_endpoint`.
    DeviceAuthorization,
    /// The device verification page.
    DevicePage,
    /// The sign-up page.
    Signup,
    /// The page where a signed-in person registers apps.
    CreateClient,
    /// RFC 7591 `registration_endpoint`.
    Register,
    /// RFC 7592 client configuration endpoint (`registration_client_uri`).
    RegisteredClient,
    /// The relays' revocation feed (a long poll).
    RelayRevocations,
    /// A relay's heartbeat.
    RelayHeartbeat,
    /// A relay's usage batch.
    RelayUsage,
    /// The signed-in person's own relay usage.
    TurnUsage,
    /// `/admin/usage`: relay usage by user, client, day.
    AdminUsage,
    /// `/admin/relays`: every relay and its last heartbeat.
    AdminRelays,
    /// `/admin/housekeeping`: what the cron trigger runs.
    AdminHousekeeping,
    /// `/admin/users/{id}/revoke`: everything of a user.
    AdminUserRevoke,
    /// The operator console: `/console` and `/console/{view}` ([`crate::oauth::console`]).
    Console,
    /// `/account`: the person's sign-in sessions.
    Account,
    /// `/verify_email`: an email verification link.
    VerifyEmail,
    /// `/forgot_password`: ask for a reset link.
    ForgotPassword,
    /// `/reset_password`: the form a reset link opens.
    ResetPassword,
    /// `/admin/outbox`: the local outbox (tests).
    AdminOutbox,
    /// `/passkey/options`: a passkey sign-in challenge.
    PasskeyOptions,
    /// `/account/passkey-options`: a passkey registration challenge.
    PasskeyRegisterOptions,
}

/// How a route matches a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// Exactly this path.
    Exact(&'static str),
    /// This prefix followed by one non-empty segment (no `/`): `/admin/clients/{id}`.
    Param(&'static str),
    /// A prefix, one segment, then a suffix: `/admin/users/{id}/rights`.
    ParamThen(&'static str, &'static str),
}

impl Pattern {
    /// The path's parameter (empty for exact routes), or `None` when it does not match.
    fn matches(self, path: &str) -> Option<&str> {
        match self {
            Pattern::Exact(p) => (p == path).then_some(""),
            Pattern::Param(prefix) => path
                .strip_prefix(prefix)
                .filter(|rest| !rest.is_empty() && !rest.contains('/')),
            Pattern::ParamThen(prefix, suffix) => path
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix(suffix))
                .filter(|rest| !rest.is_empty() && !rest.contains('/')),
        }
    }
}

/// One route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// The path.
    pub pattern: Pattern,
    /// The methods it takes (OPTIONS is added for CORS routes).
    pub methods: &'static [Method],
    /// What it is.
    pub endpoint: Endpoint,
    /// True when pages on other origins may call it: `Access-Control-Allow-Origin: *` (no
    /// cookie or ambient credential is involved in any of these).
    pub cors: bool,
}

use Method::{Delete, Get, Post, Put};

const fn route(
    pattern: Pattern,
    methods: &'static [Method],
    endpoint: Endpoint,
    cors: bool,
) -> Route {
    Route {
        pattern,
        methods,
        endpoint,
        cors,
    }
}

/// Every route.
pub const ROUTES: &[Route] = &[
    route(Pattern::Exact("/health"), &[Get], Endpoint::Health, false),
    route(
        Pattern::Exact("/.well-known/oauth-authorization-server"),
        &[Get],
        Endpoint::AuthorizationServerMetadata,
        true,
    ),
    route(
        Pattern::Exact("/.well-known/openid-configuration"),
        &[Get],
        Endpoint::OpenIdConfiguration,
        true,
    ),
    route(
        Pattern::Exact("/oauth2/authorize"),
        &[Get, Post],
        Endpoint::Authorize,
        false,
    ),
    route(
        Pattern::Exact("/oauth2/token"),
        &[Post],
        Endpoint::Token,
        true,
    ),
    route(Pattern::Exact("/token"), &[Post], Endpoint::SeedToken, true),
    route(
        Pattern::Exact("/oauth2/introspect"),
        &[Post],
        Endpoint::Introspect,
        false,
    ),
    route(
        Pattern::Exact("/oauth2/revoke"),
        &[Post],
        Endpoint::Revoke,
        true,
    ),
    route(
        Pattern::Exact("/oauth2/userinfo"),
        &[Get, Post],
        Endpoint::Userinfo,
        true,
    ),
    route(
        Pattern::Exact("/turn/credentials"),
        &[Get, Post],
        Endpoint::TurnCredentials,
        true,
    ),
    route(
        Pattern::Exact("/admin/clients"),
        &[Get, Post],
        Endpoint::AdminClients,
        false,
    ),
    route(
        Pattern::Param("/admin/clients/"),
        &[Delete],
        Endpoint::AdminClient,
        false,
    ),
    route(
        Pattern::Exact("/admin/users"),
        &[Get, Post],
        Endpoint::AdminUsers,
        false,
    ),
    route(
        Pattern::Param("/admin/users/"),
        &[Delete],
        Endpoint::AdminUser,
        false,
    ),
    route(
        Pattern::Exact("/admin/audit"),
        &[Get],
        Endpoint::AdminAudit,
        false,
    ),
    route(
        Pattern::ParamThen("/admin/users/", "/rights"),
        &[Put],
        Endpoint::AdminUserRights,
        false,
    ),
    route(
        Pattern::Exact("/admin/initial-access-tokens"),
        &[Post],
        Endpoint::AdminInitialTokens,
        false,
    ),
    route(Pattern::Exact("/certs"), &[Get], Endpoint::Jwks, true),
    route(
        Pattern::Exact("/.well-known/jwks.json"),
        &[Get],
        Endpoint::Jwks,
        true,
    ),
    route(
        Pattern::Exact("/oauth2/logout"),
        &[Get, Post],
        Endpoint::Logout,
        false,
    ),
    route(
        Pattern::Exact("/oauth2/device_authorization"),
        &[Post],
        Endpoint::DeviceAuthorization,
        true,
    ),
    route(
        Pattern::Exact("/device"),
        &[Get, Post],
        Endpoint::DevicePage,
        false,
    ),
    route(
        Pattern::Exact("/signup"),
        &[Get, Post],
        Endpoint::Signup,
        false,
    ),
    route(
        Pattern::Exact("/verify_email"),
        &[Get],
        Endpoint::VerifyEmail,
        false,
    ),
    route(
        Pattern::Exact("/forgot_password"),
        &[Get, Post],
        Endpoint::ForgotPassword,
        false,
    ),
    route(
        Pattern::Exact("/reset_password"),
        &[Get, Post],
        Endpoint::ResetPassword,
        false,
    ),
    route(
        Pattern::Exact("/admin/outbox"),
        &[Get],
        Endpoint::AdminOutbox,
        false,
    ),
    route(
        Pattern::Exact("/passkey/options"),
        &[Post],
        Endpoint::PasskeyOptions,
        false,
    ),
    route(
        Pattern::Exact("/account/passkey-options"),
        &[Post],
        Endpoint::PasskeyRegisterOptions,
        false,
    ),
    route(
        Pattern::Exact("/account"),
        &[Get, Post],
        Endpoint::Account,
        false,
    ),
    route(
        Pattern::Exact("/create_client"),
        &[Get, Post],
        Endpoint::CreateClient,
        false,
    ),
    route(
        Pattern::Exact("/oauth2/register"),
        &[Post],
        Endpoint::Register,
        true,
    ),
    route(
        Pattern::Param("/oauth2/register/"),
        &[Get, Put, Delete],
        Endpoint::RegisteredClient,
        true,
    ),
    // The control plane (docs/control-plane.md): relays are clients with the relay scope.
    route(
        Pattern::Exact("/relay/revocations"),
        &[Get],
        Endpoint::RelayRevocations,
        false,
    ),
    route(
        Pattern::Exact("/relay/heartbeat"),
        &[Post],
        Endpoint::RelayHeartbeat,
        false,
    ),
    route(
        Pattern::Exact("/relay/usage"),
        &[Post],
        Endpoint::RelayUsage,
        false,
    ),
    route(
        Pattern::Exact("/turn/usage"),
        &[Get],
        Endpoint::TurnUsage,
        true,
    ),
    route(
        Pattern::Exact("/admin/usage"),
        &[Get],
        Endpoint::AdminUsage,
        false,
    ),
    route(
        Pattern::Exact("/admin/relays"),
        &[Get],
        Endpoint::AdminRelays,
        false,
    ),
    route(
        Pattern::Exact("/admin/housekeeping"),
        &[Post],
        Endpoint::AdminHousekeeping,
        false,
    ),
    route(
        Pattern::ParamThen("/admin/users/", "/revoke"),
        &[Post],
        Endpoint::AdminUserRevoke,
        false,
    ),
    // The operator console (same-origin pages with a session cookie: never CORS).
    route(Pattern::Exact("/console"), &[Get], Endpoint::Console, false),
    route(
        Pattern::Param("/console/"),
        &[Get, Post],
        Endpoint::Console,
        false,
    ),
];

/// Where a request goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolved<'p> {
    /// A route takes it; `param` is the path parameter (empty for exact routes).
    Found {
        /// The route.
        route: &'static Route,
        /// The method.
        method: Method,
        /// The `{id}` of a parameter route.
        param: &'p str,
    },
    /// A CORS preflight for a CORS route.
    Preflight(&'static Route),
    /// The path exists, the method does not: `405` with `Allow`.
    MethodNotAllowed(&'static Route),
    /// No such path.
    NotFound,
}

/// Resolves a request.
pub fn resolve<'p>(method: &str, path: &'p str) -> Resolved<'p> {
    let Some((route, param)) = ROUTES
        .iter()
        .find_map(|r| r.pattern.matches(path).map(|p| (r, p)))
    else {
        return Resolved::NotFound;
    };
    match Method::parse(method) {
        Some(Method::Options) if route.cors => Resolved::Preflight(route),
        Some(m) if route.methods.contains(&m) => Resolved::Found {
            route,
            method: m,
            param,
        },
        _ => Resolved::MethodNotAllowed(route),
    }
}

/// True when a path's route allows CORS (for headers on any answer at that path).
pub fn cors_allowed(path: &str) -> bool {
    ROUTES
        .iter()
        .any(|r| r.cors && r.pattern.matches(path).is_some())
}

impl Route {
    /// The `Allow` header value.
    pub fn allow(&self) -> String {
        let mut names: Vec<&str> = self.methods.iter().map(|m| m.as_str()).collect();
        if self.cors {
            names.push(Method::Options.as_str());
        }
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution() {
        assert!(matches!(
            resolve("POST", "/oauth2/token"),
            Resolved::Found { route, method: Method::Post, param: "" } if route.endpoint == Endpoint::Token
        ));
        assert!(matches!(
            resolve("HEAD", "/health"),
            Resolved::Found {
                method: Method::Get,
                ..
            }
        ));
        assert!(matches!(
            resolve("DELETE", "/admin/clients/web-1"),
            Resolved::Found { route, param: "web-1", .. } if route.endpoint == Endpoint::AdminClient
        ));
        match resolve("GET", "/oauth2/token") {
            Resolved::MethodNotAllowed(r) => assert_eq!(r.allow(), "POST, OPTIONS"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            resolve("OPTIONS", "/oauth2/token"),
            Resolved::Preflight(_)
        ));
        assert!(matches!(
            resolve("OPTIONS", "/oauth2/authorize"),
            Resolved::MethodNotAllowed(_)
        ));
        assert!(matches!(
            resolve("PUT", "/admin/users/u_1/rights"),
            Resolved::Found { route, param: "u_1", .. } if route.endpoint == Endpoint::AdminUserRights
        ));
        assert!(matches!(
            resolve("POST", "/admin/users/u_1/revoke"),
            Resolved::Found { route, param: "u_1", .. } if route.endpoint == Endpoint::AdminUserRevoke
        ));
        assert!(matches!(
            resolve("GET", "/relay/revocations"),
            Resolved::Found { route, .. } if route.endpoint == Endpoint::RelayRevocations
        ));
        assert!(matches!(
            resolve("GET", "/certs"),
            Resolved::Found { route, .. } if route.endpoint == Endpoint::Jwks
        ));
        for p in [
            "/admin/users//rights",
            "/admin/users/a/b/rights",
            "/oauth2/nothing",
            "/admin/clients/",
            "/admin/clients/a/b",
            "/admin",
        ] {
            assert_eq!(resolve("GET", p), Resolved::NotFound, "{p}");
        }
        assert_eq!(
            resolve("PATCH", "/oauth2/token"),
            Resolved::MethodNotAllowed(&ROUTES[4])
        );
    }

    #[test]
    fn the_console_is_one_endpoint_with_its_view_as_parameter() {
        assert!(matches!(
            resolve("GET", "/console"),
            Resolved::Found { route, param: "", .. } if route.endpoint == Endpoint::Console
        ));
        assert!(matches!(
            resolve("POST", "/console/people"),
            Resolved::Found { route, param: "people", method: Method::Post } if route.endpoint == Endpoint::Console
        ));
        assert!(matches!(
            resolve("POST", "/console"),
            Resolved::MethodNotAllowed(_)
        ));
        assert_eq!(resolve("GET", "/console/a/b"), Resolved::NotFound);
        assert!(!cors_allowed("/console") && !cors_allowed("/console/callback"));
    }

    #[test]
    fn cors_only_where_no_cookie_is_involved() {
        assert!(cors_allowed("/oauth2/token") && cors_allowed("/turn/credentials"));
        assert!(!cors_allowed("/oauth2/authorize") && !cors_allowed("/admin/clients"));
        assert!(!cors_allowed("/oauth2/introspect"));
        assert!(cors_allowed("/turn/usage") && !cors_allowed("/relay/usage"));
    }

    #[test]
    fn every_path_is_declared_once() {
        // Parameter routes must not shadow each other: /admin/users/{id} and
        // /admin/users/{id}/rights differ by the segment rule.
        assert!(matches!(
            resolve("DELETE", "/admin/users/u_1"),
            Resolved::Found { route, .. } if route.endpoint == Endpoint::AdminUser
        ));
        for (i, a) in ROUTES.iter().enumerate() {
            for b in ROUTES.iter().skip(i + 1) {
                assert_ne!(a.pattern, b.pattern);
            }
        }
    }
}
