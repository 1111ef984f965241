//! The core's events as log lines: one per allocation event (created, refreshed, expired,
//! deleted) with the mechanism, the account and token id and the addresses, never a key. An
//! ended allocation's line carries what it relayed, sockets and kernel fast path together.

use relay_proto::{AllocationInfo, Event, Traffic, TurnError};
use tracing::{debug, info};

/// Logs one event; `kernel`: what the fast path relayed for an ended allocation.
pub(super) fn log(event: &Event, kernel: Option<Traffic>) {
    match event {
        Event::AllocationCreated { info, lifetime } => info!(
            target: "allocation",
            event = "created",
            account = %info.account,
            mechanism = %info.mechanism,
            token_id = token_id(info),
            client = %info.client.addr,
            relay = relay(info),
            lifetime,
            "allocation created"
        ),
        Event::AllocationRefreshed { info, lifetime } => info!(
            target: "allocation",
            event = "refreshed",
            account = %info.account,
            token_id = token_id(info),
            client = %info.client.addr,
            lifetime,
            "allocation refreshed"
        ),
        Event::AllocationEnded {
            info,
            reason,
            traffic,
        } => {
            if let Some(k) = kernel {
                info!(
                    target: "offload",
                    relay = relay(info),
                    to_peer_packets = k.to_peer.packets,
                    to_client_packets = k.to_client.packets,
                    to_peer_bytes = k.to_peer.bytes,
                    to_client_bytes = k.to_client.bytes,
                    "channel data relayed in the kernel"
                );
            }
            let all = *traffic + kernel.unwrap_or_default();
            info!(
                target: "allocation",
                event = reason.kind(),
                reason = reason.as_str(),
                account = %info.account,
                mechanism = %info.mechanism,
                token_id = token_id(info),
                client = %info.client.addr,
                relay = relay(info),
                to_peer_packets = all.to_peer.packets,
                to_peer_bytes = all.to_peer.bytes,
                to_client_packets = all.to_client.packets,
                to_client_bytes = all.to_client.bytes,
                "allocation {}",
                reason.kind()
            )
        }
        Event::Refused {
            client,
            account,
            error: TurnError::AllocationQuotaReached,
            ..
        } => info!(
            target: "allocation",
            account = account.as_ref().map(ToString::to_string).unwrap_or_default(),
            client = %client.addr,
            "allocation refused: quota"
        ),
        Event::Refused {
            client,
            method,
            error,
            ..
        } => debug!(
            target: "request",
            client = %client.addr,
            method = %method,
            code = error.code(),
            "error response"
        ),
        Event::AuthFailed {
            client,
            method,
            why,
        } => debug!(
            target: "auth",
            client = %client.addr,
            method = %method,
            "authentication failed: {why}"
        ),
    }
}

fn token_id(info: &AllocationInfo) -> String {
    info.token_id.map(|t| t.to_string()).unwrap_or_default()
}

/// The relayed address; a dual allocation's two, comma-separated.
fn relay(info: &AllocationInfo) -> String {
    info.relay
        .iter()
        .chain(&info.additional_relay)
        .map(|r| r.to_string())
        .collect::<Vec<_>>()
        .join(",")
}
