//! The JavaScript API: `new EdgeTurn({...})`, `signIn()`, `iceServers()`, `autoRefresh(...)`,
//! `usage()`.

mod dpop;
mod http;
mod idb;
mod popup;
mod timer;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use self::dpop::Key;
use crate::dpop::{ALG, Mode, USE_NONCE, challenge_wants_nonce, store_key};
use crate::error::{ErrorCode, HelperError};
use crate::oauth::{Callback, DEFAULT_SCOPE, Options, TokenResponse};
use crate::pkce::{Pkce, random_state, random32};
use crate::schedule::{access_token_stale, refresh_delay_ms};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Options for `new EdgeTurn(...)`. */
export interface EdgeTurnOptions {
  /** The edge's base URL, e.g. "https://auth.example.com". */
  edge: string;
  /** The public OAuth client registered at the edge. */
  clientId: string;
  /** A page on the app's origin that posts the redirect back (see callback.html). */
  redirectUri: string;
  /** Scopes, default "openid turn". */
  scope?: string;
  /**
   * DPoP (RFC 9449): bind the tokens to a key this browser keeps. Absent: when the edge's
   * discovery lists ES256, failing with `dpop_unavailable` if the browser cannot keep a key;
   * `true`: always; `false`: bearer tokens; "if-available": as absent, but bearer tokens when
   * the browser cannot.
   */
  dpop?: boolean | "if-available";
}
/** What the last credentials fetched say about themselves (never the key). */
export interface CredentialInfo {
  /** Unix seconds the credentials expire. */
  expiresAt?: number;
  /** The key id the TURN token is sealed under. */
  kid?: string;
  /** The token's stable id, as the edge's audit trail and the relay's logs show it. */
  tokenId?: string;
}
/** Relay traffic of one group (a day and an app, or the total), payload bytes. */
export interface UsageCounts {
  allocations: number;
  to_peer_packets: number;
  to_peer_bytes: number;
  to_client_packets: number;
  to_client_bytes: number;
}
/** The signed-in person's relay usage over the last 30 days, by UTC day and app. */
export interface UsageReport {
  from: string;
  to: string;
  rows: (UsageCounts & { day: string; client_id: string | null })[];
  total: UsageCounts;
}
/** Thrown and passed to error callbacks; `name` is "EdgeTurnError". */
export interface EdgeTurnError extends Error {
  code: "sign_in_failed" | "popup_blocked" | "edge_unreachable" | "session_expired"
      | "not_signed_in" | "bad_response" | "bad_options" | "dpop_unavailable";
}
"#;

#[derive(Default, Clone)]
struct Session {
    access_token: String,
    access_expires_ms: f64,
    refresh_token: Option<String>,
    id_token: Option<String>,
    /// `token_type: DPoP`: the tokens are bound to the key, sent with proofs.
    dpop: bool,
}

/// Whether the helper uses DPoP, once decided.
#[derive(Clone)]
enum DpopState {
    /// Not decided yet (decided at the first token request).
    Undecided,
    /// Bearer tokens.
    Bearer,
    /// Proofs signed with this key.
    Key(Rc<Key>),
}

/// Metadata the edge sends beside `iceServers`.
#[derive(Default, Clone)]
struct CredentialMeta {
    expires_at: Option<f64>,
    kid: Option<String>,
    token_id: Option<String>,
}

struct Inner {
    opts: Options,
    dpop_mode: Mode,
    dpop: RefCell<DpopState>,
    /// The newest `DPoP-Nonce` the edge sent.
    nonce: RefCell<Option<String>>,
    session: RefCell<Option<Session>>,
    last: RefCell<CredentialMeta>,
    generation: Cell<u32>,
}

/// A signed-in connection to an edgeturn edge that hands out ICE servers.
#[wasm_bindgen]
pub struct EdgeTurn {
    inner: Rc<Inner>,
}

