//! The Audit view: the audit trail filtered by person (changed or acting), app, token id and
//! kind (an event name, or its part before the dot), newest first, a page at a time.

use super::layout::when;
use crate::oauth::error::OAuthError;
use crate::oauth::html::escape;
use crate::oauth::params::Params;
use crate::store::console::AuditFilter;
use crate::store::reads::AuditRow;

/// Rows per page.
pub const PAGE: u64 = 50;

fn plain(s: &str, max: usize, extra: &[u8]) -> bool {
    s.len() <= max
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'.' | b'_' | b'-' | b'@')
                || extra.contains(&b)
        })
}

/// Reads `?person=&app=&token=&kind=&before=`.
pub fn parse(q: &Params) -> Result<(AuditFilter, Option<u64>), OAuthError> {
    let get = |k: &str| q.get(k).map(str::trim).unwrap_or_default().to_string();
    let f = AuditFilter {
        person: get("person"),
        client: get("app"),
        token: get("token"),
        kind: get("kind"),
    };
    if !plain(&f.person, 64, b"") || !plain(&f.client, 64, b"") {
        return Err(OAuthError::invalid_request("person and app are ids"));
    }
    if !plain(&f.token, 128, b"~:=+/") {
        return Err(OAuthError::invalid_request("token is a token id"));
    }
    if !plain(&f.kind, 64, b"") {
        return Err(OAuthError::invalid_request(
            "kind is an event name such as user.created, or user",
        ));
    }
    let before = match q.get("before").filter(|b| !b.is_empty()) {
        None => None,
        Some(b) => Some(
            b.parse::<u64>()
                .map_err(|_| OAuthError::invalid_request("before is a row number"))?,
        ),
    };
    Ok((f, before))
}

fn cell(v: &Option<String>) -> String {
    v.as_deref()
        .map(|s| format!("<code>{}</code>", escape(s)))
        .unwrap_or_default()
}

/// The Audit view; `more` when a next page may exist.
pub fn render(f: &AuditFilter, rows: &[AuditRow], more: bool) -> String {
    let input = |name: &str, label: &str, value: &str| {
        format!(
            "<label>{label} <input name=\"{name}\" id=\"f-{name}\" value=\"{}\" size=\"18\"></label>",
            escape(value)
        )
    };
    let mut out = format!(
        "<form method=\"get\" action=\"/console/audit\" class=\"box\">{}{}{}{}<button type=\"submit\" id=\"filter\">Filter</button> <a href=\"/console/audit\">all</a></form>",
        input("person", "Person", &f.person),
        input("app", "App", &f.client),
        input("token", "Token id", &f.token),
        input("kind", "Kind", &f.kind),
    );
    out.push_str("<table id=\"audit\"><tr><th>#</th><th>When (UTC)</th><th>Kind</th><th>Person</th><th>App</th><th>Token</th><th>Detail</th><th>By</th></tr>");
    for r in rows {
        out.push_str(&format!(
            "<tr data-event=\"{ev}\" data-user=\"{user}\" data-client=\"{client}\" data-actor=\"{actor}\"><td>{id}</td><td>{at}</td><td>{ev}</td><td>{u}</td><td>{c}</td><td>{t}</td><td>{d}</td><td>{a}</td></tr>",
            id = r.id,
            at = when(r.at),
            ev = escape(&r.event),
            user = escape(r.user_id.as_deref().unwrap_or("")),
            client = escape(r.client_id.as_deref().unwrap_or("")),
            actor = escape(r.actor_id.as_deref().unwrap_or("")),
            u = cell(&r.user_id),
            c = cell(&r.client_id),
            t = cell(&r.token_id),
            d = escape(r.detail.as_deref().unwrap_or("")),
            a = cell(&r.actor_id),
        ));
    }
    out.push_str("</table>");
    if rows.is_empty() {
        out.push_str("<p class=\"muted\">Nothing matches.</p>");
    }
    if let (true, Some(last)) = (more, rows.last()) {
        let q = form_urlencoded::Serializer::new(String::new())
            .append_pair("person", &f.person)
            .append_pair("app", &f.client)
            .append_pair("token", &f.token)
            .append_pair("kind", &f.kind)
            .append_pair("before", &last.id.to_string())
            .finish();
        out.push_str(&format!(
            "<p><a id=\"older\" href=\"/console/audit?{}\">Older</a></p>",
            escape(&q)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: u64, ev: &str) -> AuditRow {
        AuditRow {
            id,
            at: 0,
            event: ev.into(),
            token_id: None,
            client_id: Some("<c>".into()),
            user_id: None,
            family_id: None,
            detail: None,
            actor_id: Some("u1".into()),
        }
    }

    #[test]
    fn filters_parse_and_pages_link_on() {
        let (f, b) = parse(&Params::from_form(b"person=u1&kind=user&before=9").unwrap()).unwrap();
        assert_eq!(
            (f.person.as_str(), f.kind.as_str(), b),
            ("u1", "user", Some(9))
        );
        for bad in ["person=a%20b", "kind=%3Cx%3E", "before=x", "app=a'b"] {
            assert!(
                parse(&Params::from_form(bad.as_bytes()).unwrap()).is_err(),
                "{bad}"
            );
        }
        let html = render(&f, &[row(9, "user.created"), row(7, "user.disabled")], true);
        assert!(html.contains("before=7") && html.contains("&lt;c&gt;"));
        assert!(!render(&f, &[row(9, "x")], false).contains("id=\"older\""));
    }
}
