//! Every statement of `src/store` executed natively: a database built from
//! `migrations/*.sql` in SQLite (which D1 is), every typed read run and its rows
//! deserialized into the query's row struct, every write (each claim, each row, the control
//! plane's statements) applied as D1 applies a batch: in one transaction, in order, the claim
//! deciding by its `RETURNING` row. SQL typos and drift between columns and row structs fail
//! here rather than in workerd.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure report

use std::collections::BTreeSet;
use std::path::Path;

use edge_oauth::oauth::console::{people as console_people, session as console_session};
use edge_oauth::oauth::control::heartbeat::{self, Heartbeat};
use edge_oauth::oauth::control::{self, feed, revoke, tokens, usage};
use edge_oauth::oauth::effects::{
    AuditEvent, Claim, ClientWrite, NewCode, NewDevice, NewFamily, NewRefresh, Owner, Revocation,
    UserWrite, Write, Writes, event,
};
use edge_oauth::oauth::people::passkey::{ceremony, webauthn};
use edge_oauth::oauth::people::recovery;
use edge_oauth::oauth::people::session::{self, Authn};
use edge_oauth::store::{self, Query, Statement, Value, console as console_store, reads, writes};
use rusqlite::Connection;
use rusqlite::types::{Value as Sql, ValueRef};
use serde::de::DeserializeOwned;

const NOW: u64 = 1_800_000_000;

/// The field names a row struct asks for, read from its `Deserialize` (a probe that stops
/// at the struct), so a column missing from a query fails even where the field has a
/// `#[serde(default)]`.
fn fields<R: DeserializeOwned>() -> Vec<&'static str> {
    #[derive(Debug)]
    struct Stop;
    impl std::fmt::Display for Stop {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("probe")
        }
    }
    impl std::error::Error for Stop {}
    impl serde::de::Error for Stop {
        fn custom<T: std::fmt::Display>(_: T) -> Stop {
            Stop
        }
    }
    struct Probe<'a>(&'a mut Vec<&'static str>);
    impl<'de> serde::Deserializer<'de> for Probe<'_> {
        type Error = Stop;
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop)
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            self.0.extend_from_slice(fields);
            Err(Stop)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    let mut out = Vec::new();
    let _ = R::deserialize(Probe(&mut out));
    out
}

/// A database with the migrations applied, and the variants of the writes applied to it.
struct Db {
    conn: Connection,
    claims: BTreeSet<&'static str>,
    rows: BTreeSet<&'static str>,
    control: BTreeSet<&'static str>,
}

/// What one statement of a batch did.
#[derive(Debug, Clone, Copy)]
struct Done {
    returned: usize,
    changes: u64,
}

fn bind(v: &Value) -> Sql {
    match v {
        Value::Text(s) => Sql::Text(s.clone()),
        Value::Int(n) => Sql::Integer(i64::try_from(*n).expect("bound integers fit in i64")),
        Value::Real(x) => Sql::Real(*x),
        Value::Null => Sql::Null,
    }
}

impl Db {
    fn new() -> Db {
        let conn = Connection::open_in_memory().expect("open SQLite");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .expect("read migrations")
            .map(|e| e.expect("migration entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "sql"))
            .collect();
        files.sort();
        assert!(files.len() >= 3, "migrations: {files:?}");
        for f in &files {
            let sql = std::fs::read_to_string(f).expect("read migration");
            conn.execute_batch(&sql)
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        }
        Db {
            conn,
            claims: BTreeSet::new(),
            rows: BTreeSet::new(),
            control: BTreeSet::new(),
        }
    }

    /// Every row of `q`, each deserialized from its columns (named as in the SELECT).
    fn rows<R: DeserializeOwned>(&self, q: &Query<R>) -> Vec<R> {
        let s = &q.statement;
        let mut st = self
            .conn
            .prepare(&s.sql)
            .unwrap_or_else(|e| panic!("{e}: {}", s.sql));
        let names: Vec<String> = st.column_names().map(str::to_string).collect();
        for f in fields::<R>() {
            assert!(
                names.iter().any(|n| n == f),
                "column {f} missing from {}",
                s.sql
            );
        }
        let mut rows = st
            .query(rusqlite::params_from_iter(s.args.iter().map(bind)))
            .unwrap_or_else(|e| panic!("{e}: {}", s.sql));
        let mut out = Vec::new();
        while let Some(row) = rows.next().expect("step") {
            let mut obj = serde_json::Map::new();
            for (i, name) in names.iter().enumerate() {
                let v = match row.get_ref(i).expect("column") {
                    ValueRef::Null => serde_json::Value::Null,
                    ValueRef::Integer(n) => n.into(),
                    ValueRef::Real(x) => x.into(),
                    ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned().into(),
                    ValueRef::Blob(_) => panic!("no column is a blob: {name}"),
                };
                obj.insert(name.clone(), v);
            }
            let value = serde_json::Value::Object(obj);
            out.push(
                serde_json::from_value(value.clone())
                    .unwrap_or_else(|e| panic!("{e}: {value} from {}", s.sql)),
            );
        }
        out
    }

    fn first<R: DeserializeOwned>(&self, q: &Query<R>) -> Option<R> {
        self.rows(q).into_iter().next()
    }

    /// Runs `stmts` as D1 runs a batch: one transaction, all or nothing on error.
    fn batch(&mut self, stmts: &[Statement]) -> Vec<Done> {
        let tx = self.conn.transaction().expect("begin");
        let mut done = Vec::new();
        for s in stmts {
            let mut st = tx
                .prepare(&s.sql)
                .unwrap_or_else(|e| panic!("{e}: {}", s.sql));
            let mut rows = st
                .query(rusqlite::params_from_iter(s.args.iter().map(bind)))
                .unwrap_or_else(|e| panic!("{e}: {}", s.sql));
            let mut returned = 0;
            while rows
                .next()
                .unwrap_or_else(|e| panic!("{e}: {}", s.sql))
                .is_some()
            {
                returned += 1;
            }
            drop(rows);
            drop(st);
            done.push(Done {
                returned,
                changes: tx.changes(),
            });
        }
        tx.commit().expect("commit");
        done
    }

    /// Applies `w` as the worker does; true when its claim (if any) succeeded.
    fn apply(&mut self, w: &Writes) -> bool {
        self.claims.insert(claim_name(&w.claim));
        for r in &w.rows {
            self.rows.insert(row_name(r));
            if let Write::Control(c) = r {
                self.control.insert(control_name(c));
            }
        }
        let b = writes::batch(w);
        let done = self.batch(&b.statements);
        match b.claim {
            None => true,
            Some(i) => done.get(i).is_some_and(|d| d.returned > 0),
        }
    }

    fn count(&self, table: &str) -> i64 {
        self.conn
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .expect("count")
    }

    /// Every table's row count, to see that a batch changed nothing.
    fn counts(&self) -> Vec<(String, i64)> {
        let mut st = self
            .conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .expect("tables");
        let names: Vec<String> = st
            .query_map([], |r| r.get(0))
            .expect("tables")
            .collect::<Result<_, _>>()
            .expect("tables");
        names
            .into_iter()
            .map(|n| {
                let c = self.count(&n);
                (n, c)
            })
            .collect()
    }

    /// Applies `w` expecting its claim to lose and nothing to change.
    fn loses(&mut self, w: &Writes) {
        let before = self.counts();
        let snapshot = self.dump();
        assert!(!self.apply(w), "the claim should lose: {:?}", w.claim);
        assert_eq!(self.counts(), before, "{:?}", w.claim);
        assert_eq!(self.dump(), snapshot, "{:?}", w.claim);
    }

    /// Every row of every table, as text, for comparing before and after.
    fn dump(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (table, _) in self.counts() {
            let mut st = self
                .conn
                .prepare(&format!("SELECT * FROM {table}"))
                .expect("dump");
            let n = st.column_count();
            let mut rows = st.query([]).expect("dump");
            while let Some(r) = rows.next().expect("dump") {
                let cols: Vec<String> = (0..n)
                    .map(|i| format!("{:?}", r.get_ref(i).expect("col")))
                    .collect();
                out.push(format!("{table}: {}", cols.join("|")));
            }
        }
        out.sort();
        out
    }
}

// Exhaustive (no wildcard): a new claim or row does not compile here until it is named, and
// `every_write_and_read` fails until it is applied.
fn claim_name(c: &Claim) -> &'static str {
    match c {
        Claim::None => "None",
        Claim::Code { .. } => "Code",
        Claim::Refresh { .. } => "Refresh",
        Claim::Device { .. } => "Device",
        Claim::DeviceDecision { .. } => "DeviceDecision",
        Claim::UpdateClient(_) => "UpdateClient",
        Claim::SetRights { .. } => "SetRights",
        Claim::InsertClient(_) => "InsertClient",
        Claim::InsertUser(_) => "InsertUser",
        Claim::DeleteClient { owner: None, .. } => "DeleteClient",
        Claim::DeleteClient { owner: Some(_), .. } => "DeleteClientOwned",
        Claim::DeleteUser { .. } => "DeleteUser",
        Claim::Heartbeat { .. } => "Heartbeat",
        Claim::UsageCursor { read: None, .. } => "UsageCursorNew",
        Claim::UsageCursor { read: Some(_), .. } => "UsageCursor",
        Claim::RotateSecret { .. } => "RotateSecret",
        Claim::SetRedirectUris { .. } => "SetRedirectUris",
        Claim::SetResources { .. } => "SetResources",
        Claim::SetDisabled { .. } => "SetDisabled",
        Claim::DrainRelay { .. } => "DrainRelay",
        Claim::EmailToken { .. } => "EmailToken",
        Claim::Challenge { .. } => "Challenge",
    }
}
const CLAIMS: usize = 22;

fn row_name(w: &Write) -> &'static str {
    match w {
        Write::Family(_) => "Family",
        Write::Refresh(_) => "Refresh",
        Write::Code(_) => "Code",
        Write::Device(_) => "Device",
        Write::DevicePolled { .. } => "DevicePolled",
        Write::RevokeFamily { .. } => "RevokeFamily",
        Write::RevokeFamiliesOf {
            owner: Owner::Client(_),
            ..
        } => "RevokeFamiliesOfClient",
        Write::RevokeFamiliesOf {
            owner: Owner::User(_),
            ..
        } => "RevokeFamiliesOfUser",
        Write::RevokeFamiliesOf {
            owner: Owner::ClientUser { .. },
            ..
        } => "RevokeFamiliesOfClientUser",
        Write::RevokeFamiliesOf {
            owner: Owner::ClientsOwnedBy(_),
            ..
        } => "RevokeFamiliesOfClientsOwnedBy",
        Write::RevokeToken(_) => "RevokeToken",
        Write::DeleteClientsOwnedBy(_) => "DeleteClientsOwnedBy",
        Write::InitialToken { .. } => "InitialToken",
        Write::Audit(_) => "Audit",
        Write::Control(_) => "Control",
        Write::ConsoleSession { .. } => "ConsoleSession",
        Write::EndConsoleSession { .. } => "EndConsoleSession",
        Write::Session(_) => "Session",
        Write::SessionSeen { .. } => "SessionSeen",
        Write::EndSession { .. } => "EndSession",
        Write::EndSessionsOf { .. } => "EndSessionsOf",
        Write::EndSessionSid { .. } => "EndSessionSid",
        Write::Consent { .. } => "Consent",
        Write::EmailToken(_) => "EmailToken",
        Write::Outbox(_) => "Outbox",
        Write::EmailVerified { .. } => "EmailVerified",
        Write::SetPassword { .. } => "SetPassword",
        Write::Passkey(_) => "Passkey",
        Write::PasskeyUsed { .. } => "PasskeyUsed",
    }
}
const ROWS: usize = 29;

