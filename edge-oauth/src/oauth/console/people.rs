//! The People view: search, create, disable or enable, set rights, revoke everything, and a
//! person's live sign-in sessions with "end all sessions". Each change is the admin API's own
//! decision ([`crate::oauth::admin`], [`crate::oauth::control::revoke`],
//! [`crate::oauth::people::session`]) with the acting person on its audit rows.

use super::layout::{Notice, form, when};
use crate::oauth::admin::{self, NewUser, SetRights};
use crate::oauth::control::revoke;
use crate::oauth::effects::{AuditEvent, Claim, Write, Writes};
use crate::oauth::error::OAuthError;
use crate::oauth::html::escape;
use crate::oauth::params::Params;
use crate::oauth::people::session;
use crate::store::console::PersonRow;
use crate::store::reads::SessionListRow;

/// Most people a search lists.
pub const LIST_LIMIT: u64 = 200;

/// A change posted on the People view.
#[derive(Debug)]
pub enum Change {
    /// A new person (checked; the worker hashes the password).
    Create(NewUser),
    /// Replace a person's rights.
    Rights {
        /// User id.
        user_id: String,
        /// The new set.
        rights: SetRights,
    },
    /// Disable and revoke everything, or enable.
    Disable {
        /// User id.
        user_id: String,
        /// True to disable.
        disabled: bool,
    },
    /// Revoke everything of a person.
    Revoke {
        /// User id.
        user_id: String,
    },
    /// End every sign-in session of a person ("sign out everywhere" on their behalf).
    EndSessions {
        /// User id.
        user_id: String,
    },
    /// End one sign-in session of a person.
    EndSession {
        /// User id.
        user_id: String,
        /// The session's public id.
        sid: String,
    },
}

/// The audit detail of a session ended from the console.
pub const ENDED_BY_ADMIN: &str = "console";

fn user_id(p: &Params) -> Result<String, OAuthError> {
    p.get("user_id")
        .filter(|id| crate::oauth::ids::id_is_acceptable(id))
        .map(str::to_string)
        .ok_or_else(|| OAuthError::invalid_request("user_id is missing or not an id"))
}

