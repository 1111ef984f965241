//! Bandwidth caps: how many payload bytes per second one allocation, and one user, may relay
//! in each direction.
//!
//! Each cap is a token bucket, kept as GCRA (the generic cell rate algorithm): one
//! "theoretical arrival time" per bucket instead of a token count and a refill time, so a
//! check is a few integer operations and a bucket shared between cores is one atomic word.
//!
//! - A bucket of rate `R` bytes/s holds [`Rate::burst`] bytes (half a second of `R`, and at
//!   least one largest datagram, so every datagram can pass at some point).
//! - A datagram of `n` payload bytes passes when the bucket holds `n` bytes; then they are
//!   taken. Otherwise it is dropped, and nothing is taken (a sender over its cap gets exactly
//!   the cap through, not less).
//! - The directions are apart: client to peers, and peers to client each have their buckets.
//! - An allocation's own buckets live in the allocation (one core, no sharing). A user's
//!   buckets are shared by every allocation of that user in every core holding the same
//!   [`Config`](crate::Config) ([`UserMeters`]), with an atomic compare-and-swap per datagram;
//!   a user is what quotas count: the static or REST user, or the token id for tokens.
//! - What a kernel fast path relayed is charged after the fact ([`Meters::charge`]), even
//!   past empty (down to one second of debt): the allocation then pays it back on the
//!   sockets path before more passes. An allocation whose bucket is below empty there is
//!   *held*: its channel routes are withdrawn, so its data comes through the core where each
//!   datagram is checked, until it has dropped nothing for [`Caps::hold`].
//!
//! Why and how exactly: docs/relay.md.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::auth::Account;
use crate::traffic::Traffic;

/// The smallest bucket: one datagram of the largest payload a relay forwards.
pub const MIN_BURST: u64 = 65_535;

/// How far below empty a charge from the kernel fast path may take a bucket.
pub const MAX_DEBT: Duration = Duration::from_secs(1);

/// One cap: bytes per second, and the bucket's depth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    bytes_per_sec: u64,
    burst: u64,
    /// Nanoseconds per byte in 32.32 fixed point, so a datagram's cost is one multiply.
    nanos_per_byte: u64,
    /// The bucket's depth in nanoseconds.
    tolerance: u64,
}

impl Rate {
    /// A cap of `bytes_per_sec` payload bytes per second (`None` for 0: no cap), with a bucket
    /// of half a second's worth, at least [`MIN_BURST`].
    pub fn new(bytes_per_sec: u64) -> Option<Rate> {
        if bytes_per_sec == 0 {
            return None;
        }
        let burst = (bytes_per_sec / 2).max(MIN_BURST);
        let per_byte = (1_000_000_000u128 << 32) / u128::from(bytes_per_sec);
        let mut rate = Rate {
            bytes_per_sec,
            burst,
            nanos_per_byte: u64::try_from(per_byte).unwrap_or(u64::MAX),
            tolerance: 0,
        };
        rate.tolerance = rate.cost_nanos(burst);
        Some(rate)
    }

    /// Bytes per second.
    pub fn bytes_per_sec(self) -> u64 {
        self.bytes_per_sec
    }

    /// The bucket's depth in bytes: what may pass at once after a quiet spell.
    pub fn burst(self) -> u64 {
        self.burst
    }

    /// How long the bucket takes to earn `bytes`, in nanoseconds.
    fn cost_nanos(self, bytes: u64) -> u64 {
        let nanos = (u128::from(bytes) * u128::from(self.nanos_per_byte)) >> 32;
        u64::try_from(nanos).unwrap_or(u64::MAX)
    }

    /// How long the bucket takes to earn `bytes`.
    fn cost(self, bytes: u64) -> Duration {
        Duration::from_nanos(self.cost_nanos(bytes))
    }

    /// How far ahead of now a bucket may have spent: its depth in time.
    fn tolerance(self) -> Duration {
        Duration::from_nanos(self.tolerance)
    }
}

/// A direction of relayed data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client to peer.
    ToPeer,
    /// Peer to client.
    ToClient,
}

impl Direction {
    fn index(self) -> usize {
        match self {
            Direction::ToPeer => 0,
            Direction::ToClient => 1,
        }
    }
}

/// Which cap dropped a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cap {
    /// The allocation's own.
    Allocation,
    /// Its user's, shared by all of the user's allocations.
    User,
}

/// The caps of a relay, and the per-user buckets its cores share.
pub struct Caps {
    /// Each allocation's cap, per direction (`--max-bps-per-allocation`).
    pub per_allocation: Option<Rate>,
    /// Each user's cap over all of their allocations, per direction (`--max-bps-per-user`).
    pub per_user: Option<Rate>,
    /// How long a held allocation must drop nothing before its channel routes return to a
    /// kernel fast path.
    pub hold: Duration,
    /// The users' buckets.
    pub users: UserMeters,
}

