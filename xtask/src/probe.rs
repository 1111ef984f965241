//! `relay-native probe`, the native RFC 7635 client, with tokens from the running edge's token
//! endpoint: against the system's relay-native and against coturn's turnserver holding the
//! same kid and key, with token renewal while it holds the allocation; and the failures only
//! a real token endpoint can produce (bad client credentials, a wrong password, a client that
//! may not use the grant). relay-native's own tests cover the rest of the exit codes.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use crate::system::{DEMO, SERVER_NAME, System};
use crate::util::{Result, describe, json_field, target_dir};

/// Runs every check against `sys`; starts coturn itself.
pub fn native(root: &Path, sys: &System) -> Result {
    let bin = target_dir(root).join("debug/relay-native");
    let endpoint = format!("{}/oauth2/token", sys.origin);
    let (client, secret) = sys.cli_client();
    let probe = |server: &str, args: &[&str]| -> Result<Output> {
        let mut cmd = Command::new(&bin);
        cmd.args([
            "probe",
            "--server",
            server,
            "--token-endpoint",
            &endpoint,
            "--timeout",
            "5",
        ])
        .args(args);
        eprintln!(
            "$ {}",
            describe(&cmd).replace(secret, "***").replace(DEMO.1, "***")
        );
        Ok(cmd.output()?)
    };
    let ok = |what: &str, out: Output| -> Result<String> {
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            return Err(format!(
                "probe {what}: exit {:?}\n{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        eprintln!("  ok: {what}: {}", one_line(&stdout));
        Ok(stdout)
    };
    let fails = |what: &str, out: Output, code: i32, says: &str| -> Result {
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let last = stderr.lines().last().unwrap_or_default().to_string();
        if out.status.code() != Some(code) || !last.contains(says) {
            return Err(format!(
                "probe {what}: expected exit {code} saying {says:?}, got {:?}:\n{stderr}",
                out.status.code()
            )
            .into());
        }
        eprintln!("  ok: {what}: exit {code}: {last}");
        Ok(())
    };
    // Renew the token at every refresh (the edge's TURN tokens live an hour): proves a
    // relay accepts a new token for an existing allocation.
    let hold = [
        "--hold",
        "3",
        "--refresh-every",
        "1",
        "--renew-before",
        "3599",
    ];
    let cc = ["--client-id", client, "--client-secret", secret];

    // relay-native, client_credentials, holding with renewals.
    let mut args = cc.to_vec();
    args.extend(hold);
    let report = ok(
        "relay-native, client_credentials, 3 s with token renewals",
        probe(&sys.relay, &args)?,
    )?;
    renewed(&report)?;
    let last_token = json_field(&report, "token_id").ok_or("no token_id in the report")?;
    relay_logged(&sys.dir.join("relay.log"), &last_token, "refreshed")?;

    // relay-native, password grant as the demo user.
    let mut args = cc.to_vec();
    args.extend(["--username", DEMO.0, "--password", DEMO.1]);
    ok("relay-native, password grant", probe(&sys.relay, &args)?)?;

    // coturn holding the edge's kid and key.
    let (kid, key, alg) = sys.turn_key()?;
    let port = crate::edge::free_port()?;
    let coturn_dir = sys.dir.join("coturn");
    std::fs::create_dir_all(&coturn_dir)?;
    let dir = coturn_dir.to_str().ok_or("non-UTF-8 path")?;
    sys.procs.spawn(
        "coturn (turnserver --oauth)",
        Command::new(root.join("e2e/coturn-oauth.sh")).args([
            dir,
            &port.to_string(),
            SERVER_NAME,
            SERVER_NAME,
            &kid,
            &key,
            &alg,
        ]),
        &coturn_dir.join("out.log"),
    )?;
    let coturn = format!("127.0.0.1:{port}");
    let mut args = cc.to_vec();
    args.extend(hold);
    let mut attempt = 0;
    let report = loop {
        // turnserver takes a moment to open its database and listen.
        std::thread::sleep(Duration::from_millis(500));
        let out = probe(&coturn, &args)?;
        attempt += 1;
        if out.status.code() != Some(6) || attempt == 10 {
            break ok(
                "coturn turnserver with the edge's key, client_credentials, 3 s with token renewals",
                out,
            )?;
        }
    };
    renewed(&report)?;

    // What only a real token endpoint can say.
    fails(
        "wrong client secret",
        probe(
            &sys.relay,
            &["--client-id", client, "--client-secret", "not-the-secret"],
        )?,
        4,
        "bad client credentials",
    )?;
    fails(
        "unknown client",
        probe(
            &sys.relay,
            &["--client-id", "nobody", "--client-secret", "x"],
        )?,
        4,
        "bad client credentials",
    )?;
    let mut args = cc.to_vec();
    args.extend(["--username", DEMO.0, "--password", "wrong-password"]);
    fails(
        "wrong user password",
        probe(&sys.relay, &args)?,
        4,
        "bad client credentials",
    )?;
    fails(
        "public browser client asking for client_credentials",
        probe(&sys.relay, &["--client-id", "edgeturn-web"])?,
        5,
        "token endpoint error",
    )?;
    Ok(())
}

fn one_line(json: &str) -> String {
    ["relayed", "token_id", "refreshes", "token_renewals"]
        .iter()
        .filter_map(|k| json_field(json, k).map(|v| format!("{k}={v}")))
        .collect::<Vec<_>>()
        .join(" ")
}

fn renewed(report: &str) -> Result {
    let n: u32 = json_field(report, "token_renewals")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let r: u32 = json_field(report, "refreshes")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    if n == 0 || r == 0 {
        return Err(
            format!("the probe should have refreshed and renewed its token: {report}").into(),
        );
    }
    Ok(())
}

fn relay_logged(log: &Path, token_id: &str, event: &str) -> Result {
    let text = std::fs::read_to_string(log)?;
    if text
        .lines()
        .any(|l| l.contains(token_id) && l.contains(&format!("event=\"{event}\"")))
    {
        eprintln!("  ok: the relay logged {event} under the renewed token {token_id}");
        return Ok(());
    }
    Err(format!("{} has no {event} line for token {token_id}", log.display()).into())
}
