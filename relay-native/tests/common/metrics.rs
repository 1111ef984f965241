//! The relay's operator endpoints from a test: HTTP requests, reading samples out of the
//! Prometheus text, promtool, and a real Prometheus server scraping the relay.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Proc, eventually, free_port, need_from, spawn, start_relay_sharded};

/// A Prometheus tool from Debian's `prometheus` package, or a failure naming the install.
pub fn need_prometheus(program: &str) -> PathBuf {
    need_from(program, "prometheus")
}

/// relay-native with `shards` shards, `flags` and metrics on a free port: the process, its
/// TURN address and its metrics address.
pub fn start_with_metrics(
    dir: &Path,
    shards: usize,
    flags: &[&str],
) -> (Proc, SocketAddr, SocketAddr) {
    let metrics = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let m = metrics.to_string();
    let mut args = vec!["--metrics", m.as_str()];
    args.extend_from_slice(flags);
    let (p, addr) = start_relay_sharded(dir, shards, &args);
    (p, addr, metrics)
}

/// An HTTP request; the status and the body (error statuses included).
pub fn http(method: &str, url: &str) -> (u16, String) {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build();
    match agent.request(method, url).call() {
        Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
        Err(e) => panic!("{method} {url}: {e}"),
    }
}

/// `GET /metrics`, which must succeed.
pub fn scrape(metrics: SocketAddr) -> String {
    let (code, body) = http("GET", &format!("http://{metrics}/metrics"));
    assert_eq!(code, 200, "{body}");
    body
}

/// The labels and value of a sample line (`name{a="x",b="y"} 12`).
fn parse(line: &str) -> Option<(&str, BTreeMap<String, String>, f64)> {
    if line.starts_with('#') {
        return None;
    }
    let (series, value) = line.rsplit_once(' ')?;
    let value: f64 = value.parse().ok()?;
    let (name, labels) = match series.split_once('{') {
        Some((name, rest)) => (name, rest.strip_suffix('}')?),
        None => (series, ""),
    };
    let labels = labels
        .split(',')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            Some((k.to_string(), v.trim_matches('"').to_string()))
        })
        .collect();
    Some((name, labels, value))
}

/// The sum of `name`'s samples whose labels include `labels`; None when there are none.
pub fn sum(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let matching: Vec<f64> = text
        .lines()
        .filter_map(parse)
        .filter(|(n, l, _)| {
            *n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(v))
        })
        .map(|(_, _, v)| v)
        .collect();
    (!matching.is_empty()).then(|| matching.iter().sum())
}

/// Like [`sum`], as an integer, and the series must exist.
pub fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> u64 {
    sum(text, name, labels).unwrap_or_else(|| panic!("no {name}{labels:?} in:\n{text}")) as u64
}

/// `promtool check metrics` on `text`: no lint problem, no parse error.
pub fn promtool_check(text: &str) {
    use std::io::Write;
    let mut child = std::process::Command::new(need_prometheus("promtool"))
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A Prometheus server on loopback, scraping `target` every second, with its data in a
/// scratch directory. Stopped (with its process group) when dropped.
pub struct Prometheus {
    pub proc: Proc,
    pub addr: SocketAddr,
}

impl Prometheus {
    pub fn start(dir: &Path, target: SocketAddr) -> Prometheus {
        Prometheus::start_with_rules(dir, target, None)
    }

    /// [`Prometheus::start`], also evaluating the rules of `rules` every second.
    pub fn start_with_rules(dir: &Path, target: SocketAddr, rules: Option<&Path>) -> Prometheus {
        let bin = need_prometheus("prometheus");
        let config = dir.join("prometheus.yml");
        let rule_files = match rules {
            Some(r) => format!("rule_files:\n  - '{}'\n", r.display()),
            None => String::new(),
        };
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n{rule_files}scrape_configs:\n  - job_name: edgeturn\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let data = dir.join("prometheus-data");
        let args = [
            format!("--config.file={}", config.display()),
            format!("--storage.tsdb.path={}", data.display()),
            format!("--web.listen-address={addr}"),
            "--log.level=warn".to_string(),
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let proc = spawn(dir, "prometheus", &bin, &args);
        eventually(Duration::from_secs(30), || {
            ureq::get(&format!("http://{addr}/-/ready"))
                .timeout(Duration::from_secs(1))
                .call()
                .map(drop)
                .map_err(|e| format!("Prometheus is not ready ({e}):\n{}", proc.log_text()))
        });
        Prometheus { proc, addr }
    }

    /// A GET of the HTTP API (`/api/v1/...`): its `data`, after checking its status.
    pub fn api(&self, path: &str) -> serde_json::Value {
        let r = ureq::get(&format!("http://{}/api/v1/{path}", self.addr))
            .call()
            .unwrap_or_else(|e| panic!("GET /api/v1/{path}: {e}"));
        let mut v: serde_json::Value = serde_json::from_str(&r.into_string().unwrap()).unwrap();
        assert_eq!(v["status"], "success", "{v}");
        v["data"].take()
    }

    /// An instant query through the HTTP API: each series' labels and value.
    pub fn query(&self, expr: &str) -> Vec<(BTreeMap<String, String>, f64)> {
        let r = ureq::get(&format!("http://{}/api/v1/query", self.addr))
            .query("query", expr)
            .call()
            .unwrap_or_else(|e| panic!("query {expr}: {e}"));
        let v: serde_json::Value = serde_json::from_str(&r.into_string().unwrap()).unwrap();
        assert_eq!(v["status"], "success", "{v}");
        v["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let labels = s["metric"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect();
                let value = s["value"][1].as_str().unwrap().parse().unwrap();
                (labels, value)
            })
            .collect()
    }

    /// Waits until `expr` returns one series whose value is `want`; the last answer.
    pub fn wait_for(&self, expr: &str, want: f64) -> Vec<(BTreeMap<String, String>, f64)> {
        eventually(Duration::from_secs(20), || {
            let got = self.query(expr);
            if got.len() == 1 && got[0].1 == want {
                return Ok(got);
            }
            Err(format!("Prometheus answers {got:?} to {expr}, not {want}"))
        })
    }
}
