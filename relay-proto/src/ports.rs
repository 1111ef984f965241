//! The relay's own port range, which port an allocation asks for, and port reservations
//! (RFC 8656 sections 7.2, 14.6 EVEN-PORT and 14.9 RESERVATION-TOKEN).
//!
//! Every relay socket binds inside one [`PortRange`] (coturn's min-port/max-port), so an
//! operator opens exactly that range in a firewall. An Allocate with EVEN-PORT's R bit gets an
//! even port and reserves the next one under an unpredictable 8-byte token; a later Allocate
//! with that RESERVATION-TOKEN, from any client of the relay, gets the reserved port. The
//! reservations are server-wide (RFC 8656 section 7.2: the second Allocate comes over another
//! 5-tuple, so possibly to another core): one [`Reservations`] table, behind a lock, shared by
//! every core through the [`Config`](crate::Config) and read by the driver when it picks
//! ports.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use stun_types::AddressFamily;

use crate::family::family_of;

/// An inclusive range of UDP ports, `min-max`, within 1-65535.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    min: u16,
    max: u16,
}

impl Default for PortRange {
    /// 49152-65535, the dynamic ports of RFC 6335 (coturn's default min-port/max-port).
    fn default() -> PortRange {
        PortRange {
            min: 49152,
            max: 65535,
        }
    }
}

/// Why a port range does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortRangeError {
    /// Not `MIN-MAX` with two numbers.
    Syntax(String),
    /// A bound outside 1-65535.
    OutOfRange(String),
    /// `MIN` above `MAX`: no port at all.
    Reversed(String),
}

impl fmt::Display for PortRangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortRangeError::Syntax(s) => {
                write!(
                    f,
                    "relay port range {s:?} is not MIN-MAX (e.g. 49152-65535)"
                )
            }
            PortRangeError::OutOfRange(s) => {
                write!(f, "relay port range {s:?} leaves 1-65535")
            }
            PortRangeError::Reversed(s) => write!(
                f,
                "relay port range {s:?} is empty: its minimum is above its maximum"
            ),
        }
    }
}

impl std::error::Error for PortRangeError {}

impl FromStr for PortRange {
    type Err = PortRangeError;

    fn from_str(s: &str) -> Result<PortRange, PortRangeError> {
        let syntax = || PortRangeError::Syntax(s.to_string());
        let (min, max) = s.trim().split_once('-').ok_or_else(syntax)?;
        let parse = |v: &str| v.trim().parse::<u32>().map_err(|_| syntax());
        let (min, max) = (parse(min)?, parse(max)?);
        let port = |v: u32| {
            u16::try_from(v)
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| PortRangeError::OutOfRange(s.to_string()))
        };
        let (min, max) = (port(min)?, port(max)?);
        PortRange::new(min, max).ok_or_else(|| PortRangeError::Reversed(s.to_string()))
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.min, self.max)
    }
}

impl PortRange {
    /// `min..=max`; `None` when `min` is 0 or above `max`.
    pub fn new(min: u16, max: u16) -> Option<PortRange> {
        (min > 0 && min <= max).then_some(PortRange { min, max })
    }

    /// The lowest port.
    pub fn min(&self) -> u16 {
        self.min
    }

    /// The highest port.
    pub fn max(&self) -> u16 {
        self.max
    }

    /// True when `port` is in the range.
    pub fn contains(&self, port: u16) -> bool {
        (self.min..=self.max).contains(&port)
    }

    /// How many ports the range holds.
    pub fn len(&self) -> u32 {
        u32::from(self.max) - u32::from(self.min) + 1
    }

    /// Never: a range holds at least one port.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The candidates a driver tries for `request`, starting at `start` (any number: the
    /// driver passes a random one, RFC 8656 section 7.2 asks for unpredictable ports) and
    /// walking the range, wrapping, at most `tries` of them.
    pub fn candidates(
        &self,
        request: PortRequest,
        start: u32,
        tries: usize,
    ) -> impl Iterator<Item = u16> + use<> {
        let (min, max) = (u32::from(self.min), u32::from(self.max));
        // The ports of the kind asked for are `first + step * k` for k below `count`.
        let (first, step, count) = match request {
            PortRequest::Any => (min, 1, max - min + 1),
            PortRequest::Even { reserve_next } => {
                let first = min + (min % 2);
                // With a reservation, the odd port after it must be in the range too.
                let last = if reserve_next {
                    max.saturating_sub(1)
                } else {
                    max
                };
                let last = last - (last % 2);
                match last.checked_sub(first) {
                    Some(d) if first <= last => (first, 2, d / 2 + 1),
                    _ => (first, 2, 0),
                }
            }
            PortRequest::Exact(p) => (u32::from(p), 1, 1),
        };
        let start = match request {
            PortRequest::Exact(_) => 0,
            _ => start,
        };
        (0..count)
            .map(move |i| first + step * (start.wrapping_add(i) % count))
            .filter_map(|p| u16::try_from(p).ok())
            .take(tries)
    }
}

