//! The Audit view ([`crate::oauth::console::audit`]).

use super::{Ctx, server_page};
use crate::oauth::console::audit::{self, PAGE};
use crate::oauth::console::layout::Notice;
use crate::oauth::params::Params;
use crate::store::console as rows;
use crate::worker::http::Reply;
use crate::worker::store;

/// `GET /console/audit?person=&app=&token=&kind=&before=`.
pub(super) async fn get(c: &Ctx, q: &Params) -> Result<Reply, Reply> {
    let ((filter, before), notice) = match audit::parse(q) {
        Ok(p) => (p, None),
        Err(e) => (
            (Default::default(), None),
            Some(Notice::Refused(e.description.to_string())),
        ),
    };
    let mut list = store::all(&c.db, &rows::audit(&filter, before, PAGE + 1))
        .await
        .map_err(|e| server_page(&e))?;
    let more = list.len() as u64 > PAGE;
    list.truncate(PAGE as usize);
    let status = if notice.is_some() { 400 } else { 200 };
    Ok(c.page(
        status,
        "audit",
        notice.as_ref(),
        &audit::render(&filter, &list, more),
    ))
}