fn control_name(w: &control::Write) -> &'static str {
    match w {
        control::Write::TurnToken(_) => "TurnToken",
        control::Write::UserRevokedBefore { .. } => "UserRevokedBefore",
        control::Write::SpendCodesOf { .. } => "SpendCodesOf",
        control::Write::PasswordHash { .. } => "PasswordHash",
        control::Write::Usage(_) => "Usage",
    }
}
const CONTROL_ROWS: usize = 5;

fn audit(ev: &'static str) -> Write {
    Write::Audit(AuditEvent::new(NOW, ev))
}

fn client(id: &str, owner: Option<&str>) -> ClientWrite {
    ClientWrite {
        id: id.into(),
        name: format!("app {id}"),
        secret_hash: None,
        redirect_uris: r#"["https://app.example/cb"]"#.into(),
        post_logout_redirect_uris: "[]".into(),
        grant_types: "authorization_code refresh_token".into(),
        scopes: "openid turn".into(),
        access_token_ttl: Some(600),
        refresh_token_ttl: None,
        id_token_alg: "ES256".into(),
        owner_id: owner.map(str::to_string),
        registered_by: if owner.is_some() {
            "self_service"
        } else {
            "admin"
        },
        registration_key: None,
        backchannel: None,
        created_at: NOW,
        resources: Some("https://api.example/mcp https://b.example/".into()),
    }
}

fn user(id: &str, name: &str) -> UserWrite {
    UserWrite {
        id: id.into(),
        username: name.into(),
        password_hash: "pbkdf2$old".into(),
        name: Some(format!("{name} person")),
        email: Some(format!("{name}@example.com")),
        created_at: NOW,
    }
}

fn family(id: &str, client: &str, user: Option<&str>) -> Write {
    Write::Family(NewFamily {
        id: id.into(),
        client_id: client.into(),
        user_id: user.map(str::to_string),
        scope: "openid turn".into(),
        auth_time: Some(NOW - 5),
        authn: Some(Authn {
            sid: Some("s_1".into()),
            amr: "pwd".into(),
            acr: "1".into(),
        }),
        created_at: NOW,
        resource: Some("https://api.example/mcp".into()),
        dpop_jkt: Some("jkt-1".into()),
    })
}

fn refresh(key: &str, fam: &str, client: &str, user: Option<&str>) -> Write {
    Write::Refresh(NewRefresh {
        key: key.into(),
        family_id: fam.into(),
        client_id: client.into(),
        user_id: user.map(str::to_string),
        scope: "openid turn".into(),
        expires_at: NOW + 3600,
        created_at: NOW,
    })
}

fn turn_token(id: &str, client: &str, user: Option<&str>, fam: Option<&str>) -> Write {
    Write::Control(control::Write::TurnToken(tokens::Issued {
        token_id: id.into(),
        client_id: client.into(),
        user_id: user.map(str::to_string),
        family_id: fam.map(str::to_string),
        issued_at: NOW,
        expires_at: NOW + 600,
    }))
}