impl Default for Caps {
    fn default() -> Caps {
        Caps {
            per_allocation: None,
            per_user: None,
            hold: Duration::from_secs(2),
            users: UserMeters::default(),
        }
    }
}

impl fmt::Debug for Caps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Caps")
            .field("per_allocation", &self.per_allocation)
            .field("per_user", &self.per_user)
            .field("hold", &self.hold)
            .finish_non_exhaustive()
    }
}

/// One direction's bucket of one allocation: the instant it will be full again (`None`:
/// full).
#[derive(Clone, Copy, Debug, Default)]
struct Bucket {
    tat: Option<Instant>,
}

impl Bucket {
    /// The bucket's new state if `bytes` pass at `now`, or `None` if they do not fit.
    fn admit(self, rate: Rate, bytes: u64, now: Instant) -> Option<Instant> {
        let tat = self.tat.map_or(now, |t| t.max(now)) + rate.cost(bytes);
        (tat <= now + rate.tolerance()).then_some(tat)
    }

    /// Takes `bytes` that already passed, past empty if need be (by at most [`MAX_DEBT`]).
    fn charge(&mut self, rate: Rate, bytes: u64, now: Instant) {
        let tat = self.tat.map_or(now, |t| t.max(now)) + rate.cost(bytes);
        self.tat = Some(tat.min(now + rate.tolerance() + MAX_DEBT));
    }

    /// Below empty.
    fn over(self, rate: Rate, now: Instant) -> bool {
        self.tat.is_some_and(|t| t > now + rate.tolerance())
    }
}

/// One user's buckets, shared by the user's allocations in every core: each direction's
/// theoretical arrival time in nanoseconds since `epoch` (0: full since the epoch).
#[derive(Debug)]
pub struct UserMeter {
    user: Account,
    epoch: Instant,
    tat: [AtomicU64; 2],
}

impl UserMeter {
    fn nanos(&self, now: Instant) -> u64 {
        let d = now.saturating_duration_since(self.epoch);
        d.as_secs()
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::from(d.subsec_nanos()))
    }

    /// Takes `bytes` if they fit (one compare-and-swap, retried only when another core took
    /// from the same bucket at the same moment).
    fn admit(&self, rate: Rate, dir: Direction, bytes: u64, now: Instant) -> bool {
        let Some(cell) = self.tat.get(dir.index()) else {
            return true;
        };
        let now = self.nanos(now);
        let (cost, tolerance) = (rate.cost_nanos(bytes), rate.tolerance);
        let mut current = cell.load(Ordering::Relaxed);
        loop {
            let tat = current.max(now).saturating_add(cost);
            if tat > now.saturating_add(tolerance) {
                return false;
            }
            match cell.compare_exchange_weak(current, tat, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(seen) => current = seen,
            }
        }
    }

    /// Takes `bytes` that already passed, past empty if need be (by at most [`MAX_DEBT`]);
    /// true when the bucket is then below empty.
    fn charge(&self, rate: Rate, dir: Direction, bytes: u64, now: Instant) -> bool {
        let Some(cell) = self.tat.get(dir.index()) else {
            return false;
        };
        let now = self.nanos(now);
        let (cost, tolerance) = (rate.cost_nanos(bytes), rate.tolerance);
        let limit = now
            .saturating_add(tolerance)
            .saturating_add(u64::try_from(MAX_DEBT.as_nanos()).unwrap_or(u64::MAX));
        let update = |t: u64| Some(t.max(now).saturating_add(cost).min(limit));
        let before = cell
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, update)
            .unwrap_or_else(|t| t);
        update(before).is_some_and(|t| t > now.saturating_add(tolerance))
    }
}

/// The users' buckets of a relay: one entry per user holding an allocation, taken on
/// Allocate and given back when the allocation ends (a lock then, never per datagram).
#[derive(Debug, Default)]
pub struct UserMeters {
    users: Mutex<HashMap<Account, Arc<UserMeter>>>,
}

impl UserMeters {
    /// `user`'s buckets, made (full) at `now` if the user holds none yet.
    pub fn join(&self, user: &Account, now: Instant) -> Arc<UserMeter> {
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        users
            .entry(user.clone())
            .or_insert_with(|| {
                Arc::new(UserMeter {
                    user: user.clone(),
                    epoch: now,
                    tat: [AtomicU64::new(0), AtomicU64::new(0)],
                })
            })
            .clone()
    }

    /// Gives back one allocation's handle; the entry goes with the user's last allocation.
    pub fn leave(&self, meter: Arc<UserMeter>) {
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        let user = meter.user.clone();
        drop(meter);
        if users.get(&user).is_some_and(|m| Arc::strong_count(m) == 1) {
            users.remove(&user);
        }
    }

