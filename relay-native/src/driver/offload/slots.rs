//! Which counter slots of bpf/offload.c's EDGETURN_COUNTERS belong to a live route.
//!
//! Each route owns one slot `s` while it is in the maps: its client-to-peer counters are
//! entry `2s` and its peer-to-client counters entry `2s + 1`. Counters live apart from the
//! routes so that moving a route's deadline never touches them. A freed slot goes to the back
//! of the queue, so it is reused as late as possible: a program that looked a route up just
//! before user space withdrew it finishes long before its slot comes round again.

use std::collections::VecDeque;

/// As many slots as the route maps hold entries.
pub const ROUTES: u32 = 65_536;

/// The free slots, oldest first.
pub struct Slots {
    free: VecDeque<u32>,
}

impl Slots {
    /// All `n` slots free.
    pub fn new(n: u32) -> Slots {
        Slots {
            free: (0..n).collect(),
        }
    }

    /// A slot for a new route, or `None` when every slot is taken (the route then stays on
    /// the sockets).
    pub fn take(&mut self) -> Option<u32> {
        self.free.pop_front()
    }

    /// Returns a withdrawn route's slot.
    pub fn give_back(&mut self, slot: u32) {
        self.free.push_back(slot);
    }

    /// The counters entries of `slot`: (client to peer, peer to client).
    pub fn entries(slot: u32) -> (u32, u32) {
        (2 * slot, 2 * slot + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_freed_slot_is_reused_last() {
        let mut s = Slots::new(3);
        assert_eq!((s.take(), s.take()), (Some(0), Some(1)));
        s.give_back(0);
        assert_eq!((s.take(), s.take(), s.take()), (Some(2), Some(0), None));
    }

    #[test]
    fn entries_do_not_overlap() {
        assert_eq!(Slots::entries(0), (0, 1));
        assert_eq!(Slots::entries(ROUTES - 1), (2 * ROUTES - 2, 2 * ROUTES - 1));
    }
}
