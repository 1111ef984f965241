//! The nearest healthy relays for a caller.
//!
//! Healthy: a heartbeat within `RELAY_STALE_AFTER` seconds, not draining. Nearest: by the
//! great-circle distance from the caller (Cloudflare gives the worker the caller's latitude
//! and longitude in `request.cf`) to the relay's configured coordinates, in bands of
//! [`BAND_KM`]: relays in the same band count as equally near, and the less loaded goes
//! first. A relay without coordinates, or a caller without a location, sorts after every
//! located one, by load. The first relay named is the one a browser's ICE agent prefers
//! (Chromium ranks relay candidates by the order of `iceServers`).

use serde_json::Value;

use super::heartbeat::url_ok;
use crate::store::reads::Relay;

/// Distances within one band count as equally near (the caller's location is a city's,
/// network paths are not great circles, and a less loaded relay in the same region is the
/// better pick).
pub const BAND_KM: f64 = 500.0;

/// The health rule: a heartbeat within `stale_after` seconds of `now`, not draining.
pub fn healthy(last_seen: u64, draining: bool, now: u64, stale_after: u64) -> bool {
    !draining && last_seen.saturating_add(stale_after) >= now
}

/// `GET /admin/relays`: the rows as listed, each with `draining` as a boolean, whether it
/// is `healthy` at `now` (the rule of [`healthy`]) and its `urls` parsed.
pub fn listing(mut rows: Vec<Value>, now: u64, stale_after: u64) -> Vec<Value> {
    for r in &mut rows {
        let seen = r.get("last_seen").and_then(Value::as_u64).unwrap_or(0);
        let draining = r.get("draining").and_then(Value::as_u64).unwrap_or(0) != 0;
        let healthy = healthy(seen, draining, now, stale_after);
        if let Some(o) = r.as_object_mut() {
            o.insert("draining".into(), Value::Bool(draining));
            o.insert("healthy".into(), Value::Bool(healthy));
            if let Some(urls) = o.get("urls").and_then(Value::as_str) {
                let parsed = serde_json::from_str(urls).unwrap_or(Value::Null);
                o.insert("urls".into(), parsed);
            }
        }
    }
    rows
}

/// Where a caller is, in degrees.
pub type Location = (f64, f64);

/// Parses `LAT,LON` (the dev header).
pub fn parse_location(s: &str) -> Option<Location> {
    let (a, b) = s.split_once(',')?;
    let lat: f64 = a.trim().parse().ok()?;
    let lon: f64 = b.trim().parse().ok()?;
    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)).then_some((lat, lon))
}

