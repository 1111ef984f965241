//! Usage records on disk until the edge has applied them, so a relay restart or an edge
//! outage loses nothing (within a bound).
//!
//! `STATE/usage/` holds three files:
//!
//! - `epoch`: random, made once with the directory. The edge keeps one cursor per relay and
//!   epoch, so a relay whose state was wiped starts a new sequence instead of having its
//!   records taken for ones already applied.
//! - `records.jsonl`: one [`Record`] per line, appended and synced before anything is sent.
//! - `done`: every record up to this sequence number is applied at the edge (or was dropped,
//!   below); a restart resends only what comes after it.
//!
//! The edge applies each sequence number at most once, so a record sent twice (the answer was
//! lost, the relay stopped before writing `done`) is counted once. When more than `max`
//! records wait (a long outage), the oldest are dropped and counted, and `done` moves past
//! them: memory and disk stay bounded, and the loss is logged and reported in heartbeats.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use super::ledger::Record;
use super::statefile;

/// The spool of one relay.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    epoch: String,
    file: File,
    /// Lines in `records.jsonl`, applied or not.
    lines: usize,
    unsent: VecDeque<Record>,
    next_seq: u64,
    done: u64,
    max: usize,
    dropped: u64,
    /// Unreadable lines skipped at open (a line torn by a crash mid-write).
    pub skipped: usize,
}

const RECORDS: &str = "records.jsonl";

