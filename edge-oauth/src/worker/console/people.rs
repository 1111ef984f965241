//! The People view ([`crate::oauth::console::people`]).

use worker::Env;

use super::{Ctx, apply, server_page};
use crate::oauth::admin;
use crate::oauth::console::layout::Notice;
use crate::oauth::console::people::{self, Change, LIST_LIMIT};
use crate::oauth::control::revoke;
use crate::oauth::ids;
use crate::oauth::params::Params;
use crate::store::console as rows;
use crate::worker::http::{Reply, now};
use crate::worker::pages::hash;
use crate::worker::{env, store};

/// `GET /console/people?q=..`.
pub(super) async fn get(c: &Ctx, q: &Params, notice: Option<Notice>) -> Result<Reply, Reply> {
    let search = q.get("q").unwrap_or_default().trim();
    let status = match &notice {
        Some(Notice::Refused(_)) => 400,
        _ => 200,
    };
    let list = store::all(&c.db, &rows::people(search, LIST_LIMIT))
        .await
        .map_err(|e| server_page(&e))?;
    Ok(c.page(
        status,
        "people",
        notice.as_ref(),
        &people::render(&list, search, &c.csrf, None),
    ))
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
    };
    let done = apply(c, &writes.by(actor)).await?;
    let notice = if done {
        people::done(&change)
    } else if matches!(change, Change::Create(_)) {
        Notice::Refused("That username is taken.".into())
    } else {
        Notice::Refused("No such person.".into())
    };
    get(c, &none, Some(notice)).await
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
