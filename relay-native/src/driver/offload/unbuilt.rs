//! Stands in for the aya side in a relay-native built without clang: a `Kernel` cannot be
//! made, so `--offload` fails at start with the reason and no route is ever applied.

use super::{OffloadError, Route};
use relay_proto::Traffic;

/// No value of this type exists.
pub(super) enum Kernel {}

impl Kernel {
    pub(super) fn attach(_interfaces: &[String]) -> Result<Kernel, OffloadError> {
        Err(OffloadError(
            "this relay-native was built without the kernel fast path (clang was missing at build time; `cargo xtask setup` installs it)".into(),
        ))
    }

    pub(super) fn set(
        &mut self,
        _: &Route,
        _: (bool, bool),
        _: u64,
        _: u32,
    ) -> Result<(), OffloadError> {
        match *self {}
    }

    pub(super) fn zero(&mut self, _: u32) -> Result<(), OffloadError> {
        match *self {}
    }

    pub(super) fn counters(&self, _: u32) -> Traffic {
        match *self {}
    }

    pub(super) fn clear(&mut self, _: &Route) {
        match *self {}
    }
}
