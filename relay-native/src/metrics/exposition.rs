//! A [`Snapshot`] as Prometheus text (format 0.0.4): every metric's name, help, type and
//! labels are here, and docs/relay.md lists them with their meaning.
//!
//! The registry is built per scrape from the snapshot: the figures are counted by the shards
//! and the kernel, not by this library, so its metric objects only carry the values into
//! the encoder. Known label values are written even at zero, so a series exists (and
//! `rate()` works) from the first scrape.

use prometheus::{Encoder, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};

use crate::driver::Snapshot;
use crate::driver::counters::{
    AUTH_FAILURES, CLOSE_REASONS, END_REASONS, Link, MECHANISMS, close_label, end_label,
};
use relay_proto::{Counters, Traffic, TurnError};

/// The `Content-Type` of [`render`]'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Error responses written at zero before any is sent.
const ERRORS: [TurnError; 13] = [
    TurnError::TryAlternate,
    TurnError::BadRequest,
    TurnError::Unauthorized,
    TurnError::Forbidden,
    TurnError::UnknownAttribute,
    TurnError::AllocationMismatch,
    TurnError::StaleNonce,
    TurnError::AddressFamilyNotSupported,
    TurnError::WrongCredentials,
    TurnError::UnsupportedTransportProtocol,
    TurnError::PeerAddressFamilyMismatch,
    TurnError::AllocationQuotaReached,
    TurnError::InsufficientCapacity,
];

/// Why a registry could not be built or encoded (a bug in a metric's definition).
#[derive(Debug)]
pub struct RenderError(String);

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot render metrics: {}", self.0)
    }
}

impl From<prometheus::Error> for RenderError {
    fn from(e: prometheus::Error) -> RenderError {
        RenderError(e.to_string())
    }
}

/// The snapshot in the Prometheus text format, with the process's own metrics.
pub fn render(s: &Snapshot) -> Result<String, RenderError> {
    let r = Registry::new();
    allocations(&r, s)?;
    traffic(&r, s)?;
    requests(&r, s)?;
    connections(&r, s)?;
    tls(&r, s)?;
    relay(&r, s)?;
    control(&r, s)?;
    r.register(Box::new(
        prometheus::process_collector::ProcessCollector::for_self(),
    ))?;
    let mut out = Vec::new();
    TextEncoder::new().encode(&r.gather(), &mut out)?;
    String::from_utf8(out).map_err(|e| RenderError(e.to_string()))
}

