//! The account page (`/account`): sign in (which starts a session), see one's sessions, sign
//! out here or everywhere. Its forms are checked by double submit: an `HttpOnly`,
//! `SameSite=Strict` cookie scoped to the page and a hidden field equal to it.

use super::passkey::ceremony::PasskeyRow;
use crate::oauth::html::{self, escape, hidden, page};
use crate::store::reads::SessionListRow;

/// The account and sign-in pages' CSP: the pages' own, plus this origin's `/passkey.js` and
/// its requests for passkey options.
pub fn csp(redirect_origin: Option<&str>) -> String {
    format!(
        "{}; script-src 'self'; connect-src 'self'",
        html::csp(redirect_origin)
    )
}

/// The passkey sign-in button and its form (posted to `action` with these hidden fields).
pub fn passkey_sign_in(action: &str, fields: &[(&str, &str)]) -> String {
    let hidden_fields: String = fields.iter().map(|(k, v)| hidden(k, v)).collect();
    format!(
        "<form id=\"passkey-login\" method=\"post\" action=\"{}\">{}{hidden_fields}\
<button type=\"button\" id=\"passkey-sign-in\" data-passkey=\"sign-in\" data-form=\"passkey-login\">Sign in with a passkey</button></form>\
<p id=\"passkey-status\" role=\"status\"></p><script src=\"/passkey.js\" defer></script>",
        escape(action),
        hidden("action", "passkey"),
    )
}

/// The page's path (and its CSRF cookie's scope).
pub const PATH: &str = "/account";

/// What a form on the page asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Sign in with a password.
    Login,
    /// End this browser's session.
    SignOut,
    /// End every session of the person.
    Everywhere,
    /// Register a passkey (the browser's answer to the creation options).
    AddPasskey,
    /// Sign in with a passkey.
    Passkey,
}

impl Action {
    /// The form's `action` field.
    pub fn parse(v: Option<&str>) -> Option<Action> {
        match v? {
            "login" => Some(Action::Login),
            "signout" => Some(Action::SignOut),
            "everywhere" => Some(Action::Everywhere),
            "add_passkey" => Some(Action::AddPasskey),
            "passkey" => Some(Action::Passkey),
            _ => None,
        }
    }
}

/// The sign-in form of the account page.
pub fn sign_in(csrf: &str, error: Option<&str>) -> String {
    let err = error
        .map(|e| format!("<p class=\"err\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    page(
        "Your account",
        &format!(
            "<h1>Sign in to your account</h1>{err}<form method=\"post\" action=\"{PATH}\">{}{}\
<label for=\"username\">Username</label><input type=\"text\" id=\"username\" name=\"username\" autocomplete=\"username\" required autofocus>\
<label for=\"password\">Password</label><input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" required>\
<button type=\"submit\">Sign in</button></form><p><a href=\"/forgot_password\">Forgot your password?</a></p>{}",
            hidden("action", "login"),
            hidden("csrf", csrf),
            passkey_sign_in(PATH, &[("csrf", csrf)]),
        ),
    )
}

/// The signed-in account page: the person's sessions (this one marked) and the sign-out forms.
pub fn signed_in(
    username: &str,
    sessions: &[SessionListRow],
    passkeys: &[PasskeyRow],
    current_sid: &str,
    csrf: &str,
) -> String {
    let keys: String = passkeys
        .iter()
        .map(|p| {
            format!(
                "<li class=\"passkey\">{} key, added at {} (Unix time)</li>",
                escape(&p.alg),
                p.created_at
            )
        })
        .collect();
    let rows: String = sessions
        .iter()
        .map(|s| {
            let here = if s.sid == current_sid {
                " <strong>(this browser)</strong>"
            } else {
                ""
            };
            format!(
                "<li class=\"session\" data-sid=\"{}\">{}{here}<br>signed in with {} at {} (Unix time), last used {}</li>",
                escape(&s.sid),
                escape(s.user_agent.as_deref().unwrap_or("unknown browser")),
                escape(&s.amr),
                s.created_at,
                s.last_seen_at,
            )
        })
        .collect();
    let form = |action: &str, label: &str, id: &str| {
        format!(
            "<form method=\"post\" action=\"{PATH}\">{}{}<button type=\"submit\" id=\"{id}\">{label}</button></form>",
            hidden("action", action),
            hidden("csrf", csrf),
        )
    };
    page(
        "Your account",
        &format!(
            "<h1>Signed in as <span id=\"who\">{}</span></h1><h2>Your sessions</h2><ul id=\"sessions\">{rows}</ul>{}{}\
<h2>Passkeys</h2><ul id=\"passkeys\">{keys}</ul><form id=\"passkey-register\" method=\"post\" action=\"{PATH}\">{}{}\
<button type=\"button\" id=\"add-passkey\" data-passkey=\"register\" data-form=\"passkey-register\">Add a passkey</button></form>\
<p id=\"passkey-status\" role=\"status\"></p><script src=\"/passkey.js\" defer></script>",
            escape(username),
            form("signout", "Sign out", "sign-out"),
            form("everywhere", "Sign out everywhere", "sign-out-everywhere"),
            hidden("action", "add_passkey"),
            hidden("csrf", csrf),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_lists_sessions_escaped_and_carries_the_csrf_token() {
        let s = |sid: &str, ua: &str| SessionListRow {
            sid: sid.into(),
            amr: "pwd".into(),
            created_at: 1,
            last_seen_at: 2,
            expires_at: 3,
            user_agent: Some(ua.into()),
        };
        let html = signed_in(
            "al<ice",
            &[s("s_1", "<script>"), s("s_2", "Firefox")],
            &[],
            "s_2",
            "tok",
        );
        assert!(html.contains("al&lt;ice") && html.contains("&lt;script&gt;"));
        assert!(!html.contains("<script>"), "the user agent is escaped");
        assert_eq!(html.matches("class=\"session\"").count(), 2);
        assert_eq!(html.matches("(this browser)").count(), 1);
        assert_eq!(html.matches("name=\"csrf\" value=\"tok\"").count(), 3);
        assert_eq!(Action::parse(Some("everywhere")), Some(Action::Everywhere));
        assert_eq!(Action::parse(Some("drop")), None);
        assert!(sign_in("tok", Some("x")).contains("name=\"action\" value=\"login\""));
    }
}