#[test]
fn every_read_runs_on_the_empty_schema() {
    let db = Db::new();
    assert!(db.first(&reads::client("c")).is_none());
    // Only the console's first-party client (migrations/0013_console.sql).
    let clients = db.rows(&reads::clients());
    assert!(clients.len() == 1 && clients[0].id == "edge-console");
    assert!(db.rows(&reads::clients_owned_by("u")).is_empty());
    assert_eq!(db.first(&reads::client_count()).map(|c| c.n), Some(1));
    assert!(db.first(&reads::user_by_name("alice")).is_none());
    assert!(db.first(&reads::user_exists("u")).is_none());
    assert!(db.rows(&reads::users()).is_empty());
    assert!(db.first(&reads::code("k")).is_none());
    assert!(db.first(&reads::refresh("k")).is_none());
    assert!(db.first(&reads::device("k")).is_none());
    assert!(db.first(&reads::device_pending("BCDFGHJK", NOW)).is_none());
    assert!(db.first(&reads::initial_token_valid("k", NOW)).is_none());
    assert!(db.first(&reads::session("k")).is_none());
    assert!(db.rows(&reads::sessions_of("u", NOW)).is_empty());
    assert!(db.first(&reads::consent("u", "c")).is_none());
    assert!(db.first(&reads::consent_of_session("k", "c")).is_none());
    assert!(db.rows(&reads::backchannel_of_session("s")).is_empty());
    assert!(db.rows(&reads::backchannel_of_user("u")).is_empty());
    assert!(db.first(&reads::email_token("k")).is_none());
    assert!(db.first(&reads::user_by_email("a@example.com")).is_none());
    assert!(
        db.first(&reads::user_by_email("carol@example.com"))
            .is_none()
    );
    assert!(db.rows(&reads::outbox(10)).is_empty());
    assert!(db.first(&reads::passkey("p")).is_none());
    assert!(db.rows(&reads::passkeys_of("u")).is_empty());
    assert!(db.first(&reads::webauthn_used("k")).is_none());
    // One row always, every column NULL.
    let b = db
        .first(&reads::bearer_status("j", "f", "c", "u"))
        .expect("one row");
    assert!(b.revoked.is_none() && b.client_exists.is_none() && b.username.is_none());
    let t = db.first(&reads::turn_status("t")).expect("one row");
    assert!(t.revoked.is_none() && t.client_id.is_none());
    assert!(db.rows(&reads::audit(None, 10)).is_empty());
    assert!(db.rows(&reads::audit(Some("t"), 10)).is_empty());
    assert!(db.rows(&reads::feed_page(0, NOW, feed::PAGE)).is_empty());
    assert_eq!(db.first(&reads::feed_head()).map(|h| h.head), Some(0));
    assert!(db.rows(&reads::healthy_relays(NOW, 30)).is_empty());
    assert!(db.rows(&reads::relays()).is_empty());
    assert!(db.first(&reads::relay_owner("fra-1")).is_none());
    assert!(db.first(&reads::usage_cursor("fra-1", "e1")).is_none());
    let q = usage::Query::own("u_1", NOW);
    let (grouped, total) = q.report();
    assert!(db.rows(&grouped).is_empty());
    assert_eq!(db.rows(&total).len(), 1, "a total row, of NULL sums");
}

