//! What an `https` issuer adds to responses: every cookie the edge sets (CSRF, sign-in
//! session, console) under the `__Host-` prefix (RFC 6265bis section 4.1.3.2: `Secure`,
//! `Path=/`, no `Domain`, so no sibling subdomain and no plain-http response can set or shadow
//! it), and HSTS on every response (RFC 6797).
//!
//! A local `http://` issuer keeps the plain cookie scoped to its page's path (browsers refuse
//! `Secure` cookies over http, and `__Host-` needs `Secure`).

/// The CSRF cookie's base name.
pub const CSRF_COOKIE: &str = "edge_oauth_csrf";

/// `Strict-Transport-Security` for an https issuer: two years, subdomains included.
pub const HSTS: &str = "max-age=63072000; includeSubDomains";

fn is_https(issuer: &str) -> bool {
    issuer.starts_with("https://")
}

/// A cookie's name: `__Host-` before `base` with an https issuer.
pub fn cookie_name(issuer: &str, base: &str) -> String {
    if is_https(issuer) {
        format!("__Host-{base}")
    } else {
        base.to_string()
    }
}

/// `Set-Cookie` for the cookie `name` = `value`: `HttpOnly`, the given `SameSite`, `max_age`
/// seconds (0 removes it); with an https issuer `Secure` and `Path=/` (what `__Host-` needs),
/// otherwise `plain_path`.
pub fn set_cookie(
    issuer: &str,
    name: &str,
    value: &str,
    plain_path: &str,
    same_site: &str,
    max_age: u64,
) -> String {
    let (path, secure) = if is_https(issuer) {
        ("/", "; Secure")
    } else {
        (plain_path, "")
    };
    format!(
        "{name}={value}; Path={path}; HttpOnly; SameSite={same_site}; Max-Age={max_age}{secure}"
    )
}

/// The name of the CSRF cookie of the page at `path`. With an https issuer it is
/// `__Host-edge_oauth_csrf` plus the path with `/` as `-` (each page keeps its own cookie,
/// as the path scoping did); otherwise `edge_oauth_csrf`.
pub fn csrf_cookie_name(issuer: &str, path: &str) -> String {
    if is_https(issuer) {
        let suffix: String = path
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        format!("__Host-{CSRF_COOKIE}{suffix}")
    } else {
        CSRF_COOKIE.to_string()
    }
}

/// The `Set-Cookie` value of the CSRF cookie for the page at `path`: `HttpOnly`,
/// `SameSite=Strict`, 15 minutes; with an https issuer `__Host-`, `Secure` and `Path=/`,
/// otherwise scoped to `path`.
pub fn csrf_set_cookie(issuer: &str, value: &str, path: &str) -> String {
    let name = csrf_cookie_name(issuer, path);
    set_cookie(issuer, &name, value, path, "Strict", 900)
}

/// The `Strict-Transport-Security` value every response carries, when the issuer is https.
pub fn hsts(issuer: &str) -> Option<&'static str> {
    is_https(issuer).then_some(HSTS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(cookie: &str) -> Vec<String> {
        cookie
            .split(';')
            .map(|a| a.trim().to_ascii_lowercase())
            .collect()
    }

    #[test]
    fn https_cookies_meet_the_host_prefix_rules() {
        let c = csrf_set_cookie("https://auth.example", "v1", "/oauth2/authorize");
        assert!(
            c.starts_with("__Host-edge_oauth_csrf-oauth2-authorize=v1;"),
            "{c}"
        );
        let a = attrs(&c);
        for must in ["secure", "path=/", "httponly", "samesite=strict"] {
            assert!(a.iter().any(|x| x == must), "{must} in {c}");
        }
        assert!(!a.iter().any(|x| x.starts_with("domain")), "{c}");
        assert_eq!(
            csrf_cookie_name("https://auth.example", "/oauth2/authorize"),
            "__Host-edge_oauth_csrf-oauth2-authorize"
        );
        // Each page its own cookie.
        assert_ne!(
            csrf_cookie_name("https://a", "/signup"),
            csrf_cookie_name("https://a", "/create_client")
        );
    }

    #[test]
    fn http_cookies_stay_plain_and_path_scoped() {
        let c = csrf_set_cookie("http://127.0.0.1:8787", "v1", "/signup");
        assert_eq!(
            c,
            "edge_oauth_csrf=v1; Path=/signup; HttpOnly; SameSite=Strict; Max-Age=900"
        );
        assert_eq!(
            csrf_cookie_name("http://127.0.0.1:8787", "/signup"),
            "edge_oauth_csrf"
        );
    }

    #[test]
    fn hsts_only_for_https() {
        assert_eq!(
            hsts("https://auth.example"),
            Some("max-age=63072000; includeSubDomains")
        );
        assert_eq!(hsts("http://127.0.0.1:8787"), None);
        assert_eq!(hsts("httpsx://a"), None);
    }
}
