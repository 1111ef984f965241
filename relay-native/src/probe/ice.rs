//! What a browser gets: `iceServers` from the edge's `/turn/credentials` (a bearer token with
//! scope `turn`), whose TURN entry carries the browser credential (the token inside the
//! username, docs/credentials.md) and the relays nearest the caller, nearest first.

use std::time::Duration;

use serde_json::Value;

use super::{Failure, Transport};

/// A browser credential and the relay it names first.
#[derive(Clone)]
pub struct BrowserCred {
    /// USERNAME (`et1.<kid>.<token>`).
    pub username: String,
    /// The long-term password.
    pub credential: String,
    /// The token's id, as the edge reports it (`tokenId`).
    pub token_id: String,
    /// Unix second it expires (`expiresAt`).
    pub expires_at: u64,
    /// Every `turn:`/`turns:` URL, in the edge's order.
    pub urls: Vec<String>,
}

impl std::fmt::Debug for BrowserCred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrowserCred")
            .field("token_id", &self.token_id)
            .field("expires_at", &self.expires_at)
            .field("urls", &self.urls)
            .finish_non_exhaustive()
    }
}

/// Where browser credentials come from.
#[derive(Clone)]
pub struct CredentialsUrl {
    /// `https://edge/turn/credentials`.
    pub url: String,
    /// The bearer token (scope `turn`).
    pub bearer: String,
    /// Per request.
    pub timeout: Duration,
}

impl std::fmt::Debug for CredentialsUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialsUrl")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// `host:port` of a URL that reaches the relay over `via` (RFC 7065): `turn:` with no
/// `transport` or `transport=udp` for UDP, `turn:` with `transport=tcp` for TCP, `turns:` for
/// TLS; the port defaults to the transport's.
fn host_port(url: &str, via: &Transport) -> Option<String> {
    let (rest, wanted) = match via {
        Transport::Udp => (url.strip_prefix("turn:")?, "udp"),
        Transport::Tcp => (url.strip_prefix("turn:")?, "tcp"),
        Transport::Tls { .. } => (url.strip_prefix("turns:")?, "tcp"),
    };
    let (hostport, query) = rest.split_once('?').unwrap_or((rest, ""));
    let transport = query
        .split('&')
        .find_map(|p| p.strip_prefix("transport="))
        .unwrap_or(if via == &Transport::Udp { "udp" } else { "tcp" });
    if transport != wanted {
        return None;
    }
    let has_port = hostport.rsplit_once(':').is_some_and(|(h, p)| {
        p.parse::<u16>().is_ok() && (!h.starts_with('[') || h.ends_with(']'))
    });
    Some(if has_port {
        hostport.to_string()
    } else {
        format!("{hostport}:{}", via.default_port())
    })
}

impl BrowserCred {
    /// Reads the `iceServers` document: the first entry with a username and credential.
    pub fn from_json(v: &Value) -> Result<BrowserCred, String> {
        let servers = v
            .get("iceServers")
            .and_then(Value::as_array)
            .ok_or("no iceServers")?;
        let with_cred: Vec<&Value> = servers
            .iter()
            .filter(|s| s.get("username").is_some() && s.get("credential").is_some())
            .collect();
        let first = with_cred
            .first()
            .ok_or("no iceServers entry has a username")?;
        let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let urls: Vec<String> = with_cred
            .iter()
            .flat_map(|s| {
                let list = match s.get("urls") {
                    Some(Value::String(u)) => vec![u.clone()],
                    Some(Value::Array(a)) => a
                        .iter()
                        .filter_map(|u| u.as_str().map(str::to_string))
                        .collect(),
                    _ => vec![],
                };
                list.into_iter()
            })
            .collect();
        Ok(BrowserCred {
            username: text(first, "username").ok_or("username is not text")?,
            credential: text(first, "credential").ok_or("credential is not text")?,
            token_id: text(v, "tokenId").unwrap_or_default(),
            expires_at: v.get("expiresAt").and_then(Value::as_u64).unwrap_or(0),
            urls,
        })
    }

    /// `host:port` of the first URL (nearest relay first) that reaches a relay over `via`.
    pub fn first_for(&self, via: &Transport) -> Option<String> {
        self.urls.iter().find_map(|u| host_port(u, via))
    }

    /// Seconds left, 0 once expired.
    pub fn remaining(&self, now: u64) -> u64 {
        self.expires_at.saturating_sub(now)
    }
}

impl CredentialsUrl {
    /// `GET` the credentials with the bearer token.
    pub fn fetch(&self) -> Result<BrowserCred, Failure> {
        let resp = ureq::get(&self.url)
            .timeout(self.timeout)
            .set("Authorization", &format!("Bearer {}", self.bearer))
            .set("Accept", "application/json")
            .call();
        match resp {
            Ok(r) => {
                let v = super::token::json_body(r, &self.url)?;
                BrowserCred::from_json(&v)
                    .map_err(|e| Failure::Endpoint(format!("{}: {e}", self.url)))
            }
            Err(ureq::Error::Status(401, _)) => Err(Failure::ClientCredentials(format!(
                "{} refused the bearer token (HTTP 401)",
                self.url
            ))),
            Err(ureq::Error::Status(s, _)) => {
                Err(Failure::Endpoint(format!("{} answered HTTP {s}", self.url)))
            }
            Err(ureq::Error::Transport(t)) => Err(Failure::EndpointUnreachable(format!(
                "cannot reach {}: {t}",
                self.url
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_edge_shape() {
        let v = json!({
            "iceServers": [
                {"urls": ["stun:a:3478"]},
                {"urls": ["turns:near.example:443?transport=tcp", "turn:near.example:3478?transport=udp"], "username": "et1.k.AAAA", "credential": "cred"},
                {"urls": "turn:far.example?transport=udp", "username": "et1.k.AAAA", "credential": "cred"}
            ],
            "expiresAt": 1800000600u64, "tokenId": "KWa9ZY3uogilQFwA"
        });
        let c = BrowserCred::from_json(&v).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.username, "et1.k.AAAA");
        assert_eq!(
            c.first_for(&Transport::Udp).as_deref(),
            Some("near.example:3478")
        );
        let tls = Transport::Tls {
            name: String::new(),
            ca: None,
        };
        assert_eq!(c.first_for(&tls).as_deref(), Some("near.example:443"));
        assert_eq!(c.first_for(&Transport::Tcp), None);
        assert_eq!(c.urls.len(), 3);
        assert_eq!(c.remaining(1_800_000_000), 600);
        let udp = |u: &str| host_port(u, &Transport::Udp);
        assert_eq!(
            udp("turn:far.example?transport=udp").as_deref(),
            Some("far.example:3478")
        );
        assert_eq!(udp("turn:[::1]:3479").as_deref(), Some("[::1]:3479"));
        assert_eq!(udp("turn:h:1?transport=tcp"), None);
        assert_eq!(udp("turns:h:1"), None);
        assert_eq!(
            host_port("turn:h:1?transport=tcp", &Transport::Tcp).as_deref(),
            Some("h:1")
        );
        assert_eq!(host_port("turns:h", &tls).as_deref(), Some("h:5349"));
        assert_eq!(host_port("turns:h?transport=udp", &tls), None);
        assert!(!format!("{c:?}").contains("cred\""));
        assert!(BrowserCred::from_json(&json!({"iceServers": [{"urls": ["stun:x"]}]})).is_err());
    }
}
