//! The console's page chrome: one stylesheet (inline, allowed by its hash), a navigation bar,
//! the signed-in person and the sign-out form. No script at all; charts are inline SVG.
//! Served with a Content-Security-Policy that allows only that style, form posts to this
//! origin, and no framing.

use std::sync::OnceLock;

use crate::oauth::html::{escape, hidden, style_source};

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1b1b1f;background:#f6f6f8}\
header{display:flex;gap:1.2rem;align-items:center;background:#1f2a44;color:#fff;padding:.6rem 1.2rem}\
header a{color:#cfd8ff;text-decoration:none}header a.on{color:#fff;font-weight:600;border-bottom:2px solid #fff}\
header .who{margin-left:auto}header form{display:inline}header button{margin:0}\
main{padding:1rem 1.2rem;max-width:72rem}h1{font-size:1.25rem;margin:.4rem 0 1rem}h2{font-size:1.05rem;margin:1.2rem 0 .5rem}\
table{border-collapse:collapse;width:100%;background:#fff}th,td{border:1px solid #d8d8e0;padding:.3rem .45rem;text-align:left;vertical-align:top}\
th{background:#eceef4}form.inline{display:inline}input,select,textarea{font:inherit;padding:.25rem}button{font:inherit;padding:.25rem .7rem;margin:.15rem}\
.box{background:#fff;border:1px solid #d8d8e0;padding:.7rem;margin:.6rem 0}.ok{color:#0a6b2c}.err{color:#a4001c}.muted{color:#666}\
.secret{font-family:monospace;background:#fff6d6;padding:.3rem;border:1px solid #e0c060}code{background:#eee;padding:0 .2rem}\
label{margin-right:.6rem}svg{background:#fff;border:1px solid #d8d8e0}";

fn style_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| style_source(STYLE))
}

/// The console's Content-Security-Policy: nothing but its own style, forms to itself, and
/// never in a frame.
pub fn csp() -> String {
    format!(
        "default-src 'none'; style-src {}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        style_hash()
    )
}

/// The views, in navigation order: (path segment, title).
pub const VIEWS: [(&str, &str); 5] = [
    ("people", "People"),
    ("apps", "Apps"),
    ("relays", "Relays"),
    ("usage", "Usage"),
    ("audit", "Audit"),
];

/// A notice above a view's content: what the last change did, or why it was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// It worked.
    Done(String),
    /// It did not.
    Refused(String),
}

impl Notice {
    fn html(&self) -> String {
        match self {
            Notice::Done(m) => format!(
                "<p class=\"ok\" role=\"status\" id=\"notice\">{}</p>",
                escape(m)
            ),
            Notice::Refused(m) => format!(
                "<p class=\"err\" role=\"alert\" id=\"notice\">{}</p>",
                escape(m)
            ),
        }
    }
}

/// A console page: `view` is the active navigation entry, `who` the signed-in person, `csrf`
/// the session's token (for the sign-out form), `body` the view's HTML.
pub fn page(view: &str, who: &str, csrf: &str, notice: Option<&Notice>, body: &str) -> String {
    let title = VIEWS
        .iter()
        .find(|(v, _)| *v == view)
        .map(|(_, t)| *t)
        .unwrap_or("Console");
    let nav: String = VIEWS
        .iter()
        .map(|(v, t)| {
            let on = if *v == view { " class=\"on\"" } else { "" };
            format!("<a href=\"/console/{v}\"{on}>{t}</a>")
        })
        .collect();
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"referrer\" content=\"no-referrer\"><title>{title} · edge console</title><style>{STYLE}</style></head><body>\
<header><strong>edge console</strong>{nav}<span class=\"who\">signed in as <b id=\"who\">{}</b> \
<form class=\"inline\" method=\"post\" action=\"/console/signout\">{}<button type=\"submit\">Sign out</button></form></span></header>\
<main><h1>{title}</h1>{}{body}</main></body></html>",
        escape(who),
        hidden("csrf", csrf),
        notice.map(Notice::html).unwrap_or_default(),
    )
}

/// A page without the chrome: refusals and sign-out.
pub fn bare(title: &str, message: &str, link: Option<(&str, &str)>) -> String {
    let link = link
        .map(|(href, text)| format!("<p><a href=\"{}\">{}</a></p>", escape(href), escape(text)))
        .unwrap_or_default();
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"referrer\" content=\"no-referrer\">\
<title>{t}</title><style>{STYLE}</style></head><body><main><h1 id=\"title\">{t}</h1><p>{}</p>{link}</main></body></html>",
        escape(message),
        t = escape(title),
    )
}

/// A form posting to `/console/{view}` with the CSRF token and an `action`.
pub fn form(view: &str, action: &str, csrf: &str, inner: &str, class: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/console/{view}\" class=\"{class}\">{}{}{inner}</form>",
        hidden("csrf", csrf),
        hidden("action", action),
    )
}

/// A local date and time for a Unix second (UTC, `YYYY-MM-DD HH:MM`).
pub fn when(unix: u64) -> String {
    let day = crate::oauth::control::day::of(unix);
    let secs = unix % 86_400;
    format!("{day} {:02}:{:02}", secs / 3600, (secs % 3600) / 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use sha2::{Digest, Sha256};

    #[test]
    fn pages_escape_and_allow_no_script() {
        let p = page(
            "people",
            "<script>x</script>",
            "tok",
            Some(&Notice::Refused("<b>".into())),
            "",
        );
        assert!(!p.contains("<script>"));
        assert!(p.contains("&lt;b&gt;") && p.contains("class=\"on\""));
        assert!(!p.contains("http://") && !p.contains("https://"));
        let c = csp();
        assert!(c.contains("frame-ancestors 'none'") && c.contains("default-src 'none'"));
        assert!(!c.contains("script-src") && !c.contains("unsafe-inline"));
        assert!(c.contains(&format!(
            "'sha256-{}'",
            STANDARD.encode(Sha256::digest(STYLE.as_bytes()))
        )));
        assert!(
            form("apps", "delete", "tok", "", "inline").contains("name=\"csrf\" value=\"tok\"")
        );
        assert_eq!(when(86_400 + 3_660), "1970-01-02 01:01");
    }
}