#[test]
fn every_write_and_read() {
    let mut db = Db::new();

    // Clients and users: inserts claim last behind NOT EXISTS; a taken id loses, changing
    // nothing.
    assert!(db.apply(
        &Writes::new(Claim::InsertClient(client("c1", None))).with(audit(event::CLIENT_CREATED))
    ));
    db.loses(
        &Writes::new(Claim::InsertClient(client("c1", None))).with(audit(event::CLIENT_CREATED)),
    );
    let row = db.first(&reads::client("c1")).expect("client c1");
    assert_eq!(
        (row.name.as_str(), row.id_token_alg.as_str()),
        ("app c1", "ES256")
    );
    assert_eq!(row.access_token_ttl, Some(600));
    let record = row.into_record().expect("a well-formed client row");
    assert!(record.is_public());
    assert_eq!(record.resources.len(), 2, "RFC 8707 resources round-trip");
    assert!(db.apply(
        &Writes::new(Claim::InsertUser(user("u1", "alice"))).with(audit(event::USER_CREATED))
    ));
    db.loses(&Writes::new(Claim::InsertUser(user("u2", "alice"))));
    let alice = db.first(&reads::user_by_name("alice")).expect("alice");
    assert_eq!((alice.id.as_str(), alice.rights.as_str()), ("u1", ""));
    assert_eq!(alice.email.as_deref(), Some("alice@example.com"));
    assert!(db.first(&reads::user_exists("u1")).is_some());
    assert!(db.apply(&Writes::new(Claim::InsertClient(client(
        "app1",
        Some("u1")
    )))));
    let owned = db.rows(&reads::clients_owned_by("u1"));
    assert_eq!(
        owned.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["app1"]
    );
    assert_eq!(db.rows(&reads::clients()).len(), 3, "with the console's");
    assert_eq!(db.first(&reads::client_count()).map(|c| c.n), Some(3));
    let users = db.rows(&reads::users());
    assert_eq!((users.len(), users[0].username.as_str()), (1, "alice"));

    // Rights and client updates claim last behind EXISTS.
    let rights = Writes::new(Claim::SetRights {
        user_id: "u1".into(),
        rights: "turn:relay".into(),
    })
    .with(audit(event::USER_RIGHTS_SET));
    assert!(db.apply(&rights));
    assert_eq!(
        db.first(&reads::user_by_name("alice")).map(|u| u.rights),
        Some("turn:relay".into())
    );
    db.loses(
        &Writes::new(Claim::SetRights {
            user_id: "nobody".into(),
            rights: "x:y".into(),
        })
        .with(audit(event::USER_RIGHTS_SET)),
    );
    let mut renamed = client("c1", None);
    renamed.name = "renamed".into();
    assert!(db.apply(
        &Writes::new(Claim::UpdateClient(renamed.clone())).with(audit(event::CLIENT_UPDATED))
    ));
    assert_eq!(
        db.first(&reads::client("c1")).map(|c| c.name),
        Some("renamed".into())
    );
    renamed.id = "gone".into();
    db.loses(&Writes::new(Claim::UpdateClient(renamed)).with(audit(event::CLIENT_UPDATED)));

    // A code, then its redemption: the claim first, the family and refresh token under its
    // guard. A second redemption loses and writes nothing.
    let code = Writes::none()
        .with(Write::Code(NewCode {
            key: "code1".into(),
            client_id: "c1".into(),
            user_id: "u1".into(),
            redirect_uri: "https://app.example/cb".into(),
            scope: "openid turn".into(),
            code_challenge: "ch".into(),
            nonce: Some("n".into()),
            auth_time: NOW - 5,
            authn: Some(Authn {
                sid: Some("s_1".into()),
                amr: "pwd".into(),
                acr: "0".into(),
            }),
            expires_at: NOW + 60,
            created_at: NOW,
            resource: Some("https://api.example/mcp https://b.example/".into()),
        }))
        .with(audit(event::CODE_ISSUED));
    assert!(db.apply(&code));
    let c = db.first(&reads::code("code1")).expect("code");
    assert_eq!(
        (c.username.as_deref(), c.nonce.as_deref(), c.used_at),
        (Some("alice"), Some("n"), None)
    );
    assert_eq!(
        (c.sid.as_deref(), c.amr.as_deref(), c.acr.as_deref()),
        (Some("s_1"), Some("pwd"), Some("0"))
    );
    assert_eq!(c.user().map(|p| p.rights), Some("turn:relay".into()));
    assert_eq!(
        c.resource.as_deref(),
        Some("https://api.example/mcp https://b.example/")
    );
    let redeem = |fam: &str, key: &str| {
        Writes::new(Claim::Code {
            key: "code1".into(),
            family_id: fam.into(),
            now: NOW + 1,
        })
        .with(family(fam, "c1", Some("u1")))
        .with(refresh(key, fam, "c1", Some("u1")))
        .with(turn_token("turn1", "c1", Some("u1"), Some(fam)))
        .with(audit(event::REFRESH_ISSUED))
    };
    assert!(db.apply(&redeem("f1", "r1")));
    db.loses(&redeem("f2", "r2"));
    let c = db.first(&reads::code("code1")).expect("code");
    assert_eq!(
        (c.used_at, c.family_id.as_deref()),
        (Some(NOW + 1), Some("f1"))
    );

    // Rotation: the old token claims, the new one is written under its guard; reuse loses.
    let r = db.first(&reads::refresh("r1")).expect("refresh r1");
    assert_eq!(
        (r.family_id.as_str(), r.auth_time, r.family_revoked_at),
        ("f1", Some(NOW - 5), None)
    );
    assert_eq!(
        (r.sid.as_deref(), r.amr.as_deref(), r.acr.as_deref()),
        (Some("s_1"), Some("pwd"), Some("1"))
    );
    assert_eq!(r.user().map(|p| p.username), Some("alice".into()));
    assert_eq!(
        r.resource.as_deref(),
        Some("https://api.example/mcp"),
        "the family's grant"
    );
    assert_eq!(
        r.dpop_jkt.as_deref(),
        Some("jkt-1"),
        "the family's DPoP key"
    );
    let rotate = |new: &str| {
        Writes::new(Claim::Refresh {
            old_key: "r1".into(),
            new_key: new.into(),
            now: NOW + 2,
        })
        .with(refresh(new, "f1", "c1", Some("u1")))
    };
    assert!(db.apply(&rotate("r3")));
    db.loses(&rotate("r4"));
    assert_eq!(
        db.first(&reads::refresh("r1")).and_then(|r| r.used_at),
        Some(NOW + 2)
    );

    // An access token's standing.
    let standing = |db: &Db| {
        db.first(&reads::bearer_status("jti1", "f1", "c1", "u1"))
            .expect("one row")
    };
    let b = standing(&db);
    assert_eq!(
        (b.revoked, b.family_revoked_at, b.client_exists),
        (None, None, Some(1))
    );
    assert_eq!(
        (b.username.as_deref(), b.email.as_deref()),
        (Some("alice"), Some("alice@example.com"))
    );
    assert!(
        db.apply(&Writes::none().with(Write::RevokeToken(Revocation {
            token_id: "jti1".into(),
            kind: "access",
            expires_at: NOW + 600,
            revoked_at: NOW + 3,
        })))
    );
    assert_eq!(standing(&db).revoked, Some(1));
    assert!(
        db.rows(&reads::feed_page(0, NOW, feed::PAGE)).is_empty(),
        "access tokens are not fed to relays"
    );

    // A TURN token: who it was issued to (the audit trail), its revocation, the relays' feed.
    let mut issued = AuditEvent::new(NOW, event::TURN_ISSUED);
    issued.token_id = Some("turn2".into());
    issued.client_id = Some("c1".into());
    issued.user_id = Some("u1".into());
    assert!(
        db.apply(&Writes::none().with(Write::Audit(issued)).with(turn_token(
            "turn2",
            "c1",
            Some("u1"),
            None
        )))
    );
    let t = db.first(&reads::turn_status("turn2")).expect("one row");
    assert_eq!(
        (t.revoked, t.client_id.as_deref(), t.user_id.as_deref()),
        (None, Some("c1"), Some("u1"))
    );
    assert!(
        db.apply(&Writes::none().with(Write::RevokeToken(Revocation {
            token_id: "turn2".into(),
            kind: "turn",
            expires_at: NOW + 600,
            revoked_at: NOW + 3,
        })))
    );
    assert_eq!(
        db.first(&reads::turn_status("turn2"))
            .and_then(|t| t.revoked),
        Some(1)
    );
    let fed = db.rows(&reads::feed_page(0, NOW, feed::PAGE));
    assert_eq!(
        fed.iter().map(|r| r.token_id.as_str()).collect::<Vec<_>>(),
        ["turn2"]
    );
    assert_eq!(
        db.first(&reads::feed_head()).map(|h| h.head),
        Some(fed[0].seq)
    );
    assert!(
        db.rows(&reads::feed_page(fed[0].seq, NOW, feed::PAGE))
            .is_empty()
    );
    let audit_rows = db.rows(&reads::audit(Some("turn2"), 10));
    assert_eq!(
        (audit_rows.len(), audit_rows[0].event.as_str()),
        (1, event::TURN_ISSUED)
    );
    assert!(db.rows(&reads::audit(None, 1000)).len() > 5);
    assert_eq!(db.rows(&reads::audit(None, 2)).len(), 2);

    // Revoking the family: its refresh token shows it, its TURN token joins the feed.
    assert!(db.apply(&Writes::none().with(Write::RevokeFamily {
        id: "f1".into(),
        reason: "refresh_reuse",
        at: NOW + 4,
    })));
    assert_eq!(
        db.first(&reads::refresh("r3"))
            .and_then(|r| r.family_revoked_at),
        Some(NOW + 4)
    );
    assert_eq!(standing(&db).family_revoked_at, Some(NOW + 4));
    assert!(
        db.rows(&reads::feed_page(0, NOW, feed::PAGE))
            .iter()
            .any(|r| r.token_id == "turn1")
    );
    // A revoked family's refresh token cannot be rotated.
    db.loses(
        &Writes::new(Claim::Refresh {
            old_key: "r3".into(),
            new_key: "r5".into(),
            now: NOW + 5,
        })
        .with(refresh("r5", "f1", "c1", Some("u1"))),
    );

    // The device flow: started, found by user code, decided, polled, redeemed once.
    assert!(db.apply(&Writes::none().with(Write::Device(NewDevice {
        key: "dev1".into(),
        user_code: "BCDFGHJK".into(),
        client_id: "c1".into(),
        scope: "openid".into(),
        interval: 5,
        expires_at: NOW + 600,
        created_at: NOW,
        resource: Some("https://api.example/mcp".into()),
    }))));
    let p = db
        .first(&reads::device_pending("BCDFGHJK", NOW))
        .expect("pending");
    assert_eq!((p.id.as_str(), p.client_id.as_str()), ("dev1", "c1"));
    assert!(
        db.first(&reads::device_pending("BCDFGHJK", NOW + 600))
            .is_none(),
        "expired"
    );
    assert!(db.apply(&Writes::none().with(Write::DevicePolled {
        key: "dev1".into(),
        at: NOW + 1,
        interval: 10,
    })));
    let d = db.first(&reads::device("dev1")).expect("device");
    assert_eq!(d.resource.as_deref(), Some("https://api.example/mcp"));
    assert_eq!(
        (d.status.as_str(), d.poll_interval, d.last_poll_at),
        ("pending", 10, Some(NOW + 1))
    );
    let decide = |decision: &str, approve: bool, now: u64| {
        Writes::new(Claim::DeviceDecision {
            key: "dev1".into(),
            decision_id: decision.into(),
            user_id: "u1".into(),
            approve,
            auth_time: NOW,
            now,
        })
        .with(audit(event::DEVICE_DECIDED))
    };
    assert!(db.apply(&decide("d1", true, NOW + 2)));
    // Another decision loses and writes nothing (no audit row either): the same form again in
    // the same second, the opposite answer in that second, or a later one.
    db.loses(&decide("d2", true, NOW + 2));
    db.loses(&decide("d3", false, NOW + 2));
    db.loses(&decide("d4", false, NOW + 3));
    let d = db.first(&reads::device("dev1")).expect("device");
    assert_eq!(
        (d.status.as_str(), d.username.as_deref()),
        ("approved", Some("alice"))
    );
    let redeem = |fam: &str| {
        Writes::new(Claim::Device {
            key: "dev1".into(),
            family_id: fam.into(),
            now: NOW + 3,
        })
        .with(family(fam, "c1", Some("u1")))
    };
    assert!(db.apply(&redeem("f3")));
    db.loses(&redeem("f4"));
    assert_eq!(
        db.first(&reads::device("dev1")).map(|d| d.status),
        Some("redeemed".into())
    );

    // Initial access tokens.
    assert!(db.apply(&Writes::none().with(Write::InitialToken {
        key: "iat".into(),
        expires_at: NOW + 60,
        created_at: NOW,
    })));
    assert!(db.first(&reads::initial_token_valid("iat", NOW)).is_some());
    assert!(
        db.first(&reads::initial_token_valid("iat", NOW + 60))
            .is_none()
    );

    // The rest of the control plane's rows.
    let before = "pbkdf2$old".to_string();
    let rehash = |old: &str| {
        Writes::none().with(Write::Control(control::Write::PasswordHash {
            user_id: "u1".into(),
            old: old.into(),
            new: "pbkdf2$new".into(),
        }))
    };
    assert!(db.apply(&rehash("pbkdf2$other")));
    assert_eq!(
        db.first(&reads::user_by_name("alice"))
            .map(|u| u.password_hash),
        Some(before)
    );
    assert!(db.apply(&rehash("pbkdf2$old")));
    assert_eq!(
        db.first(&reads::user_by_name("alice"))
            .map(|u| u.password_hash),
        Some("pbkdf2$new".into())
    );

    // Revocations by owner, each feeding the relays the TURN tokens issued under it.
    assert!(db.apply(&Writes::none().with(turn_token("turn3", "app1", Some("u1"), None))));
    for owner in [
        Owner::Client("c1".into()),
        Owner::User("u1".into()),
        Owner::ClientUser {
            client_id: "c1".into(),
            user_id: "u1".into(),
        },
        Owner::ClientsOwnedBy("u1".into()),
    ] {
        assert!(db.apply(&Writes::none().with(Write::RevokeFamiliesOf {
            owner,
            reason: "logout",
            at: NOW + 6,
        })));
    }
    assert!(
        db.rows(&reads::feed_page(0, NOW, feed::PAGE))
            .iter()
            .any(|r| r.token_id == "turn3")
    );

    // Everything of a person: families, TURN tokens, codes, the apps they registered.
    let fresh_code = Writes::none().with(Write::Code(NewCode {
        key: "code2".into(),
        client_id: "c1".into(),
        user_id: "u1".into(),
        redirect_uri: "https://app.example/cb".into(),
        scope: "openid".into(),
        code_challenge: "ch".into(),
        nonce: None,
        auth_time: NOW,
        authn: None,
        expires_at: NOW + 60,
        created_at: NOW,
        resource: None,
    }));
    assert!(db.apply(&fresh_code));
    assert!(db.apply(&revoke::everything_of_user("u1", NOW + 7)));
    assert_eq!(
        db.first(&reads::code("code2")).and_then(|c| c.used_at),
        Some(NOW + 7)
    );
    assert_eq!(standing(&db).user_revoked_before, Some(NOW + 7));
    assert!(
        db.rows(&reads::clients_owned_by("u1")).is_empty(),
        "their apps are gone"
    );

    // Deletes claim last; the wrong owner, or a row already gone, loses.
    assert!(db.apply(&Writes::new(Claim::InsertClient(client(
        "app2",
        Some("u1")
    )))));
    db.loses(
        &Writes::new(Claim::DeleteClient {
            id: "app2".into(),
            owner: Some("someone-else".into()),
        })
        .with(audit(event::CLIENT_DELETED)),
    );
    assert!(db.apply(&Writes::new(Claim::DeleteClient {
        id: "app2".into(),
        owner: Some("u1".into()),
    })));
    assert!(db.apply(&Writes::none().with(Write::DeleteClientsOwnedBy("u1".into()))));
    let delete_client = Writes::new(Claim::DeleteClient {
        id: "c1".into(),
        owner: None,
    })
    .with(Write::RevokeFamiliesOf {
        owner: Owner::Client("c1".into()),
        reason: "client_deleted",
        at: NOW + 8,
    })
    .with(audit(event::CLIENT_DELETED));
    assert!(db.apply(&delete_client));
    db.loses(&delete_client);
    assert!(db.first(&reads::client("c1")).is_none());
    assert_eq!(standing(&db).client_exists, None);
    let delete_user =
        Writes::new(Claim::DeleteUser { id: "u1".into() }).with(audit(event::USER_DELETED));
    assert!(db.apply(&delete_user));
    db.loses(&delete_user);
    assert!(db.first(&reads::user_exists("u1")).is_none());
    // Rows joined to a deleted person read back without them.
    let c = db.first(&reads::code("code1")).expect("code");
    assert!(c.username.is_none() && c.user().is_none());

    sessions_and_consents(&mut db);
    email_links(&mut db);
    passkeys(&mut db);
    relays_and_usage(&mut db);
    console(&mut db);

    // Every claim, row and control row was applied here at least once.
    assert_eq!(db.claims.len(), CLAIMS, "claims applied: {:?}", db.claims);
    assert_eq!(db.rows.len(), ROWS, "rows applied: {:?}", db.rows);
    assert_eq!(
        db.control.len(),
        CONTROL_ROWS,
        "control rows applied: {:?}",
        db.control
    );
}

