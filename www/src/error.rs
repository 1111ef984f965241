//! The helper's errors: a short stable `code` an app can branch on, and a readable message.

use core::fmt;

/// What went wrong, as an app needs to tell it apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// The user closed the sign-in window, denied consent, or the server refused the code.
    SignInFailed,
    /// The popup could not be opened (blocked): call `signIn()` from a click handler.
    PopupBlocked,
    /// The edge did not answer (network error, wrong URL, CORS).
    EdgeUnreachable,
    /// The session is over: the refresh token is expired or revoked. Sign in again.
    SessionExpired,
    /// Not signed in yet.
    NotSignedIn,
    /// The edge answered with an error or with something the helper cannot read.
    BadResponse,
    /// Options passed to the constructor are unusable.
    BadOptions,
    /// DPoP is on but this browser cannot keep a key (no WebCrypto or no IndexedDB, e.g. an
    /// insecure origin or a private window that refuses storage).
    DpopUnavailable,
}

impl ErrorCode {
    /// The stable string form, e.g. `"session_expired"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::SignInFailed => "sign_in_failed",
            ErrorCode::PopupBlocked => "popup_blocked",
            ErrorCode::EdgeUnreachable => "edge_unreachable",
            ErrorCode::SessionExpired => "session_expired",
            ErrorCode::NotSignedIn => "not_signed_in",
            ErrorCode::BadResponse => "bad_response",
            ErrorCode::BadOptions => "bad_options",
            ErrorCode::DpopUnavailable => "dpop_unavailable",
        }
    }
}

/// A helper error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelperError {
    /// Which kind.
    pub code: ErrorCode,
    /// For people.
    pub message: String,
}

impl HelperError {
    /// Builds one.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> HelperError {
        HelperError {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for HelperError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

#[cfg(target_arch = "wasm32")]
impl From<HelperError> for wasm_bindgen::JsValue {
    /// A JS `Error` with `name = "EdgeTurnError"` and a `code` property.
    fn from(e: HelperError) -> wasm_bindgen::JsValue {
        let err = js_sys::Error::new(&e.message);
        err.set_name("EdgeTurnError");
        let _ = js_sys::Reflect::set(&err, &"code".into(), &e.code.as_str().into());
        err.into()
    }
}
