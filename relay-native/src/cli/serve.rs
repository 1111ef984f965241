//! `relay-native serve`: configuration, logging, the driver, and a clean stop on SIGINT or
//! SIGTERM.

use tokio::sync::watch;
use tracing::info;

use super::ServeArgs;
use crate::config::{ConfigError, Settings};
use crate::control::{Draining, Plane};

/// Builds settings from `--config` and the flags.
pub fn settings(a: &ServeArgs) -> Result<Settings, ConfigError> {
    let file = match &a.config {
        Some(p) => Settings::from_file(p)?,
        None => Settings::default(),
    };
    let flags = Settings {
        listen: a.listen,
        relay_ip: a.relay_ip,
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
        control: Default::default(),
    };
    Ok(file.overlay(flags))
}

/// Runs the relay until SIGINT or SIGTERM.
pub fn run(a: &ServeArgs) -> Result<(), String> {
    let settings = settings(a).map_err(|e| format!("config: {e}"))?;
    let control = settings.control.clone().overlay(&a.control);
    let max_allocations = settings.max_allocations.unwrap_or(0);
    let (core, mut driver) = settings.build().map_err(|e| format!("config: {e}"))?;
    let control = control
        .check(driver.listen, core.relay_ip, max_allocations)
        .map_err(|e| format!("config: {e}"))?;
    let draining = Draining::default();
    let plane = match control {
        Some(cfg) => {
            let (plane, link) =
                Plane::start(cfg, draining.clone()).map_err(|e| format!("control plane: {e}"))?;
            driver.control = Some(link);
            Some(plane)
        }
        None => None,
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let listen = driver.listen;
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
        %listen,
        shards,
        auth = mechanisms.iter().flatten().cloned().collect::<Vec<_>>().join(", "),
        "relay-native listening on {listen} (UDP and TCP)"
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let relay = rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        // SIGUSR1: say "draining" in heartbeats, so the edge stops handing this relay out.
        if let Ok(mut usr1) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1()) {
            let draining = draining.clone();
            tokio::spawn(async move {
                while usr1.recv().await.is_some() {
                    draining.set();
                    info!("SIGUSR1: draining (the edge stops handing this relay out)");
                }
            });
        }
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
        }
        relay
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
