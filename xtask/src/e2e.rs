//! The whole product in a real browser: the system `cargo xtask run` starts (on free ports,
//! in a scratch state directory), then e2e/www-signin.mjs signs in on the page, gets ICE
//! servers through the helper and opens a relay-only data channel; and the relay must have
//! logged that allocation under the token id the edge issued.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::procs::Procs;
use crate::system::{DEMO, Options, System};
use crate::util::{Result, describe, json_field, target_dir};

/// Runs the browser end-to-end test against freshly started parts (built beforehand).
pub fn www(root: &Path) -> Result {
    let dir = std::env::temp_dir().join(format!("edgeturn-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let port = |_| -> Result<u16> { crate::edge::free_port() };
    let opts = Options {
        dir: dir.clone(),
        edge: format!("127.0.0.1:{}", port(())?),
        relay: format!("127.0.0.1:{}", crate::edge::free_udp_port()?),
        relay_bin: target_dir(root).join("debug/relay-native"),
        // The browser helper must answer the token endpoint's `use_dpop_nonce` (RFC 9449
        // section 8) by retrying with the nonce.
        vars: vec![("DPOP_NONCE", "required".to_string())],
    };
    let sys = System::start(root, opts, Procs::default())?;
    let mut cmd = Command::new("node");
    cmd.current_dir(root)
        .arg("e2e/www-signin.mjs")
        .arg(&sys.origin)
        .arg(DEMO.0)
        .arg(DEMO.1)
        .arg("nonce-required");
    eprintln!("$ {}", describe(&cmd));
    let out = cmd.output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "browser test failed:\n{}{}\nlogs: {}",
            stdout,
            String::from_utf8_lossy(&out.stderr),
            dir.display()
        )
        .into());
    }
    eprintln!("{}", stdout.trim());
    let signed_out =
        json_field(&stdout, "signedOutTo").ok_or("the browser test printed no signedOutTo")?;
    if signed_out != format!("{}/", sys.origin) {
        return Err(format!("sign-out returned to {signed_out}, not the page").into());
    }
    if !sys.audit_contains("\"detail\":\"logout\"")? {
        return Err(
            "the edge's audit trail shows no logout revocation after the page signed out".into(),
        );
    }
    let token_id = json_field(&stdout, "tokenId").ok_or("the browser test printed no tokenId")?;
    // The relay writes its allocation line as the allocation is made; give the log a moment.
    let log = dir.join("relay.log");
    let mut found = false;
    for _ in 0..20 {
        if std::fs::read_to_string(&log).is_ok_and(|l| {
            l.lines()
                .any(|line| line.contains(&token_id) && line.contains("alloc"))
        }) {
            found = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if !found {
        return Err(format!(
            "the relay log {} has no allocation line with token id {token_id}",
            log.display()
        )
        .into());
    }
    eprintln!("relay logged the allocation under token id {token_id}");
    let probed = crate::probe::native(root, &sys);
    sys.procs.stop_all();
    probed.map_err(|e| format!("{e}\nlogs: {}", dir.display()))?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
