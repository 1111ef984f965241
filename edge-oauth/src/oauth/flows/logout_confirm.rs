//! The sign-out confirmation page for an expired `id_token_hint` ([`super::logout`]).
//!
//! The page repeats the request's parameters as hidden fields of a form that posts back to
//! the logout endpoint with `confirm=yes` and a fresh CSRF token, which the worker also sets
//! as the page's `HttpOnly`, `SameSite=Strict` cookie (`__Host-` under https). A cross-site
//! page can make a browser post the form's fields, but not send that cookie with them, so
//! only a click on this page confirms. The ID token travels in the page's body and the
//! form's body, never in a URL.

use super::logout::LogoutRequest;
use crate::oauth::html::{escape, hidden, page};
use crate::oauth::params::Params;

/// The logout endpoint's path (the form's action and the cookie's page).
pub const PATH: &str = "/oauth2/logout";

/// True when the post is this page's form: `confirm=yes`, and its `csrf` field equals the
/// CSRF cookie (compared in constant time; both must be present and non-empty).
pub fn confirmed(params: &Params, cookie: Option<&str>) -> bool {
    let (Some(field), Some(cookie)) = (params.get("csrf"), cookie) else {
        return false;
    };
    params.get("confirm") == Some("yes")
        && !cookie.is_empty()
        && shared_token::ct_eq(field.as_bytes(), cookie.as_bytes())
}

/// The page asking the person to confirm signing out of `app_name`.
pub fn page_for(req: &LogoutRequest, app_name: &str, csrf: &str) -> String {
    let mut fields = hidden("confirm", "yes") + &hidden("csrf", csrf);
    for (k, v) in [
        ("id_token_hint", &req.id_token_hint),
        ("client_id", &req.client_id),
        ("post_logout_redirect_uri", &req.post_logout_redirect_uri),
        ("state", &req.state),
    ] {
        if let Some(v) = v {
            fields.push_str(&hidden(k, v));
        }
    }
    page(
        "Sign out?",
        &format!(
            "<h1>Sign out?</h1><p id=\"confirm-signout\">Sign out of <strong>{}</strong>? Its \
sessions for your account on this server will end.</p>\
<form method=\"post\" action=\"{PATH}\">{fields}<button type=\"submit\">Sign out</button></form>",
            escape(app_name)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Params {
        Params::from_form(s.as_bytes()).unwrap()
    }

    #[test]
    fn only_the_pages_own_post_confirms() {
        assert!(confirmed(&p("confirm=yes&csrf=abc"), Some("abc")));
        assert!(!confirmed(&p("confirm=yes&csrf=abc"), None));
        assert!(!confirmed(&p("confirm=yes&csrf=abc"), Some("abd")));
        assert!(!confirmed(&p("confirm=yes&csrf=abc"), Some("abcd")));
        assert!(!confirmed(&p("csrf=abc"), Some("abc")));
        assert!(!confirmed(&p("confirm=yes&csrf="), Some("")));
        assert!(!confirmed(&p("confirm=yes"), Some("abc")));
    }

    #[test]
    fn the_page_carries_the_request_in_hidden_fields() {
        let r = LogoutRequest::from_params(&p(
            "id_token_hint=e.y.j&post_logout_redirect_uri=https%3A%2F%2Fa.example%2F&state=%22s",
        ));
        let html = page_for(&r, "<App>", "tok");
        assert!(html.contains("action=\"/oauth2/logout\""));
        assert!(html.contains("name=\"id_token_hint\" value=\"e.y.j\""));
        assert!(html.contains("name=\"state\" value=\"&quot;s\""));
        assert!(html.contains("name=\"csrf\" value=\"tok\""));
        assert!(html.contains("&lt;App&gt;") && !html.contains("<App>"));
        assert!(!html.contains("client_id"));
    }
}
