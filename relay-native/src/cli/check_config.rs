//! `relay-native check-config`: builds the configuration exactly as `serve` does (reading the
//! key file, the certificate and its key) without binding anything, and prints the effective
//! settings as TOML that `--config` accepts. Passwords, REST secrets and key material are
//! never printed: users appear as `name:[redacted]`, secrets as `[redacted]`, keys by kid.

use std::fmt::Write as _;

use super::ServeArgs;
use super::serve::settings;
use crate::certs::{self, CertInfo};
use crate::config::Settings;
use crate::control::ControlConfig;

/// A certificate this close to its end gets a warning.
const EXPIRY_WARNING_DAYS: i64 = 14;

/// What `check-config` prints, or why the configuration cannot run.
pub fn run(a: &ServeArgs) -> Result<String, String> {
    let given = settings(a).map_err(|e| format!("config: {e}"))?;
    let (core, driver) = given.clone().build().map_err(|e| format!("config: {e}"))?;
    let (advertised, told) =
        crate::config::advertised(&driver.listen, &core.relay_ips, &core.address_map);
    // As `serve` checks it: the client secret is read, never printed.
    let control = given
        .control
        .clone()
        .check(&advertised, &told, given.max_allocations.unwrap_or(0))
        .map_err(|e| format!("config: {e}"))?;
    let mut out = String::new();
    let mut printed: Vec<String> = Vec::new();
    let mut line = |key: &str, value: toml::Value, note: Option<String>| {
        printed.push(key.trim_start_matches("# ").to_string());
        let _ = match note {
            Some(n) => writeln!(out, "{key} = {value}  # {n}"),
            None => writeln!(out, "{key} = {value}"),
        };
    };
    let s = |v: &str| toml::Value::String(v.to_string());
    let list =
        |v: Vec<String>| toml::Value::Array(v.into_iter().map(toml::Value::String).collect());
    let int = |v: u64| toml::Value::Integer(i64::try_from(v).unwrap_or(i64::MAX));

    let addrs = |v: &[std::net::SocketAddr]| list(v.iter().map(ToString::to_string).collect());
    line("listen", addrs(&driver.listen), None);
    line(
        "relay_ip",
        list(core.relay_ips.iter().map(|ip| ip.to_string()).collect()),
        None,
    );
    let mapped: Vec<String> = core
        .address_map
        .pairs()
        .map(|(private, public)| format!("{public}/{private}"))
        .collect();
    let told_note = (!mapped.is_empty()).then(|| {
        let ips: Vec<String> = told.iter().map(|ip| ip.to_string()).collect();
        format!("clients are told {}", ips.join(" and "))
    });
    line("external_ip", list(mapped), told_note);
    line("relay_ports", s(&core.relay_ports.to_string()), None);
    line("realm", s(&core.auth.realm), None);
    line("server_name", s(&core.auth.server_name), None);
    line(
        "third_party_authorization",
        s(core
            .third_party_authorization
            .as_deref()
            .unwrap_or("server-name")),
        None,
    );
    let kids = core.auth.keyring.as_ref().map(|k| {
        let kids: Vec<&str> = k.keys().iter().map(|e| e.kid()).collect();
        format!(
            "{} keys, kids {} (key material redacted)",
            k.len(),
            kids.join(", ")
        )
    });
    match (&given.keys, &given.keys_json) {
        (Some(path), _) => line("keys", s(&path.display().to_string()), kids),
        (None, Some(_)) => line("# keys", s("from EDGETURN_KEYS"), kids),
        (None, None) => {}
    }
    let users = given
        .users
        .iter()
        .map(|u| format!("{}:[redacted]", u.split_once(':').map_or("", |(n, _)| n)))
        .collect();
    line("users", list(users), None);
    let secrets = given
        .auth_secrets
        .iter()
        .filter(|s| !s.is_empty())
        .map(|_| "[redacted]".to_string())
        .collect();
    line("auth_secrets", list(secrets), None);
    line(
        "allow_loopback_peers",
        toml::Value::Boolean(given.allow_loopback_peers),
        None,
    );
    let nets = |v: &[ipnet::IpNet]| list(v.iter().map(ToString::to_string).collect());
    line("allow_peers", nets(&given.allow_peers), None);
    line("deny_peers", nets(&given.deny_peers), None);
    let (total, per_user) = (
        given.max_allocations.unwrap_or(0),
        given.max_allocations_per_user.unwrap_or(0),
    );
    line("max_allocations", int(total as u64), unlimited(total));
    line(
        "max_allocations_per_user",
        int(per_user as u64),
        unlimited(per_user),
    );
    line("max_lifetime", int(u64::from(core.max_lifetime)), None);
    line(
        "token_clock_skew",
        int(u64::from(core.auth.validation.clock_skew_secs)),
        None,
    );
    line("shards", int(driver.shards as u64), None);
    line("offload", list(driver.offload.clone()), None);
    if let Some(m) = driver.metrics {
        line("metrics", s(&m.to_string()), None);
    }
    line("drain_deadline", int(driver.drain_deadline.as_secs()), None);
    line("alternate_servers", addrs(&given.alternate_servers), None);
    let cap = |v: Option<u64>| {
        let v = v.unwrap_or(0);
        (int(v), (v == 0).then(|| "no cap".to_string()))
    };
    let (v, note) = cap(given.max_bps_per_allocation);
    line("max_bps_per_allocation", v, note);
    let (v, note) = cap(given.max_bps_per_user);
    line("max_bps_per_user", v, note);
    let throttle = core.auth_throttle.limits();
    let no_limit = |n: u32| (n == 0).then(|| "no limit".to_string());
    line(
        "auth_failure_limit",
        int(u64::from(throttle.per_source)),
        no_limit(throttle.per_source),
    );
    line(
        "auth_failure_limit_per_user",
        int(u64::from(throttle.per_user)),
        no_limit(throttle.per_user),
    );
    line("auth_failure_window", int(throttle.window.as_secs()), None);
    let (rate, burst) = core.unauth_rate;
    line(
        "unauth_reply_rate",
        toml::Value::Float(rate),
        (rate == 0.0).then(|| "no limit".to_string()),
    );
    line("unauth_reply_burst", toml::Value::Float(burst), None);
    line(
        "no_amplification",
        toml::Value::Boolean(core.no_amplification),
        None,
    );
    if let Some(sw) = &core.software {
        line("software", s(sw), None);
    }
    let mut problems = Vec::new();
    if let Some(tls) = &driver.tls {
        let current = tls.certs.current();
        let info = &current.info;
        line(
            "tls_listen",
            list(tls.listen.iter().map(ToString::to_string).collect()),
            None,
        );
        let path = |p: &Option<std::path::PathBuf>| {
            s(&p.as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default())
        };
        line("tls_cert", path(&given.tls_cert), Some(describe(info)));
        line(
            "tls_key",
            path(&given.tls_key),
            Some("[redacted]; it belongs to the certificate".into()),
        );
        line(
            "tls_handshake_limit",
            int(tls.max_per_shard as u64),
            Some("per shard".into()),
        );
        line(
            "tls_handshake_limit_per_ip",
            int(tls.per_source as u64),
            Some("per shard; IPv6 per /64".into()),
        );
        line("tls_handshake_timeout", int(tls.timeout.as_secs()), None);
        line(
            "tls_reload_interval",
            int(tls.reload_interval.map_or(0, |d| d.as_secs())),
            None,
        );
        problems.extend(certificate_problems(info, certs::unix_now(), &mut out));
    }
    given_but_not_described(&given, &printed, &mut out);
    if let Some(c) = &control {
        control_section(c, &mut out);
    }
    if let Some(p) = problems.first() {
        return Err(format!("config: {p}\n{out}"));
    }
    Ok(format!(
        "# relay-native check-config: this configuration can run; effective settings (secrets redacted):\n{out}"
    ))
}

