//! The People view ([`crate::oauth::console::people`]).

use worker::Env;

use super::{Ctx, apply, server_page};
use crate::oauth::admin;
use crate::oauth::console::layout::Notice;
use crate::oauth::console::people::{self, Change, LIST_LIMIT};
use crate::oauth::control::revoke;
use crate::oauth::ids;
use crate::oauth::params::Params;
use crate::store::{console as rows, reads};
use crate::worker::http::{Reply, now};
use crate::worker::pages::hash;
use crate::worker::{env, store};

/// `GET /console/people?q=..` (`&sessions=USER_ID`: that person's sign-in sessions above).
pub(super) async fn get(c: &Ctx, q: &Params, notice: Option<Notice>) -> Result<Reply, Reply> {
    view(
        c,
        q.get("q").unwrap_or_default().trim(),
        q.get("sessions"),
        notice,
    )
    .await
}

async fn view(
    c: &Ctx,
    search: &str,
    sessions_of: Option<&str>,
    notice: Option<Notice>,
) -> Result<Reply, Reply> {
    let status = match &notice {
        Some(Notice::Refused(_)) => 400,
        _ => 200,
    };
    let mut body = String::new();
    if let Some(user_id) = sessions_of.filter(|id| ids::id_is_acceptable(id)) {
        let now = now();
        let list = store::all(&c.db, &reads::sessions_of(user_id, now))
            .await
            .map_err(|e| server_page(&e))?;
        body.push_str(&people::render_sessions(
            user_id,
            &people::live(list, now),
            &c.csrf,
        ));
    }
    let list = store::all(&c.db, &rows::people(search, LIST_LIMIT))
        .await
        .map_err(|e| server_page(&e))?;
    body.push_str(&people::render(&list, search, &c.csrf, None));
    Ok(c.page(status, "people", notice.as_ref(), &body))
}

/// `POST /console/people`.
pub(super) async fn post(_env: &Env, c: &Ctx, form: &Params) -> Result<Reply, Reply> {
    let none = Params::from_form(b"").map_err(|e| server_page(&e))?;
    let change = match people::parse(form) {
        Ok(ch) => ch,
        Err(e) => return get(c, &none, Some(Notice::Refused(e.description.to_string()))).await,
    };
    let now = now();
    let actor = c.admin.user_id.as_str();
    let writes = match &change {
        Change::Create(u) => {
            let id = ids::new_id("u_").map_err(|e| server_page(&e))?;
            let h = hash(&u.password, c.cfg.password_iterations)
                .await
                .map_err(|e| server_page(&e))?;
            admin::create_user(u, &id, h, now)
        }
        Change::Rights { user_id, rights } => match people::set_rights(user_id, rights, now) {
            Ok(w) => w,
            Err(e) => return get(c, &none, Some(Notice::Refused(e.description.to_string()))).await,
        },
        Change::Disable { user_id, disabled } => {
            forget_apps_of(c, user_id, *disabled).await?;
            people::disable(user_id, *disabled, now)
        }
        Change::Revoke { user_id } => {
            forget_apps_of(c, user_id, true).await?;
            revoke::everything_of_user(user_id, now)
        }
        Change::EndSessions { user_id } => people::end_sessions(user_id, now),
        Change::EndSession { user_id, sid } => people::end_session(user_id, sid, now),
    };
    if apply(c, &writes.by(actor)).await? {
        let location = match &change {
            Change::EndSessions { user_id } | Change::EndSession { user_id, .. } => {
                format!("/console/people?sessions={user_id}")
            }
            _ => "/console/people".to_string(),
        };
        return super::done(c, "people", &location, people::done(&change), None);
    }
    let notice = if matches!(change, Change::Create(_)) {
        Notice::Refused("That username is taken.".into())
    } else {
        Notice::Refused("No such person.".into())
    };
    let sessions_of = match &change {
        Change::EndSessions { user_id } | Change::EndSession { user_id, .. } => {
            Some(user_id.as_str())
        }
        _ => None,
    };
    view(c, "", sessions_of, Some(notice)).await
}

/// Revoking everything of a person deletes the apps they registered: this isolate forgets
/// them at once (others within the client cache's lifetime).
async fn forget_apps_of(c: &Ctx, user_id: &str, revoking: bool) -> Result<(), Reply> {
    if revoking {
        for app in store::clients_owned_by(&c.db, user_id)
            .await
            .map_err(|e| server_page(&e))?
        {
            env::with_clients(|cache| cache.forget(&app.id));
        }
    }
    Ok(())
}