/// Passkeys: registered under a challenge's first use, signed in with once per challenge.
fn passkeys(db: &mut Db) {
    let key = edge_oauth::oauth::keys::SigningKey::new(&[6; 32]).unwrap();
    let opened = |c: &str| {
        let cd = serde_json::json!({ "challenge": c }).to_string();
        ceremony::open(&key, cd.as_bytes(), NOW).unwrap()
    };
    let reg = opened(
        &ceremony::challenge(&key, ceremony::Ceremony::Register { u: "u7".into() }, NOW).unwrap(),
    );
    let cred = webauthn::NewCredential {
        id: "cred-1".into(),
        key: webauthn::PublicKey {
            alg: edge_oauth::oauth::tokens::signing_keys::Alg::Es256,
            jwk: serde_json::json!({ "kty": "EC", "crv": "P-256", "x": "x", "y": "y" }),
        },
        sign_count: 0,
    };
    assert!(db.apply(&ceremony::registered("u7", cred.clone(), &reg, NOW)));
    db.loses(&ceremony::registered("u7", cred, &reg, NOW));
    let row = db.first(&reads::passkey("cred-1")).expect("the passkey");
    assert_eq!(
        (row.user_id.as_str(), row.alg.as_str(), row.sign_count),
        ("u7", "ES256", 0)
    );
    assert_eq!(row.username.as_deref(), Some("carol"));
    assert_eq!(db.rows(&reads::passkeys_of("u7")).len(), 1);
    let login = opened(&ceremony::challenge(&key, ceremony::Ceremony::Login, NOW).unwrap());
    assert!(db.apply(&ceremony::signed_in(&row, 3, &login, NOW + 1)));
    db.loses(&ceremony::signed_in(&row, 4, &login, NOW + 2));
    assert!(db.first(&reads::webauthn_used(&login.key)).is_some());
    assert_eq!(db.first(&reads::passkey("cred-1")).unwrap().sign_count, 3);
}

