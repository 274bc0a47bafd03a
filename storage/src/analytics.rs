//! Analytics buckets: read back by owner and hour range. They are written
//! only by the writer, folding the [`crate::Count`]s of each batch.

use crate::codec::decode;
use crate::keys::{self, Tally};
use crate::{Result, Store, WriteBatch};
use parley_engine::analytics::Bucket;
use parley_engine::TenantId;

/// Reading and expiring analytics buckets.
pub trait AnalyticsStore {
    /// The buckets of `who` from hour `from` to hour `to` (both included).
    fn buckets(&self, t: TenantId, who: Tally, from: u32, to: u32) -> Result<Vec<(u32, Bucket)>>;
    /// Adds the deletion of at most `limit` buckets and count-once markers
    /// of `t` older than hour `before`; returns how many.
    fn purge_buckets(
        &self,
        batch: &mut WriteBatch,
        t: TenantId,
        before: u32,
        limit: usize,
    ) -> Result<usize>;
}

fn hour_of_key(k: &[u8]) -> Option<u32> {
    k.get(k.len().checked_sub(4)?..)?
        .try_into()
        .ok()
        .map(u32::from_be_bytes)
}

impl AnalyticsStore for Store {
    fn buckets(&self, t: TenantId, who: Tally, from: u32, to: u32) -> Result<Vec<(u32, Bucket)>> {
        if from > to {
            return Ok(Vec::new());
        }
        let start = keys::bucket(t, who, from).to_bytes();
        let end = keys::bucket(t, who, to).to_bytes();
        let mut out = Vec::new();
        for kv in self.data().range(start..=end) {
            let (k, v) = kv?;
            if let Some(h) = hour_of_key(&k) {
                out.push((h, decode(&v)?));
            }
        }
        Ok(out)
    }

    fn purge_buckets(
        &self,
        batch: &mut WriteBatch,
        t: TenantId,
        before: u32,
        limit: usize,
    ) -> Result<usize> {
        let mut n = 0;
        for k in self
            .data()
            .scan_prefix(keys::keyspace(t, keys::ks::BUCKET))
            .keys()
        {
            let k = k?;
            if hour_of_key(&k).is_some_and(|h| h < before) {
                batch.delete(k.to_vec());
                n += 1;
                if n >= limit {
                    return Ok(n);
                }
            }
        }
        let start = keys::keyspace(t, keys::ks::ONCE);
        let end = keys::once(t, before, 0, &[]);
        for k in self.data().range(start..end).keys() {
            batch.delete(k?.to_vec());
            n += 1;
            if n >= limit {
                break;
            }
        }
        Ok(n)
    }
}
