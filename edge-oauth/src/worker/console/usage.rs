//! The Usage view and its CSV export ([`crate::oauth::console::usage`]).

use serde_json::Value;

use super::{Ctx, server_page};
use crate::oauth::console::layout::Notice;
use crate::oauth::console::usage::{self, View};
use crate::oauth::params::Params;
use crate::worker::http::{Reply, now};
use crate::worker::store;

async fn rows(c: &Ctx, v: &View) -> Result<Vec<Value>, Reply> {
    let (grouped, _) = v.query().report();
    store::all(&c.db, &grouped)
        .await
        .map_err(|e| server_page(&e))
}

/// `GET /console/usage?from=&to=&per=`.
pub(super) async fn get(c: &Ctx, q: &Params) -> Result<Reply, Reply> {
    let v = match View::parse(q, now()) {
        Ok(v) => v,
        Err(e) => {
            let fallback =
                View::parse(&Params::from_form(b"").map_err(|e| server_page(&e))?, now())
                    .map_err(|e| server_page(&e))?;
            let r = rows(c, &fallback).await?;
            return Ok(c.page(
                400,
                "usage",
                Some(&Notice::Refused(e.description.to_string())),
                &usage::render(&fallback, &r),
            ));
        }
    };
    let r = rows(c, &v).await?;
    Ok(c.page(200, "usage", None, &usage::render(&v, &r)))
}

/// `GET /console/usage.csv?from=&to=&per=`.
pub(super) async fn csv(c: &Ctx, q: &Params) -> Result<Reply, Reply> {
    let v = View::parse(q, now()).map_err(|e| super::bare(400, "Bad request", &e.description))?;
    let r = rows(c, &v).await?;
    Ok(Reply::Csv(usage::csv_name(&v), usage::csv(&v, &r)))
}
