//! `cargo xtask bench-edge`: p50/p99 of `POST /oauth2/token` in local workerd with access
//! tokens signed RS256 and ES256, interleaved in one run, and the worker's gzip size.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::edge::{Conn, Dev, Limits, base64, gzip_size, json_str};
use crate::util::Result;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(idx).copied().unwrap_or_default()
}

/// One worker under test: its connection and the client's credentials.
struct Target {
    base: String,
    label: &'static str,
    form: &'static str,
    want: &'static str,
    conn: Conn,
    basic: String,
    times: Vec<Duration>,
}

/// Registers the confidential client `bench`; returns its Basic authorization.
fn register(dev: &Dev) -> Result<String> {
    let mut c = Conn::open(&dev.base)?;
    let auth = format!("Bearer {}", dev.admin_secret);
    let (status, body) = c.request(
        "POST",
        "/admin/clients",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        br#"{"client_id":"bench","grant_types":["client_credentials"],"scopes":["api","turn"]}"#,
    )?;
    let secret =
        json_str(&body, "client_secret").ok_or_else(|| format!("admin API: HTTP {status}"))?;
    Ok(format!(
        "Basic {}",
        base64(format!("bench:{secret}").as_bytes())
    ))
}

impl Target {
    fn request(&mut self) -> Result<Duration> {
        let headers = [
            ("Authorization", self.basic.as_str()),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ];
        let mut t = Instant::now();
        let answer = self
            .conn
            .request("POST", "/oauth2/token", &headers, self.form.as_bytes());
        let (status, body) = match answer {
            Ok(a) => a,
            Err(_) => {
                // wrangler's local proxy may close a keep-alive connection that sat idle while
                // the other cases ran: reconnect, and time only the retried request.
                self.conn = Conn::open(&self.base)?;
                t = Instant::now();
                self.conn
                    .request("POST", "/oauth2/token", &headers, self.form.as_bytes())?
            }
        };
        let took = t.elapsed();
        if status != 200 || !String::from_utf8_lossy(&body).contains(self.want) {
            return Err(format!(
                "{}: HTTP {status}: {}",
                self.label,
                String::from_utf8_lossy(&body)
            )
            .into());
        }
        Ok(took)
    }
}

