//! The helper as apps use it, end to end: its packages in Node (both builds), the Vite app
//! built offline from the npm tarball with its types checked, the edge's /pkg/* headers for
//! other origins, and, in Chromium, the call example on its own origin (two tabs, video
//! through the relay, an ICE restart when the credentials roll over) and the Vite app.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::edge::free_port;
use crate::procs::{Procs, wait_http_ok};
use crate::system::{DEMO, Options, System};
use crate::util::{Result, describe, json_field, node_bin, run, target_dir};
use crate::www::{self, TARGETS, Target};

/// The public OAuth clients of the two examples (their redirect URIs are seeded per run).
const CALL_CLIENT: &str = "edgeturn-call";
const VITE_CLIENT: &str = "edgeturn-vite";

/// The edge issues TURN credentials for this long in this test, so that they roll over (the
/// helper refreshes a minute before expiry: here after 20 s) while the call is on.
const SHORT_TURN_TTL: &str = "80";

/// Every check of the examples against freshly started parts (everything built beforehand).
pub fn e2e(root: &Path) -> Result {
    packages_in_node(root)?;
    let dir = std::env::temp_dir().join(format!("edgeturn-examples-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let opts = Options {
        dir: dir.clone(),
        edge: format!("127.0.0.1:{}", free_port()?),
        relay: format!("127.0.0.1:{}", crate::edge::free_udp_port()?),
        relay_bin: target_dir(root).join("debug/relay-native"),
        vars: vec![("TURN_TOKEN_TTL", SHORT_TURN_TTL.to_string())],
    };
    let sys = System::start(root, opts, Procs::default())?;
    let result = in_browser(root, &sys);
    sys.procs.stop_all();
    result.map_err(|e| format!("{e}\nlogs: {}", dir.display()))?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn in_browser(root: &Path, sys: &System) -> Result {
    node(root, &["e2e/pkg-headers.mjs", &sys.origin])?;
    // The call example as `cargo xtask run` serves it; the Vite app from the test itself.
    let call_url = serve_call_example(root, sys, free_port()?)?;
    let vite_port = free_port()?;
    seed_client(
        &sys.origin,
        sys.admin_secret(),
        VITE_CLIENT,
        "Vite example",
        &[format!("http://127.0.0.1:{vite_port}")],
    )?;
    let dist = build_vite_app(root, &sys.origin)?;
    let out = node(
        root,
        &[
            "e2e/call-example.mjs",
            &call_url,
            &vite_port.to_string(),
            &dist.display().to_string(),
            DEMO.0,
            DEMO.1,
        ],
    )?;
    let ids = json_field(&out, "relayTokenIds").ok_or("the browser test printed no token ids")?;
    let log = sys.dir.join("relay.log");
    for id in ids.split_whitespace() {
        wait_for_allocation(&log, id)?;
    }
    eprintln!("the relay logged allocations under token ids {ids}");
    Ok(())
}

/// Both packages load in Node and behave: the web build with `initSync`, the bundler build
/// through WebAssembly ES module integration.
fn packages_in_node(root: &Path) -> Result {
    let dirs: Vec<String> = TARGETS
        .iter()
        .map(|t| www::package_dir(root, *t).display().to_string())
        .collect();
    let mut args = vec!["--experimental-wasm-modules", "e2e/npm-packages.mjs"];
    args.extend(dirs.iter().map(String::as_str));
    node(root, &args).map(drop)
}

/// examples/vite, built offline against `edge` from the web package's tarball (npm installs
/// it from the file; Vite and TypeScript are the project's pinned ones, found in the root's
/// node_modules, so the copy lives under the root), types checked first (with misuses that
/// must not compile). Returns the `dist` directory.
fn build_vite_app(root: &Path, edge: &str) -> Result<PathBuf> {
    let app = root.join("target/examples/vite-app");
    let _ = std::fs::remove_dir_all(&app);
    copy_dir(&root.join("examples/vite"), &app)?;
    std::fs::copy(
        root.join("e2e/types-misuse.ts"),
        app.join("src/types-misuse.ts"),
    )?;
    let tarball = www::tarball(root, web())?;
    run(Command::new("npm")
        .current_dir(&app)
        .args(["pkg", "delete", "devDependencies"]))?;
    run(Command::new("npm")
        .current_dir(&app)
        .args(["install", "--offline", "--no-audit", "--no-fund"])
        .arg(&tarball))?;
    run(Command::new(node_bin(root, "tsc"))
        .current_dir(&app)
        .args(["--project", "."]))?;
    run(Command::new(node_bin(root, "vite"))
        .current_dir(&app)
        .args(["build", "--logLevel", "warn"])
        .env("VITE_EDGE", edge)
        .env("VITE_CLIENT_ID", VITE_CLIENT))?;
    Ok(app.join("dist"))
}

fn web() -> Target {
    TARGETS[0]
}

fn copy_dir(from: &Path, to: &Path) -> Result {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == "node_modules" || name == "dist" {
            continue;
        }
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &to.join(&name))?;
        } else {
            std::fs::copy(entry.path(), to.join(&name))?;
        }
    }
    Ok(())
}

