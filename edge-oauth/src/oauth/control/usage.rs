//! `POST /relay/usage`: relays' usage records, applied once each, summed per UTC day, token
//! and transport, and joined to the client and user the token was issued to.
//!
//! Each relay numbers its records (per spool *epoch*); the edge keeps, per relay and epoch,
//! the highest number applied (`usage_cursors`). A batch is applied in one D1 batch: first a
//! claim that moves the cursor from the value read to the batch's last number and tags the
//! row with a random nonce, then one upsert per (day, token, transport) guarded by that
//! nonce. So a batch sent again (its answer was lost, the relay restarted) adds nothing, two
//! copies of a batch in flight at once add once, and a batch that overlaps one already
//! applied adds only its new records. The answer is the cursor, which the relay's spool
//! forgets up to.
//!
//! The join to client and user happens when a row is first written (`turn_tokens`), so the
//! totals stay right after the token's row is gone. Later upserts of the row leave the
//! indexed columns alone: an update then writes one row, not three (docs/control-plane.md).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared_token::TokenId;

use super::Write as ControlWrite;
use super::day;
use super::relay_id_ok;
pub use super::rows::{Group, Sum};
use crate::oauth::effects::{Claim, Write, Writes};
use crate::oauth::error::OAuthError;
use crate::oauth::params::Params;
use crate::store::MAX_EXACT;
use crate::store::reads;

/// Most records per batch.
pub const MAX_RECORDS: usize = 1000;

/// One record as a relay sends it (relay-native's `control::ledger::Record`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct Record {
    /// Position in the relay's spool.
    pub seq: u64,
    /// The token.
    pub token_id: String,
    /// `udp`, `tcp`, `tls` or `dtls`.
    pub transport: String,
    /// Unix second the allocation was made.
    pub start: u64,
    /// Unix second it ended (its last record).
    #[serde(default)]
    pub end: Option<u64>,
    /// Unix second this piece was measured.
    pub at: u64,
    /// The allocation's first record.
    #[serde(default)]
    pub first: bool,
    /// Client to peer.
    pub to_peer_packets: u64,
    /// Client to peer, payload bytes.
    pub to_peer_bytes: u64,
    /// Peer to client.
    pub to_client_packets: u64,
    /// Peer to client, payload bytes.
    pub to_client_bytes: u64,
}

/// A batch.
#[derive(Clone, Debug, Deserialize)]
pub struct Batch {
    /// The relay.
    pub relay_id: String,
    /// Its spool's epoch.
    pub epoch: String,
    /// Records in sequence order.
    pub records: Vec<Record>,
}

fn bad(d: &'static str) -> OAuthError {
    OAuthError::invalid_request(d)
}

const TRANSPORTS: [&str; 4] = ["udp", "tcp", "tls", "dtls"];

impl Batch {
    /// Parses and checks a body.
    pub fn parse(body: &[u8]) -> Result<Batch, OAuthError> {
        let b: Batch = serde_json::from_slice(body)
            .map_err(|_| bad("the usage batch does not match the expected fields"))?;
        if !relay_id_ok(&b.relay_id) {
            return Err(bad("relay_id must be 1 to 64 of A-Z a-z 0-9 . _ - @"));
        }
        if b.epoch.is_empty()
            || b.epoch.len() > 64
            || !b
                .epoch
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        {
            return Err(bad("epoch must be 1 to 64 of A-Z a-z 0-9 - _"));
        }
        if b.records.len() > MAX_RECORDS {
            return Err(bad("at most 1000 records per batch"));
        }
        let mut last = 0;
        for r in &b.records {
            if r.seq <= last || r.seq > MAX_EXACT {
                return Err(bad("records must be in increasing sequence order"));
            }
            last = r.seq;
            if r.token_id.parse::<TokenId>().is_err() {
                return Err(bad("token_id must be a token id (16 base64url characters)"));
            }
            if !TRANSPORTS.contains(&r.transport.as_str()) {
                return Err(bad("transport must be udp, tcp, tls or dtls"));
            }
            let n = [
                r.start,
                r.at,
                r.end.unwrap_or(0),
                r.to_peer_packets,
                r.to_peer_bytes,
                r.to_client_packets,
                r.to_client_bytes,
            ];
            if n.iter().any(|x| *x > MAX_EXACT) {
                return Err(bad("numbers must be below 2^53"));
            }
        }
        Ok(b)
    }

