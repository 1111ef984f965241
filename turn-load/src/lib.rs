//! A TURN load generator that is not the bottleneck of the relay it measures.
//!
//! It opens N allocations through a relay (long-term credentials), binds one channel per
//! allocation to a port of its own echo peer, and drives ChannelData at a set rate. Every
//! payload carries the run, the allocation, a sequence number and the time it was sent; the
//! echo peer stamps the time it saw the payload before sending it back. So the client counts
//! loss exactly (which sequence numbers came back) and measures the one-way delay of each
//! direction through the relay on one clock: the client and the echo peer are threads of the
//! same process.
//!
//! Both ends use batched syscalls: the client sends each allocation's burst with one
//! `sendmmsg` and receives with `recvmmsg`; the echo peer receives with `recvmmsg` and answers a
//! batch of equal-sized datagrams for one address with one UDP GSO `sendmsg` (as coturn 4.17's
//! own peer and QUIC stacks do), or with `sendmmsg`.
//!
//! ```no_run
//! use turn_load::{Credentials, Plan, Target, drive, echo::Echo, flows};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let target = Target::Relay {
//!     server: "127.0.0.1:3478".parse()?,
//!     credentials: Credentials { user: "bench".into(), password: "secret".into() },
//! };
//! let ip = "127.0.0.1".parse()?;
//! let echo = Echo::bind(ip, 100, true)?;
//! let flows = flows::open(&target, ip, &echo.addrs()?)?;
//! let report = echo.serve(|| drive::run(&flows, &Plan::at_rate(20_000.0)))?;
//! println!("lost {} of {}", report.lost, report.sent);
//! # Ok(())
//! # }
//! ```

pub mod clock;
pub mod drive;
pub mod echo;
pub mod flows;
pub mod payload;
pub mod ramp;
pub mod report;
pub mod tally;
pub mod turn;
pub mod udp;

pub use drive::Plan;
pub use flows::{Flow, Target};
pub use report::{Delays, RampReport, Report};
pub use turn::Credentials;
