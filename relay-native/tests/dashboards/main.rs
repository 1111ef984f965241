//! The relay's Grafana dashboard and Prometheus rules (`deploy/`) checked against the relay
//! itself: promtool checks the rules and runs their unit tests; the dashboard is valid JSON
//! with its variables; and against a live relay-native (TLS, a control plane on a stand-in
//! edge, a little uclient traffic) every series the dashboard and the rules read is one the
//! relay exports, every dashboard query runs on a real Prometheus scraping it and returns
//! data, and every rule evaluates there without error or alert. promtool and prometheus come
//! from Debian's `prometheus` package (`cargo xtask setup`); without them this fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "../common/mod.rs"]
mod common;
mod edge;
mod promql;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::metrics::*;
use common::pki::{Pki, Validity};
use common::*;
use edge::FakeEdge;
use serde_json::Value;

fn deploy(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(file)
}

/// `promtool args`: whether it succeeded, and what it printed.
fn promtool(args: &[&str], dir: &Path) -> (bool, String) {
    let out = Command::new(need_prometheus("promtool"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn promtool_checks_the_rules_and_their_unit_tests_pass() {
    let dir = deploy("prometheus");
    let (ok, out) = promtool(&["check", "rules", "relay-native.rules.yml"], &dir);
    assert!(ok, "promtool check rules:\n{out}");
    assert!(out.contains("SUCCESS: 6 rules found"), "{out}");
    let (ok, out) = promtool(&["test", "rules", "relay-native.rules.test.yml"], &dir);
    assert!(ok, "promtool test rules:\n{out}");

    // The unit tests can fail: the same tests expecting the down alert on the other relay.
    let scratch = scratch("dashboards-promtool");
    std::fs::copy(
        dir.join("relay-native.rules.yml"),
        scratch.join("relay-native.rules.yml"),
    )
    .unwrap();
    let tests = std::fs::read_to_string(dir.join("relay-native.rules.test.yml")).unwrap();
    let wrong = tests.replacen(
        "              instance: relay-a:9641",
        "              instance: relay-b:9641",
        1,
    );
    assert_ne!(wrong, tests);
    std::fs::write(scratch.join("wrong.test.yml"), wrong).unwrap();
    let (ok, out) = promtool(&["test", "rules", "wrong.test.yml"], &scratch);
    assert!(!ok && out.contains("RelayDown"), "{out}");
}

/// Grafana's variables as a query would get them: every relay, a one-minute rate window.
fn as_promql(expr: &str) -> String {
    expr.replace("$__rate_interval", "1m")
        .replace("$__interval", "1m")
        .replace("${instance}", ".*")
        .replace("$instance", ".*")
}

/// The dashboard, checked for its shape: each query's panel title and its PromQL (Grafana
/// variables replaced), the variables' queries included.
fn dashboard() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(deploy("grafana/relay-native.json")).unwrap();
    let d: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("deploy/grafana/relay-native.json is not JSON: {e}"));
    assert!(d["schemaVersion"].as_u64() >= Some(36), "schemaVersion");
    assert!(d["uid"].as_str().is_some_and(|u| !u.is_empty()), "uid");
    let vars = d["templating"]["list"].as_array().expect("templating.list");
    let var = |name: &str| {
        vars.iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no variable {name}"))
    };
    assert_eq!(var("datasource")["type"], "datasource");
    assert_eq!(var("datasource")["query"], "prometheus");
    assert_eq!(var("instance")["type"], "query");

    let mut queries = Vec::new();
    for v in vars.iter().filter(|v| v["type"] == "query") {
        let q = v["query"]["query"]
            .as_str()
            .or(v["query"].as_str())
            .unwrap();
        // label_values(SELECTOR, label): the selector is PromQL.
        let inner = q
            .strip_prefix("label_values(")
            .and_then(|r| r.strip_suffix(')'))
            .and_then(|r| r.rsplit_once(','))
            .map(|(sel, _)| sel.trim())
            .unwrap_or_else(|| panic!("variable query {q}: only label_values(selector, label)"));
        queries.push((format!("variable {}", v["name"]), as_promql(inner)));
    }
    let mut ids = BTreeSet::new();
    let mut panels: Vec<&Value> = d["panels"].as_array().expect("panels").iter().collect();
    while let Some(p) = panels.pop() {
        assert!(
            ids.insert(p["id"].as_u64().expect("a panel id")),
            "panel ids are unique"
        );
        if p["type"] == "row" {
            panels.extend(p["panels"].as_array().into_iter().flatten());
            continue;
        }
        let title = p["title"].as_str().expect("a panel title").to_string();
        assert_eq!(p["datasource"]["uid"], "${datasource}", "{title}");
        let targets = p["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title}: no query");
        for t in targets {
            let expr = t["expr"].as_str().filter(|e| !e.trim().is_empty());
            let expr = expr.unwrap_or_else(|| panic!("{title}: a target without expr"));
            queries.push((title.clone(), as_promql(expr)));
        }
    }
    queries
}

/// The metric families of a scrape (names of `# TYPE` lines), with the sample names of
/// histograms and summaries.
fn families(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if let (Some("#"), Some("TYPE"), Some(name), Some(kind)) =
            (words.next(), words.next(), words.next(), words.next())
        {
            names.insert(name.to_string());
            if kind == "histogram" || kind == "summary" {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{name}{suffix}"));
                }
            }
        }
    }
    names
}