    /// The last sequence number in the batch.
    pub fn last(&self) -> Option<u64> {
        self.records.last().map(|r| r.seq)
    }
}

/// What applying a batch writes: the cursor claim, then the usage rows it guards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Nothing when there is nothing to apply.
    pub writes: Writes,
    /// The cursor after the batch, if it applies.
    pub through: u64,
    /// Groups written.
    pub groups: usize,
}

/// Decides what `batch` writes given the cursor read (`applied`, `None`: no row yet).
/// `nonce` tags this request's claim; `now` files records measured in the future under
/// today.
pub fn decide(batch: &Batch, applied: Option<u64>, nonce: &str, now: u64) -> Plan {
    let from = applied.unwrap_or(0);
    let fresh: Vec<&Record> = batch.records.iter().filter(|r| r.seq > from).collect();
    let Some(through) = fresh.last().map(|r| r.seq) else {
        return Plan {
            writes: Writes::none(),
            through: from,
            groups: 0,
        };
    };
    let mut sums: BTreeMap<(String, &str, &str), Sum> = BTreeMap::new();
    for r in &fresh {
        let s = sums
            .entry((
                day::of(r.at.min(now)),
                r.token_id.as_str(),
                r.transport.as_str(),
            ))
            .or_insert_with(|| Sum {
                first_start: r.start,
                ..Sum::default()
            });
        s.allocations += u64::from(r.first);
        s.to_peer_packets += r.to_peer_packets;
        s.to_peer_bytes += r.to_peer_bytes;
        s.to_client_packets += r.to_client_packets;
        s.to_client_bytes += r.to_client_bytes;
        s.first_start = s.first_start.min(r.start);
        s.last_end = s.last_end.max(r.end);
    }
    let mut writes = Writes::new(Claim::UsageCursor {
        relay_id: batch.relay_id.clone(),
        epoch: batch.epoch.clone(),
        read: applied,
        through,
        nonce: nonce.to_string(),
        now,
    });
    let groups = sums.len();
    for ((day, token, transport), sum) in sums {
        writes.push(Write::Control(ControlWrite::Usage(Group {
            day,
            token_id: token.to_string(),
            transport: transport.to_string(),
            sum,
            now,
        })));
    }
    Plan {
        writes,
        through,
        groups,
    }
}

/// How a usage report groups its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum By {
    /// Per user.
    User,
    /// Per client.
    Client,
    /// Per UTC day.
    Day,
    /// Per token.
    Token,
    /// Per transport.
    Transport,
}

impl By {
    fn parse(s: &str) -> Option<By> {
        Some(match s {
            "user" => By::User,
            "client" => By::Client,
            "day" => By::Day,
            "token" => By::Token,
            "transport" => By::Transport,
            _ => return None,
        })
    }

    /// Its column in `relay_usage`.
    pub fn column(self) -> &'static str {
        match self {
            By::User => "user_id",
            By::Client => "client_id",
            By::Day => "day",
            By::Token => "token_id",
            By::Transport => "transport",
        }
    }
}

/// A usage report's question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    /// First day, inclusive.
    pub from: String,
    /// Last day, inclusive.
    pub to: String,
    /// Grouping, in order.
    pub by: Vec<By>,
    /// Only this user.
    pub user_id: Option<String>,
    /// Only this client.
    pub client_id: Option<String>,
    /// Most rows.
    pub limit: u64,
}

