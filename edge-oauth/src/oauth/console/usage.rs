//! The Usage view: bytes relayed and allocations per UTC day, per app or per person, as
//! stacked SVG bars ([`super::svg`]) over a date range, with a table and a CSV export. The
//! figures are the control plane's usage report ([`crate::oauth::control::usage::Query`]).

use serde_json::Value;

use super::svg::{human, stacked_bars};
use crate::oauth::control::day;
use crate::oauth::control::usage::{By, Query};
use crate::oauth::error::OAuthError;
use crate::oauth::html::escape;
use crate::oauth::params::Params;

/// Longest range, days.
pub const MAX_DAYS: u64 = 92;
/// Default range, days.
pub const DEFAULT_DAYS: u64 = 14;
/// Most series drawn; the rest are summed as "others".
pub const MAX_SERIES: usize = 7;

/// Per app or per person.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Per {
    /// Per client.
    App,
    /// Per user.
    Person,
}

impl Per {
    fn column(self) -> &'static str {
        match self {
            Per::App => "client_id",
            Per::Person => "user_id",
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Per::App => "app",
            Per::Person => "person",
        }
    }
}

/// What the view shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    /// First day.
    pub from: String,
    /// Last day.
    pub to: String,
    /// Grouping.
    pub per: Per,
}

/// The Unix second a `YYYY-MM-DD` day starts (the inverse of [`day::of`]).
pub fn start_of(d: &str) -> Option<u64> {
    let d = day::parse(d)?;
    let y: i64 = d.get(0..4)?.parse().ok()?;
    let m: i64 = d.get(5..7)?.parse().ok()?;
    let dd: i64 = d.get(8..10)?.parse().ok()?;
    // Howard Hinnant's days-from-civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + dd - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days).ok()?.checked_mul(86_400)
}

impl View {
    /// Reads `?from=&to=&per=` (default: the last [`DEFAULT_DAYS`] days, per app).
    pub fn parse(q: &Params, now: u64) -> Result<View, OAuthError> {
        let bad = |m: &'static str| OAuthError::invalid_request(m);
        let per = match q.get("per") {
            None | Some("app") => Per::App,
            Some("person") => Per::Person,
            Some(_) => return Err(bad("per is app or person")),
        };
        let to = match q.get("to").filter(|t| !t.is_empty()) {
            None => day::of(now),
            Some(t) => day::parse(t)
                .ok_or_else(|| bad("to is a day, YYYY-MM-DD"))?
                .to_string(),
        };
        let to_start = start_of(&to).ok_or_else(|| bad("to is a day, YYYY-MM-DD"))?;
        let from = match q.get("from").filter(|f| !f.is_empty()) {
            None => day::of(to_start.saturating_sub((DEFAULT_DAYS - 1) * 86_400)),
            Some(f) => day::parse(f)
                .ok_or_else(|| bad("from is a day, YYYY-MM-DD"))?
                .to_string(),
        };
        let from_start = start_of(&from).ok_or_else(|| bad("from is a day, YYYY-MM-DD"))?;
        if from_start > to_start {
            return Err(bad("from is after to"));
        }
        if (to_start - from_start) / 86_400 >= MAX_DAYS {
            return Err(bad("the range is at most 92 days"));
        }
        Ok(View { from, to, per })
    }

    /// The days of the range, in order.
    pub fn days(&self) -> Vec<String> {
        let (Some(a), Some(b)) = (start_of(&self.from), start_of(&self.to)) else {
            return Vec::new();
        };
        (0..=((b.saturating_sub(a)) / 86_400))
            .map(|i| day::of(a + i * 86_400))
            .collect()
    }

    /// The report's question: by day and by app or person.
    pub fn query(&self) -> Query {
        Query {
            from: self.from.clone(),
            to: self.to.clone(),
            by: vec![
                By::Day,
                match self.per {
                    Per::App => By::Client,
                    Per::Person => By::User,
                },
            ],
            user_id: None,
            client_id: None,
            limit: 10_000,
        }
    }

    fn link(&self, per: Per) -> String {
        format!(
            "/console/usage?from={}&to={}&per={}",
            self.from,
            self.to,
            per.as_str()
        )
    }
}

fn num(v: &Value, k: &str) -> u64 {
    v.get(k).and_then(Value::as_u64).unwrap_or(0)
}

