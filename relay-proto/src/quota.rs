//! Allocation quotas shared by every shard: a total and a per-user limit (486).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts allocations. Touched on Allocate and deallocation only, never per packet.
#[derive(Debug)]
pub struct Quotas {
    total_max: usize,
    per_user_max: usize,
    total: AtomicUsize,
    per_user: Mutex<HashMap<String, usize>>,
}

impl Quotas {
    /// Limits; 0 means unlimited.
    pub fn new(total_max: usize, per_user_max: usize) -> Quotas {
        Quotas {
            total_max,
            per_user_max,
            total: AtomicUsize::new(0),
            per_user: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one allocation for `user`, or says no.
    pub fn acquire(&self, user: &str) -> bool {
        let mut users = self.per_user.lock().unwrap_or_else(|p| p.into_inner());
        let mine = users.get(user).copied().unwrap_or(0);
        if self.per_user_max != 0 && mine >= self.per_user_max {
            return false;
        }
        let total = self.total.load(Ordering::Relaxed);
        if self.total_max != 0 && total >= self.total_max {
            return false;
        }
        self.total.fetch_add(1, Ordering::Relaxed);
        users.insert(user.to_string(), mine + 1);
        true
    }

    /// Returns one allocation of `user`.
    pub fn release(&self, user: &str) {
        let mut users = self.per_user.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = users.get_mut(user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                users.remove(user);
            }
            let _ = self
                .total
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                    Some(t.saturating_sub(1))
                });
        }
    }

    /// Allocations now.
    pub fn total(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        let q = Quotas::new(3, 2);
        assert!(q.acquire("a") && q.acquire("a"));
        assert!(!q.acquire("a"));
        assert!(q.acquire("b"));
        assert!(!q.acquire("c"), "total");
        q.release("a");
        assert!(q.acquire("c"));
        assert_eq!(q.total(), 3);
        q.release("nobody");
        assert_eq!(q.total(), 3);
    }
}
