//! The system under test: the built worker in local workerd with D1 (edge-oauth's e2e
//! fixture), a proxy between it and the relays, and relay-native processes with the control
//! plane on, each with its own client, location and state directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::common::{Proc, free_port, relay_bin, scratch, spawn, wait_binding};
use super::edge::{self, Worker, basic, get, post_form, post_json, unique};
use super::proxy::Proxy;

/// One system at a time: each test starts its own worker and relays, and two at once would
/// starve a two-core machine.
pub static SERIAL: Mutex<()> = Mutex::new(());

/// Where a relay is.
#[derive(Clone, Copy, Debug)]
pub struct Place {
    pub name: &'static str,
    pub at: (f64, f64),
}

pub const FRANKFURT: Place = Place {
    name: "fra",
    at: (50.11, 8.68),
};
pub const VIRGINIA: Place = Place {
    name: "iad",
    at: (38.95, -77.45),
};
pub const SINGAPORE: Place = Place {
    name: "sin",
    at: (1.35, 103.82),
};

pub struct Relay {
    pub id: String,
    pub place: Place,
    pub addr: SocketAddr,
    /// Where it serves Prometheus metrics.
    pub metrics: SocketAddr,
    dir: PathBuf,
    config: PathBuf,
    proc: Option<Proc>,
    runs: u32,
}

impl Relay {
    /// Its `[control] state_dir`.
    pub fn state_dir(&self) -> PathBuf {
        self.dir.join("state")
    }

    /// Starts (or starts again) the relay with its configuration and state.
    pub fn start(&mut self) {
        self.runs += 1;
        let name = format!("relay-{}-{}", self.place.name, self.runs);
        let p = spawn(
            &self.dir,
            &name,
            &relay_bin(),
            &["serve", "--config", self.config.to_str().unwrap()],
        );
        wait_binding(self.addr, &p);
        self.proc = Some(p);
    }

