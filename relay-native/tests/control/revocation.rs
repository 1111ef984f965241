//! Revoking at the edge ends allocations on the relays within 5 s, refuses the token there
//! afterwards, and reaches relays that were cut off from the edge once they are back.

use crate::common::metrics::{scrape, value};
use std::time::{Duration, Instant};

use super::proxy::Mode;
use super::system::*;

const TARGET: Duration = Duration::from_secs(5);

/// Holds an allocation with an RFC 7635 token through `relay` (data flowing, refreshed
/// every second); returns the probe once the relay has the allocation.
fn hold(sys: &Sys, relay: usize, file: &std::path::Path, id: &str, name: &str) -> Probe {
    let r = &sys.relays[relay];
    let addr = r.addr.to_string();
    let p = Probe::spawn(
        &sys.dir,
        name,
        &[
            "--server",
            &addr,
            "--token-json",
            file.to_str().unwrap(),
            "--hold",
            "120",
            "--refresh-every",
            "1",
            "--timeout",
            "2",
        ],
    );
    assert!(
        r.wait_line(&[id, "event=\"created\""], Duration::from_secs(15))
            .is_some(),
        "{name}: no allocation on {}:\n{}\nprobe:\n{}",
        r.id,
        r.log(),
        p.progress()
    );
    p
}

/// Waits for `relay` to end `id`'s allocation as revoked; the time since `since`.
fn ended(sys: &Sys, relay: usize, id: &str, since: Instant) -> Duration {
    let r = &sys.relays[relay];
    assert!(
        r.wait_line(&[id, "event=\"revoked\""], Duration::from_secs(30))
            .is_some(),
        "{}: the allocation of {id} did not end:\n{}",
        r.id,
        r.log()
    );
    since.elapsed()
}

/// The probe saw its allocation go: its next Refresh was refused with 401.
fn probe_saw_it(p: Probe) {
    let (code, _, err) = p.wait(Duration::from_secs(10));
    assert_eq!(
        code,
        Some(7),
        "the probe should be refused (exit 7):\n{err}"
    );
    assert!(err.contains("revoked"), "{err}");
}

/// A new Allocate with the token is refused (401) on `relay`.
fn refused(sys: &Sys, relay: usize, file: &std::path::Path) {
    let addr = sys.relays[relay].addr.to_string();
    let p = Probe::spawn(
        &sys.dir,
        &format!("refused-{}", sys.relays[relay].place.name),
        &[
            "--server",
            &addr,
            "--token-json",
            file.to_str().unwrap(),
            "--timeout",
            "2",
        ],
    );
    let (code, _, err) = p.wait(Duration::from_secs(20));
    assert_eq!(
        code,
        Some(7),
        "{}: a revoked token must be refused:\n{err}",
        sys.relays[relay].id
    );
}