/// Each query's metric names that the relay does not export (`up` is Prometheus's own).
fn unknown(queries: &[(String, String)], exported: &BTreeSet<String>) -> Vec<String> {
    let mut missing = Vec::new();
    for (title, expr) in queries {
        let names = promql::metric_names(expr).unwrap_or_else(|e| panic!("{title}: {e}"));
        assert!(!names.is_empty(), "{title}: no series in {expr}");
        for n in names {
            if n != "up" && !exported.contains(&n) {
                missing.push(format!("{title}: {n} in {expr}"));
            }
        }
    }
    missing
}

/// An instant query: the number of series, or Prometheus's error.
fn series(prom: &Prometheus, expr: &str) -> Result<usize, String> {
    let r = ureq::get(&format!("http://{}/api/v1/query", prom.addr))
        .query("query", expr)
        .call();
    let body = match r {
        Ok(r) => r.into_string().unwrap(),
        Err(ureq::Error::Status(code, r)) => {
            return Err(format!(
                "HTTP {code}: {}",
                r.into_string().unwrap_or_default()
            ));
        }
        Err(e) => return Err(e.to_string()),
    };
    let v: Value = serde_json::from_str(&body).unwrap();
    match v["status"] == "success" {
        true => Ok(v["data"]["result"].as_array().map_or(0, Vec::len)),
        false => Err(body),
    }
}

