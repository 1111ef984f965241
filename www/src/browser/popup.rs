//! The sign-in window: open the authorization URL, wait for callback.html to post back the
//! redirect's query string, notice when the user closes the window.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::MessageEvent;

use crate::error::{ErrorCode, HelperError};

/// The message callback.html posts: `{type: "edgeturn-callback", search: location.search}`.
const MESSAGE_TYPE: &str = "edgeturn-callback";

/// Opens `url` in a popup and resolves with the query string the redirect page reports.
pub async fn run(url: &str) -> Result<String, HelperError> {
    let window =
        web_sys::window().ok_or_else(|| HelperError::new(ErrorCode::SignInFailed, "no window"))?;
    let origin = window.location().origin().unwrap_or_default();
    let popup = window
        .open_with_url_and_target_and_features(url, "edgeturn-signin", "popup,width=480,height=640")
        .ok()
        .flatten()
        .ok_or_else(|| {
            HelperError::new(
                ErrorCode::PopupBlocked,
                "the browser blocked the sign-in window; call signIn() from a click",
            )
        })?;

    // Resolved by the message listener (with the query) or by the closed-window poll (with null).
    let settle: Rc<RefCell<Option<js_sys::Function>>> = Rc::new(RefCell::new(None));
    let promise = {
        let settle = settle.clone();
        js_sys::Promise::new(&mut move |resolve, _| {
            *settle.borrow_mut() = Some(resolve);
        })
    };

    let on_message = {
        let settle = settle.clone();
        let origin = origin.clone();
        Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
            if ev.origin() != origin {
                return;
            }
            let data = ev.data();
            let is_ours = js_sys::Reflect::get(&data, &"type".into())
                .ok()
                .and_then(|t| t.as_string())
                .as_deref()
                == Some(MESSAGE_TYPE);
            if !is_ours {
                return;
            }
            let search = js_sys::Reflect::get(&data, &"search".into()).unwrap_or(JsValue::NULL);
            if let Some(resolve) = settle.borrow_mut().take() {
                let _ = resolve.call1(&JsValue::NULL, &search);
            }
        })
    };
    let _ = window.add_event_listener_with_callback("message", on_message.as_ref().unchecked_ref());

    // A window seen closed is given up on one tick later, not at once: callback.html posts
    // its message and then closes, and on a busy machine this poll can run between the two
    // tasks, before the message is dispatched.
    let poll = {
        let settle = settle.clone();
        let popup = popup.clone();
        let mut seen_closed = false;
        Closure::<dyn FnMut()>::new(move || {
            if !popup.closed().unwrap_or(true) {
                return;
            }
            if !seen_closed {
                seen_closed = true;
                return;
            }
            if let Some(resolve) = settle.borrow_mut().take() {
                let _ = resolve.call1(&JsValue::NULL, &JsValue::NULL);
            }
        })
    };
    let interval = window
        .set_interval_with_callback_and_timeout_and_arguments_0(poll.as_ref().unchecked_ref(), 500)
        .unwrap_or(0);

    let result = JsFuture::from(promise).await.unwrap_or(JsValue::NULL);
    window.clear_interval_with_handle(interval);
    let _ =
        window.remove_event_listener_with_callback("message", on_message.as_ref().unchecked_ref());
    let _ = popup.close();
    result.as_string().ok_or_else(|| {
        HelperError::new(
            ErrorCode::SignInFailed,
            "the sign-in window was closed before signing in",
        )
    })
}