#[wasm_bindgen]
impl EdgeTurn {
    /// Creates the helper; throws an EdgeTurnError (`bad_options`) for unusable options.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "EdgeTurnOptions")] options: JsValue,
    ) -> Result<EdgeTurn, JsValue> {
        let field = |k: &str| http::str_field(&options, k);
        let dpop = js_sys::Reflect::get(&options, &"dpop".into()).unwrap_or_default();
        let dpop_mode = Mode::parse(
            dpop.is_undefined() || dpop.is_null(),
            dpop.as_bool(),
            dpop.as_string().as_deref(),
        )?;
        let opts = Options {
            edge: field("edge").unwrap_or_default(),
            client_id: field("clientId").unwrap_or_default(),
            redirect_uri: field("redirectUri").unwrap_or_default(),
            scope: field("scope").unwrap_or_else(|| DEFAULT_SCOPE.into()),
        }
        .validated()?;
        Ok(EdgeTurn {
            inner: Rc::new(Inner {
                opts,
                dpop_mode,
                dpop: RefCell::new(DpopState::Undecided),
                nonce: RefCell::new(None),
                session: RefCell::new(None),
                last: RefCell::default(),
                generation: Cell::new(0),
            }),
        })
    }

    /// Signs in with the authorization code flow and PKCE (S256) in a popup window. Call it
    /// from a click handler. Tokens stay in this object's memory (with DPoP, the bound
    /// refresh token is also kept in the tab's `sessionStorage`, for `resume()`).
    #[wasm_bindgen(js_name = signIn, unchecked_return_type = "Promise<void>")]
    pub fn sign_in(&self) -> js_sys::Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let random = random32()
                .map_err(|_| HelperError::new(ErrorCode::SignInFailed, "no randomness"))?;
            let pkce = Pkce::from_random(&random);
            let state = random_state()
                .map_err(|_| HelperError::new(ErrorCode::SignInFailed, "no randomness"))?;
            let search = popup::run(&inner.opts.authorize_url(&state, &pkce.challenge)).await?;
            let code = Callback::parse(&search)
                .ok_or_else(|| {
                    HelperError::new(ErrorCode::SignInFailed, "the redirect carried no code")
                })?
                .code_for(&state)?;
            let body = inner.opts.code_exchange_body(&code, &pkce.verifier);
            let tokens = token_request(&inner, &body, false).await?;
            let session = session_from(tokens, None);
            keep_refresh_token(&inner, &session);
            *inner.session.borrow_mut() = Some(session);
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Signs in again after a reload without a window, when DPoP is on and this tab kept a
    /// refresh token (in `sessionStorage`; bound to the key, so useless without it): refreshes
    /// it and resolves `true`, or resolves `false` when there is none or the edge no longer
    /// takes it. The ID token is not kept: `endSessionForm()` uses the one the refresh
    /// response carries (the edge's does for scope `openid`). Await it before `signIn()`.
    #[wasm_bindgen(unchecked_return_type = "Promise<boolean>")]
    pub fn resume(&self) -> js_sys::Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let Some(refresh) = dpop_key(&inner)
                .await?
                .and_then(|k| k.stored_refresh_token())
            else {
                return Ok(false.into());
            };
            *inner.session.borrow_mut() = Some(Session {
                refresh_token: Some(refresh),
                dpop: true,
                ..Session::default()
            });
            match access_token(&inner, true).await {
                Ok(_) => Ok(true.into()),
                Err(e) if e.code == ErrorCode::SessionExpired => Ok(false.into()),
                Err(e) => {
                    *inner.session.borrow_mut() = None;
                    Err(e.into())
                }
            }
        })
    }

    /// True after a successful sign-in, until `signOut()` or a failed refresh.
    #[wasm_bindgen(getter, js_name = signedIn)]
    pub fn signed_in(&self) -> bool {
        self.inner.session.borrow().is_some()
    }

    /// Forgets the tokens and stops any auto-refresh.
    #[wasm_bindgen(js_name = signOut)]
    pub fn sign_out(&self) {
        self.stop();
        *self.inner.session.borrow_mut() = None;
        forget_refresh_token(&self.inner);
    }

    /// The edge's sign-out for this session as a form to POST (`null` before sign-in):
    /// `{ action, fields }`, where `fields` maps names to values. Submit it as a
    /// `method="post"` form after `signOut()` and the edge revokes the session's tokens, then
    /// returns the browser to `postLogoutRedirectUri` (registered for the app). A POST keeps
    /// the ID token out of URLs (history, logs).
    #[wasm_bindgen(
        js_name = endSessionForm,
        unchecked_return_type = "{ action: string, fields: Record<string, string> } | null"
    )]
    pub fn end_session_form(&self, post_logout_redirect_uri: &str) -> JsValue {
        let session = self.inner.session.borrow();
        let Some(id_token) = session.as_ref().and_then(|s| s.id_token.as_deref()) else {
            return JsValue::NULL;
        };
        let (action, fields) = self
            .inner
            .opts
            .end_session_form(id_token, post_logout_redirect_uri);
        let f = js_sys::Object::new();
        for (k, v) in fields {
            let _ = js_sys::Reflect::set(&f, &k.into(), &v.into());
        }
        let o = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&o, &"action".into(), &action.into());
        let _ = js_sys::Reflect::set(&o, &"fields".into(), &f);
        o.into()
    }

    /// Fetches fresh ICE servers (`RTCIceServer[]`) from the edge's /turn/credentials,
    /// refreshing the access token first when it is about to expire.
    #[wasm_bindgen(js_name = iceServers, unchecked_return_type = "Promise<RTCIceServer[]>")]
    pub fn ice_servers(&self) -> js_sys::Promise {
        let inner = self.inner.clone();
        future_to_promise(async move { Ok(fetch_ice(&inner).await?.0) })
    }

    /// The signed-in person's relay usage (`UsageReport`): what their TURN credentials
    /// relayed over the last 30 days, by day and app, as the relays reported it.
    #[wasm_bindgen(unchecked_return_type = "Promise<UsageReport>")]
    pub fn usage(&self) -> js_sys::Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let resp = authorized_get(&inner, &inner.opts.usage_url(), "/turn/usage").await?;
            Ok(resp.body)
        })
    }

    /// Expiry, kid and token id of the credentials last returned by `iceServers()`.
    #[wasm_bindgen(js_name = credentialInfo, unchecked_return_type = "CredentialInfo")]
    pub fn credential_info(&self) -> JsValue {
        let m = self.inner.last.borrow().clone();
        let o = js_sys::Object::new();
        if let Some(e) = m.expires_at {
            let _ = js_sys::Reflect::set(&o, &"expiresAt".into(), &e.into());
        }
        if let Some(k) = m.kid {
            let _ = js_sys::Reflect::set(&o, &"kid".into(), &k.into());
        }
        if let Some(t) = m.token_id {
            let _ = js_sys::Reflect::set(&o, &"tokenId".into(), &t.into());
        }
        o.into()
    }

    /// Keeps ICE servers fresh: calls `onServers(iceServers)` now and again before each set
    /// expires (so the app can `pc.setConfiguration({...pc.getConfiguration(), iceServers})`),
    /// and `onError(err)` on failures. Stops on `stop()`, `signOut()` or `session_expired`;
    /// other errors are retried with back-off.
    #[wasm_bindgen(js_name = autoRefresh)]
    pub fn auto_refresh(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(servers: RTCIceServer[]) => void")]
        on_servers: js_sys::Function,
        #[wasm_bindgen(unchecked_param_type = "((err: EdgeTurnError) => void) | undefined")]
        on_error: Option<js_sys::Function>,
    ) {
        let inner = self.inner.clone();
        let generation = inner.generation.get().wrapping_add(1);
        inner.generation.set(generation);
        wasm_bindgen_futures::spawn_local(async move {
            let mut backoff = 2_000.0;
            while inner.generation.get() == generation {
                match fetch_ice(&inner).await {
                    Ok((servers, expires_ms)) => {
                        backoff = 2_000.0;
                        if inner.generation.get() != generation {
                            break;
                        }
                        let _ = on_servers.call1(&JsValue::NULL, &servers);
                        timer::sleep(refresh_delay_ms(timer::now_ms(), expires_ms)).await;
                    }
                    Err(e) => {
                        let fatal =
                            matches!(e.code, ErrorCode::SessionExpired | ErrorCode::NotSignedIn);
                        if let Some(f) = &on_error {
                            let _ = f.call1(&JsValue::NULL, &JsValue::from(e));
                        }
                        if fatal {
                            break;
                        }
                        timer::sleep(backoff).await;
                        backoff = (backoff * 2.0).min(60_000.0);
                    }
                }
            }
        });
    }

    /// Stops `autoRefresh`.
    pub fn stop(&self) {
        self.inner
            .generation
            .set(self.inner.generation.get().wrapping_add(1));
    }
}