#[test]
fn the_dashboard_and_the_rules_read_only_series_a_live_relay_exports() {
    let queries = dashboard();
    let dir = scratch("dashboards-live");
    let edge = FakeEdge::start();
    let pki = Pki::new(&dir, "dashboards");
    let leaf = pki.leaf(&dir, "relay", &["turns.test"], Validity::Now);
    let secret = dir.join("client-secret");
    std::fs::write(&secret, "a-test-client-secret").unwrap();
    let (state, tls, edge_url) = (
        dir.join("state"),
        format!("127.0.0.1:{}", free_port()),
        format!("http://{}", edge.addr),
    );
    let (relay, addr, metrics) = start_with_metrics(
        &dir,
        1,
        &[
            "--user",
            "alice:secret",
            "--allow-loopback-peers",
            "--max-allocations",
            "100",
            "--tls-listen",
            &tls,
            "--tls-cert",
            leaf.cert.to_str().unwrap(),
            "--tls-key",
            leaf.key.to_str().unwrap(),
            "--edge",
            &edge_url,
            "--edge-client-id",
            "relay-test",
            "--edge-client-secret-file",
            secret.to_str().unwrap(),
            "--state-dir",
            state.to_str().unwrap(),
        ],
    );
    let (_peer, port) = start_peer(&dir);
    let u = uclient(
        addr,
        port,
        &[
            "-u", "alice", "-w", "secret", "-m", "1", "-n", "10", "-l", "100", "-z", "5",
        ],
    );
    assert!(u.sent == 10 && u.received == 10, "uclient:\n{}", u.output);

    // The control plane's figures: the feed answered, the configured limit is there.
    let text = eventually(Duration::from_secs(10), || {
        let text = scrape(metrics);
        match edge.feed_polls.load(Ordering::Relaxed) > 0 {
            true => Ok(text),
            false => Err(format!("the feed was not polled:\n{}", relay.log_text())),
        }
    });
    promtool_check(&text);
    let answered = value(
        &text,
        "edgeturn_revocation_feed_last_success_timestamp_seconds",
        &[],
    );
    let now = relay_native::control::unix_now();
    assert!(answered <= now && now - answered < 60, "{answered} {now}");
    assert_eq!(
        value(&text, "edgeturn_revocation_feed_failures_total", &[]),
        0
    );
    assert_eq!(value(&text, "edgeturn_max_allocations", &[]), 100);
    sum(&text, "edgeturn_usage_backlog_records", &[]).expect("the usage backlog");

    // Every series the dashboard and the rules read is exported.
    let exported = families(&text);
    let missing = unknown(&queries, &exported);
    assert!(missing.is_empty(), "not exported:\n{}", missing.join("\n"));
    let used: BTreeSet<String> = queries
        .iter()
        .flat_map(|(_, e)| promql::metric_names(e).unwrap())
        .collect();
    for family in [
        "edgeturn_allocations",
        "edgeturn_allocations_refused_total",
        "edgeturn_relayed_packets_total",
        "edgeturn_relayed_bytes_total",
        "edgeturn_auth_failures_total",
        "edgeturn_tls_handshakes_total",
        "edgeturn_tls_handshake_failures_total",
        "edgeturn_tls_certificate_expiry_timestamp_seconds",
        "edgeturn_draining",
        "edgeturn_bandwidth_dropped_bytes_total",
        "edgeturn_relay_ports_exhausted_total",
        "edgeturn_revocation_feed_last_success_timestamp_seconds",
        "edgeturn_usage_backlog_records",
    ] {
        assert!(
            used.contains(family),
            "the dashboard does not show {family}"
        );
    }

    // A real Prometheus scrapes the relay with the rules loaded: every dashboard query runs
    // and returns data; every rule evaluates cleanly and none fires.
    let prom = Prometheus::start_with_rules(
        &dir,
        metrics,
        Some(&deploy("prometheus/relay-native.rules.yml")),
    );
    prom.wait_for(r#"up{job="edgeturn"}"#, 1.0);
    for (title, expr) in &queries {
        eventually(Duration::from_secs(20), || match series(&prom, expr) {
            Ok(0) => Err(format!("{title}: no data for {expr}")),
            Ok(_) => Ok(()),
            Err(e) => panic!("{title}: Prometheus refuses {expr}: {e}"),
        });
    }
    let rules = eventually(Duration::from_secs(20), || {
        let data = prom.api("rules");
        let rules: Vec<Value> = data["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .collect();
        match rules.iter().all(|r| r["health"] == "ok") {
            true => Ok(rules),
            false => Err(format!("rules not (yet) evaluated cleanly: {rules:?}")),
        }
    });
    let names: BTreeSet<&str> = rules.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "AllocationLimitNear",
            "AuthFailureSpike",
            "CertificateExpiringSoon",
            "RelayDown",
            "RelayPortsExhausted",
            "RevocationFeedStalled",
        ])
    );
    let rule_queries: Vec<(String, String)> = rules
        .iter()
        .map(|r| {
            assert_eq!(r["type"], "alerting", "{r}");
            let labels = &r["labels"]["severity"];
            assert!(labels == "critical" || labels == "warning", "severity: {r}");
            for a in ["summary", "description"] {
                assert!(r["annotations"][a].as_str().is_some(), "{a}: {r}");
            }
            (
                format!("rule {}", r["name"]),
                r["query"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let missing = unknown(&rule_queries, &exported);
    assert!(missing.is_empty(), "not exported:\n{}", missing.join("\n"));
    let alerts = prom.api("alerts");
    assert_eq!(
        alerts["alerts"],
        serde_json::json!([]),
        "a healthy relay raises no alert"
    );

    // The feed's figures move: failures count, and the last success stays where it was.
    edge.feed_down.store(true, Ordering::Relaxed);
    let text = eventually(Duration::from_secs(10), || {
        let text = scrape(metrics);
        match value(&text, "edgeturn_revocation_feed_failures_total", &[]) {
            0 => Err(format!("no feed failure counted:\n{}", relay.log_text())),
            _ => Ok(text),
        }
    });
    let stalled = value(
        &text,
        "edgeturn_revocation_feed_last_success_timestamp_seconds",
        &[],
    );
    std::thread::sleep(Duration::from_secs(2));
    let later = scrape(metrics);
    assert_eq!(
        value(
            &later,
            "edgeturn_revocation_feed_last_success_timestamp_seconds",
            &[]
        ),
        stalled,
        "a failing feed does not move its last success"
    );
}
