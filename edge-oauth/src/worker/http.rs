//! Requests in (bodies read with a limit), replies out (status, headers, logging).

use futures_util::StreamExt;
use serde_json::Value;
use worker::{Headers, Request, Response};

use crate::oauth::error::{ErrorCode, OAuthError};

/// What a handler answers; [`Reply::into_response`] makes the HTTP response.
pub enum Reply {
    /// JSON with `Cache-Control: no-store` (token responses must not be cached).
    Json(u16, Value),
    /// JSON that caches may keep for `max_age` seconds (the public keys).
    Public {
        /// The document.
        body: Value,
        /// `Cache-Control: public, max-age=...`.
        max_age: u32,
    },
    /// No body.
    Empty(u16),
    /// An HTML page with its Content-Security-Policy, and an optional `Set-Cookie`.
    Html {
        /// Status.
        status: u16,
        /// The page.
        body: String,
        /// Content-Security-Policy.
        csp: String,
        /// A cookie to set.
        cookie: Option<String>,
        /// `Retry-After` seconds (a rate-limited page).
        retry_after: Option<u32>,
    },
    /// `303 See Other` to a URL.
    Redirect(String),
    /// `303 See Other` to a URL, setting a cookie (a sign-in session begins or ends).
    RedirectSetting {
        /// Where to.
        location: String,
        /// The `Set-Cookie` value.
        cookie: String,
    },
    /// An OAuth error as JSON (RFC 6749 section 5.2), with its challenge.
    Error(OAuthError),
    /// `405` with the route's `Allow` header.
    NotAllowed(String),
    /// A CSV download (the console's usage export): file name, body.
    Csv(String, String),
}

impl From<OAuthError> for Reply {
    fn from(e: OAuthError) -> Reply {
        Reply::Error(e)
    }
}

impl Reply {
    /// An HTML page (no cookie, no `Retry-After`).
    pub fn page(status: u16, body: String, csp: String) -> Reply {
        Reply::Html {
            status,
            body,
            csp,
            cookie: None,
            retry_after: None,
        }
    }

    /// The same reply, also setting `cookie` (pages and redirects; other replies unchanged).
    pub fn with_cookie(self, cookie: String) -> Reply {
        match self {
            Reply::Html {
                status,
                body,
                csp,
                retry_after,
                ..
            } => Reply::Html {
                status,
                body,
                csp,
                cookie: Some(cookie),
                retry_after,
            },
            Reply::Redirect(location) => Reply::RedirectSetting { location, cookie },
            other => other,
        }
    }

    /// An HTML page that sets the CSRF cookie.
    pub fn page_with_cookie(body: String, csp: String, cookie: String) -> Reply {
        Reply::Html {
            status: 200,
            body,
            csp,
            cookie: Some(cookie),
            retry_after: None,
        }
    }
}

