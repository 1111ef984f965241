//! The whole system on loopback, started: the edge worker in local workerd with local D1
//! (seeded with a demo client and user through the admin API), relay-native sharing the edge's
//! key file and reporting to the edge as its relay client (revocations, usage, heartbeats:
//! docs/control-plane.md), and the web page the worker serves. `cargo xtask run` starts it on
//! fixed ports; the browser tests on free ones, in a scratch directory.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::edge::{self, Conn};
use crate::procs::{Procs, wait_http_ok};
use crate::util::{Result, node_bin, run as run_cmd};

/// The demo user the local run seeds.
pub const DEMO: (&str, &str) = (DEMO_USER, DEMO_PASSWORD);

/// Must match wrangler.toml's TURN_SERVER_NAME and TURN_REALM.
pub const SERVER_NAME: &str = "edgeturn.local";
pub const DEMO_USER: &str = "demo";
pub const DEMO_PASSWORD: &str = "edgeturn-demo";
pub const CLI_CLIENT: &str = "edgeturn-cli";
/// The relay's OAuth client at the edge (scope `relay`).
const RELAY_CLIENT: &str = "edgeturn-relay";
const WRANGLER_ENV: &[(&str, &str)] = &[
    ("WRANGLER_SEND_METRICS", "false"),
    ("CI", "true"),
    ("CLOUDFLARE_CF_FETCH_ENABLED", "false"),
];

/// Local secrets, made once and kept.
struct Secrets {
    keys_json: String,
    signing_keys: String,
    signing_key: String,
    admin_secret: String,
    cli_secret: String,
    relay_secret: String,
}

fn secrets(root: &Path, dir: &Path) -> Result<Secrets> {
    let keys = dir.join("keys.json");
    if !keys.exists() {
        let key = edge::base64(&edge::random_bytes(32)?);
        std::fs::write(
            &keys,
            format!("[{{\"kid\":\"local-1\",\"alg\":\"A256GCM\",\"key\":\"{key}\"}}]\n"),
        )?;
    }
    let file = dir.join("secrets.env");
    if !file.exists() {
        let token = |n| -> Result<String> {
            Ok(edge::base64(&edge::random_bytes(n)?).replace(['+', '/', '='], "x"))
        };
        std::fs::write(
            &file,
            format!(
                "TOKEN_SIGNING_KEY={}\nADMIN_SECRET={}\nCLI_SECRET={}\n",
                edge::base64(&edge::random_bytes(32)?),
                token(24)?,
                token(24)?
            ),
        )?;
    }
    let mut text = std::fs::read_to_string(&file)?;
    if !text.contains("RELAY_SECRET=") {
        // State from before the relay was a client of the edge: add its secret.
        let secret = edge::base64(&edge::random_bytes(24)?).replace(['+', '/', '='], "x");
        text.push_str(&format!("RELAY_SECRET={secret}\n"));
        std::fs::write(&file, &text)?;
    }
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k).and_then(|r| r.strip_prefix('=')))
            .map(str::to_string)
            .ok_or_else(|| format!("{} lacks {k}; delete it to start afresh", file.display()))
    };
    Ok(Secrets {
        keys_json: std::fs::read_to_string(&keys)?.trim().replace('\n', ""),
        // The token-signing keys: one RS256 and one ES256 key, made once (`cargo xtask
        // signing-key --add .edgeturn/signing-keys.json` adds one for a rotation).
        signing_keys: crate::signing_key::ensure_set(root, &dir.join("signing-keys.json"))?,
        signing_key: get("TOKEN_SIGNING_KEY")?,
        admin_secret: get("ADMIN_SECRET")?,
        cli_secret: get("CLI_SECRET")?,
        relay_secret: get("RELAY_SECRET")?,
    })
}

