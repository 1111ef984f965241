//! The Apps view ([`crate::oauth::console::apps`]).

use super::{Ctx, apply, server_page};
use crate::oauth::admin::SecretPlan;
use crate::oauth::console::apps::{self, Change, Shown};
use crate::oauth::console::layout::Notice;
use crate::oauth::ids;
use crate::oauth::params::Params;
use crate::store::reads;
use crate::store::reads::ClientRow;
use crate::worker::http::{Reply, now};
use crate::worker::pages::hash;
use crate::worker::{env, store};

/// `GET /console/apps` (also the answer to a post, with its notice and a secret to show once).
pub(super) async fn get(
    c: &Ctx,
    notice: Option<Notice>,
    secret: Option<(String, String)>,
) -> Result<Reply, Reply> {
    let rows: Vec<ClientRow> = store::all(&c.db, &reads::clients())
        .await
        .map_err(|e| server_page(&e))?;
    let status = match &notice {
        Some(Notice::Refused(_)) => 400,
        _ => 200,
    };
    let shown = secret.as_ref().map(|(id, s)| Shown { id, secret: s });
    Ok(c.page(
        status,
        "apps",
        notice.as_ref(),
        &apps::render(&rows, &c.csrf, shown),
    ))
}

/// `POST /console/apps`.
pub(super) async fn post(c: &Ctx, form: &Params) -> Result<Reply, Reply> {
    let change = match apps::parse(form) {
        Ok(ch) => ch,
        Err(e) => return get(c, Some(Notice::Refused(e.description.to_string())), None).await,
    };
    let now = now();
    let fresh_secret = || async {
        let s = ids::new_client_secret().map_err(|e| server_page(&e))?;
        let h = hash(&s, c.cfg.client_secret_iterations)
            .await
            .map_err(|e| server_page(&e))?;
        Ok::<(String, String), Reply>((s, h))
    };
    let (id, writes, secret) = match &change {
        Change::Create(v) => {
            let id = ids::new_id("c_").map_err(|e| server_page(&e))?;
            let (secret, h) = match v.secret {
                SecretPlan::None => (None, None),
                _ => {
                    let (s, h) = fresh_secret().await?;
                    (Some(s), Some(h))
                }
            };
            let w = v.writes(&id, h, now);
            (id, w, secret)
        }
        Change::Rotate(id) => {
            let (s, h) = fresh_secret().await?;
            (id.clone(), apps::rotate(id, h, now), Some(s))
        }
        Change::RedirectUris { id, uris } => (id.clone(), apps::redirect_uris(id, uris, now), None),
        Change::Resources { id, resources } => {
            (id.clone(), apps::resources(id, resources, now), None)
        }
        Change::Delete(id) => (id.clone(), apps::delete(id, now), None),
    };
    if !apply(c, &writes.by(&c.admin.user_id)).await? {
        let why = match change {
            Change::Rotate(_) => "No such app, or it has no secret (a public app).",
            _ => "No such app.",
        };
        return get(c, Some(Notice::Refused(why.into())), None).await;
    }
    // This isolate forgets its cached copy at once (others within the cache's lifetime).
    env::with_clients(|cache| cache.forget(&id));
    let notice = apps::done(&change, &id);
    super::done(
        c,
        "apps",
        "/console/apps",
        notice,
        secret.as_deref().map(|s| (id.as_str(), s)),
    )
}
