//! The pages of account recovery: "forgot password", the reset form a link opens, and their
//! answers. Same safety as the other pages: escaped values, a CSRF cookie with a hidden field
//! equal to it, the pages' CSP.

use super::recovery::{FORGOT_PATH, RESET_PATH};
use crate::oauth::html::{escape, hidden, page};

/// "Forgot password": the address to send a link to.
pub fn forgot(csrf: &str, error: Option<&str>) -> String {
    let err = error
        .map(|e| format!("<p class=\"err\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    page(
        "Forgot your password?",
        &format!(
            "<h1>Forgot your password?</h1>{err}<p>Enter the email address of your account; we send a link to choose a new password.</p>\
<form method=\"post\" action=\"{FORGOT_PATH}\">{}<label for=\"email\">Email</label>\
<input type=\"text\" id=\"email\" name=\"email\" autocomplete=\"email\" required autofocus>\
<button type=\"submit\">Send the link</button></form>",
            hidden("csrf", csrf),
        ),
    )
}

/// The answer to "forgot password", the same whether the address has an account or not.
pub fn forgot_sent() -> String {
    page(
        "Check your email",
        "<h1>Check your email</h1><p id=\"sent\">If an account uses this address, a link to choose a new password is on its way. It works once, within 30 minutes.</p>",
    )
}

/// The form a reset link opens.
pub fn reset(token: &str, csrf: &str, error: Option<&str>) -> String {
    let err = error
        .map(|e| format!("<p class=\"err\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    page(
        "Choose a new password",
        &format!(
            "<h1>Choose a new password</h1>{err}<p>Setting it signs your account out everywhere.</p>\
<form method=\"post\" action=\"{RESET_PATH}\">{}{}<label for=\"password\">New password</label>\
<input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"new-password\" minlength=\"8\" required autofocus>\
<button type=\"submit\">Set the password</button></form>",
            hidden("token", token),
            hidden("csrf", csrf),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_carry_their_fields_escaped() {
        let r = reset("t\"k", "c<1", Some("<b>"));
        assert!(r.contains("name=\"token\" value=\"t&quot;k\""));
        assert!(r.contains("name=\"csrf\" value=\"c&lt;1\""));
        assert!(r.contains("&lt;b&gt;") && !r.contains("<b>"));
        assert!(forgot("c", None).contains("action=\"/forgot_password\""));
        assert!(forgot_sent().contains("id=\"sent\""));
    }
}
