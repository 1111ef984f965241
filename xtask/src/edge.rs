//! The edge worker: `build` (worker-build with the pinned wasm-bindgen, wasm-opt and esbuild,
//! never a download) and the pieces local runs share (the benchmark is in edge_bench.rs).
//! Standard library only.
//!
//! Also the pieces a local run needs: starting `wrangler dev` with local D1 from a copy of
//! the root wrangler.toml without `[build]` ([`Dev`]), secrets for `.dev.vars`
//! ([`dev_vars`]), and seeding the demo client and user through the admin API ([`seed_demo`]).

use std::error::Error;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

fn home_bin(name: &str) -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo")
        });
    home.join("bin").join(name)
}

fn node_bin(root: &Path, name: &str) -> PathBuf {
    root.join("node_modules").join(".bin").join(name)
}

fn need(path: &Path, hint: &str) -> Result {
    if path.exists() {
        Ok(())
    } else {
        Err(format!("{} is missing ({hint})", path.display()).into())
    }
}

/// The built worker: edge-oauth/build/index.js and its wasm.
pub fn worker_js(root: &Path) -> PathBuf {
    root.join("edge-oauth/build/index.js")
}

/// Builds the worker with `worker-build --release` into edge-oauth/build, using the pinned
/// tools (worker-build would otherwise download wasm-bindgen and wasm-opt from GitHub).
pub fn build(root: &Path) -> Result {
    let worker_build = home_bin("worker-build");
    let wasm_bindgen = home_bin("wasm-bindgen");
    let wasm_opt = node_bin(root, "wasm-opt");
    let esbuild = node_bin(root, "esbuild");
    need(
        &worker_build,
        "cargo install worker-build --version 0.8.7 --locked",
    )?;
    need(
        &wasm_bindgen,
        "cargo install wasm-bindgen-cli at the Cargo.lock version",
    )?;
    need(&wasm_opt, "npm ci installs binaryen")?;
    need(&esbuild, "npm ci installs wrangler, which brings esbuild")?;
    let target = root.join("target").join("edge-worker");
    let mut cmd = Command::new(&worker_build);
    cmd.arg("--release")
        .current_dir(root.join("edge-oauth"))
        .env("WASM_BINDGEN_BIN", &wasm_bindgen)
        .env("WASM_OPT_BIN", &wasm_opt)
        .env("ESBUILD_BIN", &esbuild)
        .env("CARGO_TARGET_DIR", &target);
    eprintln!(
        "$ worker-build --release (in edge-oauth, target {})",
        target.display()
    );
    let started = Instant::now();
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start {}: {e}", worker_build.display()))?;
    if !status.success() {
        return Err(format!("worker-build failed: {status}").into());
    }
    let js = worker_js(root);
    need(&js, "worker-build did not write it")?;
    strip_names(root, &wasm_opt)?;
    eprintln!(
        "edge worker built in {:.0}s: {} gzip bytes",
        started.elapsed().as_secs_f64(),
        gzip_size(root)?
    );
    Ok(())
}

/// Drops the wasm `name` section worker-build keeps (function names for stack traces: about a
/// tenth of the gzip size, and the worker answers errors instead of panicking). Same wasm-opt,
/// same feature set as worker-build's own run.
fn strip_names(root: &Path, wasm_opt: &Path) -> Result {
    let wasm = root.join("edge-oauth/build/index_bg.wasm");
    let mut cmd = Command::new(wasm_opt);
    cmd.arg(&wasm).arg("-o").arg(&wasm).args([
        "--strip-debug",
        "--strip-producers",
        "--enable-mutable-globals",
        "--enable-sign-ext",
        "--enable-nontrapping-float-to-int",
        "--enable-bulk-memory",
        "--enable-multivalue",
        "--enable-reference-types",
        "--enable-exception-handling",
    ]);
    let status = cmd.status()?;
    if !status.success() {
        return Err(format!("wasm-opt --strip-debug failed: {status}").into());
    }
    Ok(())
}

/// gzip -9 size of what `wrangler deploy` uploads: the wasm and the JavaScript around it.
pub fn gzip_size(root: &Path) -> Result<usize> {
    let dir = root.join("edge-oauth/build");
    let mut total = 0;
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if path.is_file() && matches!(ext, "wasm" | "js" | "mjs") {
            let out = Command::new("gzip")
                .arg("-9")
                .arg("-c")
                .arg(&path)
                .output()?;
            if !out.status.success() {
                return Err(format!("gzip {} failed", path.display()).into());
            }
            total += out.stdout.len();
        }
    }
    if total == 0 {
        return Err(format!(
            "{} holds no built worker; run `cargo xtask build-edge`",
            dir.display()
        )
        .into());
    }
    Ok(total)
}