/// For `cargo xtask run`: serves examples/call on 127.0.0.1:`port` (a child of the run) and
/// registers its client at the edge. Returns the URL to open.
pub fn serve_call_example(root: &Path, sys: &System, port: u16) -> Result<String> {
    seed_client(
        &sys.origin,
        sys.admin_secret(),
        CALL_CLIENT,
        "call example",
        &[format!("http://127.0.0.1:{port}")],
    )?;
    sys.procs.spawn(
        "call example (node examples/serve.mjs)",
        Command::new("node").current_dir(root).args([
            "examples/serve.mjs",
            "examples/call",
            &port.to_string(),
        ]),
        &sys.dir.join("call-example.log"),
    )?;
    let url = format!("http://127.0.0.1:{port}/");
    wait_http_ok(&url, Duration::from_secs(15))
        .map_err(|e| format!("{e}; see {}", sys.dir.join("call-example.log").display()))?;
    Ok(format!("{url}?edge={}", sys.origin))
}

/// Registers (or finds registered) a public client (code flow + refresh, scopes `openid
/// turn`) whose redirect URIs are `/callback.html` on each of `origins`, through the admin API.
fn seed_client(base: &str, admin: &str, id: &str, name: &str, origins: &[String]) -> Result {
    let uris: Vec<String> = origins
        .iter()
        .map(|o| format!("\"{o}/callback.html\""))
        .collect();
    let body = format!(
        "{{\"client_id\":\"{id}\",\"name\":\"{name}\",\"public\":true,\
         \"redirect_uris\":[{}],\"scopes\":[\"openid\",\"turn\"]}}",
        uris.join(",")
    );
    crate::edge::register_client(base, admin, &body)
}

/// For `cargo xtask run`: registers the Vite example's client for Vite's own servers on this
/// machine (`vite` on 5173, `vite preview` on 4173). Returns the redirect URIs.
pub fn register_vite_example(sys: &System) -> Result<String> {
    let origins: Vec<String> = ["5173", "4173"]
        .iter()
        .flat_map(|p| {
            [
                format!("http://localhost:{p}"),
                format!("http://127.0.0.1:{p}"),
            ]
        })
        .collect();
    seed_client(
        &sys.origin,
        sys.admin_secret(),
        VITE_CLIENT,
        "Vite example",
        &origins,
    )?;
    Ok(origins.join(" "))
}

/// Runs `node ARGS` in the root; its stdout, or an error with everything it printed.
fn node(root: &Path, args: &[&str]) -> Result<String> {
    let mut cmd = Command::new("node");
    cmd.current_dir(root).args(args);
    eprintln!("$ {}", describe(&cmd));
    let out = cmd.output()?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(format!("`{}` failed:\n{stdout}{stderr}", describe(&cmd)).into());
    }
    eprintln!("{}", stdout.trim());
    Ok(stdout)
}

/// The relay writes its allocation line as it allocates; give the log a moment.
fn wait_for_allocation(log: &Path, token_id: &str) -> Result {
    for _ in 0..20 {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text
            .lines()
            .any(|l| l.contains("allocation created") && l.contains(token_id))
        {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "the relay log {} has no allocation under token id {token_id}",
        log.display()
    )
    .into())
}
