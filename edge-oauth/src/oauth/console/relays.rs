//! The Relays view: each relay's health (the edge's own rule,
//! [`crate::oauth::control::select::healthy`]), load, draining state, last heartbeat, feed
//! cursor against the feed's head, and usage backlog; and a drain button: the edge stops
//! handing the relay to new callers (its allocations carry on), until the drain is lifted.

use super::event;
use super::layout::{Notice, form, when};
use crate::oauth::control::select::healthy;
use crate::oauth::effects::{AuditEvent, Claim, Write, Writes};
use crate::oauth::error::OAuthError;
use crate::oauth::html::{escape, hidden};
use crate::oauth::params::Params;
use crate::store::console::RelayRow;

/// A drain asked for, or lifted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Drain {
    /// The relay.
    pub relay_id: String,
    /// True to drain, false to lift it.
    pub on: bool,
}

/// Reads a posted form.
pub fn parse(p: &Params) -> Result<Drain, OAuthError> {
    let on = match p.get("action") {
        Some("drain") => true,
        Some("undrain") => false,
        _ => return Err(OAuthError::invalid_request("unknown action")),
    };
    let relay_id = p
        .get("relay_id")
        .filter(|r| crate::oauth::control::relay_id_ok(r))
        .ok_or_else(|| OAuthError::invalid_request("relay_id is missing or not an id"))?;
    Ok(Drain {
        relay_id: relay_id.to_string(),
        on,
    })
}

/// The drain (the relay must be known), with the audit row naming its relay client.
pub fn drain(d: &Drain, relay_client: Option<&str>, now: u64) -> Writes {
    Writes::new(Claim::DrainRelay {
        relay_id: d.relay_id.clone(),
        at: d.on.then_some(now),
    })
    .with(Write::Audit(AuditEvent {
        client_id: relay_client.map(str::to_string),
        detail: Some(if d.on { "drain" } else { "undrain" }),
        ..AuditEvent::new(now, event::RELAY_DRAIN)
    }))
}

/// A relay's state in words.
pub fn state(r: &RelayRow, now: u64, stale_after: u64) -> &'static str {
    // A drain from the console reaches the relay in its next heartbeat's reply; the relay
    // then reports draining.
    if r.drain_requested_at.is_some() && r.draining != 0 {
        "draining (from the console)"
    } else if r.drain_requested_at.is_some() {
        "drain requested"
    } else if r.draining != 0 {
        "draining"
    } else if healthy(r.last_seen, false, now, stale_after) {
        "healthy"
    } else {
        "stale"
    }
}