/// Environment that keeps wrangler offline.
pub const WRANGLER_ENV: &[(&str, &str)] = &[
    ("WRANGLER_SEND_METRICS", "false"),
    ("CI", "true"),
    ("CLOUDFLARE_CF_FETCH_ENABLED", "false"),
];

/// `n` random bytes from the kernel.
pub fn random_bytes(n: usize) -> Result<Vec<u8>> {
    let mut f = std::fs::File::open("/dev/urandom")?;
    let mut b = vec![0u8; n];
    f.read_exact(&mut b)?;
    Ok(b)
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(
                    T.get(((n >> (18 - 6 * i)) & 63) as usize)
                        .map_or('A', |&b| char::from(b)),
                );
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `.dev.vars` text: fresh local secrets (a one-key TURN key file with kid `local-1`, RS256
/// and ES256 signing keys in `dir/signing-keys.json`, a form-state key, an admin secret)
/// unless `vars` gives them (e.g. `TURN_KEYS` = the key file the local relay uses), then the
/// rest of `vars`. Returns the text and the admin secret.
pub fn dev_vars(dir: &Path, vars: &[(&str, &str)]) -> Result<(String, String)> {
    let given = |k: &str| {
        vars.iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| v.to_string())
    };
    let admin = match given("ADMIN_SECRET") {
        Some(a) => a,
        None => base64(&random_bytes(24)?).replace(['+', '/', '='], "x"),
    };
    let keys = match given("TURN_KEYS") {
        Some(k) => k,
        None => format!(
            "[{{\"kid\":\"local-1\",\"alg\":\"A256GCM\",\"key\":\"{}\"}}]",
            base64(&random_bytes(32)?)
        ),
    };
    let signing = match given("TOKEN_SIGNING_KEY") {
        Some(k) => k,
        None => base64(&random_bytes(32)?),
    };
    let jwks = match given("SIGNING_KEYS") {
        Some(k) => k,
        // This checkout's generator, also for a --reference checkout that predates it.
        None => {
            crate::signing_key::ensure_set(&crate::util::root(), &dir.join("signing-keys.json"))?
        }
    };
    let mut text = format!(
        "TURN_KEYS={keys}\nSIGNING_KEYS={jwks}\nTOKEN_SIGNING_KEY={signing}\nADMIN_SECRET={admin}\n"
    );
    for (k, v) in vars {
        if !matches!(
            *k,
            "TURN_KEYS" | "SIGNING_KEYS" | "TOKEN_SIGNING_KEY" | "ADMIN_SECRET"
        ) {
            let _ = writeln!(text, "{k}={v}");
        }
    }
    Ok((text, admin))
}

/// The rate limits of a local run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limits {
    /// As wrangler.toml configures them.
    AsConfigured,
    /// Out of reach: a benchmark measures the endpoint (with its counter calls), not the limit.
    Raised,
}

