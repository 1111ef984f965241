//! The relay for its operator: Prometheus metrics, health, readiness and the drain endpoint
//! (`serve --metrics ADDR:PORT`). The figures come from a
//! [`Handle`](crate::driver::Handle) snapshot: counted per event by each shard, per
//! datagram only by the core's per-allocation counters and the kernel fast path's map
//! slots that exist anyway, and added up when Prometheus asks. Metric meanings:
//! docs/relay.md.

pub mod exposition;
pub mod http;
