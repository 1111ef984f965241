//! The Apps view ([`crate::oauth::console::apps`]).

use super::{Ctx, bare};
use crate::oauth::console::layout::Notice;
use crate::oauth::params::Params;
use crate::worker::http::Reply;

/// `GET /console/apps`.
pub(super) async fn get(
    c: &Ctx,
    notice: Option<Notice>,
    _secret: Option<(String, String)>,
) -> Result<Reply, Reply> {
    Ok(c.page(200, "apps", notice.as_ref(), "<p>Coming.</p>"))
}

/// `POST /console/apps`.
pub(super) async fn post(_c: &Ctx, _form: &Params) -> Result<Reply, Reply> {
    Err(bare(404, "Not found", "No such action."))
}