    /// SIGTERM, and waits for it to exit (it spools what its allocations relayed).
    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &p.child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline && matches!(p.child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// SIGKILL: no goodbye at all.
    pub fn kill(&mut self) {
        if let Some(mut p) = self.proc.take() {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
    }

    /// Sends a signal (SIGUSR1 marks it draining).
    pub fn signal(&self, sig: &str) {
        let pid = self.proc.as_ref().unwrap().child.id().to_string();
        assert!(
            Command::new("kill")
                .args([sig, &pid])
                .status()
                .unwrap()
                .success()
        );
    }

    /// Everything it logged, over all its runs.
    pub fn log(&self) -> String {
        (1..=self.runs)
            .map(|n| {
                std::fs::read_to_string(self.dir.join(format!("relay-{}-{n}.log", self.place.name)))
                    .unwrap_or_default()
            })
            .collect()
    }

    /// Waits until a log line has all of `parts`; how long that took, or None after `within`.
    pub fn wait_line(&self, parts: &[&str], within: Duration) -> Option<Duration> {
        let t = Instant::now();
        while t.elapsed() < within {
            if self
                .log()
                .lines()
                .any(|l| parts.iter().all(|p| l.contains(p)))
            {
                return Some(t.elapsed());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// The line with all of `parts`.
    pub fn line(&self, parts: &[&str]) -> Option<String> {
        self.log()
            .lines()
            .find(|l| parts.iter().all(|p| l.contains(p)))
            .map(str::to_string)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop();
    }
}

pub struct Sys {
    pub w: Worker,
    pub proxy: Proxy,
    pub relays: Vec<Relay>,
    pub dir: PathBuf,
}

/// A person signed in to an app: their bearer token (`openid turn`), user id and the app.
pub struct Person {
    pub bearer: String,
    pub user_id: String,
    pub client_id: String,
}

/// A confidential client with scope `turn` (client_credentials).
pub struct Service {
    pub client_id: String,
    pub secret: String,
}

/// The relays' control-plane intervals, seconds.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub heartbeat: f64,
    pub usage: f64,
    pub report: f64,
    pub feed_wait: u64,
}

/// Quick, for tests.
pub const FAST: Timing = Timing {
    heartbeat: 1.0,
    usage: 2.0,
    report: 1.0,
    feed_wait: 10,
};

/// A deployment's defaults, but a usage record of each live allocation every minute, so
/// a few minutes of measurement see them.
pub const MINUTE_USAGE: Timing = Timing {
    heartbeat: 10.0,
    usage: 60.0,
    report: 5.0,
    feed_wait: 20,
};

impl Sys {
    /// [`Sys::start_with`] the [`FAST`] timing.
    pub fn start(name: &str, places: &[Place], offload: &[&str]) -> Sys {
        Sys::start_with(name, places, offload, FAST)
    }

    /// The worker (with the dev location header, a 3 s staleness window, no relay-list cache
    /// and a 250 ms feed poll), the proxy, and one relay per place; relays whose place is in
    /// `offload` relay ChannelData in the kernel on lo.
    pub fn start_with(name: &str, places: &[Place], offload: &[&str], t: Timing) -> Sys {
        let dir = scratch(&format!("control-{name}"));
        let w = Worker::start(
            &format!("control-{name}"),
            &[
                ("DEV_CALLER_LOCATION", "1"),
                ("RELAY_STALE_AFTER", "3"),
                ("RELAY_LIST_CACHE_TTL", "0"),
                ("REVOCATION_POLL_MS", "250"),
                ("TURN_TOKEN_TTL", "900"),
            ],
        );
        let proxy = Proxy::start(w.base.rsplit(':').next().unwrap().parse().unwrap());
        let keys = dir.join("keys.json");
        std::fs::write(&keys, &w.keys_json).unwrap();
        let mut relays = Vec::new();
        for place in places {
            let id = format!("{}-{}", place.name, unique("r").trim_start_matches("r-"));
            let c = w.create_client(
                json!({ "client_id": id, "grant_types": ["client_credentials"], "scopes": ["relay"] }),
            );
            let rdir = dir.join(place.name);
            std::fs::create_dir_all(&rdir).unwrap();
            let secret = rdir.join("secret");
            std::fs::write(&secret, c["client_secret"].as_str().unwrap()).unwrap();
            let port = free_port();
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let metrics: SocketAddr = ([127, 0, 0, 1], free_port()).into();
            let offload = if offload.contains(&place.name) {
                "offload = [\"lo\"]\n"
            } else {
                ""
            };
            let config = rdir.join("relay.toml");
            std::fs::write(
                &config,
                format!(
                    "listen = \"{addr}\"\nmetrics = \"{metrics}\"\nrealm = \"edgeturn.test\"\n\
                     server_name = \"{}\"\nkeys = \"{}\"\n\
                     allow_loopback_peers = true\nshards = 2\n{offload}\n[control]\nedge = \"{}\"\n\
                     client_id = \"{id}\"\nclient_secret_file = \"{}\"\nlatitude = {}\nlongitude = {}\n\
                     region = \"{}\"\nstate_dir = \"{}\"\nheartbeat_secs = {}\nusage_secs = {}\n\
                     report_secs = {}\nfeed_wait_secs = {}\n",
                    edge::SERVER_NAME,
                    keys.display(),
                    proxy.url(),
                    secret.display(),
                    place.at.0,
                    place.at.1,
                    place.name,
                    rdir.join("state").display(),
                    t.heartbeat,
                    t.usage,
                    t.report,
                    t.feed_wait,
                ),
            )
            .unwrap();
            let mut r = Relay {
                id,
                place: *place,
                addr,
                metrics,
                dir: rdir,
                config,
                proc: None,
                runs: 0,
            };
            r.start();
            relays.push(r);
        }
        let sys = Sys {
            w,
            proxy,
            relays,
            dir,
        };
        for r in &sys.relays {
            assert!(
                r.wait_line(&["control plane: starting"], Duration::from_secs(10))
                    .is_some(),
                "{}: {}",
                r.id,
                r.log()
            );
        }
        sys.wait_listed(
            sys.relays.len(),
            Duration::from_secs_f64(t.heartbeat * 2.0 + 10.0),
        );
        sys
    }

    /// Waits until `/turn/credentials` names `n` relays (their first heartbeats arrived).
    pub fn wait_listed(&self, n: usize, within: Duration) {
        let p = self.person();
        let deadline = Instant::now() + within;
        loop {
            let listed = self.named(&p, "0,0").len();
            if listed == n {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{listed} relays listed, expected {n}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// A new person with a bearer token from an app of their own.
    pub fn person(&self) -> Person {
        let (bearer, user_id, client_id) = self.w.person_with_app();
        Person {
            bearer,
            user_id,
            client_id,
        }
    }

    /// A new service client (client_credentials, scope turn).
    pub fn service(&self) -> Service {
        let client_id = unique("svc");
        let c = self.w.create_client(
            json!({ "client_id": client_id, "grant_types": ["client_credentials"], "scopes": ["turn"] }),
        );
        Service {
            client_id,
            secret: c["client_secret"].as_str().unwrap().to_string(),
        }
    }

    /// An RFC 7635 token for `s`, written where the probe's `--token-json` reads it: (file,
    /// the token as issued, its id).
    pub fn turn_token(&self, s: &Service) -> (PathBuf, String, String) {
        let r = post_form(
            &self.w.url("/oauth2/token"),
            &[("Authorization", &basic(&s.client_id, &s.secret))],
            &[
                ("grant_type", "client_credentials"),
                ("scope", "turn"),
                ("aud", edge::SERVER_NAME),
            ],
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        let token = v["access_token"].as_str().unwrap().to_string();
        let raw =
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &token).unwrap();
        let id = shared_token::TokenId::of(&raw).to_string();
        let file = self.dir.join(format!("token-{id}.json"));
        std::fs::write(&file, v.to_string()).unwrap();
        (file, token, id)
    }

    /// RFC 7009 revocation of `token` by the service it was issued to.
    pub fn revoke(&self, s: &Service, token: &str) {
        let r = post_form(
            &self.w.url("/oauth2/revoke"),
            &[("Authorization", &basic(&s.client_id, &s.secret))],
            &[("token", token)],
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }

    /// The admin's "revoke everything of this person".
    pub fn revoke_person(&self, p: &Person) {
        let r = post_json(
            &self.w.url(&format!("/admin/users/{}/revoke", p.user_id)),
            &[("Authorization", &self.w.admin_auth())],
            &json!({}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }

    /// `/turn/credentials` for `p` placed at `at` (`LAT,LON`).
    pub fn credentials(&self, p: &Person, at: &str) -> Value {
        let r = get(
            &self.w.url("/turn/credentials"),
            &[
                ("Authorization", &format!("Bearer {}", p.bearer)),
                ("X-Dev-Caller-Location", at),
            ],
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    /// The relays `/turn/credentials` names for a caller at `at`, in order (by address).
    pub fn named(&self, p: &Person, at: &str) -> Vec<String> {
        let v = self.credentials(p, at);
        v["iceServers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s.get("username").is_some())
            .filter_map(|s| {
                let u = s["urls"][0].as_str()?;
                self.relays
                    .iter()
                    .find(|r| u.contains(&r.addr.to_string()))
                    .map(|r| r.place.name.to_string())
            })
            .collect()
    }

    /// `GET /admin/usage?{query}`.
    pub fn usage(&self, query: &str) -> Value {
        let r = get(
            &self.w.url(&format!("/admin/usage?{query}")),
            &[("Authorization", &self.w.admin_auth())],
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }
}

/// A probe running in the background: stdout (its report) and stderr in files.
pub struct Probe {
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Probe {
    pub fn spawn(dir: &Path, name: &str, args: &[&str]) -> Probe {
        let out = dir.join(format!("{name}.out"));
        let err = dir.join(format!("{name}.err"));
        let child = Command::new(relay_bin())
            .arg("probe")
            .args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        Probe { child, out, err }
    }

    /// Waits for it to exit: (exit code, report, stderr).
    pub fn wait(mut self, within: Duration) -> (Option<i32>, String, String) {
        let deadline = Instant::now() + within;
        let code = loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                break s.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        (
            code,
            std::fs::read_to_string(&self.out).unwrap_or_default(),
            std::fs::read_to_string(&self.err).unwrap_or_default(),
        )
    }

    /// Its progress so far.
    pub fn progress(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Median and worst.
pub fn median_and_worst(mut d: Vec<Duration>) -> (Duration, Duration) {
    d.sort();
    (d[d.len() / 2], *d.last().unwrap())
}