fn who(v: &Value, per: Per) -> String {
    v.get(per.column())
        .and_then(Value::as_str)
        .unwrap_or("(none)")
        .to_string()
}

/// Series of `metric(row)` per app or person over `days`: the largest [`MAX_SERIES`] by
/// total, the rest as "others".
fn series(
    rows: &[Value],
    days: &[String],
    per: Per,
    metric: impl Fn(&Value) -> u64,
) -> Vec<(String, Vec<u64>)> {
    let mut by: Vec<(String, Vec<u64>)> = Vec::new();
    for r in rows {
        let name = who(r, per);
        let Some(d) = r
            .get("day")
            .and_then(Value::as_str)
            .and_then(|d| days.iter().position(|x| x == d))
        else {
            continue;
        };
        let slot = match by.iter().position(|(n, _)| *n == name) {
            Some(i) => i,
            None => {
                by.push((name, vec![0; days.len()]));
                by.len() - 1
            }
        };
        if let Some(v) = by.get_mut(slot).and_then(|(_, v)| v.get_mut(d)) {
            *v += metric(r);
        }
    }
    by.sort_by_key(|(n, v)| (std::cmp::Reverse(v.iter().sum::<u64>()), n.clone()));
    if by.len() > MAX_SERIES {
        let rest = by.split_off(MAX_SERIES - 1);
        let mut others = vec![0; days.len()];
        for (_, v) in rest {
            for (o, x) in others.iter_mut().zip(v) {
                *o += x;
            }
        }
        by.push(("others".into(), others));
    }
    by
}

fn bytes(r: &Value) -> u64 {
    num(r, "to_peer_bytes") + num(r, "to_client_bytes")
}

/// The Usage view.
pub fn render(v: &View, rows: &[Value]) -> String {
    let days = v.days();
    let per_label = match v.per {
        Per::App => "app",
        Per::Person => "person",
    };
    let total_bytes: u64 = rows.iter().map(bytes).sum();
    let total_allocs: u64 = rows.iter().map(|r| num(r, "allocations")).sum();
    let mut out = format!(
        "<form method=\"get\" action=\"/console/usage\" class=\"box\"><label>From <input type=\"date\" name=\"from\" id=\"from\" value=\"{from}\"></label>\
<label>To <input type=\"date\" name=\"to\" id=\"to\" value=\"{to}\"></label><label>Per <select name=\"per\" id=\"per\">\
<option value=\"app\"{app_sel}>app</option><option value=\"person\"{person_sel}>person</option></select></label><button type=\"submit\">Show</button> \
<a href=\"{app}\">per app</a> · <a href=\"{person}\">per person</a> · <a id=\"csv\" href=\"/console/usage.csv?from={from}&amp;to={to}&amp;per={per}\">CSV</a></form>\
<p id=\"usage-total\" data-bytes=\"{total_bytes}\" data-allocations=\"{total_allocs}\">{from} to {to}: <b>{hb}</b> relayed, <b>{total_allocs}</b> allocations.</p>",
        from = escape(&v.from),
        to = escape(&v.to),
        per = v.per.as_str(),
        app_sel = if v.per == Per::App { " selected" } else { "" },
        person_sel = if v.per == Per::Person {
            " selected"
        } else {
            ""
        },
        app = escape(&v.link(Per::App)),
        person = escape(&v.link(Per::Person)),
        hb = escape(&human(total_bytes, true)),
    );
    out.push_str(&format!("<h2>Bytes relayed per day and {per_label}</h2>"));
    out.push_str(&stacked_bars(
        "chart-bytes",
        "Bytes relayed per day",
        &days,
        &series(rows, &days, v.per, bytes),
        true,
    ));
    out.push_str(&format!("<h2>Allocations per day and {per_label}</h2>"));
    out.push_str(&stacked_bars(
        "chart-allocations",
        "Allocations per day",
        &days,
        &series(rows, &days, v.per, |r| num(r, "allocations")),
        false,
    ));
    out.push_str(&format!(
        "<h2>Rows</h2><table id=\"usage\"><tr><th>Day</th><th>{per_label}</th><th>Allocations</th><th>To peers</th><th>To clients</th></tr>"
    ));
    for r in rows {
        out.push_str(&format!(
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{} ({} packets)</td><td>{} ({} packets)</td></tr>",
            escape(r.get("day").and_then(Value::as_str).unwrap_or("")),
            escape(&who(r, v.per)),
            num(r, "allocations"),
            escape(&human(num(r, "to_peer_bytes"), true)),
            num(r, "to_peer_packets"),
            escape(&human(num(r, "to_client_bytes"), true)),
            num(r, "to_client_packets"),
        ));
    }
    out.push_str("</table>");
    out
}