/// A counter family registered in `r`.
fn counter(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntCounterVec, RenderError> {
    let c = IntCounterVec::new(Opts::new(name, help), labels)?;
    r.register(Box::new(c.clone()))?;
    Ok(c)
}

/// A gauge family registered in `r`.
fn gauge(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntGaugeVec, RenderError> {
    let g = IntGaugeVec::new(Opts::new(name, help), labels)?;
    r.register(Box::new(g.clone()))?;
    Ok(g)
}

fn set(g: &IntGaugeVec, labels: &[&str], v: u64) {
    g.with_label_values(labels)
        .set(i64::try_from(v).unwrap_or(i64::MAX));
}

fn add(c: &IntCounterVec, labels: &[&str], v: u64) {
    c.with_label_values(labels).inc_by(v);
}

fn allocations(r: &Registry, s: &Snapshot) -> Result<(), RenderError> {
    let now = gauge(
        r,
        "edgeturn_allocations",
        "Allocations held now, by the client's transport and the credential mechanism.",
        &["transport", "mechanism"],
    )?;
    let created = counter(
        r,
        "edgeturn_allocations_created_total",
        "Allocations created, by the client's transport and the credential mechanism.",
        &["transport", "mechanism"],
    )?;
    for link in Link::ALL {
        for m in MECHANISMS {
            let labels = [link.label(), &m.to_string()];
            set(&now, &labels, s.shards.allocations_of(link, m));
            add(&created, &labels, s.shards.created_of(link, m));
        }
    }
    let ended = counter(
        r,
        "edgeturn_allocations_ended_total",
        "Allocations ended, by reason: lifetime_over (no Refresh in time), credential_expired (the token or REST credential ran out), deleted (Refresh with lifetime 0), connection_closed (the client's TCP or TLS connection closed), revoked (its token was revoked at the edge).",
        &["reason"],
    )?;
    for reason in END_REASONS {
        add(&ended, &[end_label(reason)], s.shards.ended_for(reason));
    }
    let refused = counter(
        r,
        "edgeturn_allocations_refused_total",
        "Allocate requests refused after authentication, by reason: quota (486), draining (508 or 300), relay_socket (508: no relay port could be bound), reservation (508: a RESERVATION-TOKEN unknown, expired, used or of another family).",
        &["reason"],
    )?;
    let st = &s.shards.stats;
    add(&refused, &["quota"], st.refused_quota);
    add(&refused, &["draining"], st.refused_draining);
    add(&refused, &["relay_socket"], st.relay_bind_failures);
    add(&refused, &["reservation"], st.refused_reservations);
    let exhausted = counter(
        r,
        "edgeturn_relay_ports_exhausted_total",
        "Relay socket binds that found no free port in the relay port range (relay_ports); each answers 508 Insufficient Capacity.",
        &[],
    )?;
    add(&exhausted, &[], s.shards.counts.ports_exhausted);
    let max = gauge(
        r,
        "edgeturn_max_allocations",
        "The configured most allocations in total (max_allocations); 0: no limit.",
        &[],
    )?;
    set(&max, &[], s.max_allocations);
    Ok(())
}

fn traffic(r: &Registry, s: &Snapshot) -> Result<(), RenderError> {
    let packets = counter(
        r,
        "edgeturn_relayed_packets_total",
        "Datagrams relayed, by direction (to_peer, to_client) and path (sockets: through the relay process; kernel: the eBPF fast path for ChannelData). Sum over path for the total.",
        &["direction", "path"],
    )?;
    let bytes = counter(
        r,
        "edgeturn_relayed_bytes_total",
        "Payload bytes relayed (without TURN framing), by direction and path.",
        &["direction", "path"],
    )?;
    let both = |path: &str, t: Traffic| {
        for (dir, c) in [("to_peer", t.to_peer), ("to_client", t.to_client)] {
            add(&packets, &[dir, path], c.packets);
            add(&bytes, &[dir, path], c.bytes);
        }
    };
    both("sockets", s.shards.sockets_traffic());
    both("kernel", s.kernel.unwrap_or_default());

    let dropped_packets = counter(
        r,
        "edgeturn_bandwidth_dropped_packets_total",
        "Datagrams dropped by a bandwidth cap, by direction and cap (allocation, user).",
        &["direction", "cap"],
    )?;
    let dropped_bytes = counter(
        r,
        "edgeturn_bandwidth_dropped_bytes_total",
        "Payload bytes dropped by a bandwidth cap, by direction and cap.",
        &["direction", "cap"],
    )?;
    let st = &s.shards.stats;
    for (cap, t) in [
        ("allocation", st.dropped_allocation_cap),
        ("user", st.dropped_user_cap),
    ] {
        for (dir, c) in [("to_peer", t.to_peer), ("to_client", t.to_client)] {
            let Counters { packets, bytes } = c;
            add(&dropped_packets, &[dir, cap], packets);
            add(&dropped_bytes, &[dir, cap], bytes);
        }
    }
    let holds = counter(
        r,
        "edgeturn_bandwidth_kernel_holds_total",
        "Times an allocation over its bandwidth cap had its channels taken off the kernel fast path.",
        &[],
    )?;
    add(&holds, &[], st.kernel_holds);
    let held = gauge(
        r,
        "edgeturn_bandwidth_held_allocations",
        "Allocations held off the kernel fast path by their bandwidth cap now.",
        &[],
    )?;
    set(&held, &[], s.shards.held);
    Ok(())
}

fn requests(r: &Registry, s: &Snapshot) -> Result<(), RenderError> {
    let auth = counter(
        r,
        "edgeturn_auth_failures_total",
        "Requests whose credentials did not authenticate, by reason.",
        &["reason"],
    )?;
    for reason in AUTH_FAILURES {
        let n = s.shards.counts.auth_failures.get(reason).copied();
        add(&auth, &[reason], n.unwrap_or(0));
    }
    let errors = counter(
        r,
        "edgeturn_error_responses_total",
        "STUN error responses sent, by ERROR-CODE (401 and 438 are challenges).",
        &["code"],
    )?;
    let st = &s.shards.stats;
    let mut by_code = s.shards.counts.errors.clone();
    *by_code.entry(TurnError::Unauthorized.code()).or_default() += st.challenges;
    *by_code.entry(TurnError::StaleNonce.code()).or_default() += st.stale_nonces;
    for e in ERRORS {
        by_code.entry(e.code()).or_default();
    }
    for (code, n) in by_code {
        add(&errors, &[&code.to_string()], n);
    }
    let limited = counter(
        r,
        "edgeturn_rate_limited_requests_total",
        "Replies to unauthenticated UDP requests (Binding, 400, 420, 401, 438) not sent: the source prefix was over its reply rate.",
        &[],
    )?;
    add(&limited, &[], st.rate_limited);
    let oversized = counter(
        r,
        "edgeturn_oversized_replies_total",
        "Replies to unauthenticated UDP requests not sent because they were larger than the request (no_amplification).",
        &[],
    )?;
    add(&oversized, &[], st.oversized_replies);
    let throttled = counter(
        r,
        "edgeturn_auth_throttled_total",
        "Requests refused unverified, even with the right credentials, after too many failed authentications for their username (per source or in all), by transport.",
        &["transport"],
    )?;
    for link in Link::ALL {
        add(
            &throttled,
            &[link.label()],
            s.shards
                .counts
                .throttled
                .get(link as usize)
                .copied()
                .unwrap_or(0),
        );
    }
    let malformed = counter(
        r,
        "edgeturn_malformed_messages_total",
        "Datagrams and stream frames from clients dropped as malformed.",
        &[],
    )?;
    add(&malformed, &[], st.malformed);
    Ok(())
}

fn connections(r: &Registry, s: &Snapshot) -> Result<(), RenderError> {
    let accepted = counter(
        r,
        "edgeturn_connections_accepted_total",
        "Stream connections accepted, by transport (tcp, tls).",
        &["transport"],
    )?;
    let open = gauge(
        r,
        "edgeturn_connections_open",
        "Stream connections open now, by transport.",
        &["transport"],
    )?;
    for link in [Link::Tcp, Link::Tls] {
        let (total, now) = s.shards.connections(link);
        add(&accepted, &[link.label()], total);
        set(&open, &[link.label()], now);
    }
    let closed = counter(
        r,
        "edgeturn_connections_closed_by_relay_total",
        "Stream connections the relay closed, by reason: idle_without_allocation (30 s without an allocation or a message), connection_limit.",
        &["reason"],
    )?;
    for reason in CLOSE_REASONS {
        add(&closed, &[close_label(reason)], s.shards.closed_for(reason));
    }
    Ok(())
}

fn tls(r: &Registry, s: &Snapshot) -> Result<(), RenderError> {
    let handshakes = counter(
        r,
        "edgeturn_tls_handshakes_total",
        "TLS handshakes completed.",
        &[],
    )?;
    add(&handshakes, &[], s.tls.handshakes);
    let failures = counter(
        r,
        "edgeturn_tls_handshake_failures_total",
        "TLS handshakes that failed, by reason (timeout, limit, error).",
        &["reason"],
    )?;
    let mut by_reason = s.tls.handshake_failures.clone();
    for reason in ["timeout", "limit", "error"] {
        by_reason.entry(reason).or_default();
    }
    for (reason, n) in by_reason {
        add(&failures, &[reason], n);
    }
    let expiry = gauge(
        r,
        "edgeturn_tls_certificate_expiry_timestamp_seconds",
        "The notAfter time of each TLS certificate in use, Unix seconds.",
        &["certificate"],
    )?;
    for (name, at) in &s.tls.certificate_expiry {
        set(&expiry, &[name], *at);
    }
    Ok(())
}

fn relay(r: &Registry, s: &Snapshot) -> Result<(), RenderError> {
    let draining = gauge(
        r,
        "edgeturn_draining",
        "1 while the relay drains (new allocations refused), else 0.",
        &[],
    )?;
    set(&draining, &[], u64::from(s.draining || s.shards.draining));
    let shards = gauge(r, "edgeturn_shards", "Relay shards (threads).", &[])?;
    set(&shards, &[], s.shard_count as u64);
    if s.kernel.is_some() {
        let routes = gauge(
            r,
            "edgeturn_kernel_routes",
            "Channel routes in the kernel fast path's maps now.",
            &[],
        )?;
        set(&routes, &[], s.kernel_routes);
    }
    let info = gauge(
        r,
        "edgeturn_build_info",
        "Always 1; the relay-native version in a label.",
        &["version"],
    )?;
    set(&info, &[env!("CARGO_PKG_VERSION")], 1);
    Ok(())
}

/// The control plane's figures, written only while it runs (no edge, no series).
fn control(r: &Registry, s: &Snapshot) -> Result<(), RenderError> {
    let Some(c) = s.control else {
        return Ok(());
    };
    let answered = gauge(
        r,
        "edgeturn_revocation_feed_last_success_timestamp_seconds",
        "When the edge's revocation feed last answered (or the control plane started), Unix seconds.",
        &[],
    )?;
    set(&answered, &[], c.feed_answered_at);
    let failures = counter(
        r,
        "edgeturn_revocation_feed_failures_total",
        "Polls of the edge's revocation feed that failed (the edge unreachable, refused or malformed).",
        &[],
    )?;
    add(&failures, &[], c.feed_failures);
    let backlog = gauge(
        r,
        "edgeturn_usage_backlog_records",
        "Usage records spooled on disk, waiting to be sent to the edge.",
        &[],
    )?;
    set(&backlog, &[], c.usage_backlog);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_written_with_help_and_type() {
        let text = render(&Snapshot::default()).unwrap_or_default();
        for name in [
            "edgeturn_allocations",
            "edgeturn_allocations_created_total",
            "edgeturn_allocations_ended_total",
            "edgeturn_allocations_refused_total",
            "edgeturn_relayed_packets_total",
            "edgeturn_relayed_bytes_total",
            "edgeturn_bandwidth_dropped_packets_total",
            "edgeturn_bandwidth_dropped_bytes_total",
            "edgeturn_bandwidth_kernel_holds_total",
            "edgeturn_bandwidth_held_allocations",
            "edgeturn_auth_failures_total",
            "edgeturn_error_responses_total",
            "edgeturn_rate_limited_requests_total",
            "edgeturn_malformed_messages_total",
            "edgeturn_connections_accepted_total",
            "edgeturn_connections_open",
            "edgeturn_connections_closed_by_relay_total",
            "edgeturn_tls_handshakes_total",
            "edgeturn_tls_handshake_failures_total",
            "edgeturn_draining",
            "edgeturn_shards",
            "edgeturn_build_info",
            "edgeturn_max_allocations",
            "process_resident_memory_bytes",
        ] {
            assert!(text.contains(&format!("# HELP {name} ")), "{name}:\n{text}");
            assert!(text.contains(&format!("# TYPE {name} ")), "{name}:\n{text}");
        }
        assert!(
            text.contains(r#"edgeturn_relayed_packets_total{direction="to_peer",path="kernel"} 0"#)
        );
        assert!(text.contains(r#"edgeturn_error_responses_total{code="508"} 0"#));
        assert!(
            !text.contains("edgeturn_kernel_routes"),
            "no fast path, no gauge"
        );
        assert!(
            !text.contains("edgeturn_revocation_feed"),
            "no control plane, no feed"
        );
    }

    #[test]
    fn figures_land_in_their_series() {
        let mut s = Snapshot::default();
        s.shards.stats.challenges = 3;
        s.shards.counts.errors.insert(401, 1);
        s.shards.counts.auth_failures.insert("bad_integrity", 2);
        s.kernel = Some(Traffic {
            to_peer: Counters {
                packets: 5,
                bytes: 1000,
            },
            to_client: Counters::default(),
        });
        s.kernel_routes = 2;
        s.draining = true;
        s.tls
            .certificate_expiry
            .insert("turns.example".into(), 1_900_000_000);
        s.tls.handshake_failures.insert("timeout", 4);
        s.tls.handshakes = 7;
        s.max_allocations = 500;
        s.control = Some(crate::driver::ControlFigures {
            feed_answered_at: 1_800_000_000,
            feed_failures: 3,
            usage_backlog: 12,
        });
        let text = render(&s).unwrap_or_default();
        for line in [
            r#"edgeturn_error_responses_total{code="401"} 4"#,
            r#"edgeturn_auth_failures_total{reason="bad_integrity"} 2"#,
            r#"edgeturn_relayed_packets_total{direction="to_peer",path="kernel"} 5"#,
            r#"edgeturn_relayed_bytes_total{direction="to_peer",path="kernel"} 1000"#,
            "edgeturn_kernel_routes 2",
            "edgeturn_draining 1",
            r#"edgeturn_tls_certificate_expiry_timestamp_seconds{certificate="turns.example"} 1900000000"#,
            r#"edgeturn_tls_handshake_failures_total{reason="timeout"} 4"#,
            "edgeturn_tls_handshakes_total 7",
            "edgeturn_max_allocations 500",
            "edgeturn_revocation_feed_last_success_timestamp_seconds 1800000000",
            "edgeturn_revocation_feed_failures_total 3",
            "edgeturn_usage_backlog_records 12",
        ] {
            assert!(text.lines().any(|l| l == line), "{line}:\n{text}");
        }
    }
}