/// The root wrangler.toml without `[build]` (so `wrangler dev` starts in seconds instead of
/// rebuilding twice), with paths made absolute so the copy can live anywhere.
pub fn dev_config(root: &Path, limits: Limits) -> Result<String> {
    let text = std::fs::read_to_string(root.join("wrangler.toml"))?;
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
        let abs = |key: &str| -> Option<String> {
            let rest = t.strip_prefix(key)?.trim_start().strip_prefix('=')?.trim();
            let rel = rest.strip_prefix('"')?.strip_suffix('"')?;
            Some(format!("{key} = \"{}\"", root.join(rel).display()))
        };
        let raised = (limits == Limits::Raised && t.starts_with("simple = {"))
            .then(|| "simple = { limit = 1000000, period = 60 }".to_string());
        match raised
            .or_else(|| abs("main"))
            .or_else(|| abs("migrations_dir"))
            .or_else(|| abs("directory"))
        {
            Some(l) => out.push_str(&l),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    Ok(out)
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `wrangler dev --local` running the built worker with its own D1 state, stopped on drop.
pub struct Dev {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The admin secret in its `.dev.vars`.
    pub admin_secret: String,
    /// Its directory (config, .dev.vars, state, log).
    #[allow(dead_code)] // for `cargo xtask run`, which tells the user where the log is
    pub dir: PathBuf,
}

impl Dev {
    /// [`Dev::start_on`] a free port.
    pub fn start(root: &Path, dir: &Path, vars: &[(&str, &str)], limits: Limits) -> Result<Dev> {
        Dev::start_on(root, dir, free_port()?, vars, limits)
    }

    /// Writes config and `.dev.vars` (see [`dev_vars`]; `ISSUER` defaults to this address)
    /// into `dir`, applies the D1 migrations (state in `dir/state`, kept across starts),
    /// starts wrangler on 127.0.0.1:`port` and waits for `/health`.
    pub fn start_on(
        root: &Path,
        dir: &Path,
        port: u16,
        vars: &[(&str, &str)],
        limits: Limits,
    ) -> Result<Dev> {
        need(&worker_js(root), "build it first: cargo xtask build-edge")?;
        let wrangler = node_bin(root, "wrangler");
        need(&wrangler, "npm ci installs wrangler")?;
        std::fs::create_dir_all(dir)?;
        let base = format!("http://127.0.0.1:{port}");
        let mut all: Vec<(&str, &str)> = vars.to_vec();
        if !all.iter().any(|(k, _)| *k == "ISSUER") {
            all.push(("ISSUER", base.as_str()));
        }
        let (dev_vars, admin_secret) = dev_vars(dir, &all)?;
        std::fs::write(dir.join("wrangler.toml"), dev_config(root, limits)?)?;
        std::fs::write(dir.join(".dev.vars"), dev_vars)?;
        let status = Command::new(&wrangler)
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
            .current_dir(dir)
            .envs(WRANGLER_ENV.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        if !status.success() {
            return Err(format!("wrangler d1 migrations apply failed in {}", dir.display()).into());
        }
        let log = std::fs::File::create(dir.join("wrangler.log"))?;
        let inspector = free_port()?.to_string();
        let port_s = port.to_string();
        let child = {
            use std::os::unix::process::CommandExt;
            Command::new(&wrangler)
                .args([
                    "dev",
                    "--local",
                    "--ip",
                    "127.0.0.1",
                    "--port",
                    &port_s,
                    "--inspector-port",
                    &inspector,
                ])
                .args([
                    "--persist-to",
                    "state",
                    "-c",
                    "wrangler.toml",
                    "--show-interactive-dev-session=false",
                ])
                // Its own worker name: wrangler's local dev registry keys running workers by
                // name, and two `wrangler dev` of one name (the benchmark runs two) reload
                // each other's runtime mid-request.
                .args(["--name", &format!("edgeturn-{}", port)])
                .current_dir(dir)
                .envs(WRANGLER_ENV.iter().copied())
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .process_group(0)
                .spawn()?
        };
        let dev = Dev {
            child,
            base,
            admin_secret,
            dir: dir.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(mut c) = Conn::open(&dev.base)
                && let Ok((200, _)) = c.request("GET", "/health", &[], b"")
            {
                return Ok(dev);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the worker did not answer /health within 60 s; see {}",
                    dir.join("wrangler.log").display()
                )
                .into());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        // wrangler runs workerd as a child: stop the whole process group; SIGKILL after 5 s
        // if wrangler hangs in its shutdown.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let group_alive = Command::new("kill")
                .args(["-0", "--", &group])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !group_alive {
                break;
            }
            let _ = self.child.try_wait();
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}

/// One keep-alive HTTP/1.1 connection.
pub struct Conn {
    reader: BufReader<TcpStream>,
    host: String,
}

impl Conn {
    /// Connects to `http://host:port`.
    pub fn open(base: &str) -> Result<Conn> {
        let host = base
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let stream = TcpStream::connect(&host)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Conn {
            reader: BufReader::new(stream),
            host,
        })
    }

    /// Sends a request, returns status and body.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(u16, Vec<u8>)> {
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
            self.host,
            body.len()
        );
        for (k, v) in headers {
            let _ = write!(req, "{k}: {v}\r\n");
        }
        req.push_str("\r\n");
        let stream = self.reader.get_mut();
        stream.write_all(req.as_bytes())?;
        stream.write_all(body)?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or("bad HTTP status line")?;
        let mut len = 0usize;
        let mut chunked = false;
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse()?;
                } else if k.eq_ignore_ascii_case("transfer-encoding")
                    && v.trim().eq_ignore_ascii_case("chunked")
                {
                    chunked = true;
                }
            }
        }
        let mut out = Vec::new();
        if chunked {
            loop {
                line.clear();
                self.reader.read_line(&mut line)?;
                let n = usize::from_str_radix(line.trim(), 16)?;
                let mut chunk = vec![0u8; n + 2];
                self.reader.read_exact(&mut chunk)?;
                chunk.truncate(n);
                out.extend_from_slice(&chunk);
                if n == 0 {
                    break;
                }
            }
        } else {
            out.resize(len, 0);
            self.reader.read_exact(&mut out)?;
        }
        Ok((status, out))
    }
}