/// Which relay port an allocation asks the driver for ([`Output::BindRelay`](crate::Output::BindRelay)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortRequest {
    /// Any free port in the range.
    Any,
    /// An even port (EVEN-PORT, RFC 8656 section 14.6); with `reserve_next` (its R bit),
    /// one whose next port is free and unreserved too: the core reserves that one.
    Even {
        /// The R bit.
        reserve_next: bool,
    },
    /// This port, reserved earlier (RESERVATION-TOKEN).
    Exact(u16),
}

/// A RESERVATION-TOKEN value (RFC 8656 section 14.9): 8 unpredictable bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ReservationToken(pub u64);

impl fmt::Debug for ReservationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReservationToken([redacted])")
    }
}

/// Why a RESERVATION-TOKEN is not honoured (each answered 508 Insufficient Capacity, RFC 8656
/// section 7.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedeemError {
    /// Never issued, expired, or already used.
    Unknown,
    /// The reservation is of the other address family than the Allocate's relayed one.
    WrongFamily,
}

/// Why a reservation cannot be made (508).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReserveError {
    /// The table holds its most reservations.
    Full,
    /// The token or the address is already reserved.
    Taken,
}

struct Reservation {
    token: ReservationToken,
    addr: SocketAddr,
    expires: Instant,
}

/// The relay's port reservations, shared by its cores (a lock taken on Allocate and on port
/// picks only, never per packet).
pub struct Reservations {
    held: Mutex<Vec<Reservation>>,
    ttl: Duration,
    max: usize,
}

impl Default for Reservations {
    /// 30 seconds each (RFC 8656 section 7.2), at most 1024 at once.
    fn default() -> Reservations {
        Reservations::new(Duration::from_secs(30), 1024)
    }
}

impl fmt::Debug for Reservations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reservations")
            .field("ttl", &self.ttl)
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

impl Reservations {
    /// Each reservation lasts `ttl`; at most `max` at once.
    pub fn new(ttl: Duration, max: usize) -> Reservations {
        Reservations {
            held: Mutex::new(Vec::new()),
            ttl,
            max,
        }
    }

    fn with<T>(&self, now: Instant, f: impl FnOnce(&mut Vec<Reservation>) -> T) -> T {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.retain(|r| r.expires > now);
        f(&mut held)
    }

    /// Reserves `addr` (a relay address, as bound) under `token` from `now`.
    pub fn reserve(
        &self,
        token: ReservationToken,
        addr: SocketAddr,
        now: Instant,
    ) -> Result<(), ReserveError> {
        let expires = now + self.ttl;
        self.with(now, |held| {
            if held.iter().any(|r| r.token == token || r.addr == addr) {
                return Err(ReserveError::Taken);
            }
            if held.len() >= self.max {
                return Err(ReserveError::Full);
            }
            held.push(Reservation {
                token,
                addr,
                expires,
            });
            Ok(())
        })
    }

    /// The address reserved under `token`, for an Allocate relaying `family`: used up on
    /// success, kept (until it expires) when the family is wrong.
    pub fn redeem(
        &self,
        token: ReservationToken,
        family: AddressFamily,
        now: Instant,
    ) -> Result<SocketAddr, RedeemError> {
        self.with(now, |held| {
            let at = held
                .iter()
                .position(|r| r.token == token)
                .ok_or(RedeemError::Unknown)?;
            let addr = held.get(at).map(|r| r.addr).ok_or(RedeemError::Unknown)?;
            if family_of(addr.ip()) != family {
                return Err(RedeemError::WrongFamily);
            }
            held.swap_remove(at);
            Ok(addr)
        })
    }

