//! Configuration and isolate-local state.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::JsValue;
use worker::{D1Database, Env};

use crate::oauth::clients::client_cache::ClientCache;
use crate::oauth::clients::verify_cache::VerifyCache;
use crate::oauth::config::Config;
use crate::oauth::error::OAuthError;

thread_local! {
    static CONFIG: RefCell<Option<Rc<Config>>> = const { RefCell::new(None) };
    static VERIFIED: RefCell<VerifyCache> = RefCell::new(VerifyCache::default());
    static CLIENTS: RefCell<ClientCache> = RefCell::new(ClientCache::default());
}

/// A var or secret as text (a JSON var, such as an array, as its JSON text).
pub(super) fn read(env: &Env, name: &str) -> Option<String> {
    let v = js_sys::Reflect::get(env.as_ref(), &JsValue::from_str(name)).ok()?;
    if v.is_undefined() || v.is_null() {
        return None;
    }
    if let Some(s) = v.as_string() {
        return Some(s);
    }
    js_sys::JSON::stringify(&v).ok().and_then(|s| s.as_string())
}

/// The checked configuration, parsed once per isolate. A missing or bad value is a
/// `server_error` naming the variable (never its value).
pub fn config(env: &Env) -> Result<Rc<Config>, OAuthError> {
    if let Some(c) = CONFIG.with(|c| c.borrow().clone()) {
        return Ok(c);
    }
    let parsed = Rc::new(
        Config::from_lookup(|name| read(env, name))
            .map_err(|e| OAuthError::server_error(e.to_string()))?,
    );
    CONFIG.with(|c| *c.borrow_mut() = Some(parsed.clone()));
    Ok(parsed)
}

/// The D1 binding `DB`.
pub fn db(env: &Env) -> Result<D1Database, OAuthError> {
    env.d1("DB")
        .map_err(|_| OAuthError::server_error("configuration: the D1 binding DB is missing"))
}

/// Runs `f` with the isolate's verification cache.
pub fn with_verified<R>(f: impl FnOnce(&mut VerifyCache) -> R) -> R {
    VERIFIED.with(|c| f(&mut c.borrow_mut()))
}

/// Runs `f` with the isolate's client cache.
pub fn with_clients<R>(f: impl FnOnce(&mut ClientCache) -> R) -> R {
    CLIENTS.with(|c| f(&mut c.borrow_mut()))
}
