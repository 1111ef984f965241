//! fetch, JSON in, JSON out, with the failures sorted into the helper's error codes.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestInit, Response};

use crate::error::{ErrorCode, HelperError};
use crate::oauth::ErrorResponse;

/// A response: its status and its body parsed as JSON (`Null` when it is not JSON).
pub struct JsonResponse {
    /// HTTP status.
    pub status: u16,
    /// The parsed body.
    pub body: JsValue,
    /// The `DPoP-Nonce` header (RFC 9449 section 8).
    pub nonce: Option<String>,
    /// The `WWW-Authenticate` header.
    pub challenge: Option<String>,
}

impl JsonResponse {
    /// A string member of the body.
    pub fn str(&self, key: &str) -> Option<String> {
        str_field(&self.body, key)
    }

    /// A number member of the body.
    pub fn num(&self, key: &str) -> Option<f64> {
        js_sys::Reflect::get(&self.body, &key.into())
            .ok()
            .and_then(|v| v.as_f64())
    }

    /// The body as an RFC 6749 error, if it is one.
    pub fn oauth_error(&self) -> Option<ErrorResponse> {
        Some(ErrorResponse {
            error: self.str("error")?,
            error_description: self.str("error_description"),
        })
    }
}

/// A string member of a JS object.
pub fn str_field(obj: &JsValue, key: &str) -> Option<String> {
    js_sys::Reflect::get(obj, &key.into())
        .ok()
        .and_then(|v| v.as_string())
}

/// POSTs `form` (a form body) or, without one, GETs; with `Authorization: SCHEME TOKEN`
/// when given (`Bearer`, or `DPoP`) and a `DPoP` proof when given.
pub async fn request(
    url: &str,
    form: Option<&str>,
    authorization: Option<(&str, &str)>,
    dpop: Option<&str>,
) -> Result<JsonResponse, HelperError> {
    let init = RequestInit::new();
    init.set_method(if form.is_some() { "POST" } else { "GET" });
    if let Some(body) = form {
        init.set_body(&JsValue::from_str(body));
    }
    let req = Request::new_with_str_and_init(url, &init).map_err(|_| bad_url(url))?;
    let h = req.headers();
    if form.is_some() {
        let _ = h.set("Content-Type", "application/x-www-form-urlencoded");
    }
    if let Some((scheme, token)) = authorization {
        let _ = h.set("Authorization", &format!("{scheme} {token}"));
    }
    if let Some(proof) = dpop {
        let _ = h.set("DPoP", proof);
    }
    let _ = h.set("Accept", "application/json");
    send(req, url).await
}

fn bad_url(url: &str) -> HelperError {
    HelperError::new(
        ErrorCode::BadOptions,
        format!("cannot build a request for {url}"),
    )
}

async fn send(req: Request, url: &str) -> Result<JsonResponse, HelperError> {
    let window = web_sys::window()
        .ok_or_else(|| HelperError::new(ErrorCode::EdgeUnreachable, "no window"))?;
    let resp = JsFuture::from(window.fetch_with_request(&req))
        .await
        .map_err(|_| {
            HelperError::new(
                ErrorCode::EdgeUnreachable,
                format!("the edge at {url} did not answer"),
            )
        })?;
    let resp: Response = resp.dyn_into().map_err(|_| {
        HelperError::new(
            ErrorCode::BadResponse,
            "fetch returned something other than a Response",
        )
    })?;
    let status = resp.status();
    let header = |name: &str| resp.headers().get(name).ok().flatten();
    let (nonce, challenge) = (header("DPoP-Nonce"), header("WWW-Authenticate"));
    let body = match resp.json() {
        Ok(p) => JsFuture::from(p).await.unwrap_or(JsValue::NULL),
        Err(_) => JsValue::NULL,
    };
    Ok(JsonResponse {
        status,
        body,
        nonce,
        challenge,
    })
}
