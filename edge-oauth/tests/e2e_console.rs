//! The operator console at /console driven in headless Chromium (Debian's, through
//! playwright-core): e2e/console.mjs signs in through the edge's own code flow, changes
//! people, apps and relays, and reads usage and the audit trail; screenshots of every view
//! land in target/console-screenshots/.

#![cfg(not(target_arch = "wasm32"))] // drives workerd and Chromium from the host
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure report

mod common;

use common::*;
use serde_json::Value;

#[test]
fn an_admin_runs_the_console_and_others_are_refused() {
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: `cargo xtask setup` installs Debian's chromium"
    );
    let w = Worker::start("console", &[]);
    let admin = unique("ops");
    let admin_id = w.create_user(&admin, "console admin password");
    assert_eq!(w.set_rights(&admin_id, &["console:admin"]).status, 204);
    let plain = unique("plain");
    let plain_id = w.create_user(&plain, "plain person password");
    assert_eq!(w.set_rights(&plain_id, &["api:admin"]).status, 204);
    let shots = root().join("target/console-screenshots");
    let out = node(
        "e2e/console.mjs",
        &[
            &w.base,
            &admin,
            "console admin password",
            &plain,
            "plain person password",
            shots.to_str().unwrap(),
        ],
    );
    let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["ok"], true, "{v}");
    let victim = v["victim"].as_str().unwrap();

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
    let on_app = |event: &str, client: &str| {
        audit.iter().any(|e| {
            e["event"] == event && e["client_id"] == client && e["actor_id"] == admin_id.as_str()
        })
    };
    let relay_client = v["relayClient"].as_str().unwrap();
    let web_client = v["webClient"].as_str().unwrap();
    for (event, client) in [
        ("client.created", relay_client),
        ("client.secret_rotated", relay_client),
        ("client.created", web_client),
        ("client.redirect_uris_set", web_client),
        ("client.deleted", web_client),
    ] {
        assert!(on_app(event, client), "{event} of {client} by the admin");
    }
    // The refused person never got a session.
    assert!(
        !audit
            .iter()
            .any(|e| e["event"] == "console.signed_in" && e["user_id"] == plain_id.as_str())
    );
    for view in ["people", "refused", "apps"] {
        assert!(
            shots.join(format!("console-{view}.png")).exists(),
            "screenshot of {view}"
        );
    }
}
