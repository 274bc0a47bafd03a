//! Analytics reports off the async threads: a report reads and folds a
//! range of buckets (up to a year of every site), which is blocking work,
//! so it runs on the blocking pool; at most `analytics.reports_per_tenant`
//! of one tenant's at once (the rest wait their turn, and one busy tenant
//! cannot take every blocking thread); and each is kept
//! `analytics.report_cache_secs` for the next ask, so a dashboard opened
//! by several people, or reloaded, folds a range once.

use crate::api::error::ApiError;
use crate::config::AnalyticsConfig;
use parley_engine::analytics::Report;
use parley_engine::TenantId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// A kept report's name: its tenant and the request as asked.
type Key = (TenantId, String);

/// Most reports kept at once, over every tenant (the oldest goes first).
const MAX_KEPT: usize = 1_024;

/// The node's report runner and cache (see the module header).
pub struct Reports {
    per_tenant: usize,
    keep: Duration,
    /// Each tenant's permits; dropped when nobody holds or waits for one.
    turns: Mutex<HashMap<TenantId, Arc<Semaphore>>>,
    /// Reports by tenant and the request that asked for them, with when.
    kept: Mutex<HashMap<Key, (Instant, Arc<Report>)>>,
}

impl Reports {
    /// A runner with the config's limits.
    pub fn new(c: &AnalyticsConfig) -> Self {
        Self {
            per_tenant: c.reports_per_tenant.max(1),
            keep: Duration::from_secs(c.report_cache_secs),
            turns: Mutex::default(),
            kept: Mutex::default(),
        }
    }

    fn cached(&self, key: &Key) -> Option<Arc<Report>> {
        let kept = self.kept.lock().expect("reports lock");
        kept.get(key)
            .filter(|(at, _)| at.elapsed() < self.keep)
            .map(|(_, r)| r.clone())
    }

    fn turn(&self, t: TenantId) -> Arc<Semaphore> {
        let mut turns = self.turns.lock().expect("reports lock");
        if turns.len() > 256 {
            turns.retain(|_, s| Arc::strong_count(s) > 1);
        }
        turns
            .entry(t)
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_tenant)))
            .clone()
    }

    /// The report `key` names for tenant `t`: kept, or made by `make` on
    /// the blocking pool once it is `t`'s turn.
    pub async fn get(
        &self,
        t: TenantId,
        key: String,
        make: impl FnOnce() -> Result<Report, ApiError> + Send + 'static,
    ) -> Result<Arc<Report>, ApiError> {
        let key = (t, key);
        if let Some(r) = self.cached(&key) {
            return Ok(r);
        }
        let turn = self.turn(t);
        let _permit = turn.acquire().await.map_err(ApiError::internal)?;
        // Made while this one waited (the same dashboard opened twice)?
        if let Some(r) = self.cached(&key) {
            return Ok(r);
        }
        let report = Arc::new(
            tokio::task::spawn_blocking(make)
                .await
                .map_err(ApiError::internal)??,
        );
        if !self.keep.is_zero() {
            let mut kept = self.kept.lock().expect("reports lock");
            kept.retain(|_, (at, _)| at.elapsed() < self.keep);
            if kept.len() >= MAX_KEPT {
                if let Some(oldest) = kept
                    .iter()
                    .min_by_key(|(_, (at, _))| *at)
                    .map(|(k, _)| k.clone())
                {
                    kept.remove(&oldest);
                }
            }
            kept.insert(key, (Instant::now(), report.clone()));
        }
        Ok(report)
    }
}