fn io_err(what: &str, path: &Path, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

/// Writes `text` to `dir/name` through a random temporary file and a rename
/// ([`statefile::replace`]).
pub(super) fn replace(dir: &Path, name: &str, text: &[u8]) -> std::io::Result<()> {
    statefile::replace(dir, name, text)
}

fn random_epoch() -> std::io::Result<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

impl Spool {
    /// Opens (or makes) the spool in `dir`, keeping at most `max` unsent records.
    pub fn open(dir: &Path, max: usize) -> std::io::Result<Spool> {
        statefile::create_dir(dir)?;
        let epoch_path = dir.join("epoch");
        let epoch = match std::fs::read_to_string(&epoch_path) {
            Ok(e) if !e.trim().is_empty() => e.trim().to_string(),
            _ => {
                let e = random_epoch()?;
                replace(dir, "epoch", e.as_bytes())?;
                e
            }
        };
        let done: u64 = std::fs::read_to_string(dir.join("done"))
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0);
        let path = dir.join(RECORDS);
        let (mut unsent, mut lines, mut skipped, mut last) = (VecDeque::new(), 0, 0, done);
        if let Ok(f) = File::open(&path) {
            for line in BufReader::new(f).lines() {
                let line = line.map_err(|e| io_err("read", &path, e))?;
                lines += 1;
                match serde_json::from_str::<Record>(&line) {
                    Ok(r) => {
                        last = last.max(r.seq);
                        if r.seq > done {
                            unsent.push_back(r);
                        }
                    }
                    Err(_) => skipped += 1,
                }
            }
        }
        let file = statefile::open_append(&path)?;
        let mut spool = Spool {
            dir: dir.to_path_buf(),
            epoch,
            file,
            lines,
            unsent,
            next_seq: last + 1,
            done,
            max: max.max(1),
            dropped: 0,
            skipped,
        };
        spool.bound()?;
        Ok(spool)
    }

    /// Numbers `records`, appends them and syncs them to disk.
    pub fn append(&mut self, records: Vec<Record>) -> std::io::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut text = String::new();
        for mut r in records {
            r.seq = self.next_seq;
            self.next_seq += 1;
            text.push_str(&serde_json::to_string(&r).map_err(std::io::Error::other)?);
            text.push('\n');
            self.lines += 1;
            self.unsent.push_back(r);
        }
        let path = self.dir.join(RECORDS);
        self.file
            .write_all(text.as_bytes())
            .map_err(|e| io_err("append to", &path, e))?;
        self.file
            .sync_data()
            .map_err(|e| io_err("sync", &path, e))?;
        self.bound()
    }

    /// Drops the oldest records beyond `max`, moving `done` past them.
    fn bound(&mut self) -> std::io::Result<()> {
        let mut floor = None;
        while self.unsent.len() > self.max {
            if let Some(r) = self.unsent.pop_front() {
                self.dropped += 1;
                floor = Some(r.seq);
            }
        }
        match floor {
            Some(seq) => self.mark_done(seq),
            None => Ok(()),
        }
    }

    /// The oldest `n` unsent records (in sequence order).
    pub fn batch(&self, n: usize) -> Vec<Record> {
        self.unsent.iter().take(n).cloned().collect()
    }

    /// The edge has applied every record up to `seq`.
    pub fn ack(&mut self, seq: u64) -> std::io::Result<()> {
        if seq <= self.done {
            return Ok(());
        }
        while self.unsent.front().is_some_and(|r| r.seq <= seq) {
            self.unsent.pop_front();
        }
        self.mark_done(seq)?;
        // Rewrite the file once it is mostly applied records.
        if self.lines > 2 * self.unsent.len() + 10_000 || (self.unsent.is_empty() && self.lines > 0)
        {
            let mut text = String::new();
            for r in &self.unsent {
                text.push_str(&serde_json::to_string(r).map_err(std::io::Error::other)?);
                text.push('\n');
            }
            replace(&self.dir, RECORDS, text.as_bytes())?;
            let path = self.dir.join(RECORDS);
            self.file = statefile::open_append(&path)?;
            self.lines = self.unsent.len();
        }
        Ok(())
    }

    fn mark_done(&mut self, seq: u64) -> std::io::Result<()> {
        self.done = self.done.max(seq);
        replace(&self.dir, "done", self.done.to_string().as_bytes())
    }

    /// This spool's epoch.
    pub fn epoch(&self) -> &str {
        &self.epoch
    }

    /// Records waiting for the edge.
    pub fn backlog(&self) -> usize {
        self.unsent.len()
    }

    /// Records dropped to keep within the bound, since this process started.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn rec(bytes: u64) -> Record {
        Record {
            account: None,
            seq: 0,
            token_id: "AAAAAAAAAAAAAAAA".into(),
            transport: "udp".into(),
            start: 1,
            end: None,
            at: 2,
            first: false,
            to_peer_packets: 1,
            to_peer_bytes: bytes,
            to_client_packets: 0,
            to_client_bytes: 0,
        }
    }

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("spool-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn records_survive_a_restart_until_acked() {
        let d = dir("restart");
        let mut s = Spool::open(&d, 100).unwrap();
        let epoch = s.epoch().to_string();
        s.append(vec![rec(1), rec(2), rec(3)]).unwrap();
        assert_eq!(
            s.batch(10).iter().map(|r| r.seq).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        s.ack(2).unwrap();
        drop(s);
        let mut s = Spool::open(&d, 100).unwrap();
        assert_eq!(s.epoch(), epoch);
        let b = s.batch(10);
        assert_eq!((b.len(), b[0].seq, b[0].to_peer_bytes), (1, 3, 3));
        // Numbering goes on after the highest sequence ever written.
        s.append(vec![rec(4)]).unwrap();
        assert_eq!(s.batch(10)[1].seq, 4);
        s.ack(4).unwrap();
        assert_eq!(s.backlog(), 0);
        drop(s);
        let mut s = Spool::open(&d, 100).unwrap();
        assert_eq!(s.backlog(), 0);
        s.append(vec![rec(5)]).unwrap();
        assert_eq!(s.batch(1)[0].seq, 5, "never reuses a sequence number");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_torn_last_line_is_skipped() {
        let d = dir("torn");
        let mut s = Spool::open(&d, 100).unwrap();
        s.append(vec![rec(1), rec(2)]).unwrap();
        drop(s);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(d.join(RECORDS))
            .unwrap();
        f.write_all(b"{\"seq\":3,\"tok").unwrap();
        let s = Spool::open(&d, 100).unwrap();
        assert_eq!((s.backlog(), s.skipped), (2, 1));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn the_bound_drops_the_oldest_and_remembers_it() {
        let d = dir("bound");
        let mut s = Spool::open(&d, 3).unwrap();
        s.append((1..=5).map(rec).collect()).unwrap();
        assert_eq!((s.backlog(), s.dropped()), (3, 2));
        assert_eq!(s.batch(1)[0].seq, 3);
        drop(s);
        let s = Spool::open(&d, 3).unwrap();
        assert_eq!(s.batch(1)[0].seq, 3, "dropped records stay dropped");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_wiped_state_gets_a_new_epoch() {
        let d = dir("epoch");
        let a = Spool::open(&d, 3).unwrap().epoch().to_string();
        let _ = std::fs::remove_dir_all(&d);
        let b = Spool::open(&d, 3).unwrap().epoch().to_string();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        let _ = std::fs::remove_dir_all(&d);
    }
}
