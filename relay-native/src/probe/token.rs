//! Getting an RFC 7635 token: from an OAuth token endpoint (RFC 7635 section 4.1's response,
//! as edge-oauth answers), or from a JSON file such as `relay-native token mint` prints.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use shared_token::{MacKey, TokenId};

use super::{Failure, unix_now};

/// A token and what signing with it needs. The mac_key never leaves this struct except as an
/// HMAC key.
#[derive(Clone, Debug)]
pub struct PopToken {
    /// The kid, sent as USERNAME.
    pub kid: String,
    /// The sealed token, sent as ACCESS-TOKEN.
    pub token: Vec<u8>,
    /// The MESSAGE-INTEGRITY key.
    pub mac_key: MacKey,
    /// Unix seconds when it stops being valid (as far as the client knows).
    pub expires_at: u64,
    /// shared-token's token id, the one the relay logs.
    pub id: TokenId,
}

impl PopToken {
    /// Reads RFC 7635's fields from a JSON object: `access_token` and `kid`, the mac_key in
    /// `key` (RFC 7635) or `mac_key` (the seed's and `token mint`'s name), and the expiry from
    /// `expires_at` or `expires_in` (relative to `received_at`).
    pub fn from_json(v: &Value, received_at: u64) -> Result<PopToken, String> {
        let text = |k: &str| v.get(k).and_then(Value::as_str);
        if let Some(tt) = text("token_type")
            && !tt.eq_ignore_ascii_case("pop")
        {
            return Err(format!(
                "token_type is {tt:?}, not an RFC 7635 \"pop\" token: is scope turn allowed for this client?"
            ));
        }
        // RFC 7635's `alg` names the MESSAGE-INTEGRITY algorithm; `token mint` uses the field
        // for the key's AES-GCM algorithm, which is the relay's business, not ours. The
        // mac_key's length decides the HMAC (32 bytes: SHA-256).
        if let Some(alg) = text("alg")
            && alg
                .get(..5)
                .is_some_and(|p| p.eq_ignore_ascii_case("HMAC-"))
            && !["HMAC-SHA-1", "HMAC-SHA-256", "HMAC-SHA-256-128"]
                .iter()
                .any(|known| alg.eq_ignore_ascii_case(known))
        {
            return Err(format!(
                "alg {alg:?} is not supported; this client signs with HMAC-SHA-1 or HMAC-SHA-256"
            ));
        }
        let token = STANDARD
            .decode(text("access_token").ok_or("no access_token")?)
            .map_err(|_| "access_token is not base64")?;
        let kid = text("kid").ok_or("no kid")?.to_string();
        let key = text("key")
            .or_else(|| text("mac_key"))
            .ok_or("no key (mac_key)")?;
        let mac_key = MacKey::new(STANDARD.decode(key).map_err(|_| "key is not base64")?);
        let expires_at = match (
            v.get("expires_at").and_then(Value::as_u64),
            v.get("expires_in").and_then(Value::as_u64),
        ) {
            (Some(at), _) => at,
            (None, Some(secs)) => received_at.saturating_add(secs),
            (None, None) => return Err("neither expires_in nor expires_at".into()),
        };
        Ok(PopToken {
            id: TokenId::of(&token),
            kid,
            token,
            mac_key,
            expires_at,
        })
    }

    /// Seconds left, 0 once expired.
    pub fn remaining(&self, now: u64) -> u64 {
        self.expires_at.saturating_sub(now)
    }
}

