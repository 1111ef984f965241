//! The lab's small internet, built from network namespaces, veth pairs and nftables:
//!
//! ```text
//!   relay 10.10.0.2 ── natr (1:1 NAT, 203.0.113.10) ── inet ─┬─ nata (masquerade, 198.51.100.2)  ── a 192.168.1.2
//!                                                  echo peer ├─ natb (masquerade, 198.51.100.66) ── b 192.168.2.2
//!                                               198.51.100.200
//! ```
//!
//! `natr` maps the public address to the relay's private one both ways (DNAT in prerouting,
//! SNAT in postrouting) and hairpins: the relay reaching its own public address comes back to
//! it from the public address, as a cloud's 1:1 NAT does. `nata` and `natb` masquerade
//! (endpoint-independent mapping) and forward only what answers a flow from inside
//! (address- and port-dependent filtering). `inet` routes between them and knows no private
//! network. Every namespace is named with a per-lab prefix; dropping the [`Lab`] kills every
//! process still running inside any of them and deletes them all, also when a test panics.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{Proc, need, spawn};

/// The relay's address in its own namespace.
pub const RELAY_PRIVATE: &str = "10.10.0.2";
/// The address the 1:1 NAT maps to [`RELAY_PRIVATE`]; the only one clients are given.
pub const RELAY_PUBLIC: &str = "203.0.113.10";
/// The echo peer's address, on the internet side.
pub const PEER: &str = "198.51.100.200";
/// The lab's interface in the relay's namespace (what `--offload` attaches to).
pub const RELAY_IFACE: &str = "eth0";

/// The namespaces, by role.
const ROLES: [&str; 7] = ["relay", "natr", "inet", "nata", "natb", "a", "b"];

/// One lab: its namespaces exist from [`Lab::new`] until drop.
pub struct Lab {
    prefix: String,
    pub dir: PathBuf,
}

