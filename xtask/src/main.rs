//! edgeturn's task runner: `cargo xtask <task>`. Every task installs what it needs first
//! (pinned, idempotent), so on a fresh machine `cargo xtask run` and `cargo xtask test` are
//! the whole set-up.

mod dist;
mod e2e;
mod edge;
mod edge_bench;
mod examples;
mod probe;
mod procs;
mod relay_bench;
mod run;
mod setup;
mod signing_key;
mod system;
mod test;
mod tls_bench;
mod util;
mod www;

use std::process::ExitCode;

const HELP: &str = "\
cargo xtask <task>

  run            build everything and run the whole system locally (edge in workerd with
                 local D1, relay on loopback, web page); Ctrl-C stops it
  e2e [www|examples]
                 only the end-to-end tests (needs `build` and a debug relay-native): www, the
                 page in the browser and `relay-native probe` with the edge's tokens against
                 relay-native and coturn; examples, the helper's npm packages in Node, /pkg/*
                 for other origins, the Vite app and the two-tab call example; default both
  test           install what is missing, then run every test (what CI runs)
  setup          only the pinned, idempotent installs
  dist [--check] relay-native as a Debian package and a static x86_64 Linux tarball in
                 target/dist/ (one statically linked release build); --check also installs
                 the package with dpkg, checks it (user, modes, check-config, systemd-analyze
                 verify), purges it and checks that nothing is left (root; part of `test`)
  build          build the deployable parts: the browser helper (npm packages in target/npm,
                 the web build in www/public/pkg), then the worker
  build-edge     the same (wrangler.toml's [build] command for `wrangler deploy`)
  bench-edge     p50/p99 of the token endpoint in local workerd with RS256 and ES256 access
                 tokens (interleaved), and the worker's gzip size
  signing-key [--alg RS256|ES256] [--nbf UNIX_SECONDS] [--add FILE]
                 a new signing key for the edge's SIGNING_KEYS secret (a private JWK set):
                 printed, or appended to FILE (docs/edge-oauth.md, rotation)
  bench-relay [TRIALS] [--coturn-417 PATH] [--baseline PATH]... [--no-gso] [--smoke]
              [--metrics] [--caps]
                 coturn 4.6.1 (Debian), coturn 4.17.1 in three modes (PATH to its turnserver
                 or $EDGETURN_COTURN_417) and relay-native (sockets, --offload lo; other
                 builds' sockets with --baseline), all driven by turn-load: CPU per relayed
                 packet at 10k and 15k msg/s, the highest rate with loss under 0.1%, one-way
                 delay at half of it, RSS with idle allocations; medians of TRIALS (default
                 3) interleaved trials. Fails, naming the server, if a fixed-rate run loses a
                 message. --smoke: seconds. --metrics, --caps: also relay-native scraped
                 every second, and with bandwidth caps it never reaches (what those cost).
  bench-tls [TRIALS]
                 relay-native's TLS costs: handshakes (openssl s_time; ECDSA and RSA,
                 full and resumed) and CPU per relayed packet over UDP, TCP and TLS under the
                 same turnutils_uclient load; median of TRIALS (default 3)
  bench-token    criterion benchmark of shared-token seal and open+validate
  fuzz [SECS]    fuzz token opening for SECS seconds (default 60)
  fuzz-relay [SECS]
                 fuzz the relay's protocol core with arbitrary inputs and time steps
";

/// Everything the worker deploys: the helper's module lands in www/public (static assets)
/// before the worker itself is built.
pub fn build(root: &std::path::Path) -> util::Result {
    www::build(root)?;
    edge::build(root)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = util::root();
    let (task, rest) = match args.split_first() {
        Some((t, r)) => (t.as_str(), r),
        None => {
            eprint!("{HELP}");
            return ExitCode::from(2);
        }
    };
    let result = match task {
        "run" => run::run(&root),
        "e2e" => match rest.first().map(String::as_str) {
            None => e2e::www(&root).and_then(|()| examples::e2e(&root)),
            Some("www") => e2e::www(&root),
            Some("examples") => examples::e2e(&root),
            Some(other) => Err(format!("e2e: no part named `{other}`\n\n{HELP}").into()),
        },
        "setup" => setup::setup(&root),
        "dist" => setup::setup(&root).and_then(|()| match rest.first().map(String::as_str) {
            None => dist::dist(&root).map(|_| ()),
            Some("--check") => dist::check(&root),
            Some(other) => Err(format!("dist: unknown option `{other}`\n\n{HELP}").into()),
        }),
        "build" | "build-edge" => setup::setup(&root).and_then(|()| build(&root)),
        "bench-edge" => setup::setup(&root)
            .and_then(|()| build(&root))
            .and_then(|()| edge_bench::bench(&root, rest)),
        "signing-key" => signing_key::task(&root, rest),
        "test" => test::test(&root, rest),
        "bench-relay" => setup::setup(&root).and_then(|()| relay_bench::bench(&root, rest)),
        "bench-tls" => setup::setup(&root).and_then(|()| tls_bench::bench(&root, rest)),
        "bench-token" => test::bench_token(&root),
        "fuzz" => test::fuzz(&root, rest),
        "fuzz-relay" => test::fuzz_relay(&root, rest),
        "help" | "-h" | "--help" => {
            print!("{HELP}");
            Ok(())
        }
        other => Err(format!("unknown task `{other}`\n\n{HELP}").into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask {task}: error: {e}");
            ExitCode::FAILURE
        }
    }
}