/// Finds `"key":"value"` in a flat JSON object (enough for the admin API's answers).
pub fn json_str(body: &[u8], key: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find(&format!("\"{key}\":\""))? + key.len() + 4;
    let end = start + text.get(start..)?.find('"')?;
    text.get(start..end).map(str::to_string)
}

/// Creates the demo clients and user through the admin API: the public client
/// `edgeturn-web` (the www page's, code flow + refresh, scopes `openid turn`, redirect
/// `<origin>/callback.html` and sign-out return `<origin>/` for each origin), the public client
/// `edgeturn-legacy` (password grant, scope `turn`: what the seed's JSON `POST /token` acts
/// for, see `LEGACY_CLIENT_ID` in wrangler.toml), the public device client `edgeturn-device`
/// and the user `demo` with `password`. Existing ones (409) are left alone.
pub fn seed_demo(base: &str, admin_secret: &str, origins: &[&str], password: &str) -> Result {
    let mut c = Conn::open(base)?;
    let auth = format!("Bearer {admin_secret}");
    let uris: Vec<String> = origins
        .iter()
        .map(|o| format!("\"{}/callback.html\"", o.trim_end_matches('/')))
        .collect();
    let home: Vec<String> = origins
        .iter()
        .map(|o| format!("\"{}/\"", o.trim_end_matches('/')))
        .collect();
    let client = format!(
        "{{\"client_id\":\"edgeturn-web\",\"name\":\"edgeturn demo\",\"public\":true,\"redirect_uris\":[{}],\
         \"post_logout_redirect_uris\":[{}],\"scopes\":[\"openid\",\"turn\"]}}",
        uris.join(","),
        home.join(",")
    );
    let user = format!(
        "{{\"username\":\"demo\",\"password\":\"{}\",\"name\":\"Demo User\"}}",
        password.replace(['"', '\\'], "")
    );
    let legacy = r#"{"client_id":"edgeturn-legacy","name":"seed /token","public":true,"grant_types":["password"],"scopes":["turn"]}"#;
    // A device (RFC 8628): a TV or a relay box without a browser signs in through /device.
    let device = r#"{"client_id":"edgeturn-device","name":"edgeturn device","public":true,"grant_types":["urn:ietf:params:oauth:grant-type:device_code","refresh_token"],"scopes":["openid","turn"]}"#;
    for (path, body) in [
        ("/admin/clients", client),
        ("/admin/clients", legacy.to_string()),
        ("/admin/clients", device.to_string()),
        ("/admin/users", user),
    ] {
        let (status, resp) = c.request(
            "POST",
            path,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            body.as_bytes(),
        )?;
        if status != 201 && status != 409 {
            return Err(
                format!("{path}: HTTP {status}: {}", String::from_utf8_lossy(&resp)).into(),
            );
        }
    }
    Ok(())
}

/// `POST /admin/clients` with `client` (JSON); a client that exists already (409) is left
/// alone.
pub fn register_client(base: &str, admin_secret: &str, client: &str) -> Result {
    let (status, resp) = Conn::open(base)?.request(
        "POST",
        "/admin/clients",
        &[
            ("Authorization", &format!("Bearer {admin_secret}")),
            ("Content-Type", "application/json"),
        ],
        client.as_bytes(),
    )?;
    if status != 201 && status != 409 {
        let resp = String::from_utf8_lossy(&resp);
        return Err(format!("/admin/clients: HTTP {status}: {resp}").into());
    }
    Ok(())
}

/// A loopback port free for both UDP and TCP (a relay's listening port).
pub fn free_udp_port() -> Result<u16> {
    // The relay listens on UDP and TCP: find a port free for both. Below Linux's ephemeral
    // range (32768-60999), so that no outgoing connection or relay socket of another process
    // can take it between this check and the relay's bind.
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
        ^ std::process::id();
    for i in 0..500u32 {
        let port = 20_000 + u16::try_from((seed.wrapping_add(i * 7919)) % 12_000).unwrap_or(0);
        let udp = std::net::UdpSocket::bind(("127.0.0.1", port));
        if udp.is_ok() && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err("no port free for both UDP and TCP".into())
}
