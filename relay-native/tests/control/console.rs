//! The operator console (`/console` on the edge) with a real relay: e2e/console.mjs in
//! headless Chromium signs in as an admin, creates an app and rotates its secret, sees the
//! relay after its heartbeat, revokes and disables a person; then, after a call relayed through
//! the relay (coturn's uclient with the person's credentials), sees the usage chart grow and
//! finds every change in the audit view. Last, Drain in the console reaches the relay through
//! its heartbeat's reply: the relay reports draining (the console shows it), refuses a new
//! allocation with 508 while the one it holds goes on refreshing. A person
//! without the console:admin right is refused. Screenshots of every view:
//! target/console-screenshots/.

use std::time::{Duration, Instant};

use relay_native::probe::Transport;
use relay_native::probe::client::{Credentials, Reply, TurnClient, choose};
use serde_json::{Value, json};

use super::common::metrics::{scrape, value};
use super::common::{start_peer, uclient};
use super::edge::{node, root, unique};
use super::system::*;

fn script(args: &Value) -> Value {
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: `cargo xtask setup` installs Debian's chromium"
    );
    let out = node("e2e/console.mjs", &[&args.to_string()]);
    let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["ok"], true, "{v}");
    v
}

/// A client that asked `relay` for an allocation with long-term credentials: the final answer.
fn allocate(relay: std::net::SocketAddr, turn: &Value) -> (TurnClient, Reply) {
    let mut c = TurnClient::connect(relay, &Transport::Udp, Duration::from_secs(3)).unwrap();
    let challenge = c.allocate(None).unwrap();
    assert_eq!(challenge.error.as_ref().map(|e| e.0), Some(401));
    c.challenged(&challenge);
    let creds = Credentials::LongTerm {
        username: turn["username"].as_str().unwrap().into(),
        password: turn["credential"].as_str().unwrap().into(),
    };
    let signature = choose(&creds, None, c.offered()).unwrap();
    c.set_credentials(creds, signature);
    let r = c.allocate(Some(600)).unwrap();
    (c, r)
}

fn relayed_bytes(sys: &Sys) -> u64 {
    let t = &sys.usage("by=day")["total"];
    t["to_peer_bytes"].as_u64().unwrap() + t["to_client_bytes"].as_u64().unwrap()
}

#[test]
fn the_console_sees_a_relay_and_the_usage_of_a_relayed_call() {
    let _one = SERIAL.lock();
    let sys = Sys::start("console", &[FRANKFURT], &[]);
    sys.wait_listed(1, Duration::from_secs(20));
    let w = &sys.w;
    let admin = unique("ops");
    let admin_id = w.create_user(&admin, "console admin password");
    assert_eq!(w.set_rights(&admin_id, &["console:admin"]).status, 204);
    let plain = unique("plain");
    let plain_id = w.create_user(&plain, "plain person password");
    assert_eq!(w.set_rights(&plain_id, &["turn:priority"]).status, 204);
    let shots = root().join("target/console-screenshots");
    let mut args = json!({
        "phase": "before", "origin": w.base, "admin": admin, "password": "console admin password",
        "plain": plain, "plainPassword": "plain person password", "shots": shots,
        "adminId": admin_id, "relay": sys.relays[0].id,
    });
    let before = script(&args);
    let baseline = before["baseline"].as_u64().unwrap();

    // A call relayed through the relay: 200 messages of 300 bytes each way.
    let person = sys.person();
    let creds = sys.credentials(&person, "50.1,8.7");
    let turn = creds["iceServers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s.get("username").is_some())
        .unwrap()
        .clone();
    let (_peer, peer_port) = start_peer(&sys.dir);
    let u = uclient(
        sys.relays[0].addr,
        peer_port,
        &[
            "-u",
            turn["username"].as_str().unwrap(),
            "-w",
            turn["credential"].as_str().unwrap(),
            "-m",
            "1",
            "-n",
            "200",
            "-l",
            "300",
        ],
    );
    assert!(u.sent == 200 && u.received == 200, "uclient: {}", u.output);
    // The relay reports it within its usage interval.
    let deadline = Instant::now() + Duration::from_secs(30);
    while relayed_bytes(&sys) <= baseline {
        assert!(
            Instant::now() < deadline,
            "no usage reached the edge: {}",
            sys.relays[0].log()
        );
        std::thread::sleep(Duration::from_millis(250));
    }

    for k in ["victim", "relayClient", "webClient"] {
        args[k] = before[k].clone();
    }
    args["baseline"] = json!(baseline);
    args["phase"] = json!("after");
    let after = script(&args);
    assert!(
        after["usageBytes"].as_u64().unwrap() >= baseline + 2 * 200 * 300,
        "{after}"
    );

    // The console's changes carry the admin as actor; the refused person has no session.
    let audit = w.audit();
    assert!(
        !audit
            .iter()
            .any(|e| e["event"] == "console.signed_in" && e["user_id"] == plain_id.as_str())
    );

    // Drain from the console, with an allocation held: the heartbeat's reply tells the relay,
    // which drains as on SIGUSR1 and reports it; the console shows it draining.
    let relay = &sys.relays[0];
    let (mut held, r) = allocate(relay.addr, &turn);
    assert!(r.error.is_none(), "{r:?}");
    args["phase"] = json!("drain");
    let drained = script(&args);
    assert_eq!(drained["state"], "draining (from the console)", "{drained}");
    assert!(
        relay
            .wait_line(
                &["the edge asks this relay to drain"],
                Duration::from_secs(5)
            )
            .is_some(),
        "{}",
        relay.log()
    );
    let text = scrape(relay.metrics);
    assert_eq!(value(&text, "edgeturn_draining", &[]), 1);
    // A new allocation is refused (508: no alternate configured); the held one refreshes.
    let (_late, refused) = allocate(relay.addr, &turn);
    assert_eq!(
        refused.error.as_ref().map(|e| e.0),
        Some(508),
        "{refused:?}"
    );
    let again = held.refresh(600).unwrap();
    assert_eq!(again.error, None);
    // (It stops when its last allocation ends: uclient's second one is still there.)
    assert!(held.refresh(0).unwrap().error.is_none());
    assert!(w.audit().iter().any(|e| e["event"] == "relay.drain"
        && e["detail"] == "drain"
        && e["actor_id"] == admin_id.as_str()));

    for view in [
        "refused",
        "people",
        "apps",
        "relays",
        "relays-draining",
        "usage",
        "audit",
    ] {
        assert!(
            shots.join(format!("console-{view}.png")).exists(),
            "screenshot of {view}"
        );
    }
}