impl Query {
    /// `GET /admin/usage?from=&to=&by=user,client,day&user_id=&client_id=&limit=`: by
    /// default the last 30 days, grouped by user, client and day.
    pub fn parse_admin(query: &str, now: u64) -> Result<Query, OAuthError> {
        let p = Params::from_form(query.as_bytes())?;
        let day_param = |name: &str, default: String| -> Result<String, OAuthError> {
            match p.get(name) {
                None => Ok(default),
                Some(d) => day::parse(d)
                    .map(str::to_string)
                    .ok_or_else(|| bad("from and to are days, YYYY-MM-DD")),
            }
        };
        let by = match p.get("by") {
            None => vec![By::User, By::Client, By::Day],
            Some(list) => {
                let by: Option<Vec<By>> = list.split(',').map(By::parse).collect();
                match by {
                    Some(b) if !b.is_empty() && b.len() <= 5 => b,
                    _ => {
                        return Err(bad(
                            "by is a comma-separated list of user, client, day, token, transport",
                        ));
                    }
                }
            }
        };
        let id = |name: &str| -> Result<Option<String>, OAuthError> {
            match p.get(name) {
                None => Ok(None),
                Some(v) if relay_id_ok(v) => Ok(Some(v.to_string())),
                Some(_) => Err(bad("user_id and client_id are ids")),
            }
        };
        let limit = match p.get("limit") {
            None => 1000,
            Some(l) => l
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=10_000).contains(n))
                .ok_or_else(|| bad("limit is 1 to 10000"))?,
        };
        Ok(Query {
            from: day_param("from", day::of(now.saturating_sub(29 * 86_400)))?,
            to: day_param("to", day::of(now))?,
            by,
            user_id: id("user_id")?,
            client_id: id("client_id")?,
            limit,
        })
    }

    /// The signed-in person's own usage: the last 30 days by day and client.
    pub fn own(user_id: &str, now: u64) -> Query {
        Query {
            from: day::of(now.saturating_sub(29 * 86_400)),
            to: day::of(now),
            by: vec![By::Day, By::Client],
            user_id: Some(user_id.to_string()),
            client_id: None,
            limit: 1000,
        }
    }

    /// The report's queries: the grouped rows and the total ([`reads::usage_report`]).
    pub fn report(&self) -> (crate::store::Query<Value>, crate::store::Query<Value>) {
        let by: Vec<&'static str> = self.by.iter().map(|b| b.column()).collect();
        reads::usage_report(&reads::UsageFilter {
            from: &self.from,
            to: &self.to,
            user_id: self.user_id.as_deref(),
            client_id: self.client_id.as_deref(),
            by: &by,
            limit: self.limit,
        })
    }

    /// The report: the question, the rows and the total.
    pub fn answer(&self, rows: Vec<Value>, total: Option<Value>) -> Value {
        let zero = |v: &Value, k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
        let total = total.unwrap_or(Value::Null);
        json!({
            "from": self.from,
            "to": self.to,
            "by": self.by.iter().map(|b| b.column().trim_end_matches("_id")).collect::<Vec<_>>(),
            "user_id": self.user_id,
            "client_id": self.client_id,
            "rows": rows,
            "total": {
                "allocations": zero(&total, "allocations"),
                "to_peer_packets": zero(&total, "to_peer_packets"),
                "to_peer_bytes": zero(&total, "to_peer_bytes"),
                "to_client_packets": zero(&total, "to_client_packets"),
                "to_client_bytes": zero(&total, "to_client_bytes"),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Value as V;
    use crate::store::writes::tests::well_formed;

    fn tid(n: u8) -> String {
        TokenId::of(&[n]).to_string()
    }

    fn rec(seq: u64, token: u8, at: u64, first: bool, bytes: u64) -> Record {
        Record {
            seq,
            token_id: tid(token),
            transport: "udp".into(),
            start: 1_800_000_000,
            end: None,
            at,
            first,
            to_peer_packets: 1,
            to_peer_bytes: bytes,
            to_client_packets: 1,
            to_client_bytes: bytes,
        }
    }

    fn batch(records: Vec<Record>) -> Batch {
        Batch {
            relay_id: "fra-1".into(),
            epoch: "e1".into(),
            records,
        }
    }

    const T: u64 = 1_800_000_000; // 2027-01-15

    /// The plan and its statements, as the batch lays them out.
    fn stmts(p: Plan) -> (Plan, Vec<crate::store::Statement>) {
        let s = crate::store::writes::batch(&p.writes).statements;
        (p, s)
    }

    #[test]
    fn groups_by_day_token_and_transport_and_counts_allocations_once() {
        let b = batch(vec![
            rec(1, 1, T, true, 100),
            rec(2, 1, T + 60, false, 50),
            rec(3, 2, T, true, 7),
            rec(4, 1, T + 86_400, false, 1), // the next day
        ]);
        let p = stmts(decide(&b, None, "n", T + 90_000));
        assert_eq!((p.0.through, p.0.groups, p.1.len()), (4, 3, 4));
        well_formed(&p.1);
        assert!(p.1[0].sql.starts_with("INSERT INTO usage_cursors"));
        // Token 1 on 2027-01-15: one allocation, 150 bytes each way.
        let first =
            p.1.iter()
                .find(|s| {
                    s.args.first() == Some(&V::from("2027-01-15"))
                        && s.args.get(1) == Some(&V::from(&tid(1)))
                })
                .unwrap();
        assert_eq!(
            first.args[3..7],
            [V::Int(1), V::Int(2), V::Int(150), V::Int(2)]
        );
        assert!(first.sql.contains("claim = ?)"), "{}", first.sql);
        assert_eq!(first.args.len(), 14);
    }

    #[test]
    fn what_was_applied_is_not_applied_again() {
        let b = batch(vec![rec(5, 1, T, true, 10), rec(6, 1, T, false, 20)]);
        // All applied already: nothing to write, the cursor is the answer.
        let p = stmts(decide(&b, Some(9), "n", T));
        assert!(p.1.is_empty());
        assert_eq!(p.0.through, 9);
        // Half applied: only the rest, and the claim moves the cursor from what was read.
        let p = stmts(decide(&b, Some(5), "n", T));
        assert_eq!(p.0.through, 6);
        assert!(p.1[0].sql.starts_with("UPDATE usage_cursors"));
        assert_eq!(p.1[0].args.last(), Some(&V::Int(5)));
        assert_eq!(p.1[1].args[5], V::Int(20));
        assert_eq!(p.1[1].args[3], V::Int(0), "no new allocation");
    }

    #[test]
    fn records_from_the_future_are_filed_under_today() {
        let b = batch(vec![rec(1, 1, T + 10 * 86_400, true, 1)]);
        let p = stmts(decide(&b, None, "n", T));
        assert_eq!(p.1[1].args[0], V::from("2027-01-15"));
    }

    #[test]
    fn bad_batches() {
        let ok = serde_json::json!({"relay_id": "fra-1", "epoch": "abc", "records": [rec(1, 1, T, true, 1)]});
        assert!(Batch::parse(ok.to_string().as_bytes()).is_ok());
        let with = |f: &dyn Fn(&mut Value)| {
            let mut v = ok.clone();
            f(&mut v);
            Batch::parse(v.to_string().as_bytes())
        };
        type Edit = Box<dyn Fn(&mut Value)>;
        let cases: Vec<Edit> = vec![
            Box::new(|v| v["relay_id"] = json!("a b")),
            Box::new(|v| v["epoch"] = json!("")),
            Box::new(|v| v["epoch"] = json!("a;b")),
            Box::new(|v| v["records"][0]["token_id"] = json!("short")),
            Box::new(|v| v["records"][0]["transport"] = json!("sctp")),
            Box::new(|v| v["records"][0]["seq"] = json!(0)),
            Box::new(|v| v["records"][0]["to_peer_bytes"] = json!(1u64 << 60)),
            Box::new(|v| v["records"][0]["to_peer_bytes"] = json!(-1)),
            Box::new(|v| {
                let r = v["records"][0].clone();
                v["records"] = json!([r.clone(), r]);
            }),
        ];
        for (i, f) in cases.iter().enumerate() {
            assert_eq!(with(f.as_ref()).unwrap_err().status, 400, "case {i}");
        }
        let many: Vec<Record> = (1..=1001).map(|s| rec(s, 1, T, false, 1)).collect();
        let v = json!({"relay_id": "r", "epoch": "e", "records": many});
        assert!(Batch::parse(v.to_string().as_bytes()).is_err());
    }

    #[test]
    fn report_queries() {
        let q = Query::parse_admin("by=user,day&user_id=u_1&from=2027-01-01", T).unwrap();
        assert_eq!(
            (q.from.as_str(), q.to.as_str()),
            ("2027-01-01", "2027-01-15")
        );
        let (rows, total) = q.report();
        let (rows, total) = (rows.statement, total.statement);
        well_formed(&[rows.clone(), total.clone()]);
        assert!(rows.sql.contains("GROUP BY user_id, day"));
        assert!(total.sql.contains("user_id = ?"));
        for bad in [
            "by=user;drop",
            "by=,",
            "from=yesterday",
            "limit=0",
            "user_id=a b",
        ] {
            assert!(Query::parse_admin(bad, T).is_err(), "{bad}");
        }
        let own = Query::own("u_1", T);
        assert_eq!(own.by, [By::Day, By::Client]);
        let a = own.answer(vec![], Some(json!({"allocations": 2, "to_peer_bytes": 5})));
        assert_eq!(a["total"]["allocations"], 2);
        assert_eq!(a["total"]["to_client_bytes"], 0);
        assert_eq!(a["by"], json!(["day", "client"]));
    }
}
