//! The one IndexedDB store the helper keeps: per edge and client, its DPoP key pair (the
//! `CryptoKey` objects themselves, which IndexedDB clones without exposing the private key).

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbObjectStore, IdbOpenDbRequest, IdbRequest, IdbTransactionMode};

use crate::error::{ErrorCode, HelperError};

/// The database's name.
pub const DB: &str = "edgeturn-dpop";
/// Its one object store.
const STORE: &str = "keys";

fn unavailable(what: &str) -> HelperError {
    HelperError::new(
        ErrorCode::DpopUnavailable,
        format!("IndexedDB is unavailable here ({what}); DPoP needs it to keep its key"),
    )
}

/// Waits for an IndexedDB request and returns its result.
async fn done(req: &IdbRequest, what: &str) -> Result<JsValue, HelperError> {
    let wait = js_sys::Promise::new(&mut |resolve, reject| {
        req.set_onsuccess(Some(&resolve));
        req.set_onerror(Some(&reject));
    });
    JsFuture::from(wait).await.map_err(|_| unavailable(what))?;
    req.result().map_err(|_| unavailable(what))
}

async fn open() -> Result<IdbDatabase, HelperError> {
    let factory = web_sys::window()
        .and_then(|w| w.indexed_db().ok().flatten())
        .ok_or_else(|| unavailable("no indexedDB"))?;
    let req: IdbOpenDbRequest = factory
        .open_with_u32(DB, 1)
        .map_err(|_| unavailable("open"))?;
    let upgrade = req.clone();
    let on_upgrade = wasm_bindgen::closure::Closure::once_into_js(move || {
        if let Ok(db) = upgrade.result().and_then(|d| d.dyn_into::<IdbDatabase>()) {
            let _ = db.create_object_store(STORE);
        }
    });
    req.set_onupgradeneeded(Some(on_upgrade.unchecked_ref()));
    let db = done(&req, "open").await?;
    db.dyn_into().map_err(|_| unavailable("open"))
}

async fn store(mode: IdbTransactionMode) -> Result<IdbObjectStore, HelperError> {
    open()
        .await?
        .transaction_with_str_and_mode(STORE, mode)
        .and_then(|t| t.object_store(STORE))
        .map_err(|_| unavailable("transaction"))
}

/// The record under `key` (`undefined` when there is none).
pub async fn get(key: &str) -> Result<JsValue, HelperError> {
    let req = store(IdbTransactionMode::Readonly)
        .await?
        .get(&key.into())
        .map_err(|_| unavailable("get"))?;
    done(&req, "get").await
}

/// Stores `value` under `key`.
pub async fn put(key: &str, value: &JsValue) -> Result<(), HelperError> {
    let req = store(IdbTransactionMode::Readwrite)
        .await?
        .put_with_key(value, &key.into())
        .map_err(|_| unavailable("put"))?;
    done(&req, "put").await.map(|_| ())
}
