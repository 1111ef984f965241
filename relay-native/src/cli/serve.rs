//! `relay-native serve`: configuration, logging, the driver, the control plane (`--edge`),
//! the operator endpoints (`--metrics`), a drain on SIGUSR1, the TLS certificate reloaded on
//! SIGHUP, and a clean stop on SIGINT or SIGTERM.
//!
//! The one place that wires the checked settings ([`crate::config`]), the driver and the
//! control plane together: the driver and the control plane never name each other, and
//! neither reads the settings (docs/architecture.md, layering).

use std::sync::Arc;

use tokio::sync::watch;
use tracing::info;

use super::ServeArgs;
use crate::config::declare::Overlay;
use crate::config::{Checked, ConfigError, Settings};
use crate::control::Plane;
use crate::driver::tls::{HandshakeLimits, TlsSetup};
use crate::driver::{DriverConfig, Handle, SharedQuota};

/// Builds settings from `--config`, the flags and the environment.
pub fn settings(a: &ServeArgs) -> Result<Settings, ConfigError> {
    let file = match &a.config {
        Some(p) => Settings::from_file(p)?,
        None => Settings::default(),
    };
    let mut s = file.overlay(a.settings.clone());
    if s.keys.is_none() {
        s.keys_json = std::env::var("EDGETURN_KEYS").ok();
    }
    if s.control.client_secret_file.is_none() {
        s.control.client_secret = std::env::var("EDGETURN_RELAY_CLIENT_SECRET").ok();
    }
    Ok(s)
}

/// Runs the relay until SIGINT or SIGTERM, or until a drain is over.
pub fn run(a: &ServeArgs) -> Result<(), String> {
    let settings = settings(a).map_err(|e| format!("config: {e}"))?;
    let control = settings.control.clone();
    let (core, checked) = settings.build().map_err(|e| format!("config: {e}"))?;
    let max_allocations = checked.max_allocations;
    let mut driver = driver_config(checked);
    let (listen, told) =
        crate::config::advertised(&driver.listen, &core.relay_ips, &core.address_map);
    let control = control
        .check(&listen, &told, max_allocations)
        .map_err(|e| format!("config: {e}"))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    // The operator's side is set up before the relay runs: a bad metrics address fails the
    // start, and a SIGUSR1 that comes early drains instead of ending the process.
    let (handle, drain_deadline) = (driver.handle.clone(), driver.drain_deadline);
    handle.set_max_allocations(max_allocations as u64);
    let metrics = match driver.metrics {
        Some(addr) => Some(
            rt.block_on(crate::metrics::http::bind(addr))
                .map_err(|e| format!("cannot serve metrics on {addr}: {e}"))?,
        ),
        None => None,
    };
    let usr1 = {
        let _rt = rt.enter();
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1())
            .map_err(|e| format!("cannot handle SIGUSR1: {e}"))?
    };
    // The control plane starts before the relay, so its shards get the revocation list
    // from the first datagram on.
    let plane = match control {
        Some(cfg) => {
            let h = driver.handle.clone();
            let (plane, link) = Plane::start(
                cfg,
                driver.handle.control().clone(),
                driver.handle.draining(),
                std::sync::Arc::new(move || h.drain()),
            )
            .map_err(|e| format!("control plane: {e}"))?;
            driver.control = Some(link);
            Some(plane)
        }
        None => None,
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let files = raise_fd_limit();
    let tls = driver
        .tls
        .as_ref()
        .map(|t| (t.certs.clone(), t.reload_interval, t.listen.clone()));
    let listen = driver
        .listen
        .iter()
        .map(|l| l.to_string())
        .collect::<Vec<_>>()
        .join(" ");
    let shards = driver.shards;
    let mechanisms = [
        core.auth
            .keyring
            .as_ref()
            .map(|k| format!("tokens ({} keys)", k.len())),
        (!core.auth.rest.is_empty()).then(|| "REST secrets".to_string()),
        (!core.auth.users.is_empty()).then(|| format!("{} static users", core.auth.users.len())),
    ];
    let relay = std::thread::Builder::new()
        .name("relay".into())
        .spawn(move || crate::driver::run(core, driver, stop_rx))
        .map_err(|e| format!("cannot start: {e}"))?;
    info!(
        listen,
        shards,
        auth = mechanisms
            .iter()
            .flatten()
            .cloned()
            .collect::<Vec<_>>()
            .join(", "),
        files,
        "relay-native listening on {listen} (UDP and TCP)"
    );
    if let Some((certs, _, addrs)) = &tls {
        let c = &certs.current().info;
        info!(
            target: "tls",
            listen = addrs.iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
            names = c.names.join(","),
            not_after = %crate::certs::rfc3339(c.not_after),
            "TURN over TLS on {}",
            addrs.iter().map(ToString::to_string).collect::<Vec<_>>().join(" and ")
        );
    }
    rt.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        if let Some(listener) = metrics {
            if let Ok(addr) = listener.local_addr() {
                info!(%addr, "metrics at http://{addr}/metrics (and /healthz, /readyz, POST /drain from loopback)");
            }
            tokio::spawn(crate::metrics::http::serve(listener, handle.clone()));
        }
        tokio::spawn(crate::drain::on_signal(handle.clone(), usr1));
        let mut term = signal(SignalKind::terminate()).ok();
        // Always handled: SIGHUP's default action ends the process, and `systemctl reload`
        // sends it whether or not TLS is configured.
        let mut hup = signal(SignalKind::hangup()).ok();
        if let Some((certs, Some(every), _)) = &tls {
            tokio::spawn(certs.clone().watch(*every));
        }
        let stopped = async {
            loop {
                if relay.is_finished() {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        };
        tokio::pin!(stopped);
        let drained = crate::drain::supervise(handle, drain_deadline);
        tokio::pin!(drained);
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => { info!("SIGINT: stopping"); break }
                _ = recv(&mut term) => { info!("SIGTERM: stopping"); break }
                _ = recv(&mut hup) => match &tls {
                    Some((certs, ..)) => { let _ = certs.reload("SIGHUP"); }
                    None => info!("SIGHUP: no TLS certificate to reload"),
                },
                () = &mut stopped => break,
                drained = &mut drained => { info!("{drained}"); break }
            }
        }
    });
    let _ = stop_tx.send(true);
    let joined = relay.join();
    if let Some(p) = plane {
        p.shutdown();
    }
    match joined {
        Ok(Ok(())) => {
            info!("stopped");
            Ok(())
        }
        Ok(Err(e)) => Err(format!("cannot serve on {listen}: {e}")),
        Err(_) => Err("the relay thread panicked".into()),
    }
}