/// `ip ARGS`; it must succeed.
fn ip(args: &[&str]) {
    let out = Command::new(need("ip")).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Lab {
    /// Builds the lab; `name` makes its prefix unique among this process's labs.
    pub fn new(name: &str, dir: &Path) -> Lab {
        need("nft");
        let prefix = format!("etlab{}{name}", std::process::id() % 100_000);
        let lab = Lab {
            prefix,
            dir: dir.to_path_buf(),
        };
        // From here on, a failing step still removes what was made (Drop).
        for role in ROLES {
            ip(&["netns", "add", &lab.ns(role)]);
            lab.ip_in(role, &["link", "set", "lo", "up"]);
        }
        let links: [(&str, &str, &str, &str, &str, &str); 6] = [
            (
                "relay",
                RELAY_IFACE,
                "10.10.0.2/24",
                "natr",
                "lan",
                "10.10.0.1/24",
            ),
            (
                "natr",
                "wan",
                "203.0.113.10/24",
                "inet",
                "tor",
                "203.0.113.1/24",
            ),
            (
                "nata",
                "wan",
                "198.51.100.2/26",
                "inet",
                "toa",
                "198.51.100.1/26",
            ),
            (
                "natb",
                "wan",
                "198.51.100.66/26",
                "inet",
                "tob",
                "198.51.100.65/26",
            ),
            (
                "a",
                "eth0",
                "192.168.1.2/24",
                "nata",
                "lan",
                "192.168.1.1/24",
            ),
            (
                "b",
                "eth0",
                "192.168.2.2/24",
                "natb",
                "lan",
                "192.168.2.1/24",
            ),
        ];
        for (ns1, if1, addr1, ns2, if2, addr2) in links {
            let (n1, n2) = (lab.ns(ns1), lab.ns(ns2));
            ip(&[
                "link", "add", "name", if1, "netns", &n1, "type", "veth", "peer", "name", if2,
                "netns", &n2,
            ]);
            for (role, iface, addr) in [(ns1, if1, addr1), (ns2, if2, addr2)] {
                lab.ip_in(role, &["addr", "add", addr, "dev", iface]);
                lab.ip_in(role, &["link", "set", iface, "up"]);
            }
        }
        lab.ip_in("inet", &["addr", "add", &format!("{PEER}/32"), "dev", "lo"]);
        for (role, via) in [
            ("relay", "10.10.0.1"),
            ("natr", "203.0.113.1"),
            ("nata", "198.51.100.1"),
            ("natb", "198.51.100.65"),
            ("a", "192.168.1.1"),
            ("b", "192.168.2.1"),
        ] {
            lab.ip_in(role, &["route", "add", "default", "via", via]);
        }
        for role in ["natr", "inet", "nata", "natb"] {
            lab.sysctl(role, "net.ipv4.ip_forward=1");
        }
        // Hairpinning forwards out of the interface a packet came in by: no ICMP redirect
        // may teach the relay a shortcut to its own public address.
        for key in ["all", "default", "lan"] {
            lab.sysctl("natr", &format!("net.ipv4.conf.{key}.send_redirects=0"));
        }
        lab.sysctl("relay", "net.ipv4.conf.all.accept_redirects=0");
        lab.nft(
            "natr",
            &format!(
                "table ip lab {{
  chain pre {{ type nat hook prerouting priority dstnat; ip daddr {RELAY_PUBLIC} dnat to {RELAY_PRIVATE}; }}
  chain post {{ type nat hook postrouting priority srcnat; ip saddr {RELAY_PRIVATE} snat to {RELAY_PUBLIC}; }}
}}"
            ),
        );
        for role in ["nata", "natb"] {
            lab.nft(
                role,
                "table ip lab {
  chain post { type nat hook postrouting priority srcnat; oifname \"wan\" masquerade; }
  chain forward { type filter hook forward priority filter; policy drop;
    iifname \"lan\" oifname \"wan\" accept
    ct state established,related accept
  }
}",
            );
        }
        lab
    }

    /// The name of the namespace playing `role`.
    pub fn ns(&self, role: &str) -> String {
        format!("{}-{role}", self.prefix)
    }

    /// `ip -n NS ARGS`; it must succeed.
    fn ip_in(&self, role: &str, args: &[&str]) {
        let ns = self.ns(role);
        let mut all = vec!["-n", &ns];
        all.extend_from_slice(args);
        ip(&all);
    }

    /// Runs `program args` in `role`'s namespace to completion; its output, failing if it did.
    pub fn run_in(&self, role: &str, program: &str, args: &[&str]) -> String {
        let ns = self.ns(role);
        let out = Command::new(need("ip"))
            .args(["netns", "exec", &ns, program])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{program} {} in {ns}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn sysctl(&self, role: &str, setting: &str) {
        self.run_in(role, "sysctl", &["-qw", setting]);
    }

    /// Loads an nftables ruleset into `role`'s namespace.
    fn nft(&self, role: &str, rules: &str) {
        let file = self.dir.join(format!("{role}.nft"));
        std::fs::write(&file, rules).unwrap();
        self.run_in(role, "nft", &["-f", file.to_str().unwrap()]);
    }

    /// Starts `program args` in `role`'s namespace (own process group, log in the lab's dir).
    pub fn spawn_in(&self, role: &str, name: &str, program: &Path, args: &[&str]) -> Proc {
        let ns = self.ns(role);
        let mut all = vec!["netns", "exec", &ns, program.to_str().unwrap()];
        all.extend_from_slice(args);
        spawn(&self.dir, name, &need("ip"), &all)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for role in ROLES {
            let ns = self.ns(role);
            // Whatever still runs inside (a browser's helpers, a relay a failed test left).
            if let Ok(out) = Command::new("ip").args(["netns", "pids", &ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-KILL", pid]).status();
                }
            }
            let _ = Command::new("ip").args(["netns", "del", &ns]).output();
        }
    }
}