/// One CSV field: quoted when it holds a comma, quote or line break; a leading `=`, `+`,
/// `-` or `@` is prefixed with `'` so spreadsheets do not run it as a formula.
fn field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// The CSV export: a header and one line per day and app or person.
pub fn csv(v: &View, rows: &[Value]) -> String {
    let mut out = format!(
        "day,{},allocations,to_peer_packets,to_peer_bytes,to_client_packets,to_client_bytes\r\n",
        v.per.column()
    );
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{},{},{},{}\r\n",
            field(r.get("day").and_then(Value::as_str).unwrap_or("")),
            field(&who(r, v.per)),
            num(r, "allocations"),
            num(r, "to_peer_packets"),
            num(r, "to_peer_bytes"),
            num(r, "to_client_packets"),
            num(r, "to_client_bytes"),
        ));
    }
    out
}

/// The export's file name.
pub fn csv_name(v: &View) -> String {
    format!("usage-{}-{}-per-{}.csv", v.from, v.to, v.per.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DAY: u64 = 86_400;

    #[test]
    fn days_convert_both_ways() {
        for unix in [0, 59 * DAY, 19_000 * DAY, 20_454 * DAY] {
            assert_eq!(start_of(&day::of(unix)), Some(unix));
        }
        assert_eq!(start_of("2024-02-29"), Some(19_782 * DAY));
        assert_eq!(start_of("nope"), None);
    }

    #[test]
    fn ranges_default_and_are_bounded() {
        let now = 20_000 * DAY + 5;
        let v = View::parse(&Params::from_form(b"").unwrap(), now).unwrap();
        assert_eq!(v.days().len(), DEFAULT_DAYS as usize);
        assert_eq!(v.to, day::of(now));
        let p = |q: &str| View::parse(&Params::from_form(q.as_bytes()).unwrap(), now);
        let one = p("from=2026-01-02&to=2026-01-02&per=person").unwrap();
        assert_eq!((one.days().len(), one.per), (1, Per::Person));
        for bad in [
            "from=2026-01-03&to=2026-01-02",
            "from=2025-01-01&to=2026-01-01",
            "per=token",
            "to=yesterday",
        ] {
            assert!(p(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn charts_tables_and_csv_carry_the_same_figures() {
        let v = View {
            from: "2026-01-01".into(),
            to: "2026-01-02".into(),
            per: Per::App,
        };
        let rows = vec![
            json!({"day": "2026-01-01", "client_id": "web", "allocations": 2, "to_peer_bytes": 100, "to_client_bytes": 50, "to_peer_packets": 1, "to_client_packets": 1}),
            json!({"day": "2026-01-02", "client_id": "=evil", "allocations": 1, "to_peer_bytes": 10, "to_client_bytes": 0, "to_peer_packets": 1, "to_client_packets": 0}),
        ];
        let html = render(&v, &rows);
        assert!(html.contains("data-bytes=\"160\"") && html.contains("data-allocations=\"3\""));
        assert!(html.contains("id=\"chart-bytes\" data-total=\"160\""));
        let c = csv(&v, &rows);
        assert!(c.starts_with("day,client_id,allocations"));
        assert!(c.contains("2026-01-01,web,2,1,100,1,50\r\n"));
        assert!(c.contains("'=evil"), "no formula: {c}");
        assert_eq!(field("a,\"b\""), "\"a,\"\"b\"\"\"");
    }

    #[test]
    fn many_series_fold_into_others() {
        let days = vec!["2026-01-01".to_string()];
        let rows: Vec<Value> = (0..10)
            .map(|i| json!({"day": "2026-01-01", "client_id": format!("c{i}"), "to_peer_bytes": i}))
            .collect();
        let s = series(&rows, &days, Per::App, bytes);
        assert_eq!(s.len(), MAX_SERIES);
        assert_eq!(s.last().unwrap().0, "others");
        assert_eq!(s.iter().map(|(_, v)| v[0]).sum::<u64>(), 45);
    }
}