/// Email links: sent (the outbox holds the message), used once (a second use, or a use racing
/// it, loses and writes nothing), verifying the address or replacing the password.
fn email_links(db: &mut Db) {
    assert!(db.apply(&Writes::new(Claim::InsertUser(user("u7", "carol")))));
    let carol = db.first(&reads::user_by_name("carol")).unwrap();
    let email = carol.email.clone().unwrap();
    assert_eq!(carol.email_verified, Some(0));
    assert_eq!(
        db.first(&reads::user_by_email(&email)).map(|u| u.id),
        Some("u7".to_string())
    );
    let (msg, w) = recovery::verification("https://i", "u7", "carol", &email, NOW).unwrap();
    assert!(db.apply(&w.with(Write::Outbox(msg.clone()))));
    let sent = db.rows(&reads::outbox(5));
    assert_eq!((sent.len(), sent[0].body.as_str()), (1, msg.body.as_str()));
    let url = msg.body.lines().find(|l| l.contains("token=")).unwrap();
    let key = recovery::LinkToken::new(url.split_once("token=").unwrap().1).key();
    let row = db.first(&reads::email_token(&key)).expect("the link row");
    let row = recovery::check(Some(row), recovery::VERIFY, NOW + 1).unwrap();
    assert!(db.apply(&recovery::verify(&key, &row, "n1", NOW + 1)));
    db.loses(&recovery::verify(&key, &row, "n2", NOW + 1));
    assert_eq!(
        db.first(&reads::user_by_name("carol"))
            .unwrap()
            .email_verified,
        Some(1)
    );
    assert!(
        db.first(&reads::email_token(&key))
            .unwrap()
            .used_at
            .is_some()
    );
    // A reset: the new password, every session and family of the person ended; once.
    let (msg, w) = recovery::reset_link("https://i", "u7", "carol", &email, NOW).unwrap();
    assert!(db.apply(&w));
    let url = msg.body.lines().find(|l| l.contains("token=")).unwrap();
    let key = recovery::LinkToken::new(url.split_once("token=").unwrap().1).key();
    let (_, _, s) = session::start("u7", "pwd", None, None, NOW).unwrap();
    assert!(db.apply(&s));
    assert!(db.apply(&Writes::none().with(family("f7", "c1", Some("u7")))));
    let row = recovery::check(
        db.first(&reads::email_token(&key)),
        recovery::RESET,
        NOW + 2,
    )
    .unwrap();
    assert!(db.apply(&recovery::reset(&key, &row, "pbkdf2$new", "n3", NOW + 2)));
    db.loses(&recovery::reset(&key, &row, "pbkdf2$other", "n4", NOW + 2));
    assert_eq!(
        db.first(&reads::user_by_name("carol"))
            .unwrap()
            .password_hash,
        "pbkdf2$new"
    );
    assert!(db.rows(&reads::sessions_of("u7", NOW + 3)).is_empty());
    assert_eq!(
        recovery::check(
            db.first(&reads::email_token(&key)),
            recovery::RESET,
            NOW + 3
        ),
        Err(recovery::LinkError::Invalid)
    );
}

/// Sessions: started (ending the browser's previous one), seen, listed, ended one by one and
/// all at once; consents: recorded and widened in place.
fn sessions_and_consents(db: &mut Db) {
    let (a, row_a, w) = session::start("u9", "pwd", Some("Firefox"), None, NOW).unwrap();
    assert!(db.apply(&w.with(audit(event::SESSION_STARTED))));
    let (b, _, w) = session::start("u9", "pwd", None, Some(&a), NOW + 1).unwrap();
    assert!(db.apply(&w));
    assert!(
        db.first(&reads::session(&a.key())).is_none(),
        "rotated away"
    );
    let live = db.first(&reads::session(&b.key())).expect("new session");
    assert_eq!((live.user_id.as_str(), live.auth_time), ("u9", NOW + 1));
    assert_ne!(live.sid, row_a.sid);
    assert!(db.apply(&Writes::none().with(Write::SessionSeen {
        key: b.key(),
        at: NOW + 100,
    })));
    assert_eq!(
        db.first(&reads::session(&b.key())).map(|s| s.last_seen_at),
        Some(NOW + 100)
    );
    let (c, _, w) = session::start("u9", "pwd", Some("Chromium"), None, NOW + 2).unwrap();
    assert!(db.apply(&w));
    let list = db.rows(&reads::sessions_of("u9", NOW + 3));
    assert_eq!(list.len(), 2);
    assert_eq!(
        list[0].user_agent.as_deref(),
        Some("Chromium"),
        "newest first"
    );
    assert!(
        db.rows(&reads::sessions_of("u9", NOW + session::ABSOLUTE_TTL + 5))
            .is_empty()
    );
    assert!(db.apply(&Writes::none().with(Write::EndSession { key: c.key() })));
    let left = db.rows(&reads::sessions_of("u9", NOW + 3));
    assert_eq!(left.len(), 1);
    // By public id, only the person's own: another person's id ends nothing.
    assert!(db.apply(&Writes::none().with(Write::EndSessionSid {
        user_id: "someone-else".into(),
        sid: left[0].sid.clone(),
    })));
    assert_eq!(db.rows(&reads::sessions_of("u9", NOW + 3)).len(), 1);
    // A client with a back-channel URI that got tokens in session b is its target.
    let mut bc = client("bc1", None);
    bc.backchannel = Some(edge_oauth::oauth::clients::client::Backchannel {
        uri: "https://bc.example/logout".into(),
        session_required: true,
    });
    assert!(db.apply(&Writes::new(Claim::InsertClient(bc))));
    let record = db
        .first(&reads::client("bc1"))
        .unwrap()
        .into_record()
        .unwrap();
    assert_eq!(
        record.backchannel.map(|b| (b.uri, b.session_required)),
        Some(("https://bc.example/logout".to_string(), true))
    );
    let mut fam = NewFamily {
        id: "fbc".into(),
        client_id: "bc1".into(),
        user_id: Some("u9".into()),
        scope: "openid".into(),
        auth_time: Some(NOW),
        authn: Some(Authn {
            sid: Some(live.sid.clone()),
            amr: "pwd".into(),
            acr: "1".into(),
        }),
        created_at: NOW,
        resource: None,
        dpop_jkt: None,
    };
    assert!(db.apply(&Writes::none().with(Write::Family(fam.clone()))));
    fam.id = "fbc2".into();
    assert!(db.apply(&Writes::none().with(Write::Family(fam))));
    let targets = db.rows(&reads::backchannel_of_session(&live.sid));
    assert_eq!(targets.len(), 1, "one per client and session: {targets:?}");
    assert_eq!(
        (
            targets[0].uri.as_str(),
            targets[0].session_required,
            targets[0].user_id.as_str()
        ),
        ("https://bc.example/logout", 1, "u9")
    );
    assert_eq!(db.rows(&reads::backchannel_of_user("u9")), targets);
    assert!(
        db.rows(&reads::backchannel_of_session("s_other"))
            .is_empty()
    );
    assert!(
        db.apply(
            &Writes::none()
                .with(Write::EndSessionsOf {
                    user_id: "u9".into()
                })
                .with(audit(event::SESSIONS_ENDED))
        )
    );
    assert!(db.first(&reads::session(&b.key())).is_none());

    assert!(
        db.apply(&Writes::none().with(session::record_consent("u9", "c9", None, "openid", NOW)))
    );
    let before = db.first(&reads::consent("u9", "c9")).map(|c| c.scope);
    assert_eq!(before.as_deref(), Some("openid"));
    assert!(db.apply(&Writes::none().with(session::record_consent(
        "u9",
        "c9",
        before.as_deref(),
        "turn",
        NOW + 1
    ))));
    assert_eq!(
        db.first(&reads::consent("u9", "c9")).map(|c| c.scope),
        Some("openid turn".into())
    );
    // The authorization endpoint reads a session's consent beside the session itself.
    let (d, _, w) = session::start("u9", "pwd", None, None, NOW + 2).unwrap();
    assert!(db.apply(&w));
    assert_eq!(
        db.first(&reads::consent_of_session(&d.key(), "c9"))
            .map(|c| c.scope),
        Some("openid turn".into())
    );
    assert!(
        db.first(&reads::consent_of_session(&d.key(), "other"))
            .is_none()
    );
    assert!(
        db.first(&reads::consent_of_session("no-such-key", "c9"))
            .is_none()
    );
}

