//! `POST /relay/heartbeat`: a relay says where it is, how to reach it, how loaded it is and
//! whether it is draining. One upsert per heartbeat; a relay id stays with the client that
//! first sent it (another relay client cannot take its place in callers' lists). The reply
//! tells the relay to drain when the console asked for it ([`answer`]).

use serde::Deserialize;
use serde_json::{Value, json};

use super::relay_id_ok;
pub use super::rows::Heartbeat;
use crate::oauth::effects::{Claim, Writes};
use crate::oauth::error::OAuthError;
use crate::store::MAX_EXACT;

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

    /// What the heartbeat of relay client `client_id` writes: its upsert, a claim that fails
    /// when another relay client holds the relay id ([`taken`]).
    pub fn writes(self, client_id: &str, now: u64) -> Writes {
        Writes::new(Claim::Heartbeat {
            beat: Box::new(self),
            client_id: client_id.to_string(),
            now,
        })
    }
}

/// What the heartbeat's upsert returns: the relay's row, when it is this client's.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Upserted {
    /// The relay.
    pub relay_id: String,
    /// When the console asked this relay to drain (unix seconds), if it did.
    pub drain_requested_at: Option<u64>,
}

/// The reply to a heartbeat: how long a heartbeat counts, and `drain: true` while the console
/// asks the relay to drain (the relay then starts the drain SIGUSR1 starts; a relay cannot
/// leave a drain, so `drain: false` after an undrain only stops asking). `d1` is the
/// request's D1 cost.
pub fn answer(row: Option<&Upserted>, stale_after: u64, d1: Value) -> Value {
    let drain = row.is_some_and(|r| r.drain_requested_at.is_some());
    json!({ "stale_after": stale_after, "drain": drain, "d1": d1 })
}

/// Another client holds this relay id.
pub fn taken() -> OAuthError {
    bad("this relay_id belongs to another relay client").with_status(409)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::writes::tests::well_formed;

    const OK: &str = r#"{"relay_id":"fra-1","urls":["turn:203.0.113.1:3478?transport=udp"],"region":"eu","latitude":50.1,"longitude":8.7,
        "allocations":3,"capacity":100,"load":0.03,"draining":false,"version":"0.1.0","revocation_cursor":7,"usage_backlog":0,"usage_dropped":0,"later":"ignored"}"#;

    #[test]
    fn parses_and_upserts() {
        let hb = Heartbeat::parse(OK.as_bytes()).unwrap();
        assert_eq!((hb.relay_id.as_str(), hb.allocations), ("fra-1", 3));
        let b = crate::store::writes::batch(&hb.writes("relay-client", 1000));
        assert_eq!(b.claim, Some(0));
        let s = &b.statements[0];
        well_formed(std::slice::from_ref(s));
        assert!(
            s.sql
                .contains("WHERE relays.client_id = excluded.client_id RETURNING relay_id")
        );
    }

    #[test]
    fn the_reply_asks_to_drain_only_when_the_console_did() {
        let row = |at| Upserted {
            relay_id: "fra-1".into(),
            drain_requested_at: at,
        };
        let a = answer(Some(&row(Some(5))), 30, json!({}));
        assert_eq!(
            (a["drain"].clone(), a["stale_after"].clone()),
            (json!(true), json!(30))
        );
        assert_eq!(answer(Some(&row(None)), 30, json!({}))["drain"], false);
        assert_eq!(answer(None, 30, json!({}))["drain"], false);
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