/// Great-circle distance in km (haversine, mean Earth radius).
pub fn distance_km(a: Location, b: Location) -> f64 {
    let (la1, lo1) = (a.0.to_radians(), a.1.to_radians());
    let (la2, lo2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().min(1.0).asin()
}

/// A relay picked for a caller.
#[derive(Clone, Debug, PartialEq)]
pub struct Chosen {
    /// Its name.
    pub relay_id: String,
    /// Its URLs.
    pub urls: Vec<String>,
    /// km from the caller, when both are located.
    pub distance_km: Option<f64>,
}

/// Up to `n` healthy relays for a caller at `caller`, nearest first (see the module doc).
pub fn nearest(
    relays: &[Relay],
    caller: Option<Location>,
    now: u64,
    stale_after: u64,
    n: usize,
) -> Vec<Chosen> {
    let mut picked: Vec<(u64, f64, f64, Chosen)> = relays
        .iter()
        .filter(|r| healthy(r.last_seen, r.draining != 0, now, stale_after))
        .filter_map(|r| {
            let urls: Vec<String> = serde_json::from_str::<Vec<String>>(&r.urls)
                .ok()?
                .into_iter()
                .filter(|u| url_ok(u))
                .collect();
            if urls.is_empty() {
                return None;
            }
            let d = match (caller, r.latitude.zip(r.longitude)) {
                (Some(c), Some(at)) => Some(distance_km(c, at)),
                _ => None,
            };
            let band = d.map_or(u64::MAX, |km| (km / BAND_KM) as u64);
            let load = if r.load.is_finite() { r.load } else { f64::MAX };
            Some((
                band,
                load,
                d.unwrap_or(f64::MAX),
                Chosen {
                    relay_id: r.relay_id.clone(),
                    urls,
                    distance_km: d,
                },
            ))
        })
        .collect();
    picked.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then(a.1.total_cmp(&b.1))
            .then(a.2.total_cmp(&b.2))
            .then(a.3.relay_id.cmp(&b.3.relay_id))
    });
    picked.into_iter().take(n).map(|p| p.3).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::writes::tests::well_formed;

    const FRANKFURT: Location = (50.11, 8.68);
    const PARIS: Location = (48.86, 2.35);
    const VIRGINIA: Location = (38.95, -77.45);
    const SINGAPORE: Location = (1.35, 103.82);

    fn relay(id: &str, at: Option<Location>, load: f64) -> Relay {
        Relay {
            relay_id: id.into(),
            urls: format!(r#"["turn:{id}.example:3478?transport=udp"]"#),
            latitude: at.map(|a| a.0),
            longitude: at.map(|a| a.1),
            load,
            draining: 0,
            last_seen: 1000,
        }
    }

    fn ids(c: &[Chosen]) -> Vec<&str> {
        c.iter().map(|c| c.relay_id.as_str()).collect()
    }

    #[test]
    fn distances() {
        let d = distance_km(FRANKFURT, PARIS);
        assert!((470.0..490.0).contains(&d), "{d}");
        let d = distance_km(FRANKFURT, VIRGINIA);
        assert!((6400.0..6700.0).contains(&d), "{d}");
        assert_eq!(distance_km(PARIS, PARIS), 0.0);
        assert_eq!(parse_location(" 50.11, 8.68"), Some(FRANKFURT));
        for bad in ["", "50", "91,0", "0,181", "a,b", "NaN,0"] {
            assert_eq!(parse_location(bad), None, "{bad}");
        }
    }

    #[test]
    fn nearest_first_then_least_loaded_within_a_band() {
        let relays = [
            relay("fra", Some(FRANKFURT), 0.9),
            relay("par", Some(PARIS), 0.1),
            relay("iad", Some(VIRGINIA), 0.0),
            relay("sin", Some(SINGAPORE), 0.0),
            relay("nowhere", None, 0.0),
        ];
        // A caller in Frankfurt: Paris is in the same 500 km band and less loaded.
        let c = nearest(&relays, Some(FRANKFURT), 1000, 30, 3);
        assert_eq!(ids(&c), ["par", "fra", "iad"]);
        // A caller in Virginia, one in Singapore.
        assert_eq!(ids(&nearest(&relays, Some(VIRGINIA), 1000, 30, 1)), ["iad"]);
        assert_eq!(
            ids(&nearest(&relays, Some(SINGAPORE), 1000, 30, 2)),
            ["sin", "fra"]
        );
        // No location: by load, located or not.
        let c = nearest(&relays, None, 1000, 30, 5);
        assert_eq!(c.len(), 5);
        assert_eq!(c.last().map(|c| c.relay_id.as_str()), Some("fra"));
    }

    #[test]
    fn stale_draining_and_unusable_relays_are_skipped() {
        let mut stale = relay("stale", Some(FRANKFURT), 0.0);
        stale.last_seen = 969;
        let mut draining = relay("draining", Some(FRANKFURT), 0.0);
        draining.draining = 1;
        let mut bad = relay("bad", Some(FRANKFURT), 0.0);
        bad.urls = r#"["http://x"]"#.into();
        let ok = relay("ok", Some(VIRGINIA), 0.5);
        let c = nearest(&[stale, draining, bad, ok], Some(FRANKFURT), 1000, 30, 3);
        assert_eq!(ids(&c), ["ok"]);
        well_formed(&[crate::store::reads::healthy_relays(1000, 30).statement]);
    }

    #[test]
    fn the_admin_listing_says_which_relays_are_healthy() {
        assert!(healthy(970, false, 1000, 30) && !healthy(969, false, 1000, 30));
        assert!(!healthy(1000, true, 1000, 30), "draining");
        let rows = vec![
            serde_json::json!({"relay_id": "a", "last_seen": 990, "draining": 0, "urls": "[\"turn:a\"]"}),
            serde_json::json!({"relay_id": "b", "last_seen": 990, "draining": 1, "urls": "[]"}),
            serde_json::json!({"relay_id": "c", "last_seen": 900, "draining": 0, "urls": "not json"}),
        ];
        let l = listing(rows, 1000, 30);
        let flags: Vec<(bool, bool)> = l
            .iter()
            .map(|r| (r["healthy"] == true, r["draining"] == true))
            .collect();
        assert_eq!(flags, [(true, false), (false, true), (false, false)]);
        assert_eq!(l[0]["urls"], serde_json::json!(["turn:a"]));
        assert_eq!(l[2]["urls"], Value::Null);
    }
}