#[test]
fn relays_heartbeats_usage_and_housekeeping() {
    relays_and_usage(&mut Db::new());
}

/// Heartbeats, usage batches and housekeeping, on `db` as it is.
fn relays_and_usage(db: &mut Db) {
    let hb = Heartbeat::parse(
        br#"{"relay_id":"fra-1","urls":["turn:203.0.113.1:3478?transport=udp"],"region":"eu","latitude":50.1,"longitude":8.7,
        "allocations":3,"capacity":100,"load":0.03,"draining":false,"version":"0.1.0","revocation_cursor":7,"usage_backlog":0,"usage_dropped":0}"#,
    )
    .expect("a heartbeat");
    // The upsert claims the relay id for its client; another client's heartbeat gets no row
    // back and changes nothing.
    let b = writes::batch(&hb.clone().writes("relay-client", NOW));
    let done = db.batch(&b.statements);
    assert_eq!(
        (b.claim, done[0].returned, done[0].changes),
        (Some(0), 1, 1)
    );
    assert!(db.apply(&hb.clone().writes("relay-client", NOW)));
    db.loses(&hb.writes("other-client", NOW + 1));
    assert_eq!(
        db.first(&reads::relay_owner("fra-1")).map(|o| o.client_id),
        Some("relay-client".into())
    );
    let healthy = db.rows(&reads::healthy_relays(NOW + 10, 30));
    assert_eq!(healthy.len(), 1);
    assert_eq!(
        (healthy[0].relay_id.as_str(), healthy[0].draining),
        ("fra-1", 0)
    );
    assert!((healthy[0].load - 0.03).abs() < 1e-9 && healthy[0].latitude == Some(50.1));
    assert!(
        db.rows(&reads::healthy_relays(NOW + 31, 30)).is_empty(),
        "stale"
    );
    let listed = db.rows(&reads::relays());
    assert_eq!(listed[0]["revocation_cursor"], 7);
    assert_eq!(listed[0]["client_id"], "relay-client");

    // Usage: the cursor claim first; a batch already applied is not applied twice.
    let rec = |seq: u64, bytes: u64| usage::Record {
        seq,
        token_id: "tok".into(),
        transport: "udp".into(),
        start: NOW,
        end: None,
        at: NOW,
        first: seq == 1,
        to_peer_packets: 1,
        to_peer_bytes: bytes,
        to_client_packets: 1,
        to_client_bytes: bytes,
    };
    assert!(db.apply(&Writes::none().with(turn_token("tok", "c1", Some("u_1"), None))));
    let batch = usage::Batch {
        relay_id: "fra-1".into(),
        epoch: "e1".into(),
        records: vec![rec(1, 100), rec(2, 50)],
    };
    let plan = usage::decide(&batch, None, "nonce1", NOW);
    assert_eq!(plan.through, 2);
    assert!(db.apply(&plan.writes), "the cursor claim");
    assert_eq!(
        db.first(&reads::usage_cursor("fra-1", "e1"))
            .map(|c| c.applied_through),
        Some(2)
    );
    // A concurrent request that read the old cursor (its own nonce) loses its claim and
    // adds nothing.
    db.loses(&usage::decide(&batch, None, "nonce2", NOW).writes);
    // The next batch moves the cursor on from what it read; one that read a stale cursor
    // loses.
    let next = usage::Batch {
        records: vec![rec(3, 25)],
        ..batch.clone()
    };
    db.loses(&usage::decide(&next, Some(1), "nonce3", NOW).writes);
    assert!(db.apply(&usage::decide(&next, Some(2), "nonce4", NOW).writes));
    assert_eq!(
        db.first(&reads::usage_cursor("fra-1", "e1"))
            .map(|c| c.applied_through),
        Some(3)
    );
    // Nothing new: nothing to write.
    let none = usage::decide(&next, Some(3), "nonce5", NOW);
    assert_eq!((none.through, none.writes.rows.len()), (3, 0));
    let q = usage::Query::own("u_1", NOW);
    let (grouped, total) = q.report();
    let rows = db.rows(&grouped);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["client_id"], "c1");
    assert_eq!(db.rows(&total)[0]["to_peer_bytes"], 175);
    let admin =
        usage::Query::parse_admin("by=user,client,day,token,transport", NOW).expect("query");
    let (grouped, _) = admin.report();
    assert_eq!(db.rows(&grouped).len(), 1);

    // Housekeeping much later deletes the relay, the token and the cursor, and sessions,
    // links and challenges past their end.
    let done = db.batch(&store::control::housekeeping(NOW + 200 * 86_400));
    assert_eq!(done.len(), 8);
    for table in [
        "relays",
        "turn_tokens",
        "usage_cursors",
        "sessions",
        "email_tokens",
        "webauthn_used",
    ] {
        assert_eq!(db.count(table), 0, "{table}");
    }
}

#[test]
fn feed_statements_of_every_source_run() {
    let mut db = Db::new();
    assert!(db.apply(&Writes::none().with(turn_token("t1", "c1", Some("u1"), Some("f1")))));
    let sources = [
        feed::Source::Token {
            token_id: "t0".into(),
            expires_at: NOW + 60,
        },
        feed::Source::Family("f1".into()),
        feed::Source::User("u1".into()),
        feed::Source::Client("c1".into()),
        feed::Source::ClientUser {
            client_id: "c1".into(),
            user_id: "u1".into(),
        },
        feed::Source::ClientsOwnedBy("u1".into()),
    ];
    let stmts: Vec<Statement> = sources
        .iter()
        .map(|s| store::control::feed_revoke(s, "revoked", NOW))
        .collect();
    db.batch(&stmts);
    let ids: Vec<String> = db
        .rows(&reads::feed_page(0, NOW, feed::PAGE))
        .into_iter()
        .map(|r| r.token_id)
        .collect();
    assert_eq!(ids, ["t0", "t1"], "each token once");
}