/// The benchmark: two workers (`ACCESS_TOKEN_ALG` RS256 and ES256, fresh D1, rate limits
/// raised out of reach), a confidential client on each, then `client_credentials` requests
/// sequentially over keep-alive connections: a bearer JWT from each worker and an RFC 7635
/// TURN token (no JWT signature) as the reference, in 10 interleaved rounds after a warm-up.
/// `args`: `[N]` requests per case (default 2000, at least 1000), `--no-client-cache` for
/// `CLIENT_CACHE_TTL=0` (a D1 read on every request), `--reference DIR`: another checkout with
/// its worker built (e.g. main, whose access tokens were HS256) measured in the same rounds.
pub fn bench(root: &Path, args: &[String]) -> Result {
    let mut n = 2000;
    let mut vars: Vec<(&str, &str)> = Vec::new();
    let mut reference: Option<std::path::PathBuf> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--no-client-cache" => vars.push(("CLIENT_CACHE_TTL", "0")),
            "--reference" => {
                reference = Some(it.next().ok_or("--reference needs a directory")?.into())
            }
            s => {
                n = s.parse().map_err(|_| {
                    format!("bench-edge: `{s}` is not a number of requests, --no-client-cache or --reference DIR")
                })?
            }
        }
    }
    if n < 1000 {
        return Err("bench-edge: use at least 1000 requests".into());
    }
    let gzip = gzip_size(root)?;
    let base = root
        .join("target")
        .join("edge-bench")
        .join(std::process::id().to_string());
    let _ = std::fs::remove_dir_all(&base);
    let start = |alg: &'static str| -> Result<Dev> {
        let mut v = vars.clone();
        v.push(("ACCESS_TOKEN_ALG", alg));
        Dev::start(root, &base.join(alg), &v, Limits::Raised)
    };
    let rs = start("RS256")?;
    let es = start("ES256")?;
    let reference = match &reference {
        Some(dir) => Some(Dev::start(
            dir,
            &base.join("reference"),
            &vars,
            Limits::Raised,
        )?),
        None => None,
    };
    // Register on all first: an idle keep-alive connection may be closed by wrangler's proxy
    // while another worker starts, so the measuring connections open afterwards.
    let (rs_basic, es_basic) = (register(&rs)?, register(&es)?);
    let reference_basic = match &reference {
        Some(dev) => Some(register(dev)?),
        None => None,
    };
    let target = |dev: &Dev, basic: &str, label, form, want| -> Result<Target> {
        let conn = Conn::open(&dev.base)?;
        let basic = basic.to_string();
        Ok(Target {
            base: dev.base.clone(),
            label,
            form,
            want,
            conn,
            basic,
            times: Vec::with_capacity(n),
        })
    };
    const BEARER: &str = "grant_type=client_credentials&scope=api";
    const JWT: &str = "\"token_type\":\"Bearer\"";
    let mut targets = vec![
        target(
            &rs,
            &rs_basic,
            "client_credentials, bearer JWT signed RS256",
            BEARER,
            JWT,
        )?,
        target(
            &es,
            &es_basic,
            "client_credentials, bearer JWT signed ES256",
            BEARER,
            JWT,
        )?,
        // The reference without a JWT signature: an RFC 7635 TURN token.
        target(
            &rs,
            &rs_basic,
            "client_credentials, scope turn (RFC 7635, no JWT)",
            "grant_type=client_credentials&scope=turn",
            "\"token_type\":\"pop\"",
        )?,
    ];
    if let (Some(dev), Some(basic)) = (&reference, &reference_basic) {
        targets.push(target(
            dev,
            basic,
            "client_credentials, bearer JWT, the --reference worker",
            BEARER,
            JWT,
        )?);
    }
    for t in &mut targets {
        for _ in 0..100 {
            t.request()?;
        }
    }
    const ROUNDS: usize = 10;
    let started = Instant::now();
    for round in 0..ROUNDS {
        let per = n / ROUNDS + usize::from(round < n % ROUNDS);
        // Alternate the order each round so neither case always runs first.
        let order: Vec<usize> = if round % 2 == 0 {
            (0..targets.len()).collect()
        } else {
            (0..targets.len()).rev().collect()
        };
        for i in order {
            let t = targets.get_mut(i).ok_or("target")?;
            for _ in 0..per {
                let d = t.request()?;
                t.times.push(d);
            }
        }
    }
    let wall = started.elapsed();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mut report = String::new();
    let mut p50s = Vec::new();
    for t in &mut targets {
        t.times.sort();
        let p50 = percentile(&t.times, 0.50);
        p50s.push(p50);
        let _ = writeln!(
            report,
            "token endpoint, {}: n={} p50={:.2} ms p99={:.2} ms max={:.2} ms",
            t.label,
            t.times.len(),
            ms(p50),
            ms(percentile(&t.times, 0.99)),
            ms(percentile(&t.times, 1.0)),
        );
    }
    let ratio = |a: &Duration, b: &Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-9);
    if let (Some(rs), Some(es)) = (p50s.first(), p50s.get(1)) {
        let _ = writeln!(
            report,
            "p50 ratio ES256 / RS256: {:.2} ({ROUNDS} interleaved rounds, {:.0} s)",
            ratio(es, rs),
            wall.as_secs_f64()
        );
        if let Some(r) = p50s.get(3) {
            let _ = writeln!(
                report,
                "p50 ratio to the --reference worker: RS256 {:.2}, ES256 {:.2}",
                ratio(rs, r),
                ratio(es, r)
            );
        }
    }
    if !vars.is_empty() {
        let _ = writeln!(
            report,
            "(run with CLIENT_CACHE_TTL=0: every request reads the client from D1)"
        );
    }
    let _ = writeln!(
        report,
        "worker size: {gzip} bytes gzip -9 (index_bg.wasm + index.js), {:.0} KB (budget 400 KB)",
        gzip as f64 / 1024.0
    );
    drop(rs);
    drop(es);
    drop(reference);
    let _ = std::fs::remove_dir_all(&base);
    print!("{report}");
    Ok(())
}
