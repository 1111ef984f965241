//! Usage at the edge equals what clients sent: the probe's exact byte counts (through the
//! kernel fast path too) and coturn's uclient, per user and per client, also when the edge
//! applied a report whose answer was lost and the relay restarted before sending it again.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::common::{start_peer, uclient};
use super::proxy::Mode;
use super::system::*;

const KEYS: [&str; 4] = [
    "to_peer_packets",
    "to_peer_bytes",
    "to_client_packets",
    "to_client_bytes",
];

fn counts(v: &Value) -> [u64; 4] {
    KEYS.map(|k| v[k].as_u64().unwrap_or(0))
}

fn add(a: [u64; 4], b: [u64; 4]) -> [u64; 4] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]]
}

/// Runs the probe to completion; its report.
fn probe(sys: &Sys, name: &str, relay: SocketAddr, args: &[&str]) -> Value {
    let server = relay.to_string();
    let mut all = vec!["--server", &server, "--timeout", "3"];
    all.extend_from_slice(args);
    let (code, report, err) = Probe::spawn(&sys.dir, name, &all).wait(Duration::from_secs(60));
    assert_eq!(code, Some(0), "{name}:\n{err}");
    serde_json::from_str(&report).unwrap()
}

/// What the relays logged at the ends of `token_id`'s allocations (sockets and kernel
/// together), summed.
fn relayed(sys: &Sys, token_id: &str) -> [u64; 4] {
    let mut total = [0; 4];
    for r in &sys.relays {
        for line in r
            .log()
            .lines()
            .filter(|l| l.contains(token_id) && l.contains("to_peer_bytes="))
        {
            let num = |k: &str| {
                line.split(&format!(" {k}="))
                    .nth(1)
                    .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            total = add(total, KEYS.map(num));
        }
    }
    total
}

/// Waits until the edge's total for `query` is `want` (and stays: the last report is in).
fn edge_total_becomes(sys: &Sys, query: &str, want: [u64; 4]) {
    let t = Instant::now();
    loop {
        let v = sys.usage(query);
        let got = counts(&v["total"]);
        if got == want {
            // Stays so: no record counted twice arrives later.
            std::thread::sleep(Duration::from_secs(3));
            assert_eq!(counts(&sys.usage(query)["total"]), want, "{query}");
            return;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "{query}: the edge has {got:?}, the clients sent {want:?}\n{v}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn usage_at_the_edge_equals_what_clients_sent() {
    let _one = SERIAL.lock();
    let mut sys = Sys::start("usage", &[FRANKFURT, VIRGINIA], &["fra"]);
    let fra = sys.relays[0].addr;
    let iad = sys.relays[1].addr;
    assert!(
        sys.relays[0]
            .log()
            .contains("kernel fast path for ChannelData attached"),
        "{}",
        sys.relays[0].log()
    );
    let person = sys.person();
    let svc = sys.service();
    let url = sys.w.url("/turn/credentials");

    // The person's browser credentials: the probe (long-term signing) through Frankfurt's
    // fast path, and uclient through Virginia.
    let a = probe(
        &sys,
        "browser-fra",
        fra,
        &[
            "--credentials-url",
            &url,
            "--bearer",
            &person.bearer,
            "--messages",
            "40",
            "--size",
            "700",
        ],
    );
    let mut person_sent = counts(&a["traffic"]);
    assert_eq!(
        relayed(&sys, a["token_id"].as_str().unwrap()),
        person_sent,
        "the relay counts what the probe sent"
    );
    let fast = sys.relays[0]
        .line(&["channel data relayed in the kernel"])
        .expect("the fast path carried channel data");
    assert!(!fast.contains("to_peer_packets=0 "), "{fast}");

    let creds = sys.credentials(&person, "0,0");
    let turn = creds["iceServers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s.get("username").is_some())
        .unwrap()
        .clone();
    let (_peer, peer_port) = start_peer(&sys.dir);
    let u = uclient(
        iad,
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
    let token = creds["tokenId"].as_str().unwrap();
    assert!(
        sys.relays[1]
            .wait_line(&[token, "to_peer_packets="], Duration::from_secs(10))
            .is_some(),
        "{}",
        sys.relays[1].log()
    );
    let by_uclient = relayed(&sys, token);
    assert_eq!(
        (by_uclient[0], by_uclient[2]),
        (200, 200),
        "every message each way: {by_uclient:?}"
    );
    person_sent = add(person_sent, by_uclient);

    // A service's RFC 7635 token through the fast path.
    let (file, _, svc_token) = sys.turn_token(&svc);
    let b = probe(
        &sys,
        "service-fra",
        fra,
        &[
            "--token-json",
            file.to_str().unwrap(),
            "--messages",
            "100",
            "--size",
            "1000",
        ],
    );
    let mut svc_sent = counts(&b["traffic"]);
    assert_eq!(relayed(&sys, &svc_token), svc_sent);

    edge_total_becomes(&sys, &format!("user_id={}", person.user_id), person_sent);
    edge_total_becomes(
        &sys,
        &format!("client_id={}", person.client_id),
        person_sent,
    );
    edge_total_becomes(&sys, &format!("client_id={}", svc.client_id), svc_sent);
    // The person sees the same on their own page's view.
    let own = super::edge::get(
        &sys.w.url("/turn/usage"),
        &[("Authorization", &format!("Bearer {}", person.bearer))],
    );
    assert_eq!(counts(&own.json()["total"]), person_sent, "{}", own.body);
    eprintln!(
        "usage: person {person_sent:?} (probe through the fast path + uclient), service {svc_sent:?}: the edge's totals equal them"
    );

    // The edge applies a report but its answer is lost; the relay stops before it could send
    // it again, and sends it again after its restart: counted once.
    sys.proxy.set(Mode::DropAnswers);
    let (file, _, token) = sys.turn_token(&svc);
    let c = probe(
        &sys,
        "restart",
        iad,
        &[
            "--token-json",
            file.to_str().unwrap(),
            "--messages",
            "30",
            "--size",
            "512",
        ],
    );
    svc_sent = add(svc_sent, counts(&c["traffic"]));
    let seen = Instant::now();
    while counts(&sys.usage(&format!("client_id={}", svc.client_id))["total"]) != svc_sent {
        assert!(
            seen.elapsed() < Duration::from_secs(20),
            "the edge never got the report"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // It has been applied; the relay does not know. Stop it, with the record still spooled.
    sys.relays[1].stop();
    sys.proxy.set(Mode::Pass);
    sys.relays[1].start();
    let restarted = sys.relays[1]
        .log()
        .lines()
        .rfind(|l| l.contains("control plane: starting"))
        .unwrap()
        .to_string();
    assert!(
        !restarted.contains("usage_backlog=0"),
        "the restarted relay should find its unconfirmed report in its spool: {restarted}"
    );
    // It sends it again; the edge confirms without counting it again.
    edge_total_becomes(&sys, &format!("client_id={}", svc.client_id), svc_sent);
    assert_eq!(relayed(&sys, &token), counts(&c["traffic"]));
    state_files_are_private(&sys.relays[1].state_dir());
}

/// Every state file the relay wrote is 0600 in 0700 directories, and no temporary file is
/// left behind.
fn state_files_are_private(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let mut files = 0;
    for d in [dir.to_path_buf(), dir.join("usage")] {
        assert_eq!(mode(&d), 0o700, "{}", d.display());
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                files += 1;
                assert_eq!(mode(&p), 0o600, "{}", p.display());
                assert!(!p.to_string_lossy().ends_with(".tmp"), "{}", p.display());
            }
        }
    }
    assert!(files >= 3, "epoch, done, records.jsonl at least: {files}");
}
