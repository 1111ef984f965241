//! Missing or bad configuration: a clear 500 with an RFC 6749 JSON error (or an HTML page at
//! the authorization endpoint) naming the variable, never its value, never a stack trace.

#![cfg(not(target_arch = "wasm32"))] // drives workerd from the host
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure report

mod common;

use common::*;

#[test]
fn missing_and_bad_configuration_answer_500_json() {
    for (name, vars, needle) in [
        ("nokeys", vec![("TURN_KEYS", "")], "TURN_KEYS is not set"),
        (
            "badkey",
            vec![("TOKEN_SIGNING_KEY", "c2hvcnQtc2VjcmV0LXZhbHVl")],
            "TOKEN_SIGNING_KEY must be base64 of at least 32 bytes",
        ),
    ] {
        let w = Worker::start_with(name, &vars, false);
        for (method, path) in [
            ("GET", "/health"),
            ("POST", "/oauth2/token"),
            ("GET", "/.well-known/oauth-authorization-server"),
        ] {
            let r = request(
                method,
                &w.url(path),
                &[("Content-Type", "application/x-www-form-urlencoded")],
                (method == "POST").then_some(b"grant_type=client_credentials".as_slice()),
            );
            assert_eq!(r.status, 500, "{name} {path}: {}", r.body);
            assert_eq!(r.error(), "server_error", "{name} {path}");
            let d = r.json()["error_description"].as_str().unwrap().to_string();
            assert!(d.contains(needle), "{name} {path}: {d}");
            assert!(!d.contains("c2hvcnQ"), "the value is never echoed");
        }
        let page = get(&w.url("/oauth2/authorize?client_id=x"), &[]);
        assert_eq!(page.status, 500);
        assert!(
            page.header("content-type")
                .unwrap()
                .starts_with("text/html")
        );
        assert!(page.body.contains(needle));
        let log = w.log();
        assert!(
            !log.contains("panicked") && !log.contains("RuntimeError") && !log.contains("    at "),
            "{name}: {log}"
        );
    }
}
