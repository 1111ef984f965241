//! `relay-native serve`: configuration, logging, the driver, the operator endpoints
//! (`--metrics`), a drain on SIGUSR1, and a clean stop on SIGINT or SIGTERM.

use tokio::sync::watch;
use tracing::info;

use super::ServeArgs;
use crate::config::{ConfigError, Settings};

/// Builds settings from `--config` and the flags.
pub fn settings(a: &ServeArgs) -> Result<Settings, ConfigError> {
    let file = match &a.config {
        Some(p) => Settings::from_file(p)?,
        None => Settings::default(),
    };
    let flags = Settings {
        listen: a.listen.clone(),
        relay_ip: a.relay_ip.clone(),
        default_relay_family: a.default_relay_family,
        realm: a.realm.clone(),
        server_name: a.server_name.clone(),
        keys: a.keys.clone(),
        keys_json: if a.keys.is_none() && file.keys.is_none() {
            std::env::var("EDGETURN_KEYS").ok()
        } else {
            None
        },
        users: a.users.clone(),
        auth_secrets: a.auth_secrets.clone(),
        allow_loopback_peers: a.allow_loopback_peers,
        allow_peers: a.allow_peers.clone(),
        deny_peers: a.deny_peers.clone(),
        max_allocations: a.max_allocations,
        max_allocations_per_user: a.max_allocations_per_user,
        max_lifetime: a.max_lifetime,
        token_clock_skew: None,
        shards: a.shards,
        offload: a.offload.clone(),
        metrics: a.metrics,
        drain_deadline: a.drain_deadline,
        alternate_servers: a.alternate_servers.clone(),
        max_bps_per_allocation: a.max_bps_per_allocation,
        max_bps_per_user: a.max_bps_per_user,
    };
    Ok(file.overlay(flags))
}

/// Runs the relay until SIGINT or SIGTERM, or until a drain is over.
pub fn run(a: &ServeArgs) -> Result<(), String> {
    let (core, driver) = settings(a)
        .and_then(Settings::build)
        .map_err(|e| format!("config: {e}"))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    // The operator's side is set up before the relay runs: a bad metrics address fails the
    // start, and a SIGUSR1 that comes early drains instead of ending the process.
    let (handle, drain_deadline) = (driver.handle.clone(), driver.drain_deadline);
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
    let (stop_tx, stop_rx) = watch::channel(false);
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
        "relay-native listening on {listen} (UDP and TCP)"
    );
    let relay = rt.block_on(async {
        if let Some(listener) = metrics {
            if let Ok(addr) = listener.local_addr() {
                info!(%addr, "metrics at http://{addr}/metrics (and /healthz, /readyz, POST /drain from loopback)");
            }
            tokio::spawn(crate::metrics::http::serve(listener, handle.clone()));
        }
        tokio::spawn(crate::drain::on_signal(handle.clone(), usr1));
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let stopped = async {
            loop {
                if relay.is_finished() {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => info!("SIGINT: stopping"),
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => info!("SIGTERM: stopping"),
            _ = stopped => {}
            drained = crate::drain::supervise(handle, drain_deadline) => info!("{drained}"),
        }
        relay
    });
    let _ = stop_tx.send(true);
    match relay.join() {
        Ok(Ok(())) => {
            info!("stopped");
            Ok(())
        }
        Ok(Err(e)) => Err(format!("cannot serve on {listen}: {e}")),
        Err(_) => Err("the relay thread panicked".into()),
    }
}
