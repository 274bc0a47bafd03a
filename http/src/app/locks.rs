//! Serialisation of invariants per key, not per process: changes that check
//! a tenant-scoped rule first (the last owner, a staff member's record) hold
//! their tenant's lock, and claims of an email address (unique across the
//! instance) hold that address's lock. Two tenants never wait for each
//! other, and a tenant owned by one node of a cluster needs nothing global.
//!
//! Each lock lives while someone holds or waits for it; the table keeps
//! weak references and drops dead ones as it goes.

use parley_engine::TenantId;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// Async locks by key.
pub struct Keyed<K> {
    table: Mutex<HashMap<K, Weak<AsyncMutex<()>>>>,
}

impl<K: Eq + Hash + Clone> Keyed<K> {
    pub fn new() -> Self {
        Self {
            table: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for and holds the lock of `key`.
    pub async fn lock(&self, key: &K) -> OwnedMutexGuard<()> {
        let m = {
            let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
            if t.len() > 64 {
                t.retain(|_, w| w.strong_count() > 0);
            }
            match t.get(key).and_then(Weak::upgrade) {
                Some(m) => m,
                None => {
                    let m = Arc::new(AsyncMutex::new(()));
                    t.insert(key.clone(), Arc::downgrade(&m));
                    m
                }
            }
        };
        m.lock_owned().await
    }

    /// Locks alive (held or awaited) now.
    pub fn live(&self) -> usize {
        let t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        t.values().filter(|w| w.strong_count() > 0).count()
    }
}

impl<K: Eq + Hash + Clone> Default for Keyed<K> {
    fn default() -> Self {
        Self::new()
    }
}

/// The application's locks.
#[derive(Default)]
pub struct Locks {
    tenants: Keyed<TenantId>,
    emails: Keyed<String>,
}

impl Locks {
    /// Held while a change checks and writes a rule of tenant `t`.
    pub async fn tenant(&self, t: TenantId) -> OwnedMutexGuard<()> {
        self.tenants.lock(&t).await
    }

    /// Held while an email address is checked free and claimed.
    pub async fn email(&self, email: &str) -> OwnedMutexGuard<()> {
        self.emails.lock(&email.to_ascii_lowercase()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn one_key_waits_another_does_not_and_dead_locks_go() {
        let k: Arc<Keyed<u32>> = Arc::new(Keyed::new());
        let held = k.lock(&1).await;
        // Another key is free at once.
        let other = tokio::time::timeout(Duration::from_millis(100), k.lock(&2)).await;
        assert!(other.is_ok());
        drop(other);
        // The same key waits until released.
        let k2 = k.clone();
        let waiter = tokio::spawn(async move { k2.lock(&1).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished());
        drop(held);
        let g = tokio::time::timeout(Duration::from_secs(1), waiter).await;
        assert!(g.is_ok());
        drop(g);
        assert_eq!(k.live(), 0);
    }
}
