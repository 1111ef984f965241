//! The sign-in, consent and error pages. Self-contained (no external assets); every
//! interpolated value is HTML-escaped; served with a Content-Security-Policy that allows only
//! the inline style below (by hash) and form posts to this server (and, on the consent page,
//! the client's redirect origin, since browsers apply `form-action` to the redirect).

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem;color:#1b1b1f}\
h1{font-size:1.3rem}label{display:block;margin:.8rem 0 .2rem}input[type=text],input[type=password]{width:100%;padding:.5rem;box-sizing:border-box}\
button{margin:1rem .5rem 0 0;padding:.5rem 1.2rem}textarea{width:100%;box-sizing:border-box}fieldset{margin:.8rem 0}.err{color:#a4001c}ul{padding-left:1.2rem}code{background:#eee;padding:0 .2rem}";

/// Escapes text for HTML element content and double-quoted attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The CSP source that allows exactly `style` inline (`'sha256-…'`).
pub fn style_source(style: &str) -> String {
    format!(
        "'sha256-{}'",
        STANDARD.encode(Sha256::digest(style.as_bytes()))
    )
}

fn style_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| style_source(STYLE))
}

/// The Content-Security-Policy for a page; `redirect_origin` extends `form-action`.
pub fn csp(redirect_origin: Option<&str>) -> String {
    let extra = redirect_origin.map(|o| format!(" {o}")).unwrap_or_default();
    format!(
        "default-src 'none'; style-src {}; form-action 'self'{extra}; frame-ancestors 'none'; base-uri 'none'",
        style_hash()
    )
}

/// A self-contained page with the stylesheet the CSP allows.
pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"referrer\" content=\"no-referrer\"><title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>",
        escape(title)
    )
}

/// A hidden form field.
pub(crate) fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
        escape(name),
        escape(value)
    )
}

/// The sign-in form; with `signup`, a link to `/signup`.
pub fn sign_in(
    client_name: &str,
    sealed_state: &str,
    csrf: &str,
    error: Option<&str>,
    signup: bool,
) -> String {
    let err = error
        .map(|e| format!("<p class=\"err\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    let signup = if signup {
        "<p>No account? <a href=\"/signup\" target=\"_blank\" rel=\"noopener\">Create one</a>, then sign in here.</p>"
    } else {
        ""
    };
    page(
        "Sign in",
        &format!(
            "<h1>Sign in to continue to {}</h1>{err}<form method=\"post\" action=\"/oauth2/authorize\">{}{}{}\
<label for=\"username\">Username</label><input type=\"text\" id=\"username\" name=\"username\" autocomplete=\"username\" required autofocus>\
<label for=\"password\">Password</label><input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" required>\
<button type=\"submit\">Sign in</button></form>{}{signup}",
            escape(client_name),
            hidden("action", "login"),
            hidden("form_state", sealed_state),
            hidden("csrf", csrf),
            super::people::account::passkey_sign_in(
                "/oauth2/authorize",
                &[("form_state", sealed_state), ("csrf", csrf)]
            ),
        ),
    )
}

/// What a scope means, for the consent page.
fn describe_scope(scope: &str) -> String {
    match scope {
        "openid" => "know who you are (your user id and name)".to_string(),
        "turn" => "get TURN relay credentials for real-time connections".to_string(),
        other => format!("use the <code>{}</code> permission", escape(other)),
    }
}

/// The consent form.
pub fn consent(
    client_name: &str,
    username: &str,
    scopes: &[&str],
    resources: &[&str],
    sealed_state: &str,
    csrf: &str,
) -> String {
    let mut items: String = scopes
        .iter()
        .map(|s| format!("<li>{}</li>", describe_scope(s)))
        .collect();
    // RFC 8707: the services the access will be good for.
    for r in resources {
        items.push_str(&format!("<li>use it at <code>{}</code></li>", escape(r)));
    }
    page(
        "Allow access",
        &format!(
            "<h1>Allow {} to access your account?</h1><p>Signed in as <strong>{}</strong>. The application asks to:</p><ul>{items}</ul>\
<form method=\"post\" action=\"/oauth2/authorize\">{}{}{}\
<button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button><button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>",
            escape(client_name),
            escape(username),
            hidden("action", "consent"),
            hidden("form_state", sealed_state),
            hidden("csrf", csrf),
        ),
    )
}

/// An error page.
pub fn error(title: &str, message: &str) -> String {
    page(
        title,
        &format!("<h1>{}</h1><p>{}</p>", escape(title), escape(message)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_interpolated_is_escaped() {
        let evil = "<script>alert('x')</script>\"";
        let p = sign_in(evil, evil, evil, Some(evil), true);
        assert!(!p.contains("<script>"));
        assert!(p.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;"));
        let c = consent(evil, evil, &["openid", evil], &[evil], "s", "c");
        assert!(!c.contains("<script>"));
        let c = consent(
            "App",
            "alice",
            &["openid"],
            &["https://api.example/mcp"],
            "s",
            "c",
        );
        assert!(c.contains("<li>use it at <code>https://api.example/mcp</code></li>"));
        assert!(!error(evil, evil).contains("<script>"));
    }

    #[test]
    fn csp_allows_only_the_inline_style_and_own_forms() {
        let c = csp(Some("https://app.example"));
        assert!(c.contains("default-src 'none'"));
        assert!(c.contains("form-action 'self' https://app.example;"));
        assert!(c.contains("style-src 'sha256-"));
        assert!(!c.contains("unsafe-inline"));
        let expected = format!(
            "'sha256-{}'",
            STANDARD.encode(Sha256::digest(STYLE.as_bytes()))
        );
        assert!(c.contains(&expected));
    }

    #[test]
    fn forms_carry_state_and_csrf() {
        let p = sign_in("App", "STATE", "CSRF", None, false);
        assert!(p.contains("name=\"form_state\" value=\"STATE\""));
        assert!(p.contains("name=\"csrf\" value=\"CSRF\""));
        assert!(p.contains("name=\"action\" value=\"login\""));
        assert!(
            !p.contains("http://") && !p.contains("https://"),
            "no external assets"
        );
    }
}