/// The value of a request cookie.
pub fn cookie_value(req: &Request, name: &str) -> Option<String> {
    header(req, "cookie")?
        .split(';')
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The CSRF cookie for the page at `path` ([`crate::oauth::https::csrf_set_cookie`]:
/// `__Host-` when the issuer is https).
pub fn csrf_cookie(issuer: &str, value: &str, path: &str) -> String {
    crate::oauth::https::csrf_set_cookie(issuer, value, path)
}

/// The CSRF cookie the request carries for the page at `path`.
pub fn csrf_cookie_of(req: &Request, issuer: &str, path: &str) -> Option<String> {
    cookie_value(req, &crate::oauth::https::csrf_cookie_name(issuer, path))
}

/// The caller's address as Cloudflare reports it (`CF-Connecting-IP`, set by Cloudflare's
/// edge and by workerd locally; never taken from a client-chosen header such as
/// `X-Forwarded-For`).
pub fn client_address(req: &Request) -> String {
    header(req, "cf-connecting-ip").unwrap_or_else(|| "unknown".into())
}

/// A request header.
pub fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

/// Most bytes of an oversized body read and dropped before answering 413.
const DRAIN_LIMIT: usize = 1024 * 1024;

/// Reads the body, refusing (413) one over `limit` bytes, by the declared length and while
/// streaming (a chunked body has no length to trust).
pub async fn read_body(req: &mut Request, limit: usize) -> Result<Vec<u8>, OAuthError> {
    let too_large =
        || OAuthError::invalid_request("the request body is too large").with_status(413);
    if header(req, "content-length")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|n| n > limit as u64)
    {
        return Err(too_large());
    }
    let Ok(mut stream) = req.stream() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|_| OAuthError::invalid_request("the request body could not be read"))?;
        if out.len() + chunk.len() > limit {
            // Read (and drop) a bounded rest of the body before answering: a request whose
            // body is left unread can stall the connection it came on (seen with wrangler's
            // local proxy). Past DRAIN_LIMIT the stream is cancelled instead.
            let mut drained = out.len() + chunk.len();
            drop(out);
            while drained <= DRAIN_LIMIT {
                match stream.next().await {
                    Some(Ok(c)) => drained += c.len(),
                    _ => break,
                }
            }
            return Err(too_large());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Unix seconds now.
pub fn now() -> u64 {
    worker::Date::now().as_millis() / 1000
}

/// The answer to a CORS preflight.
pub fn preflight() -> Reply {
    Reply::Empty(204)
}

fn set(h: &Headers, k: &str, v: &str) {
    // Header names and values here are ASCII built by this crate; a failure would only
    // drop the header, never panic.
    let _ = h.set(k, v);
}

impl Reply {
    /// The status this reply will have.
    pub fn status(&self) -> u16 {
        match self {
            Reply::Json(s, _) | Reply::Empty(s) => *s,
            Reply::Csv(..) => 200,
            Reply::Public { .. } => 200,
            Reply::Html { status, .. } => *status,
            Reply::Redirect(_) | Reply::RedirectSetting { .. } => 303,
            Reply::Error(e) => e.status,
            Reply::NotAllowed(_) => 405,
        }
    }

    /// Builds the response. `realm` names the `WWW-Authenticate` realm; `cors` adds
    /// `Access-Control-Allow-Origin: *` (and preflight headers).
    pub fn into_response(self, realm: &str, cors: bool) -> worker::Result<Response> {
        let h = Headers::new();
        if cors {
            set(&h, "Access-Control-Allow-Origin", "*");
            set(&h, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
            set(
                &h,
                "Access-Control-Allow-Headers",
                "Authorization, Content-Type, DPoP",
            );
            // RFC 9449 section 8: a browser client must read the server nonce.
            set(
                &h,
                "Access-Control-Expose-Headers",
                "DPoP-Nonce, WWW-Authenticate",
            );
            set(&h, "Access-Control-Max-Age", "86400");
        }
        self.into_response_with(realm, h)
    }

    fn into_response_with(self, realm: &str, h: Headers) -> worker::Result<Response> {
        set(&h, "X-Content-Type-Options", "nosniff");
        set(&h, "Referrer-Policy", "no-referrer");
        let status = self.status();
        let body: Vec<u8> = match self {
            Reply::NotAllowed(allow) => {
                set(&h, "Allow", &allow);
                return Reply::Error(OAuthError::new(
                    ErrorCode::MethodNotAllowed,
                    "this endpoint does not accept this method",
                ))
                .into_response_with(realm, h);
            }
            Reply::Json(_, v) => {
                set(&h, "Content-Type", "application/json;charset=UTF-8");
                set(&h, "Cache-Control", "no-store");
                set(&h, "Pragma", "no-cache");
                v.to_string().into_bytes()
            }
            Reply::Public { body, max_age } => {
                set(&h, "Content-Type", "application/json;charset=UTF-8");
                set(&h, "Cache-Control", &format!("public, max-age={max_age}"));
                body.to_string().into_bytes()
            }
            Reply::Empty(_) => {
                set(&h, "Cache-Control", "no-store");
                Vec::new()
            }
            Reply::Html {
                body,
                csp,
                cookie,
                retry_after,
                ..
            } => {
                if let Some(s) = retry_after {
                    set(&h, "Retry-After", &s.to_string());
                }
                set(&h, "Content-Type", "text/html;charset=UTF-8");
                set(&h, "Cache-Control", "no-store");
                set(&h, "Content-Security-Policy", &csp);
                set(&h, "X-Frame-Options", "DENY");
                if let Some(c) = cookie {
                    set(&h, "Set-Cookie", &c);
                }
                body.into_bytes()
            }
            Reply::Redirect(location) => {
                set(&h, "Location", &location);
                set(&h, "Cache-Control", "no-store");
                Vec::new()
            }
            Reply::Csv(name, body) => {
                set(&h, "Content-Type", "text/csv;charset=UTF-8");
                set(&h, "Cache-Control", "no-store");
                set(
                    &h,
                    "Content-Disposition",
                    &format!("attachment; filename=\"{name}\""),
                );
                body.into_bytes()
            }
            Reply::RedirectSetting { location, cookie } => {
                set(&h, "Location", &location);
                set(&h, "Cache-Control", "no-store");
                set(&h, "Set-Cookie", &cookie);
                Vec::new()
            }
            Reply::Error(e) => {
                set(&h, "Content-Type", "application/json;charset=UTF-8");
                set(&h, "Cache-Control", "no-store");
                if let Some(challenge) = e.www_authenticate(realm) {
                    set(&h, "WWW-Authenticate", &challenge);
                }
                if let Some(s) = e.retry_after {
                    set(&h, "Retry-After", &s.to_string());
                }
                if let Some(n) = &e.dpop_nonce {
                    set(&h, "DPoP-Nonce", n);
                }
                if e.status == 413 {
                    // The rest of the body was not read: do not reuse this connection.
                    set(&h, "Connection", "close");
                }
                e.to_json().into_bytes()
            }
        };
        Ok(Response::from_bytes(body)?
            .with_status(status)
            .with_headers(h))
    }

    /// A line for the log: method, path, status and (for errors) the code and, for server
    /// errors, the description. Never a header, parameter or body.
    pub fn log_line(&self, method: &str, path: &str) -> Option<String> {
        match self {
            Reply::Error(e) if e.status >= 500 => Some(format!(
                "{method} {path} -> {} {}: {}",
                e.status, e.code, e.description
            )),
            Reply::Error(e) => Some(format!("{method} {path} -> {} {}", e.status, e.code)),
            Reply::NotAllowed(_) => Some(format!("{method} {path} -> 405 method_not_allowed")),
            _ => None,
        }
    }
}
