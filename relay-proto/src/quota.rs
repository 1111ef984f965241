//! Allocation quotas (486): how many allocations the relay and each user may hold.
//!
//! The core asks a [`Quota`] on Allocate and gives back when an allocation ends, never per
//! packet. Where the counts live is the driver's choice: one core can own a [`QuotaCounts`];
//! a relay with a core per thread shares one behind its own lock (relay-native's shards do),
//! so the core itself takes no lock.

use std::collections::HashMap;

use crate::auth::Account;

/// Counts allocations against limits, for one core or several.
pub trait Quota: Send {
    /// Takes one allocation for `user`, or says which limit is reached.
    fn acquire(&mut self, account: &Account) -> Result<(), QuotaExceeded>;
    /// Gives back one allocation of `user` (taken earlier with [`Quota::acquire`]).
    fn release(&mut self, account: &Account);
}

/// Which limit refused an allocation (both are answered with 486).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuotaExceeded {
    /// The relay's total.
    Total,
    /// The user's own.
    PerUser,
}

/// A total and a per-user limit, 0 meaning none. Memory is one entry per user that holds
/// an allocation.
#[derive(Debug, Default)]
pub struct QuotaCounts {
    total_max: usize,
    per_user_max: usize,
    total: usize,
    per_user: HashMap<Account, usize>,
}

impl QuotaCounts {
    /// Limits; 0 means unlimited.
    pub fn new(total_max: usize, per_user_max: usize) -> QuotaCounts {
        QuotaCounts {
            total_max,
            per_user_max,
            ..QuotaCounts::default()
        }
    }

    /// Allocations now.
    pub fn total(&self) -> usize {
        self.total
    }
}

impl Quota for QuotaCounts {
    fn acquire(&mut self, account: &Account) -> Result<(), QuotaExceeded> {
        let mine = self.per_user.get(account).copied().unwrap_or(0);
        if self.per_user_max != 0 && mine >= self.per_user_max {
            return Err(QuotaExceeded::PerUser);
        }
        if self.total_max != 0 && self.total >= self.total_max {
            return Err(QuotaExceeded::Total);
        }
        self.total += 1;
        self.per_user.insert(account.clone(), mine + 1);
        Ok(())
    }

    fn release(&mut self, account: &Account) {
        if let Some(n) = self.per_user.get_mut(account) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_user.remove(account);
            }
            self.total = self.total.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(name: &str) -> Account {
        Account::Static(name.to_string())
    }

    #[test]
    fn limits() {
        let mut q = QuotaCounts::new(3, 2);
        assert!(q.acquire(&u("a")).is_ok() && q.acquire(&u("a")).is_ok());
        assert_eq!(q.acquire(&u("a")), Err(QuotaExceeded::PerUser));
        assert!(q.acquire(&u("b")).is_ok());
        assert_eq!(q.acquire(&u("c")), Err(QuotaExceeded::Total));
        q.release(&u("a"));
        assert!(q.acquire(&u("c")).is_ok());
        assert_eq!(q.total(), 3);
        q.release(&u("nobody"));
        assert_eq!(q.total(), 3);
    }
}