fn session_from(t: TokenResponse, previous: Option<&Session>) -> Session {
    Session {
        dpop: t
            .token_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("DPoP")),
        access_expires_ms: timer::now_ms() + t.expires_in.unwrap_or(300.0) * 1000.0,
        access_token: t.access_token,
        refresh_token: t
            .refresh_token
            .or_else(|| previous.and_then(|p| p.refresh_token.clone())),
        id_token: t
            .id_token
            .or_else(|| previous.and_then(|p| p.id_token.clone())),
    }
}

/// The key to sign proofs with, or `None` for bearer tokens; decided once, at the first
/// token request (docs/www.md, "DPoP").
async fn dpop_key(inner: &Inner) -> Result<Option<Rc<Key>>, HelperError> {
    match &*inner.dpop.borrow() {
        DpopState::Key(k) => return Ok(Some(k.clone())),
        DpopState::Bearer => return Ok(None),
        DpopState::Undecided => {}
    }
    let wanted = match inner.dpop_mode {
        Mode::Off => false,
        Mode::On => true,
        Mode::Auto | Mode::IfAvailable => {
            let meta = http::request(&inner.opts.metadata_url(), None, None, None).await?;
            let algs =
                js_sys::Reflect::get(&meta.body, &"dpop_signing_alg_values_supported".into())
                    .unwrap_or_default();
            meta.status == 200
                && js_sys::Array::is_array(&algs)
                && js_sys::Array::from(&algs).includes(&ALG.into(), 0)
        }
    };
    let state = if !wanted {
        DpopState::Bearer
    } else {
        let key = store_key(&inner.opts.edge, &inner.opts.client_id);
        match Key::load_or_create(&key).await {
            Ok(k) => DpopState::Key(Rc::new(k)),
            Err(_) if inner.dpop_mode == Mode::IfAvailable => DpopState::Bearer,
            Err(e) => return Err(e),
        }
    };
    // Two first calls at once (resume() and signIn()): the first key decided stays.
    if let DpopState::Key(k) = &*inner.dpop.borrow() {
        return Ok(Some(k.clone()));
    }
    *inner.dpop.borrow_mut() = state.clone();
    Ok(match state {
        DpopState::Key(k) => Some(k),
        _ => None,
    })
}