#[test]
fn revoking_a_token_or_a_person_ends_their_allocations_within_five_seconds() {
    let _one = SERIAL.lock();
    let sys = Sys::start("revoke", &[FRANKFURT, VIRGINIA, SINGAPORE], &[]);
    let svc = sys.service();

    // 20 RFC 7635 tokens, each holding an allocation on one of the relays, revoked with RFC
    // 7009 one after the other.
    let mut took = Vec::new();
    let mut last = None;
    for round in 0..20 {
        let relay = round % sys.relays.len();
        let (file, token, id) = sys.turn_token(&svc);
        let p = hold(&sys, relay, &file, &id, &format!("hold-{round}"));
        let t = Instant::now();
        sys.revoke(&svc, &token);
        took.push(ended(&sys, relay, &id, t));
        probe_saw_it(p);
        last = Some(file);
    }
    let (median, worst) = median_and_worst(took.clone());
    eprintln!(
        "revocation latency (RFC 7009 at the edge -> allocation ended on the relay), 20 rounds over 3 relays: median {median:?}, worst {worst:?}; all: {took:?}"
    );
    assert!(worst < TARGET, "worst {worst:?}: {took:?}");
    // Every relay refuses the revoked token afterwards, not just the one that held it.
    let file = last.unwrap();
    for relay in 0..sys.relays.len() {
        refused(&sys, relay, &file);
    }
    // The relays' metrics say why: 20 allocations ended as revoked, and each relay refused
    // the revoked token at least once.
    let texts: Vec<String> = sys.relays.iter().map(|r| scrape(r.metrics)).collect();
    let ended_revoked: u64 = texts
        .iter()
        .map(|t| {
            value(
                t,
                "edgeturn_allocations_ended_total",
                &[("reason", "revoked")],
            )
        })
        .sum();
    assert_eq!(ended_revoked, 20, "{texts:?}");
    for t in &texts {
        assert!(
            value(t, "edgeturn_auth_failures_total", &[("reason", "revoked")]) >= 1,
            "{t}"
        );
    }

    // A browser credential (what a page gets from /turn/credentials), held by the probe acting
    // as a browser, ended by "revoke everything of this person".
    let person = sys.person();
    let addr = sys.relays[1].addr.to_string();
    let url = sys.w.url("/turn/credentials");
    let p = Probe::spawn(
        &sys.dir,
        "browser",
        &[
            "--credentials-url",
            &url,
            "--bearer",
            &person.bearer,
            "--server",
            &addr,
            "--hold",
            "120",
            "--refresh-every",
            "1",
            "--timeout",
            "2",
        ],
    );
    let r = &sys.relays[1];
    assert!(
        r.wait_line(
            &["mechanism=browser-token", "event=\"created\""],
            Duration::from_secs(15)
        )
        .is_some(),
        "{}\n{}",
        r.log(),
        p.progress()
    );
    let line = r
        .line(&["mechanism=browser-token", "event=\"created\""])
        .unwrap();
    let id = line
        .split("token_id=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap()
        .trim_matches('"')
        .to_string();
    let t = Instant::now();
    sys.revoke_person(&person);
    let d = ended(&sys, 1, &id, t);
    eprintln!(
        "revocation latency, a person's browser credential (admin: revoke everything of the person): {d:?}"
    );
    assert!(d < TARGET, "{d:?}");
    probe_saw_it(p);
}

#[test]
fn relays_cut_off_from_the_edge_keep_relaying_and_catch_up_from_their_cursor() {
    let _one = SERIAL.lock();
    let mut sys = Sys::start("cutoff", &[FRANKFURT, VIRGINIA], &[]);
    let svc = sys.service();
    // Something revoked before the cut, which both relays know.
    let (known_file, known_token, known_id) = sys.turn_token(&svc);
    let p = hold(&sys, 1, &known_file, &known_id, "known");
    sys.revoke(&svc, &known_token);
    ended(&sys, 1, &known_id, Instant::now());
    probe_saw_it(p);

    sys.proxy.set(Mode::Cut);
    for r in &sys.relays {
        assert!(
            r.wait_line(
                &["revocation feed", "edge unreachable"],
                Duration::from_secs(15)
            )
            .is_some(),
            "{}: no word of the outage:\n{}",
            r.id,
            r.log()
        );
    }
    // Cut off, the relays still relay: a new allocation with data both ways.
    let (file, token, id) = sys.turn_token(&svc);
    let p = hold(&sys, 0, &file, &id, "cut-off");
    // Revoked at the edge while the relays cannot hear it: the allocation lives on.
    sys.revoke(&svc, &token);
    std::thread::sleep(Duration::from_secs(6));
    assert!(
        sys.relays[0].line(&[&id, "event=\"revoked\""]).is_none(),
        "the relay cannot know yet"
    );
    // A relay restarted while cut off still refuses what it learned before (its list is on
    // disk).
    sys.relays[1].stop();
    sys.relays[1].start();
    assert!(
        sys.relays[1]
            .wait_line(
                &["control plane: starting", "revoked=1"],
                Duration::from_secs(10)
            )
            .is_some(),
        "{}",
        sys.relays[1].log()
    );
    refused(&sys, 1, &known_file);

    // Back in touch: the revocation made meanwhile arrives within the target.
    let t = Instant::now();
    sys.proxy.set(Mode::Pass);
    let d = ended(&sys, 0, &id, t);
    eprintln!(
        "revocation made during a 6 s outage, from the edge being reachable again to the allocation's end: {d:?}"
    );
    assert!(d < TARGET, "{d:?}");
    probe_saw_it(p);
    assert!(
        sys.relays[0]
            .wait_line(&["the edge answers again"], Duration::from_secs(5))
            .is_some()
    );
    // And the other relay, restarted during the outage, caught up from its cursor too.
    assert!(
        sys.relays[1]
            .wait_line(&["revocations received"], Duration::from_secs(10))
            .is_some()
    );
    refused(&sys, 1, &file);
}
