//! `cargo xtask run`: the whole system on loopback ([`crate::system`]), on fixed ports, with the
//! examples beside it. The edge worker in local workerd with
//! local D1 (seeded with a demo client and user through the admin API), relay-native sharing
//! the edge's key file and reporting to the edge as its relay client (revocations, usage,
//! heartbeats: docs/control-plane.md), and the web page the worker serves. Ctrl-C stops
//! everything.
//!
//! State lives in `.edgeturn/` (gitignored): the key file, the local secrets and D1, so a
//! restart keeps clients, users and tokens.

use std::path::Path;
use std::time::Instant;

use crate::procs::Procs;
use crate::system::{CLI_CLIENT, DEMO_PASSWORD, DEMO_USER, Options, SERVER_NAME, System};
use crate::util::{Result, cargo, run as run_cmd};

const EDGE: &str = "127.0.0.1:8787";
const RELAY: &str = "127.0.0.1:3478";
/// Where the run serves examples/call (its own origin, apart from the edge).
const CALL_EXAMPLE_PORT: u16 = 8788;

/// Builds what the system runs: the worker (with the helper) and the relay, release.
pub fn build_all(root: &Path) -> Result {
    crate::build(root)?;
    run_cmd(
        cargo()
            .current_dir(root)
            .args(["build", "--release", "-p", "relay-native"]),
    )
}

/// Runs until Ctrl-C or until a part exits.
pub fn run(root: &Path) -> Result {
    let started = Instant::now();
    crate::setup::setup(root)?;
    build_all(root)?;
    let procs = Procs::with_signal_handler()?;
    let sys = System::start(
        root,
        Options {
            dir: root.join(".edgeturn"),
            edge: EDGE.into(),
            relay: RELAY.into(),
            relay_bin: crate::util::target_dir(root).join("release/relay-native"),
            vars: Vec::new(),
        },
        procs,
    )?;
    let call_example = crate::examples::serve_call_example(root, &sys, CALL_EXAMPLE_PORT)?;
    crate::examples::register_vite_example(&sys)?;
    let origin = &sys.origin;
    let (_, secret) = sys.cli_client();
    let token_call = format!("curl -s -u {CLI_CLIENT}:{secret} -d grant_type=client_credentials");
    println!();
    println!(
        "edgeturn is running ({:.0}s to start):",
        started.elapsed().as_secs_f64()
    );
    println!();
    println!("  web page     {origin}/");
    println!(
        "               sign in as {DEMO_USER} / {DEMO_PASSWORD}, then run the relay self-test"
    );
    println!("  call example {call_example}");
    println!("               another origin: open it in two tabs, sign in in both");
    println!("  Vite example examples/vite: `npm run dev` (client edgeturn-vite is registered)");
    println!(
        "  edge         {origin}  (discovery: {origin}/.well-known/openid-configuration, keys: {origin}/certs)"
    );
    println!("  pages        {origin}/signup  {origin}/create_client  {origin}/device");
    println!("  relay        turn:{RELAY} (UDP and TCP), server name {SERVER_NAME}");
    println!("  logs, state  {}", sys.dir.display());
    println!();
    println!("An RFC 7635 TURN token for a native client:");
    println!("  {token_call} -d scope=turn {origin}/oauth2/token");
    println!("ICE servers for a browser (Cloudflare's shape):");
    println!("  AT=$({token_call} --data-urlencode 'scope=openid turn' {origin}/oauth2/token \\");
    println!("       | sed 's/.*\"access_token\":\"\\([^\"]*\\)\".*/\\1/')");
    println!("  curl -s -H \"Authorization: Bearer $AT\" {origin}/turn/credentials");
    println!("The native RFC 7635 client, end to end (token, allocation, data through the relay):");
    println!(
        "  target/release/relay-native probe --server {RELAY} --token-endpoint {origin}/oauth2/token --client-id {CLI_CLIENT} --client-secret {secret}"
    );
    println!();
    println!("Ctrl-C stops everything.");

    let which = sys.procs.wait_any();
    sys.procs.stop_all();
    Err(format!("{which} exited; logs in {}", sys.dir.display()).into())
}
