//! The Relays view ([`crate::oauth::console::relays`]).

use super::{Ctx, apply, server_page};
use crate::oauth::console::layout::Notice;
use crate::oauth::console::relays;
use crate::oauth::params::Params;
use crate::store::{console as rows, reads};
use crate::worker::http::{Reply, now};
use crate::worker::store;

/// `GET /console/relays`.
pub(super) async fn get(c: &Ctx, notice: Option<Notice>) -> Result<Reply, Reply> {
    let list = store::all(&c.db, &rows::relays())
        .await
        .map_err(|e| server_page(&e))?;
    let head = store::first(&c.db, &reads::feed_head())
        .await
        .map_err(|e| server_page(&e))?
        .map(|h| h.head)
        .unwrap_or(0);
    let stale_after = crate::worker::control::control(&c.env, &c.cfg)
        .map_err(|e| server_page(&e))?
        .stale_after;
    let status = match &notice {
        Some(Notice::Refused(_)) => 400,
        _ => 200,
    };
    Ok(c.page(
        status,
        "relays",
        notice.as_ref(),
        &relays::render(&list, head, now(), stale_after, &c.csrf),
    ))
}

/// `POST /console/relays`: drain or undrain.
pub(super) async fn post(c: &Ctx, form: &Params) -> Result<Reply, Reply> {
    let d = match relays::parse(form) {
        Ok(d) => d,
        Err(e) => return get(c, Some(Notice::Refused(e.description.to_string()))).await,
    };
    let owner = store::first(&c.db, &reads::relay_owner(&d.relay_id))
        .await
        .map_err(|e| server_page(&e))?;
    let w = relays::drain(&d, owner.as_ref().map(|o| o.client_id.as_str()), now());
    if !apply(c, &w.by(&c.admin.user_id)).await? {
        return get(c, Some(Notice::Refused("No such relay.".into()))).await;
    }
    super::done(c, "relays", "/console/relays", relays::done(&d), None)
}
