//! relay-native in the lab's `relay` namespace, on its private address behind the 1:1 NAT,
//! with UDP, TCP and TLS listeners, a key file for browser credentials and a static user for
//! coturn's client.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::net::{Lab, RELAY_IFACE, RELAY_PRIVATE, RELAY_PUBLIC};
use crate::common::pki::{Pki, Validity};
use crate::common::{Proc, mint_json, relay_bin};

/// The UDP and TCP port; the NAT keeps ports, so clients dial it at the public address.
pub const PORT: u16 = 3478;
/// The TLS port.
pub const TLS_PORT: u16 = 5349;
/// The static user coturn's client signs in as.
pub const USER: (&str, &str) = ("alice", "secret");
const KEYS: &str =
    r#"[{"kid":"k1","alg":"A256GCM","key":"MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEK"}]"#;
const SERVER_NAME: &str = "turn.test";

/// How the relay is told about the NAT in front of it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mapping {
    /// `--external-ip PUBLIC/PRIVATE`: clients are given the public address.
    External,
    /// No mapping: clients are given the private address, which nobody outside can reach.
    None,
}

/// A running relay in a lab.
pub struct LabRelay {
    pub proc: Proc,
    pub keys: PathBuf,
    pub ca_pem: PathBuf,
}

/// Starts the relay in `lab` with `mapping`, and `--offload` on the lab's interface if
/// `offload`; waits until it answers a Binding request sent from A's namespace to the public
/// address (through both NATs).
pub fn start(lab: &Lab, mapping: Mapping, offload: bool) -> LabRelay {
    let keys = lab.dir.join("keys.json");
    std::fs::write(&keys, KEYS).unwrap();
    let pki = Pki::new(&lab.dir, "lab");
    // The certificate names what the clients dial: the public address.
    let leaf = pki.leaf(
        &lab.dir,
        "relay",
        &[RELAY_PUBLIC, SERVER_NAME],
        Validity::Now,
    );
    let (listen, tls_listen) = (
        format!("{RELAY_PRIVATE}:{PORT}"),
        format!("{RELAY_PRIVATE}:{TLS_PORT}"),
    );
    let external = format!("{RELAY_PUBLIC}/{RELAY_PRIVATE}");
    let user = format!("{}:{}", USER.0, USER.1);
    let mut args = vec![
        "serve",
        "--realm",
        "lab.realm",
        "--shards",
        "1",
        "--listen",
        &listen,
        "--relay-ip",
        RELAY_PRIVATE,
        "--tls-listen",
        &tls_listen,
        "--tls-cert",
        leaf.cert.to_str().unwrap(),
        "--tls-key",
        leaf.key.to_str().unwrap(),
        "--keys",
        keys.to_str().unwrap(),
        "--server-name",
        SERVER_NAME,
        "--user",
        &user,
        // The lab's addresses are documentation ranges, refused as peers by default.
        "--allow-peer",
        "198.51.100.0/24",
        "--allow-peer",
        "203.0.113.0/24",
    ];
    if mapping == Mapping::External {
        args.extend(["--external-ip", &external]);
    }
    if offload {
        args.extend(["--offload", RELAY_IFACE]);
    }
    let proc = lab.spawn_in("relay", "relay", &relay_bin(), &args);
    wait_ready(lab, &proc);
    LabRelay {
        proc,
        keys,
        ca_pem: pki.ca_pem.clone(),
    }
}

/// A Binding request from A's namespace to the public address answers within 10 s.
fn wait_ready(lab: &Lab, relay: &Proc) {
    let stunclient = crate::common::need("turnutils_stunclient");
    let ns = lab.ns("a");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = std::process::Command::new("timeout")
            .args(["2", "ip", "netns", "exec", &ns])
            .arg(&stunclient)
            .args(["-p", &PORT.to_string(), RELAY_PUBLIC])
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout);
        // Its reflexive address is A's NAT's public one: the answer crossed both NATs.
        if out.status.success() && said.contains("198.51.100.2") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the relay did not answer a Binding request at {RELAY_PUBLIC}:{PORT} from A:\n{said}{}\nrelay log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            relay.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

impl LabRelay {
    /// A browser credential (`token mint` with the relay's key file): username, credential.
    pub fn browser_credential(&self) -> (String, String) {
        let v = mint_json(&self.keys, SERVER_NAME, &[]);
        (
            v["browser"]["username"].as_str().unwrap().to_string(),
            v["browser"]["credential"].as_str().unwrap().to_string(),
        )
    }
}