    /// True when `addr` is reserved at `now`: a driver picking a port skips it.
    pub fn is_reserved(&self, addr: SocketAddr, now: Instant) -> bool {
        self.with(now, |held| held.iter().any(|r| r.addr == addr))
    }

    /// Reservations held at `now`.
    pub fn len(&self, now: Instant) -> usize {
        self.with(now, |held| held.len())
    }

    /// True when none is held at `now`.
    pub fn is_empty(&self, now: Instant) -> bool {
        self.len(now) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_bad_ones_say_why() {
        let r: PortRange = "49152-65535".parse().unwrap();
        assert_eq!(r, PortRange::default());
        assert_eq!(r.len(), 16384);
        assert!(r.contains(49152) && r.contains(65535) && !r.contains(49151));
        assert_eq!(" 5000 - 5000 ".parse::<PortRange>().unwrap().len(), 1);
        for (s, want) in [
            ("", "is not MIN-MAX"),
            ("5000", "is not MIN-MAX"),
            ("a-b", "is not MIN-MAX"),
            ("0-100", "leaves 1-65535"),
            ("100-65536", "leaves 1-65535"),
            ("6000-5000", "is empty"),
        ] {
            let e = s.parse::<PortRange>().unwrap_err().to_string();
            assert!(e.contains(want), "{s}: {e}");
        }
    }

    #[test]
    fn candidates_stay_in_the_range_and_keep_parity() {
        let r = PortRange::new(50000, 50009).unwrap();
        let all: Vec<u16> = r.candidates(PortRequest::Any, 7, 100).collect();
        assert_eq!(all.len(), 10, "each port once: {all:?}");
        assert_eq!(all.first(), Some(&50007));
        assert!(all.iter().all(|p| r.contains(*p)));
        let even: Vec<u16> = r
            .candidates(PortRequest::Even { reserve_next: true }, 3, 100)
            .collect();
        assert_eq!(even.len(), 5, "{even:?}");
        assert!(even.iter().all(|p| p.is_multiple_of(2) && *p < 50009));
        let r = PortRange::new(50000, 50008).unwrap();
        let pairs: Vec<u16> = r
            .candidates(PortRequest::Even { reserve_next: true }, 0, 100)
            .collect();
        assert!(!pairs.contains(&50008), "50009 is outside: {pairs:?}");
        assert_eq!(pairs.len(), 4);
        let odd_min = PortRange::new(50001, 50001).unwrap();
        assert_eq!(
            odd_min
                .candidates(
                    PortRequest::Even {
                        reserve_next: false
                    },
                    0,
                    9
                )
                .count(),
            0
        );
        let exact: Vec<u16> = r.candidates(PortRequest::Exact(50003), 5, 100).collect();
        assert_eq!(exact, [50003]);
        assert_eq!(r.candidates(PortRequest::Any, 0, 3).count(), 3);
    }

    #[test]
    fn a_reservation_is_used_once_by_its_family_before_it_expires() {
        let t0 = Instant::now();
        let res = Reservations::new(Duration::from_secs(30), 2);
        let addr: SocketAddr = "10.0.0.5:50001".parse().unwrap();
        let token = ReservationToken(7);
        res.reserve(token, addr, t0).unwrap();
        assert!(res.is_reserved(addr, t0));
        assert_eq!(
            res.redeem(token, AddressFamily::IPV6, t0),
            Err(RedeemError::WrongFamily)
        );
        assert_eq!(res.redeem(token, AddressFamily::IPV4, t0), Ok(addr));
        assert_eq!(
            res.redeem(token, AddressFamily::IPV4, t0),
            Err(RedeemError::Unknown)
        );
        res.reserve(token, addr, t0).unwrap();
        let later = t0 + Duration::from_secs(30);
        assert!(!res.is_reserved(addr, later));
        assert_eq!(
            res.redeem(token, AddressFamily::IPV4, later),
            Err(RedeemError::Unknown)
        );
        res.reserve(ReservationToken(1), addr, t0).unwrap();
        assert_eq!(
            res.reserve(ReservationToken(1), "10.0.0.5:50003".parse().unwrap(), t0),
            Err(ReserveError::Taken)
        );
        res.reserve(ReservationToken(2), "10.0.0.5:50003".parse().unwrap(), t0)
            .unwrap();
        assert_eq!(
            res.reserve(ReservationToken(3), "10.0.0.5:50005".parse().unwrap(), t0),
            Err(ReserveError::Full)
        );
    }
}
