//! What the control plane costs in D1, measured (docs/control-plane.md has the figures and
//! what they come to for 100 relays with 10,000 allocations each). Not part of the normal
//! run (about four minutes):
//!
//!     cargo test -p relay-native --test control figures -- --ignored --nocapture

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::edge::{basic, get, post_form, post_json, unique};
use super::system::*;

/// The `d1` figures of an answer.
fn d1(v: &Value) -> (u64, u64) {
    (
        v["d1"]["rows_read"].as_u64().unwrap(),
        v["d1"]["rows_written"].as_u64().unwrap(),
    )
}

fn relay_token(sys: &Sys) -> (String, String) {
    let id = unique("figures");
    let c = sys.w.create_client(
        json!({ "client_id": id, "grant_types": ["client_credentials"], "scopes": ["relay"] }),
    );
    let r = post_form(
        &sys.w.url("/oauth2/token"),
        &[(
            "Authorization",
            &basic(&id, c["client_secret"].as_str().unwrap()),
        )],
        &[("grant_type", "client_credentials"), ("scope", "relay")],
    );
    (id, r.json()["access_token"].as_str().unwrap().to_string())
}

fn record(seq: u64, token_id: &str, first: bool) -> Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    json!({ "seq": seq, "token_id": token_id, "transport": "udp", "start": now - 60, "end": null, "at": now,
            "first": first, "to_peer_packets": 10, "to_peer_bytes": 1000, "to_client_packets": 10, "to_client_bytes": 1000 })
}

/// Each request kind's cost, measured on its own.
fn per_request(sys: &Sys) {
    let (relay, tok) = relay_token(sys);
    let auth = [("Authorization", format!("Bearer {tok}"))];
    let auth: Vec<(&str, &str)> = auth.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let beat = json!({ "relay_id": relay, "urls": ["turn:x:3478?transport=udp"], "allocations": 1, "capacity": 10, "load": 0.1,
                       "latitude": 1.0, "longitude": 2.0, "region": "r", "draining": false });
    let first = post_json(&sys.w.url("/relay/heartbeat"), &auth, &beat).json();
    let next = post_json(&sys.w.url("/relay/heartbeat"), &auth, &beat).json();
    eprintln!(
        "heartbeat: first {:?}, later {:?} (rows read, rows written)",
        d1(&first),
        d1(&next)
    );
    let poll = get(&sys.w.url("/relay/revocations?cursor=0&wait=0"), &auth).json();
    eprintln!(
        "revocation feed, one look at D1 (nothing new): {:?}",
        d1(&poll)
    );
    let tokens: Vec<String> = (0..50)
        .map(|i| shared_token::TokenId::of(format!("figures-{i}").as_bytes()).to_string())
        .collect();
    let batch = |seq0: u64, first: bool| -> Value {
        let records: Vec<Value> = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| record(seq0 + i as u64, t, first))
            .collect();
        post_json(
            &sys.w.url("/relay/usage"),
            &auth,
            &json!({ "relay_id": relay, "epoch": "figures", "records": records }),
        )
        .json()
    };
    let new_rows = batch(1, true);
    let same_rows = batch(51, false);
    let again = batch(51, false);
    eprintln!(
        "usage, 50 records of 50 tokens: new rows {:?}, the same rows again {:?}, a batch already applied {:?}",
        d1(&new_rows),
        d1(&same_rows),
        d1(&again)
    );
}

/// The relay's per-minute summaries: (requests, rows read, rows written) per line.
fn summaries(r: &Relay) -> Vec<(u64, u64, u64)> {
    r.log()
        .lines()
        .filter(|l| l.contains("requests to the edge and the D1 rows they cost"))
        .map(|l| {
            let num = |k: &str| {
                l.split(&format!(" {k}="))
                    .nth(1)
                    .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0)
            };
            (num("requests"), num("d1_rows_read"), num("d1_rows_written"))
        })
        .collect()
}

#[test]
#[ignore = "a four-minute measurement: cargo test -p relay-native --test control figures -- --ignored --nocapture"]
fn figures_d1_cost_per_relay_at_steady_state() {
    let _one = SERIAL.lock();
    let sys = Sys::start_with("figures", &[FRANKFURT, VIRGINIA], &[], MINUTE_USAGE);
    per_request(&sys);
    // Steady state: each relay holds 5 allocations that relay data every 10 s, for three
    // usage intervals; no revocations.
    let svc = sys.service();
    let mut probes = Vec::new();
    for (i, r) in sys.relays.iter().enumerate() {
        for n in 0..5 {
            let (file, _, _) = sys.turn_token(&svc);
            let addr = r.addr.to_string();
            probes.push(Probe::spawn(
                &sys.dir,
                &format!("steady-{i}-{n}"),
                &[
                    "--server",
                    &addr,
                    "--token-json",
                    file.to_str().unwrap(),
                    "--hold",
                    "230",
                    "--refresh-every",
                    "10",
                ],
            ));
        }
    }
    let t = Instant::now();
    while sys.relays.iter().any(|r| summaries(r).len() < 3) {
        assert!(
            t.elapsed() < Duration::from_secs(300),
            "no minute summaries"
        );
        std::thread::sleep(Duration::from_secs(5));
    }
    for r in &sys.relays {
        let s = summaries(r);
        // The first minute includes start-up (the token, the first feed pages).
        for (minute, (req, read, written)) in s.iter().enumerate().skip(1).take(2) {
            eprintln!(
                "{} minute {minute}: {req} requests to the edge, D1 rows read {read}, written {written} (5 live allocations, heartbeat 10 s, a usage record per allocation every 60 s, feed long poll 20 s)",
                r.id
            );
        }
    }
    drop(probes);
}
