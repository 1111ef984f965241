//! The relay as an OAuth client of the edge: a `client_credentials` token with scope `relay`
//! (RFC 6749 section 4.4, `client_secret_basic`), kept until shortly before it expires and
//! fetched again when the edge says it is no longer valid; and JSON requests with it.
//!
//! No other secret is shared between edge and relay for the control plane: an operator
//! registers one confidential client per relay (or per fleet) with the `relay` scope, which
//! the edge gives to no other kind of client.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::probe::token::form_encode;

/// The scope a relay asks for.
pub const RELAY_SCOPE: &str = "relay";

/// A client secret: printed as `[redacted]`.
#[derive(Clone)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// Wraps a secret (trailing whitespace, such as a file's newline, removed).
    pub fn new(s: &str) -> ClientSecret {
        ClientSecret(s.trim_end().to_string())
    }

    /// The secret itself.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Why a request to the edge failed.
#[derive(Debug, PartialEq, Eq)]
pub enum EdgeError {
    /// No answer: connection refused, DNS, timeout.
    Unreachable(String),
    /// The token endpoint refused the relay's credentials (the operator must act).
    Credentials(String),
    /// The edge answered with an error status (its `error` code, if any).
    Status(u16, String),
    /// The answer was not the JSON expected.
    Malformed(String),
}

impl std::fmt::Display for EdgeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EdgeError::Unreachable(t) => write!(f, "edge unreachable: {t}"),
            EdgeError::Credentials(t) => {
                write!(f, "the edge refused this relay's client credentials: {t}")
            }
            EdgeError::Status(s, code) => write!(f, "the edge answered HTTP {s} {code}"),
            EdgeError::Malformed(t) => write!(f, "unexpected answer from the edge: {t}"),
        }
    }
}

/// The edge's base URL and this relay's client.
#[derive(Debug)]
pub struct Edge {
    base: String,
    client_id: String,
    secret: ClientSecret,
    agent: ureq::Agent,
    token: Mutex<Option<(String, Instant)>>,
}

/// Get a new token this long before the current one expires.
const RENEW_BEFORE: Duration = Duration::from_secs(60);

impl Edge {
    /// A client of `base` (`https://edge.example.com`).
    pub fn new(base: &str, client_id: &str, secret: ClientSecret) -> Edge {
        Edge {
            base: base.trim_end_matches('/').to_string(),
            client_id: client_id.to_string(),
            secret,
            agent: ureq::AgentBuilder::new()
                .timeout_connect(Duration::from_secs(5))
                .redirects(0)
                .build(),
            token: Mutex::new(None),
        }
    }

    /// The edge's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// This relay's client id at the edge.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// A valid access token, fetched when there is none or it is about to expire.
    fn bearer(&self) -> Result<String, EdgeError> {
        if let Ok(t) = self.token.lock()
            && let Some((token, until)) = t.as_ref()
            && Instant::now() + RENEW_BEFORE < *until
        {
            return Ok(token.clone());
        }
        let pair = format!(
            "{}:{}",
            form_encode(&self.client_id),
            form_encode(self.secret.secret())
        );
        let resp = self
            .agent
            .post(&format!("{}/oauth2/token", self.base))
            .timeout(Duration::from_secs(10))
            .set("Authorization", &format!("Basic {}", STANDARD.encode(pair)))
            .send_form(&[("grant_type", "client_credentials"), ("scope", RELAY_SCOPE)]);
        let v = match answer(resp) {
            Err(EdgeError::Status(s, code)) if s == 401 || code == "invalid_client" => {
                return Err(EdgeError::Credentials(format!("HTTP {s} {code}")));
            }
            Err(EdgeError::Status(s, code))
                if code == "invalid_scope" || code == "unauthorized_client" =>
            {
                return Err(EdgeError::Credentials(format!(
                    "HTTP {s} {code}: the client needs the client_credentials grant and the `{RELAY_SCOPE}` scope"
                )));
            }
            other => other?,
        };
        let token = v
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| EdgeError::Malformed("no access_token".into()))?
            .to_string();
        let ttl = v.get("expires_in").and_then(Value::as_u64).unwrap_or(300);
        let until = Instant::now() + Duration::from_secs(ttl);
        if let Ok(mut t) = self.token.lock() {
            *t = Some((token.clone(), until));
        }
        Ok(token)
    }

    fn forget_token(&self) {
        if let Ok(mut t) = self.token.lock() {
            *t = None;
        }
    }

    /// `GET path` with the relay's token; `timeout` for the whole answer.
    pub fn get(&self, path: &str, timeout: Duration) -> Result<Value, EdgeError> {
        self.call(|bearer| {
            answer(
                self.agent
                    .get(&format!("{}{path}", self.base))
                    .timeout(timeout)
                    .set("Authorization", &format!("Bearer {bearer}"))
                    .call(),
            )
        })
    }

    /// `POST path` with a JSON body and the relay's token.
    pub fn post(&self, path: &str, body: &Value, timeout: Duration) -> Result<Value, EdgeError> {
        let text = body.to_string();
        self.call(|bearer| {
            answer(
                self.agent
                    .post(&format!("{}{path}", self.base))
                    .timeout(timeout)
                    .set("Authorization", &format!("Bearer {bearer}"))
                    .set("Content-Type", "application/json")
                    .send_string(&text),
            )
        })
    }

    /// Runs a request; a 401 (the token expired or was revoked) fetches a new token and
    /// tries once more.
    fn call(&self, send: impl Fn(&str) -> Result<Value, EdgeError>) -> Result<Value, EdgeError> {
        match send(&self.bearer()?) {
            Err(EdgeError::Status(401, _)) => {
                self.forget_token();
                send(&self.bearer()?)
            }
            other => other,
        }
    }
}

/// The JSON of a 2xx answer, or why there is none.
fn answer(r: Result<ureq::Response, ureq::Error>) -> Result<Value, EdgeError> {
    match r {
        Ok(resp) => {
            let text = resp
                .into_string()
                .map_err(|e| EdgeError::Unreachable(e.to_string()))?;
            serde_json::from_str(&text).map_err(|_| EdgeError::Malformed("not JSON".into()))
        }
        Err(ureq::Error::Status(status, resp)) => {
            let code = resp
                .into_string()
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_default();
            Err(EdgeError::Status(status, code))
        }
        Err(ureq::Error::Transport(t)) => Err(EdgeError::Unreachable(t.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_never_prints() {
        let s = ClientSecret::new("hunter2-hunter2\n");
        assert_eq!(s.secret(), "hunter2-hunter2");
        assert_eq!(format!("{s:?}"), "[redacted]");
        let e = Edge::new("http://127.0.0.1:1/", "relay-1", s);
        assert!(!format!("{e:?}").contains("hunter2"));
        assert_eq!(e.base(), "http://127.0.0.1:1");
    }

    #[test]
    fn an_unreachable_edge_says_so() {
        // Port 1 on loopback: nothing listens.
        let e = Edge::new("http://127.0.0.1:1", "relay-1", ClientSecret::new("x"));
        assert!(matches!(
            e.get("/relay/revocations", Duration::from_secs(1)),
            Err(EdgeError::Unreachable(_))
        ));
    }
}