/// Keys printed elsewhere, or never: the `[control]` table, and what holds secrets.
const NOT_TOP_LEVEL_LINES: &[&str] = &["control", "keys_json", "users", "auth_secrets"];

/// Every other setting that was given, as given, so a new setting shows in `check-config`
/// from its declaration alone. Secrets never serialize (`skip_serializing`).
fn given_but_not_described(given: &Settings, printed: &[String], out: &mut String) {
    let Ok(toml::Value::Table(table)) = toml::Value::try_from(given) else {
        return;
    };
    for key in Settings::KEYS {
        if NOT_TOP_LEVEL_LINES.contains(key) || printed.iter().any(|p| p == key) {
            continue;
        }
        if let Some(value) = table.get(*key) {
            let _ = writeln!(out, "{key} = {value}");
        }
    }
}

/// `[control]` as it will run (a table: after every top-level key).
fn control_section(c: &ControlConfig, out: &mut String) {
    let s = |v: &str| toml::Value::String(v.to_string());
    let secs = |d: std::time::Duration| toml::Value::Float(d.as_secs_f64());
    let mut rows = vec![
        ("edge", s(c.edge.base())),
        ("client_id", s(c.edge.client_id())),
        ("relay_id", s(&c.relay_id)),
        (
            "urls",
            toml::Value::Array(c.urls.iter().map(|u| s(u)).collect()),
        ),
        (
            "capacity",
            toml::Value::Integer(i64::try_from(c.capacity).unwrap_or(i64::MAX)),
        ),
        ("state_dir", s(&c.state_dir.display().to_string())),
        ("heartbeat_secs", secs(c.heartbeat)),
        ("usage_secs", secs(c.usage_every)),
        ("report_secs", secs(c.report_every)),
        (
            "feed_wait_secs",
            toml::Value::Integer(i64::try_from(c.feed_wait.as_secs()).unwrap_or(i64::MAX)),
        ),
        (
            "spool_max",
            toml::Value::Integer(i64::try_from(c.spool_max).unwrap_or(i64::MAX)),
        ),
    ];
    if let Some(r) = &c.region {
        rows.push(("region", s(r)));
    }
    if let Some((lat, lon)) = c.location {
        rows.push(("latitude", toml::Value::Float(lat)));
        rows.push(("longitude", toml::Value::Float(lon)));
    }
    let _ = writeln!(out, "\n[control]  # client secret read, [redacted]");
    for (k, v) in rows {
        let _ = writeln!(out, "{k} = {v}");
    }
}

