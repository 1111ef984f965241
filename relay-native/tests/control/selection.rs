//! Callers are handed the healthy relays nearest them, nearest first; a relay that stops
//! heartbeating or drains drops out within the staleness window (3 s here); the probe,
//! acting as a browser, allocates on the relay it was handed first.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::system::*;

/// Waits until the relays named for a caller at `at` are `want`.
fn until_named(sys: &Sys, p: &Person, at: &str, want: &[&str], within: Duration) -> Duration {
    let t = Instant::now();
    loop {
        let got = sys.named(p, at);
        if got == want {
            return t.elapsed();
        }
        assert!(t.elapsed() < within, "at {at}: {got:?}, want {want:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn callers_get_their_nearest_healthy_relay_first() {
    let _one = SERIAL.lock();
    let mut sys = Sys::start("select", &[FRANKFURT, VIRGINIA, SINGAPORE], &[]);
    let p = sys.person();
    // Berlin, Washington, Jakarta.
    assert_eq!(sys.named(&p, "52.52,13.40"), ["fra", "iad", "sin"]);
    assert_eq!(sys.named(&p, "38.90,-77.03"), ["iad", "fra", "sin"]);
    assert_eq!(sys.named(&p, "-6.20,106.85"), ["sin", "fra", "iad"]);

    // The probe, as a browser in Washington, allocates on the relay named first.
    let v: Value = sys.credentials(&p, "38.90,-77.03");
    let first = v["iceServers"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|s| s.get("username").and(s["urls"][0].as_str()))
        .unwrap()
        .trim_start_matches("turn:")
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let iad = sys.relays[1].addr.to_string();
    assert_eq!(first, iad);
    let url = sys.w.url("/turn/credentials");
    let probe = Probe::spawn(
        &sys.dir,
        "browser",
        &[
            "--credentials-url",
            &url,
            "--bearer",
            &p.bearer,
            "--server",
            &first,
            "--timeout",
            "2",
        ],
    );
    let (code, report, err) = probe.wait(Duration::from_secs(20));
    assert_eq!(code, Some(0), "{err}");
    let report: Value = serde_json::from_str(&report).unwrap();
    assert_eq!(
        (report["server"].as_str(), report["mechanism"].as_str()),
        (Some(iad.as_str()), Some("browser"))
    );

    // A relay that drains drops out of the answers within the staleness window.
    sys.relays[0].signal("-USR1");
    let d = until_named(
        &sys,
        &p,
        "52.52,13.40",
        &["iad", "sin"],
        Duration::from_secs(5),
    );
    eprintln!("a draining relay left the answers after {d:?}");
    // One that stops heartbeating (killed) too, within the window of 3 s (plus a heartbeat).
    sys.relays[2].kill();
    let d = until_named(&sys, &p, "-6.20,106.85", &["iad"], Duration::from_secs(5));
    eprintln!("a relay that stopped heartbeating left the answers after {d:?}");
    // Started again, it is back.
    sys.relays[2].start();
    until_named(
        &sys,
        &p,
        "-6.20,106.85",
        &["sin", "iad"],
        Duration::from_secs(10),
    );
    // No healthy relay at all: the static TURN_URLS.
    sys.relays[1].kill();
    sys.relays[2].kill();
    std::thread::sleep(Duration::from_secs(5));
    let v = sys.credentials(&p, "0,0");
    let turn: Vec<&Value> = v["iceServers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s.get("username").is_some())
        .collect();
    assert_eq!(turn.len(), 1, "{v}");
    assert!(
        turn[0]["urls"][0]
            .as_str()
            .unwrap()
            .starts_with("turn:127.0.0.1:3478"),
        "{v}"
    );
}