/// Keeps the newest server nonce (RFC 9449 section 8).
fn note_nonce(inner: &Inner, resp: &http::JsonResponse) {
    if let Some(n) = &resp.nonce {
        *inner.nonce.borrow_mut() = Some(n.clone());
    }
}

/// Keeps a DPoP-bound refresh token in the tab, for `resume()` after a reload.
fn keep_refresh_token(inner: &Inner, session: &Session) {
    if let (DpopState::Key(k), true) = (&*inner.dpop.borrow(), session.dpop) {
        k.store_refresh_token(session.refresh_token.as_deref());
    }
}

fn forget_refresh_token(inner: &Inner) {
    if let DpopState::Key(k) = &*inner.dpop.borrow() {
        k.store_refresh_token(None);
    }
}

/// POSTs to the token endpoint, with a proof when DPoP is on; a `use_dpop_nonce` error is
/// retried once with the nonce the edge sent.
async fn token_request(
    inner: &Inner,
    body: &str,
    during_refresh: bool,
) -> Result<TokenResponse, HelperError> {
    let url = inner.opts.token_url();
    let key = dpop_key(inner).await?;
    let resp = send_proved(inner, key.as_deref(), &url, Some(body), None).await?;
    if resp.status == 200 {
        return match resp.str("access_token") {
            Some(access_token) => Ok(TokenResponse {
                access_token,
                token_type: resp.str("token_type"),
                expires_in: resp.num("expires_in"),
                refresh_token: resp.str("refresh_token"),
                id_token: resp.str("id_token"),
            }),
            None => Err(HelperError::new(
                ErrorCode::BadResponse,
                "the token response has no access_token",
            )),
        };
    }
    match resp.oauth_error() {
        Some(e) => Err(e.into_helper_error(during_refresh)),
        None => Err(HelperError::new(
            ErrorCode::BadResponse,
            format!("token endpoint answered HTTP {}", resp.status),
        )),
    }
}

/// A usable access token: the current one, or a refreshed one; and whether it is DPoP-bound.
async fn access_token(inner: &Inner, force_refresh: bool) -> Result<(String, bool), HelperError> {
    let (token, dpop, stale, refresh) = match &*inner.session.borrow() {
        None => {
            return Err(HelperError::new(
                ErrorCode::NotSignedIn,
                "call signIn() first",
            ));
        }
        Some(s) => (
            s.access_token.clone(),
            s.dpop,
            access_token_stale(timer::now_ms(), s.access_expires_ms),
            s.refresh_token.clone(),
        ),
    };
    if !(stale || force_refresh) {
        return Ok((token, dpop));
    }
    let Some(refresh) = refresh else {
        *inner.session.borrow_mut() = None;
        return Err(HelperError::new(
            ErrorCode::SessionExpired,
            "the access token expired and there is no refresh token",
        ));
    };
    match token_request(inner, &inner.opts.refresh_body(&refresh), true).await {
        Ok(t) => {
            let previous = inner.session.borrow().clone();
            let s = session_from(t, previous.as_ref());
            let token = (s.access_token.clone(), s.dpop);
            keep_refresh_token(inner, &s);
            *inner.session.borrow_mut() = Some(s);
            Ok(token)
        }
        Err(e) => {
            if e.code == ErrorCode::SessionExpired {
                *inner.session.borrow_mut() = None;
                forget_refresh_token(inner);
            }
            Err(e)
        }
    }
}

