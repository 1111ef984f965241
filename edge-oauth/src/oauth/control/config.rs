//! The control plane's vars, checked once per isolate beside the server's own configuration.
//!
//! | name | default | meaning |
//! |---|---|---|
//! | `RELAY_STALE_AFTER` | 30 | seconds without a heartbeat after which a relay is not handed out |
//! | `RELAY_CHOICES` | 3 | relays named in `iceServers`, nearest first |
//! | `RELAY_LIST_CACHE_TTL` | 5 | seconds an isolate keeps the relay list (0: read D1 every time) |
//! | `REVOCATION_POLL_MS` | 1000 | how often a long poll of the feed looks at D1 |
//! | `REVOCATION_WAIT_MAX` | 25 | longest long poll, seconds |
//! | `DEV_CALLER_LOCATION` | off | `1`: honour `X-Dev-Caller-Location: LAT,LON` (local runs and tests only: refused unless `ISSUER` is `http://` on a loopback host) |

use super::super::config::ConfigError;

/// The checked control-plane configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct ControlConfig {
    /// Seconds without a heartbeat before a relay is stale.
    pub stale_after: u64,
    /// Relays per `iceServers`.
    pub choices: usize,
    /// Seconds an isolate keeps the relay list.
    pub relay_cache_ttl: u64,
    /// Milliseconds between feed reads within a long poll.
    pub poll_ms: u64,
    /// Longest long poll, seconds.
    pub wait_max: u64,
    /// Whether the dev location header is honoured.
    pub dev_location: bool,
}

/// The request header a local run sets to place its caller (with `DEV_CALLER_LOCATION=1`).
pub const DEV_LOCATION_HEADER: &str = "x-dev-caller-location";

/// True when `issuer` is `http://` on a loopback host. The authority is parsed, not
/// prefix-matched: userinfo (`http://localhost:1@evil.example`) is refused, the port must be
/// digits, and the host must be exactly `localhost`, `127.0.0.1` or `[::1]`.
fn is_loopback_http(issuer: &str) -> bool {
    let Some(rest) = issuer.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return false;
    }
    let (host, port) = if authority.starts_with('[') {
        match authority.split_once(']') {
            Some((h, p)) => (authority.get(..h.len() + 1).unwrap_or(""), p),
            None => return false,
        }
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, p),
            None => (authority, ""),
        }
    };
    let port_ok = match port {
        "" => true,
        p => p
            .strip_prefix(if host.starts_with('[') { ":" } else { "" })
            .is_some_and(|d| {
                !d.is_empty() && d.len() <= 5 && d.bytes().all(|b| b.is_ascii_digit())
            }),
    };
    port_ok && matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

impl ControlConfig {
    /// Reads the vars through `get`; `issuer` decides whether the dev header may be on.
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
        issuer: &str,
    ) -> Result<ControlConfig, ConfigError> {
        let number = |name: &str, default: u64, min: u64, max: u64| -> Result<u64, ConfigError> {
            match get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
            {
                None => Ok(default),
                Some(v) => match v.parse::<u64>() {
                    Ok(n) if (min..=max).contains(&n) => Ok(n),
                    _ => Err(ConfigError(format!(
                        "{name} must be a whole number from {min} to {max}"
                    ))),
                },
            }
        };
        let dev_location = match get("DEV_CALLER_LOCATION").as_deref().map(str::trim) {
            None | Some("") | Some("0") => false,
            Some("1") if is_loopback_http(issuer) => true,
            Some("1") => {
                return Err(ConfigError(
                    "DEV_CALLER_LOCATION is for local runs: ISSUER must be http:// on a loopback host"
                        .into(),
                ));
            }
            Some(_) => return Err(ConfigError("DEV_CALLER_LOCATION must be 0 or 1".into())),
        };
        Ok(ControlConfig {
            stale_after: number("RELAY_STALE_AFTER", 30, 2, 3600)?,
            choices: number("RELAY_CHOICES", 3, 1, 10)? as usize,
            relay_cache_ttl: number("RELAY_LIST_CACHE_TTL", 5, 0, 60)?,
            poll_ms: number("REVOCATION_POLL_MS", 1000, 100, 10_000)?,
            wait_max: number("REVOCATION_WAIT_MAX", 25, 1, 55)?,
            dev_location,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(vars: &[(&str, &str)], issuer: &str) -> Result<ControlConfig, ConfigError> {
        let m: HashMap<&str, String> = vars.iter().map(|(k, v)| (*k, v.to_string())).collect();
        ControlConfig::from_lookup(|k| m.get(k).cloned(), issuer)
    }

    #[test]
    fn defaults_and_limits() {
        let c = cfg(&[], "https://auth.example").unwrap();
        assert_eq!(
            (c.stale_after, c.choices, c.poll_ms, c.dev_location),
            (30, 3, 1000, false)
        );
        assert!(cfg(&[("RELAY_STALE_AFTER", "1")], "https://a").is_err());
        assert!(cfg(&[("RELAY_CHOICES", "x")], "https://a").is_err());
    }

    #[test]
    fn the_dev_location_header_is_refused_in_production() {
        assert!(
            cfg(&[("DEV_CALLER_LOCATION", "1")], "http://127.0.0.1:8787")
                .unwrap()
                .dev_location
        );
        assert!(
            cfg(&[("DEV_CALLER_LOCATION", "1")], "http://localhost")
                .unwrap()
                .dev_location
        );
        assert!(
            cfg(&[("DEV_CALLER_LOCATION", "1")], "http://[::1]:8787/x")
                .unwrap()
                .dev_location
        );
        for issuer in [
            "https://auth.example",
            "http://auth.example",
            "http://127.0.0.1.evil",
            "http://localhost:1@evil.example",
            "http://localhost@evil.example/",
            "http://127.0.0.1:80@evil.example",
            "http://[::1]@evil.example",
            "http://[::1]:80@evil.example",
            "http://localhost:evil.example",
            "http://localhost:80:81",
            "http://[::1]evil",
            "http://[::1",
            "http://localhost.evil.example",
        ] {
            let e = cfg(&[("DEV_CALLER_LOCATION", "1")], issuer).unwrap_err();
            assert!(e.0.contains("DEV_CALLER_LOCATION"), "{issuer}: {e}");
        }
        assert!(
            !cfg(&[("DEV_CALLER_LOCATION", "0")], "https://a")
                .unwrap()
                .dev_location
        );
    }
}