fn unlimited(n: usize) -> Option<String> {
    (n == 0).then(|| "no limit".to_string())
}

/// One line about the certificate.
fn describe(info: &CertInfo) -> String {
    format!(
        "{}; names {}; issuer {}; valid {} to {}; chain of {}",
        info.subject,
        info.names.join(", "),
        info.issuer,
        certs::rfc3339(info.not_before),
        certs::rfc3339(info.not_after),
        info.chain
    )
}

/// An error for a certificate that is not valid now (`serve` would still start, and TLS
/// clients would refuse it); a warning written to `out` for one about to expire.
fn certificate_problems(info: &CertInfo, now: i64, out: &mut String) -> Option<String> {
    if !info.valid_at(now) {
        return Some(format!(
            "the TLS certificate is valid from {} to {}, not now",
            certs::rfc3339(info.not_before),
            certs::rfc3339(info.not_after)
        ));
    }
    let days = (info.not_after - now) / 86_400;
    if days < EXPIRY_WARNING_DAYS {
        let _ = writeln!(
            out,
            "# warning: the TLS certificate expires in {days} days ({})",
            certs::rfc3339(info.not_after)
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(not_before: i64, not_after: i64) -> CertInfo {
        CertInfo {
            subject: "CN=t".into(),
            names: vec!["t".into()],
            issuer: "CN=ca".into(),
            not_before,
            not_after,
            chain: 1,
        }
    }

    #[test]
    fn expired_and_future_certificates_are_errors_and_near_expiry_a_warning() {
        let mut out = String::new();
        assert!(certificate_problems(&info(0, 99), 100, &mut out).is_some());
        assert!(certificate_problems(&info(101, 200), 100, &mut out).is_some());
        assert!(out.is_empty());
        assert!(certificate_problems(&info(0, 100 + 86_400), 100, &mut out).is_none());
        assert!(out.contains("expires in 1 days"), "{out}");
        let mut out = String::new();
        assert!(certificate_problems(&info(0, 100 + 90 * 86_400), 100, &mut out).is_none());
        assert!(out.is_empty());
    }
}