/// The console's statements (migrations/0013_console.sql): sessions, the people, relay and
/// audit queries, and each of its claims, winning and losing.
fn console(db: &mut Db) {
    assert!(db.apply(&Writes::new(Claim::InsertUser(user("u9", "ada")))));
    assert!(
        db.apply(
            &Writes::new(Claim::SetRights {
                user_id: "u9".into(),
                rights: "console:admin".into(),
            })
            .with(audit(event::USER_RIGHTS_SET))
        )
    );
    // The first-party client the migration creates.
    let console_client = db
        .first(&reads::client("edge-console"))
        .expect("console client");
    assert_eq!(console_client.redirect_uris, r#"["/console/callback"]"#);
    assert!(console_client.secret_hash.is_none());

    // A session, read back with its person, then ended with every expired one.
    assert!(db.apply(&console_session::start("k1", "u9", NOW)));
    assert!(db.apply(&console_session::start("k0", "u9", NOW - 3 * 3600)));
    let s = db
        .first(&console_store::session("k1", NOW + 1))
        .expect("session");
    assert_eq!((s.user_id.as_str(), s.username.as_str()), ("u9", "ada"));
    assert!(console_session::admit("k1", Some(s), NOW + 1).is_ok());
    assert!(
        db.first(&console_store::session("k1", NOW + 3600))
            .is_none(),
        "expired"
    );
    let audit_rows = db.rows(&console_store::audit(
        &console_store::AuditFilter {
            person: "u9".into(),
            kind: "console".into(),
            ..Default::default()
        },
        None,
        10,
    ));
    assert_eq!(audit_rows.len(), 2, "{audit_rows:?}");
    assert_eq!(audit_rows[0].actor_id.as_deref(), Some("u9"));
    assert!(db.apply(&console_session::end("k1", NOW)));
    assert_eq!(db.count("console_sessions"), 0, "k1 ended, k0 expired");

    // People: search (with LIKE's wildcards literal), one by id.
    let everyone = usize::try_from(db.count("users")).expect("count");
    assert_eq!(db.rows(&console_store::people("", 10)).len(), everyone);
    assert_eq!(db.rows(&console_store::people("ad", 10)).len(), 1);
    assert_eq!(
        db.rows(&console_store::people("ada@example.com", 10)).len(),
        1
    );
    assert!(db.rows(&console_store::people("a%", 10)).is_empty());
    assert!(db.rows(&console_store::people("_da", 10)).is_empty());
    assert!(db.first(&console_store::person("u9")).is_some());

    // Disable: the flag, and no sign-in by name; enable again.
    let disable = console_people::disable("u9", true, NOW).by("u9");
    assert!(db.apply(&disable));
    assert_eq!(
        db.first(&console_store::person("u9"))
            .and_then(|p| p.disabled_at),
        Some(NOW)
    );
    assert!(db.first(&reads::user_by_name("ada")).is_none());
    db.loses(&console_people::disable("nobody", true, NOW));
    assert!(db.apply(&console_people::disable("u9", false, NOW)));
    assert!(db.first(&reads::user_by_name("ada")).is_some());

    // Client claims: rotate (only a confidential client), redirect URIs.
    let mut confidential = client("cc", None);
    confidential.secret_hash = Some("pbkdf2$one".into());
    assert!(db.apply(&Writes::new(Claim::InsertClient(confidential))));
    assert!(db.apply(&Writes::new(Claim::RotateSecret {
        id: "cc".into(),
        secret_hash: "pbkdf2$two".into(),
    })));
    assert_eq!(
        db.first(&reads::client("cc")).and_then(|c| c.secret_hash),
        Some("pbkdf2$two".into())
    );
    db.loses(&Writes::new(Claim::RotateSecret {
        id: "edge-console".into(),
        secret_hash: "pbkdf2$x".into(),
    }));
    assert!(db.apply(&Writes::new(Claim::SetRedirectUris {
        id: "cc".into(),
        redirect_uris: r#"["https://b.example/cb"]"#.into(),
    })));
    db.loses(&Writes::new(Claim::SetRedirectUris {
        id: "gone".into(),
        redirect_uris: "[]".into(),
    }));
    assert!(db.apply(&Writes::new(Claim::SetResources {
        id: "cc".into(),
        resources: Some("https://api.example/ https://b.example/".into()),
    })));
    let cc: Vec<String> = db
        .rows(&reads::clients())
        .into_iter()
        .filter(|c| c.id == "cc")
        .filter_map(|c| c.resources)
        .collect();
    assert_eq!(cc, ["https://api.example/ https://b.example/"]);
    assert!(db.apply(&Writes::new(Claim::SetResources {
        id: "cc".into(),
        resources: None,
    })));
    db.loses(&Writes::new(Claim::SetResources {
        id: "gone".into(),
        resources: None,
    }));

    // Relays: drained from the console, no longer handed out.
    db.conn
        .execute(
            "INSERT INTO relays (relay_id, client_id, urls, allocations, capacity, load, draining, first_seen, last_seen) \
             VALUES ('r1', 'relay-client', '[\"turn:r1\"]', 1, 10, 0.1, 0, ?1, ?1)",
            [NOW as i64],
        )
        .expect("relay");
    assert_eq!(db.rows(&reads::healthy_relays(NOW, 30)).len(), 1);
    assert!(db.apply(&Writes::new(Claim::DrainRelay {
        relay_id: "r1".into(),
        at: Some(NOW),
    })));
    assert!(db.rows(&reads::healthy_relays(NOW, 30)).is_empty());
    let r = db.rows(&console_store::relays());
    assert_eq!(r[0].drain_requested_at, Some(NOW));
    // The relay's next heartbeat returns the request, so the reply tells it to drain.
    let hb = Heartbeat::parse(
        br#"{"relay_id":"r1","urls":["turn:r1"],"allocations":1,"capacity":10,"load":0.1,"draining":false}"#,
    )
    .expect("a heartbeat");
    let upsert = writes::batch(&hb.writes("relay-client", NOW + 1)).statements[0].clone();
    let back = db.rows(&Query::<heartbeat::Upserted>::new(upsert.sql, upsert.args));
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].drain_requested_at, Some(NOW));
    assert_eq!(
        heartbeat::answer(back.first(), 30, serde_json::json!({}))["drain"],
        true
    );
    db.loses(&Writes::new(Claim::DrainRelay {
        relay_id: "nope".into(),
        at: None,
    }));

    // The audit filter by each field, paged.
    let all = db.rows(&console_store::audit(&Default::default(), None, 1000));
    assert!(all.len() > 3);
    let page = db.rows(&console_store::audit(
        &Default::default(),
        Some(all[1].id),
        1,
    ));
    assert_eq!(page[0].id, all[2].id);
    for f in [
        console_store::AuditFilter {
            client: "cc".into(),
            ..Default::default()
        },
        console_store::AuditFilter {
            token: "t".into(),
            ..Default::default()
        },
        console_store::AuditFilter {
            kind: "user.disabled".into(),
            ..Default::default()
        },
    ] {
        db.rows(&console_store::audit(&f, None, 10));
    }
    let disabled = db.rows(&console_store::audit(
        &console_store::AuditFilter {
            kind: "user.disabled".into(),
            ..Default::default()
        },
        None,
        10,
    ));
    assert_eq!(disabled.len(), 1);
    assert_eq!(disabled[0].actor_id.as_deref(), Some("u9"));
}