/// Where and how to start the system.
pub struct Options {
    /// State directory (keys, secrets, D1, logs).
    pub dir: std::path::PathBuf,
    /// Edge address, `127.0.0.1:PORT`.
    pub edge: String,
    /// Relay address, `127.0.0.1:PORT`.
    pub relay: String,
    /// The relay-native binary to run.
    pub relay_bin: std::path::PathBuf,
    /// More edge configuration for `.dev.vars`, e.g. a short `TURN_TOKEN_TTL`.
    pub vars: Vec<(&'static str, String)>,
}

/// The running system; dropping it stops everything.
pub struct System {
    /// The children.
    pub procs: Procs,
    /// `http://127.0.0.1:PORT` of the edge (and the page).
    pub origin: String,
    /// The relay's UDP/TCP address.
    pub relay: String,
    /// Local secrets in use.
    secrets: Secrets,
    /// State directory.
    pub dir: std::path::PathBuf,
}

impl System {
    /// Builds nothing: starts the built edge, seeds it, starts the built relay.
    pub fn start(root: &Path, opts: Options, procs: Procs) -> Result<System> {
        let dir = opts.dir;
        let edge_dir = dir.join("edge");
        std::fs::create_dir_all(&edge_dir)?;
        let s = secrets(root, &dir)?;
        let origin = format!("http://{}", opts.edge);
        let (relay_ip, relay_port) = opts.relay.split_once(':').ok_or("relay address")?;
        std::fs::write(
            edge_dir.join("wrangler.toml"),
            edge::dev_config(root, edge::Limits::AsConfigured)?,
        )?;
        // The local run opens /signup (production keeps it closed: wrangler.toml).
        std::fs::write(
            edge_dir.join(".dev.vars"),
            format!(
                "TURN_KEYS={}\nSIGNING_KEYS={}\nTOKEN_SIGNING_KEY={}\nADMIN_SECRET={}\nISSUER={origin}\n\
                 TURN_URLS=turn:{relay_ip}:{relay_port}?transport=udp,turn:{relay_ip}:{relay_port}?transport=tcp\n\
                 STUN_URLS=stun:{relay_ip}:{relay_port}\nTURN_SERVER_NAME={SERVER_NAME}\nTURN_REALM={SERVER_NAME}\n\
                 SIGNUP=on\n{}",
                s.keys_json,
                s.signing_keys,
                s.signing_key,
                s.admin_secret,
                opts.vars
                    .iter()
                    .map(|(k, v)| format!("{k}={v}\n"))
                    .collect::<String>()
            ),
        )?;

        let wrangler = node_bin(root, "wrangler");
        run_cmd(
            Command::new(&wrangler)
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
                .current_dir(&edge_dir)
                .envs(WRANGLER_ENV.iter().copied())
                .stdout(std::process::Stdio::null()),
        )?;
        let (host, port) = opts.edge.split_once(':').ok_or("edge address")?;
        let inspector = edge::free_port()?.to_string();
        procs.spawn(
            "edge (wrangler dev)",
            Command::new(&wrangler)
                .args([
                    "dev",
                    "--local",
                    "--ip",
                    host,
                    "--port",
                    port,
                    "--persist-to",
                    "state",
                    "-c",
                    "wrangler.toml",
                ])
                .args([
                    "--show-interactive-dev-session=false",
                    "--inspector-port",
                    &inspector,
                ])
                .current_dir(&edge_dir)
                .envs(WRANGLER_ENV.iter().copied()),
            &dir.join("edge.log"),
        )?;
        wait_http_ok(&format!("{origin}/health"), Duration::from_secs(60))
            .map_err(|e| format!("{e}; see {}", dir.join("edge.log").display()))?;

        edge::seed_demo(
            &origin,
            &s.admin_secret,
            &[&origin, &origin.replace("127.0.0.1", "localhost")],
            DEMO_PASSWORD,
        )?;
        seed_cli_client(&origin, &s.admin_secret, &s.cli_secret)?;
        edge::register_client(
            &origin,
            &s.admin_secret,
            &format!(
                "{{\"client_id\":\"{RELAY_CLIENT}\",\"name\":\"the local relay\",\"client_secret\":\"{}\",\
                 \"grant_types\":[\"client_credentials\"],\"scopes\":[\"relay\"]}}",
                s.relay_secret
            ),
        )?;
        let relay_secret = dir.join("relay-secret");
        std::fs::write(&relay_secret, &s.relay_secret)?;

        procs.spawn(
            "relay (relay-native serve)",
            Command::new(&opts.relay_bin)
                .args([
                    "serve",
                    "--listen",
                    &opts.relay,
                    "--relay-ip",
                    relay_ip,
                    "--realm",
                    SERVER_NAME,
                ])
                .args(["--server-name", SERVER_NAME])
                .arg("--keys")
                .arg(dir.join("keys.json"))
                .args(["--edge", &origin, "--edge-client-id", RELAY_CLIENT])
                .arg("--edge-client-secret-file")
                .arg(&relay_secret)
                .arg("--state-dir")
                .arg(dir.join("relay-state"))
                // The page's self-test puts both peers on this machine: allow loopback peers
                // here only; the relay refuses them by default.
                .arg("--allow-loopback-peers")
                .env("RUST_LOG", "info"),
            &dir.join("relay.log"),
        )?;
        std::thread::sleep(Duration::from_millis(300));
        procs
            .check_running()
            .map_err(|e| format!("{e}; see {}", dir.join("relay.log").display()))?;
        Ok(System {
            procs,
            origin,
            relay: opts.relay,
            secrets: s,
            dir,
        })
    }

    /// The TURN key the edge seals with and the relay holds: kid, base64 key, alg.
    pub fn turn_key(&self) -> Result<(String, String, String)> {
        let k = &self.secrets.keys_json;
        let field =
            |f: &str| crate::util::json_field(k, f).ok_or_else(|| format!("keys.json has no {f}"));
        Ok((field("kid")?, field("key")?, field("alg")?))
    }

    /// True when the edge's audit trail (the last 1000 events) contains `needle`.
    pub fn audit_contains(&self, needle: &str) -> Result<bool> {
        let (status, body) = Conn::open(&self.origin)?.request(
            "GET",
            "/admin/audit?limit=1000",
            &[(
                "Authorization",
                &format!("Bearer {}", self.secrets.admin_secret),
            )],
            b"",
        )?;
        if status != 200 {
            return Err(format!("/admin/audit: HTTP {status}").into());
        }
        Ok(String::from_utf8_lossy(&body).contains(needle))
    }

    /// The admin API's bearer secret.
    pub fn admin_secret(&self) -> &str {
        &self.secrets.admin_secret
    }

    /// The confidential command-line client's id and secret.
    pub fn cli_client(&self) -> (&'static str, &str) {
        (CLI_CLIENT, &self.secrets.cli_secret)
    }
}

/// A confidential client for curl and native clients: client_credentials and password,
/// scopes turn and openid.
fn seed_cli_client(base: &str, admin: &str, secret: &str) -> Result {
    let body = format!(
        "{{\"client_id\":\"{CLI_CLIENT}\",\"name\":\"edgeturn command line\",\"client_secret\":\"{secret}\",\
         \"grant_types\":[\"client_credentials\",\"password\"],\"scopes\":[\"turn\",\"openid\"]}}"
    );
    edge::register_client(base, admin, &body)
}
