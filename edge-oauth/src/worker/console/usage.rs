//! The Usage view ([`crate::oauth::console::usage`]).

use super::{Ctx, bare};
use crate::oauth::params::Params;
use crate::worker::http::Reply;

/// `GET /console/usage`.
pub(super) async fn get(c: &Ctx, _q: &Params) -> Result<Reply, Reply> {
    Ok(c.page(200, "usage", None, "<p>Coming.</p>"))
}

/// `GET /console/usage.csv`.
pub(super) async fn csv(_c: &Ctx, _q: &Params) -> Result<Reply, Reply> {
    Err(bare(404, "Not found", "Not yet."))
}
