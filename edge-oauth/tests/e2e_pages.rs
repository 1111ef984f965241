//! The sign-up, create-client and device pages driven in headless Chromium (Debian's, through
//! playwright-core): e2e/oidc-pages.mjs.

#![cfg(not(target_arch = "wasm32"))] // drives workerd and Chromium from the host
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure report

mod common;

use common::*;
use serde_json::{Value, json};

#[test]
fn signup_create_client_and_device_pages_in_chromium() {
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: `cargo xtask setup` installs Debian's chromium"
    );
    let w = Worker::start("pages", &[("SIGNUP", "on")]);
    let device = unique("tv");
    w.create_client(json!({
        "client_id": device, "public": true,
        "grant_types": ["urn:ietf:params:oauth:grant-type:device_code"], "scopes": ["openid"],
    }));
    let out = node("e2e/oidc-pages.mjs", &[&w.base, &device]);
    let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["deviceTokenType"], "Bearer");
    // What the pages did is in the audit trail.
    let audit = w.audit();
    let client_id = v["clientId"].as_str().unwrap();
    for (event, detail) in [
        ("client.created", Some("self_service")),
        ("client.deleted", None),
    ] {
        assert!(
            audit.iter().any(|e| e["event"] == event
                && e["client_id"] == client_id
                && detail.is_none_or(|d| e["detail"] == d)),
            "{event}"
        );
    }
    assert!(audit.iter().any(|e| e["event"] == "user.created"));
    assert!(
        audit
            .iter()
            .any(|e| e["event"] == "device.decided" && e["detail"] == "approved")
    );
}
