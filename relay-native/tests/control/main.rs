//! The control plane as a whole: the worker in local workerd with D1 and several
//! relay-native processes, each a client of the edge. Revocation reaches the relays within
//! 5 s (measured), also after they were cut off from the edge; usage totals at the edge equal
//! what clients sent, through the kernel fast path too and across a relay restart; callers
//! are handed their nearest healthy relay first. Needs the built worker (`cargo xtask
//! build-edge`), coturn's clients and root for `--offload lo`: a missing one is a failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "../common/mod.rs"]
mod common;
mod config;
mod console;
#[path = "../../../edge-oauth/tests/common/mod.rs"]
mod edge;
mod figures;
mod proxy;
mod revocation;
mod selection;
mod system;
mod usage;
