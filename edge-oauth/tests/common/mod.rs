//! The end-to-end fixture: the built worker (edge-oauth/build) in local workerd through
//! `wrangler dev --local`, with its own D1 state and `.dev.vars`, driven over HTTP.
//!
//! The config is the root wrangler.toml without `[build]` and with absolute paths. Every
//! wrangler runs in its own process group; a watchdog shell kills that group when the test
//! process ends, however it ends. A missing tool or build is a failure, never a skip.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)] // test code: a panic is a failure report

use std::io::Read;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;

pub const SERVER_NAME: &str = "turn.edgeturn.test";
pub const KID: &str = "test-1";
const WRANGLER_ENV: &[(&str, &str)] = &[
    ("WRANGLER_SEND_METRICS", "false"),
    ("CI", "true"),
    ("CLOUDFLARE_CF_FETCH_ENABLED", "false"),
];

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn random(n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).unwrap();
    b
}

/// Random bytes without 0x00 (turnutils_oauth reads keys as C strings).
fn nonzero(n: usize) -> Vec<u8> {
    random(n)
        .into_iter()
        .map(|b| if b == 0 { 1 } else { b })
        .collect()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The fixture's signing keys (RS256, ES256, RS256, ES256): resource-verifier's test set.
pub const TEST_KEYS: &str = include_str!("../../../resource-verifier/tests/test-keys.json");

/// A `SIGNING_KEYS` value holding fixture keys `which`, in that order (the last of each
/// algorithm signs).
pub fn signing_keys(which: &[usize]) -> String {
    let all: Value = serde_json::from_str(TEST_KEYS).unwrap();
    let keys: Vec<Value> = which.iter().map(|&i| all["keys"][i].clone()).collect();
    serde_json::json!({ "keys": keys }).to_string()
}

/// The root wrangler.toml without `[build]`, paths made absolute. Unless `strict_limits`, the
/// rate limits are raised out of reach: the tests share one source address (loopback), and
/// only the rate-limit test is about the limits.
fn dev_config(root: &Path, strict_limits: bool) -> String {
    let text = std::fs::read_to_string(root.join("wrangler.toml")).expect("the root wrangler.toml");
    let mut out = String::new();
    let mut in_build = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            in_build = t == "[build]";
        }
        if in_build {
            continue;
        }
        let mut replaced = None;
        if !strict_limits && t.starts_with("simple = {") {
            replaced = Some("simple = { limit = 1000000, period = 60 }".to_string());
        }
        for key in ["main", "migrations_dir", "directory"] {
            if let Some(rest) = t
                .strip_prefix(key)
                .map(str::trim_start)
                .and_then(|r| r.strip_prefix('='))
            {
                let rel = rest.trim().trim_matches('"');
                replaced = Some(format!("{key} = \"{}\"", root.join(rel).display()));
            }
        }
        out.push_str(&replaced.unwrap_or_else(|| line.to_string()));
        out.push('\n');
    }
    assert!(!out.contains("[build]"));
    out
}

pub struct Worker {
    /// The `.dev.vars` it runs with.
    pub vars: Vec<(String, String)>,
    pub base: String,
    pub admin: String,
    pub dir: PathBuf,
    /// The TURN key file the worker seals with.
    pub keys_json: String,
    /// The AS-RS key, base64.
    pub key_b64: String,
    /// Extra environment for wrangler (`NODE_EXTRA_CA_CERTS`, say).
    env: Vec<(String, String)>,
    child: Option<Child>,
    watchdog: Option<Child>,
    port: u16,
}

impl Worker {
    /// A fresh worker in `<tmp>/<name>`.
    pub fn start(name: &str, vars: &[(&str, &str)]) -> Worker {
        Worker::start_with(name, vars, true)
    }

    /// A fresh worker; `healthy` false waits only for an HTTP answer (for bad configurations).
    pub fn start_with(name: &str, vars: &[(&str, &str)], healthy: bool) -> Worker {
        Worker::start_opts(name, vars, healthy, false)
    }

    /// A fresh worker with wrangler.toml's rate limits as configured.
    pub fn start_strict(name: &str, vars: &[(&str, &str)]) -> Worker {
        Worker::start_opts(name, vars, true, true)
    }

    /// A fresh worker whose wrangler runs with `env` added to its environment; with
    /// `NODE_EXTRA_CA_CERTS`, workerd's outbound fetches trust that file's certificates.
    pub fn start_with_env(name: &str, vars: &[(&str, &str)], env: &[(&str, &str)]) -> Worker {
        Worker::start_env(name, vars, true, false, env)
    }