/// The driver's configuration from the checked settings, with the operator's handle (which
/// reads the TLS listeners' figures when there are any).
fn driver_config(c: Checked) -> DriverConfig {
    let tls = c.tls.map(|t| TlsSetup {
        listen: t.listen,
        certs: t.certs,
        limits: HandshakeLimits {
            max_per_shard: t.max_per_shard,
            per_source: t.per_source,
            timeout: t.timeout,
        },
        counts: Arc::default(),
        reload_interval: t.reload_interval,
    });
    let handle = Handle::new();
    if let Some(t) = &tls {
        handle.tls().attach(t.counts.clone(), t.certs.clone());
    }
    DriverConfig {
        listen: c.listen,
        shards: c.shards,
        offload: c.offload,
        quota: SharedQuota::new(c.max_allocations, c.max_allocations_per_user),
        control: None,
        tls,
        handle,
        metrics: c.metrics,
        drain_deadline: c.drain_deadline,
    }
}

/// The next delivery of a signal; never, if its handler could not be installed.
async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
    match s.as_mut() {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

/// Raises the soft limit on open files to the hard limit: every TCP or TLS client and every
/// allocation's relay socket is a descriptor, and the usual soft limit (1,024) is far below
/// what a relay holds. Returns the limit now in force.
#[cfg(target_os = "linux")]
fn raise_fd_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut l = getrlimit(Resource::Nofile);
    if l.current < l.maximum {
        l.current = l.maximum;
        if let Err(e) = setrlimit(Resource::Nofile, l) {
            tracing::warn!("cannot raise the open-files limit: {e}");
        }
    }
    getrlimit(Resource::Nofile).current
}

#[cfg(not(target_os = "linux"))]
fn raise_fd_limit() -> Option<u64> {
    None
}
