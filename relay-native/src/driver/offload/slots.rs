//! Which counter slots of bpf/offload.c's EDGETURN_COUNTERS belong to a live route.
//!
//! Each route owns one slot `s` while it is in the maps: its client-to-peer counters are
//! entry `2s` and its peer-to-client counters entry `2s + 1`. Counters live apart from the
//! routes so that moving a route's deadline never touches them. A freed slot goes to the back
//! of the queue, so it is reused as late as possible: a program that looked a route up just
//! before user space withdrew it finishes long before its slot comes round again. Slots never
//! used come before every freed one, so the queue holds only freed slots and a relay that
//! never used the fast path holds no memory for it.

use std::collections::VecDeque;

/// As many slots as the route maps hold entries.
pub const ROUTES: u32 = 65_536;

/// The free slots: those never used (from `fresh` up to `n`), then the freed ones, oldest
/// first.
pub struct Slots {
    fresh: u32,
    n: u32,
    freed: VecDeque<u32>,
}

impl Slots {
    /// All `n` slots free.
    pub fn new(n: u32) -> Slots {
        Slots {
            fresh: 0,
            n,
            freed: VecDeque::new(),
        }
    }

    /// A slot for a new route, or `None` when every slot is taken (the route then stays on
    /// the sockets).
    pub fn take(&mut self) -> Option<u32> {
        if self.fresh < self.n {
            self.fresh += 1;
            return Some(self.fresh - 1);
        }
        self.freed.pop_front()
    }

    /// Returns a withdrawn route's slot.
    pub fn give_back(&mut self, slot: u32) {
        self.freed.push_back(slot);
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
    fn every_slot_is_handed_out_once_until_one_comes_back() {
        let mut s = Slots::new(4);
        let all: Vec<_> = std::iter::from_fn(|| s.take()).collect();
        assert_eq!(all, vec![0, 1, 2, 3]);
        s.give_back(2);
        s.give_back(0);
        assert_eq!((s.take(), s.take(), s.take()), (Some(2), Some(0), None));
    }

    #[test]
    fn entries_do_not_overlap() {
        assert_eq!(Slots::entries(0), (0, 1));
        assert_eq!(Slots::entries(ROUTES - 1), (2 * ROUTES - 2, 2 * ROUTES - 1));
    }
}