    fn start_opts(name: &str, vars: &[(&str, &str)], healthy: bool, strict: bool) -> Worker {
        Worker::start_env(name, vars, healthy, strict, &[])
    }

    fn start_env(
        name: &str,
        vars: &[(&str, &str)],
        healthy: bool,
        strict: bool,
        env: &[(&str, &str)],
    ) -> Worker {
        let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        remove_stale(&tmp);
        let dir = tmp.join(format!("edge-e2e-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let key_b64 = B64.encode(nonzero(32));
        let keys_json = format!(r#"[{{"kid":"{KID}","alg":"A256GCM","key":"{key_b64}"}}]"#);
        let admin = format!("admin-{}", hex(&random(16)));
        let port = free_port();
        let signing = B64.encode(random(32));
        let jwks = signing_keys(&[0, 1]);
        let issuer = format!("http://127.0.0.1:{port}");
        let mut pairs: Vec<(&str, &str)> = vec![
            ("TURN_KEYS", &keys_json),
            ("SIGNING_KEYS", &jwks),
            ("TOKEN_SIGNING_KEY", &signing),
            ("ADMIN_SECRET", &admin),
            ("ISSUER", &issuer),
            ("TURN_SERVER_NAME", SERVER_NAME),
            ("CODE_TTL", "5"),
            ("LEGACY_CLIENT_ID", "seed-legacy"),
        ];
        // `{port}` in a value stands for the worker's port (an ISSUER on `localhost`, say).
        let vars: Vec<(&str, String)> = vars
            .iter()
            .map(|(k, v)| (*k, v.replace("{port}", &port.to_string())))
            .collect();
        for (k, v) in &vars {
            pairs.retain(|(pk, _)| pk != k);
            pairs.push((k, v.as_str()));
        }
        let dev_vars: String = pairs.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        std::fs::write(dir.join(".dev.vars"), dev_vars).unwrap();
        std::fs::write(dir.join("wrangler.toml"), dev_config(&root(), strict)).unwrap();
        let mut w = Worker {
            vars: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            base: format!("http://127.0.0.1:{port}"),
            admin,
            dir,
            keys_json,
            key_b64,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            child: None,
            watchdog: None,
            port,
        };
        w.migrate();
        w.launch_with(healthy);
        w
    }

    fn wrangler() -> PathBuf {
        let js = root().join("edge-oauth/build/index.js");
        assert!(
            js.exists(),
            "{} is missing: build the worker first with `cargo xtask build-edge`",
            js.display()
        );
        let w = root().join("node_modules/.bin/wrangler");
        assert!(
            w.exists(),
            "{} is missing: run `npm ci` (or `cargo xtask setup`)",
            w.display()
        );
        w
    }

    fn migrate(&self) {
        let out = Command::new(Self::wrangler())
            .args([
                "d1",
                "migrations",
                "apply",
                "DB",
                "--local",
                "--persist-to",
                "state",
                "-c",
                "wrangler.toml",
            ])
            .current_dir(&self.dir)
            .envs(WRANGLER_ENV.iter().copied())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "migrations failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts wrangler (again) on the same port, state and vars.
    pub fn launch(&mut self) {
        self.launch_with(true);
    }

    /// Stops the worker, sets `name` in its `.dev.vars`, and starts it again (same state).
    pub fn restart_with(&mut self, name: &str, value: &str) {
        self.stop();
        self.vars.retain(|(k, _)| k != name);
        self.vars.push((name.to_string(), value.to_string()));
        let text: String = self
            .vars
            .iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect();
        std::fs::write(self.dir.join(".dev.vars"), text).unwrap();
        self.launch();
    }

    fn launch_with(&mut self, healthy: bool) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("wrangler.log"))
            .unwrap();
        let child = Command::new(Self::wrangler())
            .args([
                "dev",
                "--local",
                "--ip",
                "127.0.0.1",
                "--port",
                &self.port.to_string(),
            ])
            .args([
                "--inspector-port",
                &free_port().to_string(),
                "--persist-to",
                "state",
                "-c",
                "wrangler.toml",
            ])
            .args(["--show-interactive-dev-session=false"])
            // Its own worker name: wrangler's local dev registry keys running workers by name,
            // and concurrent `wrangler dev` of one name reload each other mid-request.
            .args(["--name", &format!("edgeturn-{}", self.port)])
            .current_dir(&self.dir)
            .envs(WRANGLER_ENV.iter().copied())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = child.id();
        // The watchdog: when this test process ends, stop wrangler's process group.
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "while kill -0 {} 2>/dev/null && kill -0 -{pgid} 2>/dev/null; do sleep 0.5; done; \
                 kill -TERM -{pgid} 2>/dev/null; for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 -{pgid} 2>/dev/null || exit 0; sleep 0.5; done; \
                 kill -KILL -{pgid} 2>/dev/null",
                std::process::id()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        self.child = Some(child);
        self.watchdog = Some(watchdog);
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let status = get(&format!("{}/health", self.base), &[]).status;
            if status == 200 || (!healthy && status != 0) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the worker did not become healthy; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Stops wrangler and workerd (the whole process group) and waits.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop_group(&mut child);
            if let Some(mut w) = self.watchdog.take() {
                let _ = w.wait();
            }
            // Wait until the port is free again.
            let deadline = Instant::now() + Duration::from_secs(20);
            while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("wrangler.log")).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn admin_auth(&self) -> String {
        format!("Bearer {}", self.admin)
    }

    /// POST /admin/clients; panics unless 201.
    pub fn create_client(&self, body: Value) -> Value {
        let r = post_json(
            &self.url("/admin/clients"),
            &[("Authorization", &self.admin_auth())],
            &body,
        );
        assert_eq!(r.status, 201, "create client: {}", r.body);
        r.json()
    }

    /// POST /admin/users; returns the user id.
    pub fn create_user(&self, username: &str, password: &str) -> String {
        self.create_user_with_email(username, password, None)
    }

    /// A new person signed in (password grant, scope `openid turn`) at a new public app of
    /// their own: (bearer token, user id, client id).
    pub fn person_with_app(&self) -> (String, String, String) {
        let client_id = unique("app");
        self.create_client(serde_json::json!({ "client_id": client_id, "public": true, "grant_types": ["password"], "scopes": ["openid", "turn"] }));
        let user = unique("person");
        let user_id = self.create_user(&user, "correct horse battery");
        let r = post_form(
            &self.url("/oauth2/token"),
            &[],
            &[
                ("grant_type", "password"),
                ("client_id", &client_id),
                ("username", &user),
                ("password", "correct horse battery"),
                ("scope", "openid turn"),
            ],
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let bearer = r.json()["access_token"].as_str().unwrap().to_string();
        (bearer, user_id, client_id)
    }

    /// POST /admin/users, with an email if given; returns the user id.
    pub fn create_user_with_email(
        &self,
        username: &str,
        password: &str,
        email: Option<&str>,
    ) -> String {
        let mut body = serde_json::json!({ "username": username, "password": password, "name": format!("{username} name") });
        if let Some(e) = email {
            body["email"] = Value::String(e.to_string());
        }
        let r = post_json(
            &self.url("/admin/users"),
            &[("Authorization", &self.admin_auth())],
            &body,
        );
        assert_eq!(r.status, 201, "create user: {}", r.body);
        r.json()["user_id"].as_str().unwrap().to_string()
    }

    /// PUT /admin/users/{id}/rights; returns the status.
    pub fn set_rights(&self, user_id: &str, rights: &[&str]) -> Resp {
        request(
            "PUT",
            &self.url(&format!("/admin/users/{user_id}/rights")),
            &[
                ("Authorization", &self.admin_auth()),
                ("Content-Type", "application/json"),
            ],
            Some(
                serde_json::json!({ "rights": rights })
                    .to_string()
                    .as_bytes(),
            ),
        )
    }

    /// POST /admin/initial-access-tokens; returns the token.
    pub fn initial_access_token(&self) -> String {
        let r = post_json(
            &self.url("/admin/initial-access-tokens"),
            &[("Authorization", &self.admin_auth())],
            &serde_json::json!({ "expires_in": 3600 }),
        );
        assert_eq!(r.status, 201, "initial access token: {}", r.body);
        r.json()["initial_access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// GET /admin/audit.
    pub fn audit(&self) -> Vec<Value> {
        let r = get(
            &self.url("/admin/audit?limit=1000"),
            &[("Authorization", &self.admin_auth())],
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["events"].as_array().unwrap().clone()
    }

    pub fn keyring(&self) -> shared_token::Keyring {
        shared_token::Keyring::from_json(&self.keys_json).unwrap()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// SIGTERM to the process group, SIGKILL after 5 s if it is still there (wrangler can hang in
/// shutdown), then reap.
fn stop_group(child: &mut Child) {
    let group = format!("-{}", child.id());
    let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_)))
            && !Command::new("kill")
                .args(["-0", "--", &group])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
    let _ = child.wait();
}

/// Removes the directories of earlier test processes that have ended (and whose wrangler
/// has had a minute to stop).
fn remove_stale(tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name
            .strip_prefix("edge-e2e-")
            .and_then(|r| r.rsplit('-').next())
            && pid.parse::<u32>().is_ok()
            && !Path::new("/proc").join(pid).exists()
            && std::fs::metadata(e.path().join("wrangler.log"))
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > Duration::from_secs(60)))
        {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Runs `node SCRIPT ARGS...` from the repository root and returns its stdout. A missing
/// Node or npm package is a failure naming the install step, never a skip.
pub fn node(script: &str, args: &[&str]) -> String {
    let root = root();
    for pkg in [
        "openid-client",
        "jose",
        "playwright-core",
        "@modelcontextprotocol/sdk",
    ] {
        assert!(
            root.join("node_modules").join(pkg).exists(),
            "node_modules/{pkg} is missing: run `npm ci` (or `cargo xtask setup`)"
        );
    }
    let out = Command::new("node")
        .arg(root.join(script))
        .args(args)
        .current_dir(&root)
        .output()
        .unwrap_or_else(|e| panic!("cannot run node (install Node 20): {e}"));
    assert!(
        out.status.success(),
        "{script} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One worker for all tests of a test binary (stopped by the watchdog when the binary exits).
pub fn shared() -> &'static Worker {
    static W: OnceLock<Worker> = OnceLock::new();
    W.get_or_init(|| Worker::start("shared", &[]))
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A unique name for this test run.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", hex(&random(4)))
}

// ---------------------------------------------------------------- HTTP

#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// The `error` member of an error body.
    pub fn error(&self) -> String {
        serde_json::from_str::<Value>(&self.body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

pub fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .redirects(0)
        .timeout(Duration::from_secs(30))
        .build()
}

fn finish(result: Result<ureq::Response, ureq::Error>) -> Resp {
    let resp = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => {
            return Resp {
                status: 0,
                headers: vec![],
                body: format!("transport error: {e}"),
            };
        }
    };
    let status = resp.status();
    let headers = resp
        .headers_names()
        .into_iter()
        .flat_map(|n| {
            resp.all(&n)
                .into_iter()
                .map(|v| (n.clone(), v.to_string()))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut body = String::new();
    let _ = resp
        .into_reader()
        .take(10_000_000)
        .read_to_string(&mut body);
    Resp {
        status,
        headers,
        body,
    }
}

pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Resp {
    let mut req = agent().request(method, url);
    for (k, v) in headers {
        req = req.set(k, v);
    }
    finish(match body {
        Some(b) => req.send_bytes(b),
        None => req.call(),
    })
}

pub fn get(url: &str, headers: &[(&str, &str)]) -> Resp {
    request("GET", url, headers, None)
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

pub fn post_form(url: &str, headers: &[(&str, &str)], pairs: &[(&str, &str)]) -> Resp {
    let mut h = vec![("Content-Type", "application/x-www-form-urlencoded")];
    h.extend_from_slice(headers);
    request("POST", url, &h, Some(form(pairs).as_bytes()))
}

pub fn post_json(url: &str, headers: &[(&str, &str)], body: &Value) -> Resp {
    let mut h = vec![("Content-Type", "application/json")];
    h.extend_from_slice(headers);
    request("POST", url, &h, Some(body.to_string().as_bytes()))
}

pub fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", B64.encode(format!("{id}:{secret}")))
}

// ---------------------------------------------------------------- the oauth2 crate

/// oauth2's HTTP client: ureq without redirects, answering error statuses as responses
/// (ureq 2 turns them into errors, which would hide RFC 6749 error bodies from oauth2).
pub fn oauth_http(req: oauth2::HttpRequest) -> Result<oauth2::HttpResponse, std::io::Error> {
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let h: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let method = req.method().as_str().to_string();
    let body = (method == "POST").then(|| req.body().as_slice());
    let r = request(&method, &req.uri().to_string(), &h, body);
    if r.status == 0 {
        return Err(std::io::Error::other(r.body));
    }
    let mut b = oauth2::http::Response::builder().status(r.status);
    for (k, v) in &r.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    b.body(r.body.into_bytes()).map_err(std::io::Error::other)
}

/// The fields edge-oauth adds to a token response for TURN tokens (RFC 7635 and the seed).
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize)]
pub struct TurnFields {
    pub kid: Option<String>,
    pub key: Option<String>,
    pub alg: Option<String>,
    pub mac_key: Option<String>,
    pub username: Option<String>,
}
impl oauth2::ExtraTokenFields for TurnFields {}

pub type TokenResp = oauth2::StandardTokenResponse<TurnFields, oauth2::basic::BasicTokenType>;
pub type IntrospectResp =
    oauth2::StandardTokenIntrospectionResponse<TurnFields, oauth2::basic::BasicTokenType>;
pub type Client<HasAuth, HasIntro, HasRevoke, HasToken> = oauth2::Client<
    oauth2::basic::BasicErrorResponse,
    TokenResp,
    IntrospectResp,
    oauth2::StandardRevocableToken,
    oauth2::basic::BasicRevocationErrorResponse,
    HasAuth,
    oauth2::EndpointNotSet,
    HasIntro,
    HasRevoke,
    HasToken,
>;
pub type FullClient =
    Client<oauth2::EndpointSet, oauth2::EndpointSet, oauth2::EndpointSet, oauth2::EndpointSet>;

/// An oauth2 client for `client_id` (and secret, if confidential) with every endpoint set.
pub fn oauth_client(
    w: &Worker,
    client_id: &str,
    secret: Option<&str>,
    redirect: &str,
) -> FullClient {
    let c = oauth2::Client::new(oauth2::ClientId::new(client_id.to_string()))
        .set_auth_uri(oauth2::AuthUrl::new(w.url("/oauth2/authorize")).unwrap())
        .set_token_uri(oauth2::TokenUrl::new(w.url("/oauth2/token")).unwrap())
        .set_introspection_url(oauth2::IntrospectionUrl::new(w.url("/oauth2/introspect")).unwrap())
        .set_revocation_url(oauth2::RevocationUrl::new(w.url("/oauth2/revoke")).unwrap())
        .set_redirect_uri(oauth2::RedirectUrl::new(redirect.to_string()).unwrap());
    match secret {
        Some(s) => c.set_client_secret(oauth2::ClientSecret::new(s.to_string())),
        None => c,
    }
}

// ---------------------------------------------------------------- the sign-in pages

/// The value of a hidden input in a page.
pub fn hidden(html: &str, name: &str) -> Option<String> {
    let start = html.find(&format!("name=\"{name}\" value=\""))? + name.len() + 15;
    let end = start + html[start..].find('"')?;
    Some(
        html[start..end]
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// The CSRF cookie's `name=value` from a Set-Cookie header.
pub fn cookie(resp: &Resp) -> Option<String> {
    resp.header("set-cookie")
        .and_then(|c| c.split(';').next())
        .map(str::to_string)
}

/// Drives the sign-in and consent pages like a browser: GET the authorization URL, post the
/// sign-in form, post the consent form. Returns the final `Location` (the redirect back).
pub fn sign_in(
    w: &Worker,
    authorize_url: &str,
    username: &str,
    password: &str,
    decision: &str,
) -> Result<String, Resp> {
    let page = get(authorize_url, &[]);
    if page.status != 200 {
        return Err(page);
    }
    let ck = cookie(&page).expect("the sign-in page sets the CSRF cookie");
    let login = post_form(
        &w.url("/oauth2/authorize"),
        &[("Cookie", &ck)],
        &[
            ("action", "login"),
            ("form_state", &hidden(&page.body, "form_state").unwrap()),
            ("csrf", &hidden(&page.body, "csrf").unwrap()),
            ("username", username),
            ("password", password),
        ],
    );
    // A person who allowed this app and scope before is not asked again.
    if login.status == 303 && decision == "allow" {
        return Ok(login.header("location").unwrap().to_string());
    }
    if login.status != 200 {
        return Err(login);
    }
    let done = post_form(
        &w.url("/oauth2/authorize"),
        &[("Cookie", &ck)],
        &[
            ("action", "consent"),
            ("form_state", &hidden(&login.body, "form_state").unwrap()),
            ("csrf", &hidden(&login.body, "csrf").unwrap()),
            ("decision", decision),
        ],
    );
    if done.status != 303 {
        return Err(done);
    }
    Ok(done.header("location").unwrap().to_string())
}

/// Signs `user` in through the pages and returns a fresh code and its PKCE verifier (S256);
/// `extra` adds authorization parameters (`scope`, `state`, `nonce`, ...).
pub fn code_for(
    w: &Worker,
    client: &str,
    redirect_uri: &str,
    user: &str,
    password: &str,
    extra: &[(&str, &str)],
) -> (String, String) {
    let verifier = format!("v{}", "x".repeat(50));
    let challenge = edge_oauth::oauth::flows::pkce::s256(&verifier);
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", client),
        ("redirect_uri", redirect_uri),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    pairs.extend_from_slice(extra);
    let url = format!("{}?{}", w.url("/oauth2/authorize"), form(&pairs));
    let loc = sign_in(w, &url, user, password, "allow").unwrap_or_else(|r| panic!("{r:?}"));
    (query_param(&loc, "code").unwrap(), verifier)
}

/// A query parameter of a URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