/// Reads a posted form.
pub fn parse(p: &Params) -> Result<Change, OAuthError> {
    let text = |k: &str| {
        p.get(k)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    match p.get("action") {
        Some("create") => Ok(Change::Create(
            NewUser {
                username: text("username").unwrap_or_default(),
                password: p.get("password").unwrap_or_default().to_string(),
                name: text("name"),
                email: text("email"),
            }
            .validate()?,
        )),
        Some("rights") => Ok(Change::Rights {
            user_id: user_id(p)?,
            rights: SetRights {
                rights: p
                    .get("rights")
                    .unwrap_or_default()
                    .split([' ', ','])
                    .filter(|r| !r.is_empty())
                    .map(str::to_string)
                    .collect(),
            },
        }),
        Some("disable") => Ok(Change::Disable {
            user_id: user_id(p)?,
            disabled: true,
        }),
        Some("enable") => Ok(Change::Disable {
            user_id: user_id(p)?,
            disabled: false,
        }),
        Some("revoke") => Ok(Change::Revoke {
            user_id: user_id(p)?,
        }),
        Some("end_sessions") => Ok(Change::EndSessions {
            user_id: user_id(p)?,
        }),
        Some("end_session") => Ok(Change::EndSession {
            user_id: user_id(p)?,
            sid: p
                .get("sid")
                .filter(|s| {
                    s.starts_with(session::SID_PREFIX) && crate::oauth::ids::id_is_acceptable(s)
                })
                .map(str::to_string)
                .ok_or_else(|| OAuthError::invalid_request("sid is missing or not a session id"))?,
        }),
        _ => Err(OAuthError::invalid_request("unknown action")),
    }
}

/// Disabling: the flag (the claim: the person must exist), everything of theirs revoked, and
/// the audit row; enabling clears the flag.
pub fn disable(user_id: &str, disabled: bool, now: u64) -> Writes {
    let mut w = Writes::new(Claim::SetDisabled {
        user_id: user_id.to_string(),
        at: disabled.then_some(now),
    });
    if disabled {
        w.rows = revoke::everything_of_user(user_id, now).rows;
    }
    w.with(Write::Audit(AuditEvent {
        user_id: Some(user_id.to_string()),
        ..AuditEvent::new(
            now,
            if disabled {
                super::event::USER_DISABLED
            } else {
                super::event::USER_ENABLED
            },
        )
    }))
}

/// Ending every sign-in session of a person: the account page's "sign out everywhere"
/// ([`session::end_everywhere`]); the caller adds the acting person.
pub fn end_sessions(user_id: &str, now: u64) -> Writes {
    session::end_everywhere(user_id, now)
}

/// Ending one session of a person (by its public id; another person's id ends nothing).
pub fn end_session(user_id: &str, sid: &str, now: u64) -> Writes {
    let mut w = Writes::none().with(Write::EndSessionSid {
        user_id: user_id.to_string(),
        sid: sid.to_string(),
    });
    w.audit(AuditEvent {
        user_id: Some(user_id.to_string()),
        detail: Some(ENDED_BY_ADMIN),
        ..AuditEvent::new(now, crate::oauth::effects::event::SESSIONS_ENDED)
    });
    w
}

/// The sessions of `sessions` still live at `now` (neither past their absolute end nor idle).
pub fn live(sessions: Vec<SessionListRow>, now: u64) -> Vec<SessionListRow> {
    sessions
        .into_iter()
        .filter(|s| s.expires_at > now && s.last_seen_at.saturating_add(session::IDLE_TTL) > now)
        .collect()
}

/// A person's live sign-in sessions, with "end all sessions".
pub fn render_sessions(user_id: &str, sessions: &[SessionListRow], csrf: &str) -> String {
    let id = escape(user_id);
    let mut out = format!(
        "<section class=\"box\" id=\"person-sessions\" data-user=\"{id}\"><h2>Sign-in sessions of <code>{id}</code></h2>\
<table id=\"sessions\"><tr><th>Signed in</th><th>Last seen</th><th>Ends</th><th>Browser</th><th>Methods</th><th></th></tr>"
    );
    for s in sessions {
        out.push_str(&format!(
            "<tr class=\"session\" data-sid=\"{sid}\"><td>{created}</td><td>{seen}</td><td>{ends}</td><td class=\"agent\">{agent}</td><td>{amr}</td><td>{end}</td></tr>",
            sid = escape(&s.sid),
            created = when(s.created_at),
            seen = when(s.last_seen_at),
            ends = when(s.expires_at),
            agent = escape(s.user_agent.as_deref().unwrap_or("unknown browser")),
            amr = escape(&s.amr),
            end = form(
                "people",
                "end_session",
                csrf,
                &format!(
                    "{}{}<button type=\"submit\" class=\"end-session\">End</button>",
                    crate::oauth::html::hidden("user_id", user_id),
                    crate::oauth::html::hidden("sid", &s.sid)
                ),
                "inline",
            ),
        ));
    }
    out.push_str("</table>");
    if sessions.is_empty() {
        out.push_str("<p class=\"muted\" id=\"no-sessions\">No live sign-in session.</p>");
    } else {
        out.push_str(&form(
            "people",
            "end_sessions",
            csrf,
            &format!(
                "{}<button type=\"submit\" id=\"end-sessions\">End all sessions</button>",
                crate::oauth::html::hidden("user_id", user_id)
            ),
            "inline",
        ));
    }
    out.push_str("</section>");
    out
}

/// Setting rights ([`admin::set_rights`]).
pub fn set_rights(user_id: &str, rights: &SetRights, now: u64) -> Result<Writes, OAuthError> {
    admin::set_rights(user_id, rights, now)
}

/// The People view.
pub fn render(rows: &[PersonRow], search: &str, csrf: &str, created: Option<&str>) -> String {
    let mut out = format!(
        "<form method=\"get\" action=\"/console/people\" class=\"box\"><label for=\"q\">Search</label>\
<input id=\"q\" name=\"q\" value=\"{}\" placeholder=\"id, username, name or email\"><button type=\"submit\">Search</button></form>",
        escape(search)
    );
    if let Some(id) = created {
        out.push_str(&format!(
            "<p class=\"ok\" id=\"created\">Created <code>{}</code>.</p>",
            escape(id)
        ));
    }
    out.push_str(&format!(
        "<details class=\"box\"><summary>Create a person</summary>{}</details>",
        form(
            "people",
            "create",
            csrf,
            "<label>Username <input name=\"username\" id=\"new-username\" required maxlength=\"64\"></label>\
<label>Password <input type=\"password\" name=\"password\" id=\"new-password\" required minlength=\"8\" autocomplete=\"new-password\"></label>\
<label>Name <input name=\"name\" maxlength=\"100\"></label><label>Email <input type=\"email\" name=\"email\" maxlength=\"254\"></label>\
<button type=\"submit\" id=\"create-person\">Create</button>",
            ""
        )
    ));
    out.push_str(
        "<table id=\"people\"><tr><th>Person</th><th>Rights</th><th>State</th><th>Sessions</th><th>Created</th><th>Actions</th></tr>",
    );
    for r in rows {
        let id = escape(&r.id);
        let hidden_id = crate::oauth::html::hidden("user_id", &r.id);
        let state = match (r.disabled_at, r.revoked_before) {
            (Some(at), _) => format!("<span class=\"err\">disabled {}</span>", when(at)),
            (None, Some(at)) => format!("revoked {}", when(at)),
            (None, None) => "active".to_string(),
        };
        let toggle = if r.disabled_at.is_some() {
            form(
                "people",
                "enable",
                csrf,
                &format!("{hidden_id}<button type=\"submit\">Enable</button>"),
                "inline",
            )
        } else {
            form(
                "people",
                "disable",
                csrf,
                &format!("{hidden_id}<button type=\"submit\">Disable</button>"),
                "inline",
            )
        };
        out.push_str(&format!(
            "<tr data-user=\"{id}\" data-username=\"{un}\"><td><b>{un}</b><br><code>{id}</code><br><span class=\"muted\">{name} {email}</span></td>\
<td>{rights_form}</td><td class=\"state\">{state}</td><td>{fam} at apps<br><a class=\"sessions\" href=\"/console/people?sessions={id}\">sign-in sessions</a></td><td>{created}</td><td>{toggle}{revoke}</td></tr>",
            un = escape(&r.username),
            name = escape(r.name.as_deref().unwrap_or("")),
            email = escape(r.email.as_deref().unwrap_or("")),
            rights_form = form(
                "people",
                "rights",
                csrf,
                &format!(
                    "{hidden_id}<input name=\"rights\" size=\"28\" value=\"{}\" aria-label=\"rights of {un}\"><button type=\"submit\">Set rights</button>",
                    escape(&r.rights),
                    un = escape(&r.username)
                ),
                "inline"
            ),
            fam = r.families,
            created = when(r.created_at),
            revoke = form(
                "people",
                "revoke",
                csrf,
                &format!("{hidden_id}<button type=\"submit\" class=\"revoke\">Revoke everything</button>"),
                "inline"
            ),
        ));
    }
    out.push_str("</table>");
    if rows.is_empty() {
        out.push_str("<p class=\"muted\">No one matches.</p>");
    }
    out
}

/// The notice after a change.
pub fn done(change: &Change) -> Notice {
    Notice::Done(match change {
        Change::Create(u) => format!("Created {}.", u.username),
        Change::Rights { user_id, .. } => format!("Rights of {user_id} set."),
        Change::Disable {
            user_id,
            disabled: true,
        } => format!("{user_id} disabled; everything of theirs revoked."),
        Change::Disable { user_id, .. } => format!("{user_id} enabled."),
        Change::Revoke { user_id } => format!("Everything of {user_id} revoked."),
        Change::EndSessions { user_id } => format!("Every sign-in session of {user_id} ended."),
        Change::EndSession { user_id, sid } => format!("Session {sid} of {user_id} ended."),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(s: &str) -> Params {
        Params::from_form(s.as_bytes()).unwrap()
    }

    #[test]
    fn forms_parse_into_checked_changes() {
        assert!(matches!(
            parse(&params("action=create&username=ada&password=long+enough+pw")),
            Ok(Change::Create(u)) if u.username == "ada"
        ));
        assert!(parse(&params("action=create&username=ada&password=short")).is_err());
        match parse(&params(
            "action=rights&user_id=u_1&rights=console%3Aadmin+api%3Aw,api%3Ax",
        )) {
            Ok(Change::Rights { user_id, rights }) => {
                assert_eq!(user_id, "u_1");
                assert_eq!(rights.rights, ["console:admin", "api:w", "api:x"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(&params("action=revoke&user_id=a%20b")).is_err());
        assert!(parse(&params("action=drop&user_id=u")).is_err());
        assert!(parse(&params("user_id=u")).is_err());
    }

    #[test]
    fn ending_sessions_is_sign_out_everywhere_by_the_admin() {
        match parse(&params("action=end_sessions&user_id=u_1")) {
            Ok(Change::EndSessions { user_id }) => assert_eq!(user_id, "u_1"),
            other => panic!("{other:?}"),
        }
        assert!(parse(&params("action=end_sessions&user_id=a%20b")).is_err());
        match parse(&params("action=end_session&user_id=u_1&sid=s_abc")) {
            Ok(Change::EndSession { user_id, sid }) => {
                let w = end_session(&user_id, &sid, 9).by("admin1");
                assert_eq!(
                    w.rows.first(),
                    Some(&Write::EndSessionSid {
                        user_id: "u_1".into(),
                        sid: "s_abc".into()
                    })
                );
                assert_eq!(w.audits().next().unwrap().detail, Some(ENDED_BY_ADMIN));
            }
            other => panic!("{other:?}"),
        }
        for bad in ["sid=abc", "sid=s_a%20b", ""] {
            let q = format!("action=end_session&user_id=u_1&{bad}");
            assert!(parse(&params(&q)).is_err(), "{q}");
        }
        let w = end_sessions("u_1", 9).by("admin1");
        assert!(w.rows.iter().any(|r| matches!(
            r,
            Write::EndSessionsOf { user_id } if user_id == "u_1"
        )));
        let a = w.audits().next().unwrap();
        assert_eq!(
            (a.event, a.user_id.as_deref(), a.actor.as_deref()),
            (
                crate::oauth::effects::event::SESSIONS_ENDED,
                Some("u_1"),
                Some("admin1")
            )
        );
    }

    #[test]
    fn sessions_list_only_live_ones_escaped() {
        let s = |sid: &str, seen: u64, ends: u64| SessionListRow {
            sid: sid.into(),
            amr: "pwd".into(),
            created_at: 10,
            last_seen_at: seen,
            expires_at: ends,
            user_agent: Some("<b>Browser".into()),
        };
        let now = 100_000;
        let live = live(
            vec![
                s("s_live", now - 5, now + 5),
                s("s_old", now - session::IDLE_TTL, now + 5),
                s("s_end", now, now),
            ],
            now,
        );
        assert_eq!(live.len(), 1);
        let html = render_sessions("u_1", &live, "tok");
        assert!(html.contains("data-sid=\"s_live\"") && html.contains("&lt;b&gt;Browser"));
        assert!(html.contains("end_sessions") && html.contains("tok"));
        assert!(render_sessions("u_1", &[], "tok").contains("no-sessions"));
    }

    #[test]
    fn disabling_revokes_everything_under_the_flag_claim() {
        let w = disable("u1", true, 9).by("admin1");
        assert_eq!(
            w.claim,
            Claim::SetDisabled {
                user_id: "u1".into(),
                at: Some(9)
            }
        );
        assert!(
            w.rows
                .iter()
                .any(|r| matches!(r, Write::RevokeFamiliesOf { .. }))
        );
        assert!(w.audits().all(|a| a.actor.as_deref() == Some("admin1")));
        assert!(
            w.audits()
                .any(|a| a.event == super::super::event::USER_DISABLED)
        );
        let e = disable("u1", false, 9);
        assert_eq!(e.rows.len(), 1);
    }

    #[test]
    fn the_view_escapes_what_people_typed() {
        let row = PersonRow {
            id: "u_1".into(),
            username: "<i>x".into(),
            name: Some("<script>".into()),
            email: None,
            rights: "console:admin".into(),
            disabled_at: Some(5),
            revoked_before: None,
            families: 2,
            created_at: 0,
        };
        let html = render(&[row], "<q>", "tok", None);
        assert!(!html.contains("<script>") && !html.contains("<i>x") && !html.contains("<q>"));
        assert!(html.contains(">Enable<") && html.contains("value=\"console:admin\""));
    }
}