    /// Users with buckets.
    pub fn len(&self) -> usize {
        self.users
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// No user has buckets.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An allocation's meters: its own buckets, its user's, and whether it is held off a
/// kernel fast path.
#[derive(Debug, Default)]
pub struct Meters {
    own: [Bucket; 2],
    user: Option<Arc<UserMeter>>,
    /// Held on the sockets path (its channel routes withdrawn) until at least this instant.
    pub held_until: Option<Instant>,
    /// When a cap last dropped one of its datagrams.
    pub last_drop: Option<Instant>,
}

impl Meters {
    /// The meters of a new allocation of `user` at `now`.
    pub fn new(caps: &Caps, user: &Account, now: Instant) -> Meters {
        Meters {
            user: caps.per_user.map(|_| caps.users.join(user, now)),
            ..Meters::default()
        }
    }

    /// Whether `bytes` of payload may pass in `dir` at `now`; takes them from every bucket
    /// if so, from none if not (and remembers the drop).
    #[inline]
    pub fn admit(
        &mut self,
        caps: &Caps,
        dir: Direction,
        bytes: usize,
        now: Instant,
    ) -> Result<(), Cap> {
        if caps.per_allocation.is_none() && self.user.is_none() {
            return Ok(());
        }
        self.admit_capped(caps, dir, bytes as u64, now)
    }

    fn admit_capped(
        &mut self,
        caps: &Caps,
        dir: Direction,
        bytes: u64,
        now: Instant,
    ) -> Result<(), Cap> {
        let i = dir.index();
        let own = match (caps.per_allocation, self.own.get(i)) {
            (Some(rate), Some(bucket)) => match bucket.admit(rate, bytes, now) {
                Some(tat) => Some(tat),
                None => return self.dropped(now, Cap::Allocation),
            },
            _ => None,
        };
        if let (Some(rate), Some(user)) = (caps.per_user, &self.user)
            && !user.admit(rate, dir, bytes, now)
        {
            return self.dropped(now, Cap::User);
        }
        if let (Some(tat), Some(bucket)) = (own, self.own.get_mut(i)) {
            bucket.tat = Some(tat);
        }
        Ok(())
    }

    fn dropped(&mut self, now: Instant, cap: Cap) -> Result<(), Cap> {
        self.last_drop = Some(now);
        Err(cap)
    }

    /// Charges what a kernel fast path relayed for this allocation; true when a bucket (its
    /// own or its user's) is then below empty.
    pub fn charge(&mut self, caps: &Caps, relayed: Traffic, now: Instant) -> bool {
        let mut over = false;
        for (dir, c) in [
            (Direction::ToPeer, relayed.to_peer),
            (Direction::ToClient, relayed.to_client),
        ] {
            if let (Some(rate), Some(bucket)) = (caps.per_allocation, self.own.get_mut(dir.index()))
            {
                bucket.charge(rate, c.bytes, now);
                over |= bucket.over(rate, now);
            }
            if let (Some(rate), Some(user)) = (caps.per_user, &self.user) {
                over |= user.charge(rate, dir, c.bytes, now);
            }
        }
        over
    }

    /// Whether it dropped a datagram in the `hold` before `now`.
    pub fn dropped_within(&self, hold: Duration, now: Instant) -> bool {
        self.last_drop.is_some_and(|d| now < d + hold)
    }

    /// Gives the user's buckets back (when the allocation ends).
    pub fn release(&mut self, caps: &Caps) {
        if let Some(user) = self.user.take() {
            caps.users.leave(user);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn user(name: &str) -> Account {
        Account::Static(name.to_string())
    }

    fn caps(per_allocation: u64, per_user: u64) -> Caps {
        Caps {
            per_allocation: Rate::new(per_allocation),
            per_user: Rate::new(per_user),
            ..Caps::default()
        }
    }

    /// One allocation capped at 200 kB/s offered `size`-byte datagrams every millisecond
    /// for `secs`: what passed, and the meters after.
    fn offer(size: usize, secs: u64) -> (u64, Meters, Caps, Instant) {
        let caps = caps(200_000, 0);
        let t0 = Instant::now();
        let mut m = Meters::new(&caps, &user("u"), t0);
        let mut passed = 0;
        for ms in 0..secs * 1000 {
            let t = t0 + Duration::from_millis(ms);
            if m.admit(&caps, Direction::ToPeer, size, t).is_ok() {
                passed += size as u64;
            }
        }
        (passed, m, caps, t0)
    }

    #[test]
    fn a_sender_over_its_cap_gets_the_cap_and_the_burst() {
        // 1 MB/s offered for 4 s: 4 s of the cap and the 100 kB bucket pass.
        let (got, mut m, caps, t0) = offer(1000, 4);
        let want = 4 * 200_000 + 100_000;
        assert!(got.abs_diff(want) <= 2000, "{got} vs {want}");
        // The other direction has its own bucket.
        let end = t0 + Duration::from_secs(4);
        assert!(m.admit(&caps, Direction::ToClient, 1000, end).is_ok());
    }

    #[test]
    fn a_sender_under_its_cap_loses_nothing() {
        let (got, m, _, _) = offer(150, 3);
        assert_eq!(got, 150 * 3000);
        assert_eq!(m.last_drop, None);
    }

    #[test]
    fn the_smallest_bucket_holds_the_largest_datagram() {
        let caps = caps(10, 0);
        let t0 = Instant::now();
        let mut m = Meters::new(&caps, &user("u"), t0);
        assert!(m.admit(&caps, Direction::ToPeer, 65_535, t0).is_ok());
        assert_eq!(
            m.admit(&caps, Direction::ToPeer, 1, t0),
            Err(Cap::Allocation)
        );
    }

    #[test]
    fn a_users_allocations_share_the_users_cap() {
        let caps = caps(0, 100_000);
        let t0 = Instant::now();
        let (mut a, mut b) = (
            Meters::new(&caps, &user("u"), t0),
            Meters::new(&caps, &user("u"), t0),
        );
        let mut other = Meters::new(&caps, &user("someone else"), t0);
        assert_eq!(caps.users.len(), 2);
        let (mut got, mut other_got) = (0u64, 0u64);
        for ms in 0..2000 {
            let t = t0 + Duration::from_millis(ms);
            for m in [&mut a, &mut b] {
                if m.admit(&caps, Direction::ToPeer, 100, t).is_ok() {
                    got += 100;
                }
            }
            if other.admit(&caps, Direction::ToPeer, 40, t).is_ok() {
                other_got += 40;
            }
        }
        let want = 2 * 100_000 + 65_535;
        assert!(got.abs_diff(want) <= 300, "{got} vs {want}");
        assert_eq!(other_got, 40 * 2000, "another user is not affected");
        let last = t0 + Duration::from_millis(1999);
        assert_eq!(a.admit(&caps, Direction::ToPeer, 100, last), Err(Cap::User));
        a.release(&caps);
        assert_eq!(caps.users.len(), 2, "b still holds u's buckets");
        b.release(&caps);
        other.release(&caps);
        assert!(caps.users.is_empty());
    }

    #[test]
    fn a_drop_by_the_user_cap_takes_nothing_from_the_allocation() {
        let caps = caps(1_000_000, 100_000);
        let t0 = Instant::now();
        let mut hog = Meters::new(&caps, &user("u"), t0);
        let mut m = Meters::new(&caps, &user("u"), t0);
        assert!(hog.admit(&caps, Direction::ToPeer, 65_535, t0).is_ok());
        assert_eq!(
            m.admit(&caps, Direction::ToPeer, 60_000, t0),
            Err(Cap::User)
        );
        // The allocation's own bucket is still full: 500,000 bytes of burst.
        let mut own_only = Meters {
            own: m.own,
            ..Meters::default()
        };
        for _ in 0..7 {
            assert!(own_only.admit(&caps, Direction::ToPeer, 65_535, t0).is_ok());
        }
    }

    #[test]
    fn kernel_charges_go_below_empty_by_at_most_the_debt_limit() {
        let caps = caps(100_000, 100_000);
        let t0 = Instant::now();
        let mut m = Meters::new(&caps, &user("u"), t0);
        let mut t = Traffic::default();
        t.to_peer.bytes = 40_000;
        assert!(!m.charge(&caps, t, t0), "within the bucket");
        t.to_peer.bytes = 10_000_000;
        assert!(m.charge(&caps, t, t0), "below empty");
        // One second of debt: nothing passes for a second, then the rate does.
        assert!(
            m.admit(
                &caps,
                Direction::ToPeer,
                100,
                t0 + Duration::from_millis(900)
            )
            .is_err()
        );
        assert!(
            m.admit(
                &caps,
                Direction::ToPeer,
                100,
                t0 + Duration::from_millis(1100)
            )
            .is_ok()
        );
        assert!(m.dropped_within(Duration::from_secs(2), t0 + Duration::from_millis(1100)));
        assert!(!m.dropped_within(Duration::from_secs(2), t0 + Duration::from_millis(3000)));
    }

    #[test]
    fn no_caps_no_work() {
        let caps = Caps::default();
        let t0 = Instant::now();
        let mut m = Meters::new(&caps, &user("u"), t0);
        assert!(caps.users.is_empty());
        for _ in 0..1000 {
            assert!(m.admit(&caps, Direction::ToPeer, 65_535, t0).is_ok());
        }
        assert!(!m.charge(&caps, Traffic::default(), t0));
    }
}
