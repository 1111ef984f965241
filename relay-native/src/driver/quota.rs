//! One allocation quota for every shard: the core's [`QuotaCounts`] behind a lock, taken on
//! Allocate and deallocation only, never per packet.

use std::sync::{Arc, Mutex, PoisonError};

use relay_proto::{Account, Quota, QuotaCounts, QuotaExceeded};

/// A handle on the relay's quota; each shard's core holds a clone.
#[derive(Clone, Debug)]
pub struct SharedQuota(Arc<Mutex<QuotaCounts>>);

impl SharedQuota {
    /// Limits: most allocations in total and per user (0: no limit).
    pub fn new(total_max: usize, per_user_max: usize) -> SharedQuota {
        SharedQuota(Arc::new(Mutex::new(QuotaCounts::new(
            total_max,
            per_user_max,
        ))))
    }
}

impl Quota for SharedQuota {
    fn acquire(&mut self, account: &Account) -> Result<(), QuotaExceeded> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .acquire(account)
    }

    fn release(&mut self, account: &Account) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .release(account);
    }
}
