//! The operator console at /console driven in headless Chromium (Debian's, through
//! playwright-core) against the worker alone: e2e/console.mjs signs in through the edge's own
//! code flow, changes people and apps, reads usage (empty here) and finds every change in the
//! audit view; a person without the right is refused. The same script with a real relay
//! (heartbeats, drain, relayed traffic in the usage chart) runs in relay-native's control
//! suite (relay-native/tests/control/console.rs). Screenshots land in
//! target/console-screenshots/.

#![cfg(not(target_arch = "wasm32"))] // drives workerd and Chromium from the host
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure report

mod common;

use common::*;
use serde_json::{Value, json};

/// Runs e2e/console.mjs with `args`; its JSON answer, which must say `ok`.
pub fn console_script(args: &Value) -> Value {
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: `cargo xtask setup` installs Debian's chromium"
    );
    let out = node("e2e/console.mjs", &[&args.to_string()]);
    let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["ok"], true, "{v}");
    v
}

#[test]
fn an_admin_runs_the_console_and_others_are_refused() {
    let w = Worker::start("console", &[]);
    let admin = unique("ops");
    let admin_id = w.create_user(&admin, "console admin password");
    assert_eq!(w.set_rights(&admin_id, &["console:admin"]).status, 204);
    let plain = unique("plain");
    let plain_id = w.create_user(&plain, "plain person password");
    assert_eq!(w.set_rights(&plain_id, &["api:admin"]).status, 204);
    let shots = root().join("target/console-screenshots/edge-only");
    let mut args = json!({
        "phase": "before", "origin": w.base, "admin": admin, "password": "console admin password",
        "plain": plain, "plainPassword": "plain person password", "shots": shots, "adminId": admin_id,
    });
    let before = console_script(&args);
    for k in ["victim", "relayClient", "webClient", "baseline"] {
        args[k] = before[k].clone();
    }
    args["phase"] = json!("after");
    console_script(&args);
    let victim = before["victim"].as_str().unwrap();

    // Every change is in the audit trail with the admin as its actor.
    let audit = w.audit();
    let by_admin = |event: &str, user: &str| {
        audit.iter().any(|e| {
            e["event"] == event && e["user_id"] == user && e["actor_id"] == admin_id.as_str()
        })
    };
    for event in [
        "user.created",
        "user.rights_set",
        "families.revoked",
        "user.disabled",
    ] {
        assert!(
            by_admin(event, victim),
            "{event} by the admin in {audit:#?}"
        );
    }
    assert!(by_admin("console.signed_in", &admin_id));
    // The web app's resources were set from the Apps view, by the admin.
    let web = before["webClient"].as_str().unwrap();
    assert!(
        audit.iter().any(|e| e["event"] == "client.resources_set"
            && e["client_id"] == web
            && e["actor_id"] == admin_id.as_str()),
        "{audit:#?}"
    );
    // The admin ended their own sign-in sessions from the People view.
    assert!(by_admin("session.ended", &admin_id), "{audit:#?}");
    // The refused person never got a session.
    assert!(
        !audit
            .iter()
            .any(|e| e["event"] == "console.signed_in" && e["user_id"] == plain_id.as_str())
    );
    for view in [
        "refused",
        "people",
        "person-sessions",
        "apps",
        "relays",
        "usage",
        "audit",
    ] {
        assert!(
            shots.join(format!("console-{view}.png")).exists(),
            "screenshot of {view}"
        );
    }
}