/// The Relays view; `feed_head` is the revocation feed's highest sequence number.
pub fn render(rows: &[RelayRow], feed_head: u64, now: u64, stale_after: u64, csrf: &str) -> String {
    let mut out = format!(
        "<p class=\"muted\">Healthy: a heartbeat within {stale_after} s and not draining. The revocation feed's head is <b id=\"feed-head\">{feed_head}</b>.</p>\
<table id=\"relays\"><tr><th>Relay</th><th>State</th><th>Load</th><th>Last heartbeat</th><th>Feed cursor</th><th>Usage backlog</th><th>Version</th><th>Actions</th></tr>"
    );
    for r in rows {
        let st = state(r, now, stale_after);
        let pct = (r.load * 100.0).clamp(0.0, 100.0);
        let bar = format!(
            "<svg width=\"100\" height=\"10\" role=\"img\" aria-label=\"load {pct:.0}%\"><rect width=\"{pct:.0}\" height=\"10\" fill=\"#3b6fd8\"/></svg>"
        );
        let cursor = match r.revocation_cursor {
            Some(c) if c >= feed_head => format!("{c} (caught up)"),
            Some(c) => format!("<span class=\"err\">{c} ({} behind)</span>", feed_head - c),
            None => "none".into(),
        };
        let id_field = hidden("relay_id", &r.relay_id);
        let action = if r.drain_requested_at.is_some() {
            form(
                "relays",
                "undrain",
                csrf,
                &format!("{id_field}<button type=\"submit\">Undrain</button>"),
                "inline",
            )
        } else {
            form(
                "relays",
                "drain",
                csrf,
                &format!("{id_field}<button type=\"submit\" class=\"drain\">Drain</button>"),
                "inline",
            )
        };
        let urls: Vec<String> = serde_json::from_str(&r.urls).unwrap_or_default();
        out.push_str(&format!(
            "<tr data-relay=\"{id}\"><td><b>{id}</b> <span class=\"muted\">{region}</span><br><span class=\"muted\">{urls}</span></td>\
<td class=\"state\">{st}</td><td>{bar} {alloc}/{cap}</td><td class=\"seen\" data-seen=\"{seen}\">{ago} s ago<br><span class=\"muted\">{when}</span></td>\
<td>{cursor}</td><td class=\"backlog\">{backlog} <span class=\"muted\">({dropped} dropped)</span></td><td>{version}</td><td>{action}</td></tr>",
            id = escape(&r.relay_id),
            region = escape(r.region.as_deref().unwrap_or("")),
            urls = escape(&urls.join(" ")),
            alloc = r.allocations,
            cap = r.capacity,
            seen = r.last_seen,
            ago = now.saturating_sub(r.last_seen),
            when = when(r.last_seen),
            backlog = r.usage_backlog.unwrap_or(0),
            dropped = r.usage_dropped.unwrap_or(0),
            version = escape(r.version.as_deref().unwrap_or("")),
        ));
    }
    out.push_str("</table>");
    if rows.is_empty() {
        out.push_str("<p class=\"muted\" id=\"no-relays\">No relay has sent a heartbeat yet.</p>");
    }
    out
}

/// The notice after a drain.
pub fn done(d: &Drain) -> Notice {
    Notice::Done(if d.on {
        format!(
            "{} drained: the edge hands it to no new caller.",
            d.relay_id
        )
    } else {
        format!("{} is handed out again.", d.relay_id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relay(last_seen: u64, draining: u64, asked: Option<u64>) -> RelayRow {
        RelayRow {
            relay_id: "fra-1".into(),
            client_id: "fra-1".into(),
            urls: r#"["turn:192.0.2.1:3478"]"#.into(),
            region: Some("fra".into()),
            allocations: 3,
            capacity: 100,
            load: 0.03,
            draining,
            version: Some("0.1.0".into()),
            revocation_cursor: Some(4),
            usage_backlog: Some(0),
            usage_dropped: Some(0),
            first_seen: 0,
            last_seen,
            drain_requested_at: asked,
        }
    }

    #[test]
    fn states_follow_the_health_rule_and_the_console_drain() {
        assert_eq!(state(&relay(95, 0, None), 100, 30), "healthy");
        assert_eq!(state(&relay(50, 0, None), 100, 30), "stale");
        assert_eq!(state(&relay(95, 1, None), 100, 30), "draining");
        assert_eq!(state(&relay(95, 0, Some(1)), 100, 30), "drain requested");
        assert_eq!(
            state(&relay(95, 1, Some(1)), 100, 30),
            "draining (from the console)"
        );
        let html = render(&[relay(95, 0, None)], 6, 100, 30, "tok");
        assert!(html.contains("4 (2 behind)") && html.contains("class=\"drain\""));
        assert!(render(&[relay(95, 0, Some(1))], 4, 100, 30, "t").contains("Undrain"));
    }

    #[test]
    fn drains_parse_and_are_audited() {
        let p = Params::from_form(b"action=drain&relay_id=fra-1").unwrap();
        let d = parse(&p).unwrap();
        assert!(d.on);
        let w = drain(&d, Some("fra-1"), 7);
        assert_eq!(
            w.claim,
            Claim::DrainRelay {
                relay_id: "fra-1".into(),
                at: Some(7)
            }
        );
        assert_eq!(w.audits().next().unwrap().detail, Some("drain"));
        assert!(parse(&Params::from_form(b"action=drain&relay_id=a%20b").unwrap()).is_err());
        assert!(parse(&Params::from_form(b"action=x&relay_id=a").unwrap()).is_err());
    }
}
