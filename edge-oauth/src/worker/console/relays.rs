//! The Relays view ([`crate::oauth::console::relays`]).

use super::{Ctx, bare};
use crate::oauth::console::layout::Notice;
use crate::oauth::params::Params;
use crate::worker::http::Reply;

/// `GET /console/relays`.
pub(super) async fn get(c: &Ctx, notice: Option<Notice>) -> Result<Reply, Reply> {
    Ok(c.page(200, "relays", notice.as_ref(), "<p>Coming.</p>"))
}

/// `POST /console/relays`.
pub(super) async fn post(_c: &Ctx, _form: &Params) -> Result<Reply, Reply> {
    Err(bare(404, "Not found", "No such action."))
}
