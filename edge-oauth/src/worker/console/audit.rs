//! The Audit view ([`crate::oauth::console::audit`]).

use super::Ctx;
use crate::oauth::params::Params;
use crate::worker::http::Reply;

/// `GET /console/audit`.
pub(super) async fn get(c: &Ctx, _q: &Params) -> Result<Reply, Reply> {
    Ok(c.page(200, "audit", None, "<p>Coming.</p>"))
}
