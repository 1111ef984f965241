//! `POST /relay/heartbeat`: a relay says where it is, how to reach it, how loaded it is and
//! whether it is draining. One upsert per heartbeat; a relay id stays with the client that
//! first sent it (another relay client cannot take its place in callers' lists).

use serde::Deserialize;

use super::relay_id_ok;
use super::sql::{MAX_EXACT, Statement};
use crate::oauth::error::OAuthError;

/// A heartbeat as sent. Fields a newer relay adds are ignored.
#[derive(Clone, Debug, Deserialize)]
pub struct Heartbeat {
    /// The relay's name.
    pub relay_id: String,
    /// `turn:`/`turns:` URLs clients reach it by.
    pub urls: Vec<String>,
    /// A region name.
    #[serde(default)]
    pub region: Option<String>,
    /// Degrees.
    #[serde(default)]
    pub latitude: Option<f64>,
    /// Degrees.
    #[serde(default)]
    pub longitude: Option<f64>,
    /// Allocations now.
    pub allocations: u64,
    /// Allocations it is sized for.
    pub capacity: u64,
    /// Allocations / capacity.
    pub load: f64,
    /// True once it takes no new allocations.
    #[serde(default)]
    pub draining: bool,
    /// Its software version.
    #[serde(default)]
    pub version: Option<String>,
    /// Where it is in the revocation feed.
    #[serde(default)]
    pub revocation_cursor: Option<u64>,
    /// Usage records waiting in its spool.
    #[serde(default)]
    pub usage_backlog: Option<u64>,
    /// Usage records it had to drop.
    #[serde(default)]
    pub usage_dropped: Option<u64>,
}

/// A URL a caller may be handed: `turn:` or `turns:`, printable, bounded.
pub fn url_ok(u: &str) -> bool {
    (u.starts_with("turn:") || u.starts_with("turns:"))
        && u.len() <= 256
        && u.bytes().all(|b| b.is_ascii_graphic())
}

fn bad(d: &'static str) -> OAuthError {
    OAuthError::invalid_request(d)
}

impl Heartbeat {
    /// Parses and checks a body.
    pub fn parse(body: &[u8]) -> Result<Heartbeat, OAuthError> {
        let hb: Heartbeat = serde_json::from_slice(body)
            .map_err(|_| bad("the heartbeat does not match the expected fields"))?;
        if !relay_id_ok(&hb.relay_id) {
            return Err(bad("relay_id must be 1 to 64 of A-Z a-z 0-9 . _ - @"));
        }
        if hb.urls.is_empty() || hb.urls.len() > 16 || !hb.urls.iter().all(|u| url_ok(u)) {
            return Err(bad("urls must be 1 to 16 turn: or turns: URLs"));
        }
        match (hb.latitude, hb.longitude) {
            (None, None) => {}
            (Some(lat), Some(lon))
                if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) => {}
            _ => return Err(bad("latitude and longitude go together, in degrees")),
        }
        if hb.region.as_ref().is_some_and(|r| r.len() > 64)
            || hb.version.as_ref().is_some_and(|v| v.len() > 64)
        {
            return Err(bad("region and version are at most 64 characters"));
        }
        let counters = [
            Some(hb.allocations),
            Some(hb.capacity),
            hb.revocation_cursor,
            hb.usage_backlog,
            hb.usage_dropped,
        ];
        if hb.capacity == 0 || counters.iter().flatten().any(|n| *n > MAX_EXACT) {
            return Err(bad("counters must be whole numbers, capacity at least 1"));
        }
        if !hb.load.is_finite() || hb.load < 0.0 {
            return Err(bad("load must be a number of at least 0"));
        }
        Ok(hb)
    }

    /// The upsert, owned by `client_id`: it returns the relay id only when the row is (now)
    /// this client's; no row back means another client holds the id.
    pub fn upsert(&self, client_id: &str, now: u64) -> Statement {
        let urls = serde_json::to_string(&self.urls).unwrap_or_else(|_| "[]".into());
        Statement::new(
            "INSERT INTO relays (relay_id, client_id, urls, region, latitude, longitude, allocations, capacity, load, \
             draining, version, revocation_cursor, usage_backlog, usage_dropped, first_seen, last_seen) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15) \
             ON CONFLICT (relay_id) DO UPDATE SET urls = excluded.urls, region = excluded.region, \
             latitude = excluded.latitude, longitude = excluded.longitude, allocations = excluded.allocations, \
             capacity = excluded.capacity, load = excluded.load, draining = excluded.draining, \
             version = excluded.version, revocation_cursor = excluded.revocation_cursor, \
             usage_backlog = excluded.usage_backlog, usage_dropped = excluded.usage_dropped, \
             last_seen = excluded.last_seen \
             WHERE relays.client_id = excluded.client_id RETURNING relay_id",
            vec![
                (&self.relay_id).into(),
                client_id.into(),
                urls.as_str().into(),
                (&self.region).into(),
                self.latitude.into(),
                self.longitude.into(),
                self.allocations.into(),
                self.capacity.into(),
                self.load.into(),
                u64::from(self.draining).into(),
                (&self.version).into(),
                self.revocation_cursor.into(),
                self.usage_backlog.into(),
                self.usage_dropped.into(),
                now.into(),
            ],
        )
    }
}

/// Another client holds this relay id.
pub fn taken() -> OAuthError {
    bad("this relay_id belongs to another relay client").with_status(409)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::control::sql::tests::well_formed;

    const OK: &str = r#"{"relay_id":"fra-1","urls":["turn:203.0.113.1:3478?transport=udp"],"region":"eu","latitude":50.1,"longitude":8.7,
        "allocations":3,"capacity":100,"load":0.03,"draining":false,"version":"0.1.0","revocation_cursor":7,"usage_backlog":0,"usage_dropped":0,"later":"ignored"}"#;

    #[test]
    fn parses_and_upserts() {
        let hb = Heartbeat::parse(OK.as_bytes()).unwrap();
        assert_eq!((hb.relay_id.as_str(), hb.allocations), ("fra-1", 3));
        let s = hb.upsert("relay-client", 1000);
        well_formed(std::slice::from_ref(&s));
        assert!(
            s.sql
                .contains("WHERE relays.client_id = excluded.client_id RETURNING relay_id")
        );
    }

    #[test]
    fn refuses_what_a_caller_must_not_be_handed() {
        let v: serde_json::Value = serde_json::from_str(OK).unwrap();
        let with = |k: &str, x: serde_json::Value| {
            let mut v = v.clone();
            v[k] = x;
            Heartbeat::parse(v.to_string().as_bytes())
        };
        for (k, x) in [
            ("relay_id", serde_json::json!("has space")),
            ("urls", serde_json::json!([])),
            ("urls", serde_json::json!(["http://evil.example"])),
            ("urls", serde_json::json!(["turn:a b"])),
            ("latitude", serde_json::json!(91.0)),
            ("longitude", serde_json::Value::Null),
            ("capacity", serde_json::json!(0)),
            ("allocations", serde_json::json!(-1)),
            ("load", serde_json::json!(-0.5)),
            ("region", serde_json::json!("x".repeat(65))),
        ] {
            let e = with(k, x.clone()).unwrap_err();
            assert_eq!(e.status, 400, "{k}={x}");
        }
        assert!(Heartbeat::parse(b"not json").is_err());
        assert_eq!(taken().status, 409);
    }
}