/// How the client authenticates and which grant it uses.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// The token endpoint URL.
    pub url: String,
    /// client_id.
    pub client_id: String,
    /// client_secret (client_secret_basic); None for a public client.
    pub client_secret: Option<String>,
    /// Username and password for the password grant; None for client_credentials.
    pub user: Option<(String, String)>,
    /// scope.
    pub scope: String,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl Endpoint {
    /// Asks for a token for the TURN server named `audience` (THIRD-PARTY-AUTHORIZATION).
    pub fn fetch(&self, audience: &str) -> Result<PopToken, Failure> {
        let mut form: Vec<(&str, &str)> = vec![("scope", &self.scope), ("aud", audience)];
        match &self.user {
            Some((u, p)) => {
                form.extend([("grant_type", "password"), ("username", u), ("password", p)])
            }
            None => form.push(("grant_type", "client_credentials")),
        }
        let mut req = ureq::post(&self.url)
            .timeout(self.timeout)
            .set("Accept", "application/json");
        match &self.client_secret {
            Some(secret) => {
                let pair = format!("{}:{}", form_encode(&self.client_id), form_encode(secret));
                req = req.set("Authorization", &format!("Basic {}", STANDARD.encode(pair)));
            }
            None => form.push(("client_id", &self.client_id)),
        }
        let received_at = unix_now();
        match req.send_form(&form) {
            Ok(resp) => {
                let v = json_body(resp, &self.url)?;
                PopToken::from_json(&v, received_at)
                    .map_err(|e| Failure::Endpoint(format!("{}: {e}", self.url)))
            }
            Err(ureq::Error::Status(status, resp)) => Err(self.refused(status, resp)),
            Err(ureq::Error::Transport(t)) => Err(self.unreachable(&t)),
        }
    }

    fn refused(&self, status: u16, resp: ureq::Response) -> Failure {
        let v: Value = resp
            .into_string()
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null);
        let code = v
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let desc = v
            .get("error_description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let said = if code.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status} {code}: {desc}")
        };
        match code.as_str() {
            "invalid_client" => Failure::ClientCredentials(format!(
                "{} refused client {:?}: {said}",
                self.url, self.client_id
            )),
            "invalid_grant" if self.user.is_some() => Failure::ClientCredentials(format!(
                "{} refused the username or password: {said}",
                self.url
            )),
            _ if status == 401 => Failure::ClientCredentials(format!(
                "{} refused client {:?}: {said}",
                self.url, self.client_id
            )),
            _ => Failure::Endpoint(format!("{} refused the token request: {said}", self.url)),
        }
    }

    fn unreachable(&self, t: &ureq::Transport) -> Failure {
        let text = t.to_string();
        if text.contains("timed out") {
            Failure::Timeout(format!(
                "the token endpoint {} did not answer within {:.1} s",
                self.url,
                self.timeout.as_secs_f32()
            ))
        } else {
            Failure::EndpointUnreachable(format!("cannot reach the token endpoint: {text}"))
        }
    }
}

/// RFC 6749 section 2.3.1: client_id and secret are form-encoded before Basic.
/// The JSON body of a successful response from `url`.
pub(super) fn json_body(resp: ureq::Response, url: &str) -> Result<Value, Failure> {
    resp.into_string()
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .ok_or_else(|| Failure::Endpoint(format!("{url}: the response is not JSON")))
}

pub(crate) fn form_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_rfc7635_and_mint_shapes() {
        let edge = json!({"access_token": "AAEC", "token_type": "pop", "expires_in": 60, "kid": "k", "key": "AQID", "alg": "HMAC-SHA-1"});
        let t = PopToken::from_json(&edge, 1000).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (
                t.kid.as_str(),
                t.token.as_slice(),
                t.mac_key.secret(),
                t.expires_at
            ),
            ("k", &[0u8, 1, 2][..], &[1u8, 2, 3][..], 1060)
        );
        let mint = json!({"access_token": "AAEC", "kid": "k", "mac_key": "AQID", "expires_at": 5});
        assert_eq!(
            PopToken::from_json(&mint, 1000)
                .map(|t| t.remaining(4))
                .ok(),
            Some(1)
        );
    }

    #[test]
    fn refuses_what_it_cannot_use() {
        let bearer = json!({"access_token": "AAEC", "token_type": "Bearer", "expires_in": 60});
        assert!(PopToken::from_json(&bearer, 0).is_err_and(|e| e.contains("scope turn")));
        let sha256 = json!({"access_token": "AAEC", "token_type": "pop", "expires_in": 60, "kid": "k", "key": "AQID", "alg": "HMAC-SHA-256"});
        assert!(PopToken::from_json(&sha256, 0).is_ok());
        let sha512 = json!({"access_token": "AAEC", "token_type": "pop", "expires_in": 60, "kid": "k", "key": "AQID", "alg": "HMAC-SHA-512"});
        assert!(PopToken::from_json(&sha512, 0).is_err());
        assert!(
            PopToken::from_json(
                &json!({"access_token": "!!", "kid": "k", "key": "AQID", "expires_in": 1}),
                0
            )
            .is_err()
        );
        assert!(
            PopToken::from_json(
                &json!({"access_token": "AAEC", "kid": "k", "key": "AQID"}),
                0
            )
            .is_err()
        );
    }
}
