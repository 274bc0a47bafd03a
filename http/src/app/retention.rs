//! The retention janitor: for each tenant, deletes what its plan keeps no
//! longer (conversations and their logs, page views, analytics buckets) and audit entries
//! past `audit.retention_days`, a batch at a time through the writer, so
//! chat never waits behind it.

use super::ApiError;
use crate::state::App;
use parley_engine::*;
use parley_storage::{AnalyticsStore, AuthStore, RetentionStore, WriteBatch};
use std::time::Duration;

fn cutoff(days: Option<u32>) -> Option<Timestamp> {
    let days = u64::from(days?);
    Some(Timestamp(
        Timestamp::now().millis().saturating_sub(days * 86_400_000),
    ))
}

/// One pass over every tenant; returns how many records went.
pub async fn sweep(app: &App) -> Result<usize, ApiError> {
    let batch = app.config.retention.batch.max(1);
    let audit_days = u32::try_from(app.config.audit.retention_days).ok();
    let mut total = 0;
    // Every node may sweep every tenant: the deletes are idempotent, and
    // taking each tenant's lease for it would gather them all on one node.
    for t in app.store.tenants()? {
        let plan = super::plans::plan_of(app, t.id)?;
        loop {
            let mut b = WriteBatch::new();
            let mut n = 0;
            if let Some(c) = cutoff(plan.retention_days) {
                n += app.store.purge_conversations(&mut b, t.id, c, batch)?;
                n += app.store.purge_page_views(&mut b, t.id, c, batch)?;
                let hour = parley_engine::analytics::hour_of(c);
                n += app.store.purge_buckets(&mut b, t.id, hour, batch)?;
            }
            if let Some(c) = cutoff(audit_days) {
                n += app.store.purge_audit(&mut b, t.id, c, batch)?;
            }
            if n == 0 {
                break;
            }
            app.writer.write(b).await?;
            total += n;
            // Let the hot path have the writer between batches.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    if total > 0 {
        tracing::info!(deleted = total, "retention: past-retention records deleted");
    }
    Ok(total)
}

/// Runs [`sweep`] every `every` until the server stops.
pub async fn run(app: App, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = sweep(&app).await {
            tracing::warn!(error = %e.message, "retention sweep");
        }
    }
}