/// GET `url` with the access token; one refresh-and-retry on 401; anything but 200 is an
/// error naming `what`.
async fn authorized_get(
    inner: &Inner,
    url: &str,
    what: &str,
) -> Result<http::JsonResponse, HelperError> {
    let mut resp = resource_get(inner, url, false).await?;
    if resp.status == 401 {
        resp = resource_get(inner, url, true).await?;
        if resp.status == 401 {
            *inner.session.borrow_mut() = None;
            return Err(HelperError::new(
                ErrorCode::SessionExpired,
                "the edge no longer accepts this session",
            ));
        }
    }
    if resp.status != 200 {
        return Err(match resp.oauth_error() {
            Some(e) => HelperError::new(ErrorCode::BadResponse, format!("{what}: {}", e.error)),
            None => HelperError::new(
                ErrorCode::BadResponse,
                format!("{what} answered HTTP {}", resp.status),
            ),
        });
    }
    Ok(resp)
}

/// GET `url` with the access token: `Authorization: DPoP` and a proof (with `ath`) for a
/// DPoP-bound token, retried once when the edge asks for a nonce (RFC 9449 section 9);
/// `Bearer` otherwise.
async fn resource_get(
    inner: &Inner,
    url: &str,
    force_refresh: bool,
) -> Result<http::JsonResponse, HelperError> {
    let (token, dpop) = access_token(inner, force_refresh).await?;
    let key = match dpop {
        true => Some(dpop_key(inner).await?.ok_or_else(|| {
            HelperError::new(ErrorCode::DpopUnavailable, "a DPoP-bound token but no key")
        })?),
        false => None,
    };
    send_proved(inner, key.as_deref(), url, None, Some(&token)).await
}

/// Sends a request (a form POST, or a GET with `access_token`), with a proof signed by `key`
/// when DPoP is on (with `ath` at resources), and once more with the edge's nonce when it
/// asks for one: `use_dpop_nonce` in a 400 from the token endpoint, or in a 401's
/// `WWW-Authenticate` from a resource (RFC 9449 sections 8 and 9).
async fn send_proved(
    inner: &Inner,
    key: Option<&Key>,
    url: &str,
    form: Option<&str>,
    access_token: Option<&str>,
) -> Result<http::JsonResponse, HelperError> {
    let scheme = if key.is_some() { "DPoP" } else { "Bearer" };
    let mut retried = false;
    loop {
        let proof = match key {
            Some(k) => {
                let nonce = inner.nonce.borrow().clone();
                let htm = if form.is_some() { "POST" } else { "GET" };
                Some(k.proof(htm, url, nonce.as_deref(), access_token).await?)
            }
            None => None,
        };
        let auth = access_token.map(|t| (scheme, t));
        let resp = http::request(url, form, auth, proof.as_deref()).await?;
        note_nonce(inner, &resp);
        let wants_nonce = match resp.status {
            400 => resp.str("error").as_deref() == Some(USE_NONCE),
            401 => resp.challenge.as_deref().is_some_and(challenge_wants_nonce),
            _ => false,
        };
        if key.is_some() && resp.nonce.is_some() && wants_nonce && !retried {
            retried = true;
            continue;
        }
        return Ok(resp);
    }
}

/// GET /turn/credentials. Returns the iceServers array and the expiry in milliseconds.
async fn fetch_ice(inner: &Inner) -> Result<(JsValue, f64), HelperError> {
    let url = inner.opts.credentials_url();
    let resp = authorized_get(inner, &url, "/turn/credentials").await?;
    let servers =
        js_sys::Reflect::get(&resp.body, &"iceServers".into()).unwrap_or(JsValue::UNDEFINED);
    if !js_sys::Array::is_array(&servers) {
        return Err(HelperError::new(
            ErrorCode::BadResponse,
            "/turn/credentials has no iceServers array",
        ));
    }
    let now = timer::now_ms();
    let expires_ms = match (resp.num("expiresAt"), resp.num("ttl")) {
        (Some(at), _) => at * 1000.0,
        (None, Some(ttl)) => now + ttl * 1000.0,
        (None, None) => now + 300_000.0,
    };
    *inner.last.borrow_mut() = CredentialMeta {
        expires_at: Some((expires_ms / 1000.0).floor()),
        kid: resp.str("kid"),
        token_id: resp.str("tokenId"),
    };
    Ok((servers, expires_ms))
}
