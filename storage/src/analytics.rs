//! Analytics buckets: read back by owner and hour range. They are written
//! only by the writer, folding the [`crate::Count`]s of each batch into the
//! hour's bucket and, for a site, its day's rollup ([`Day`]), which a long
//! range reads instead of the day's 24 buckets.

use crate::codec::decode;
use crate::keys::{self, Tally};
use crate::{Result, Store, WriteBatch};
use parley_engine::analytics::{day_of, Bucket, Day, DAY_HOURS};
use parley_engine::{SiteId, TenantId};

/// Reading and expiring analytics buckets.
pub trait AnalyticsStore {
    /// The buckets of `who` from hour `from` to hour `to` (both included).
    fn buckets(&self, t: TenantId, who: Tally, from: u32, to: u32) -> Result<Vec<(u32, Bucket)>>;
    /// The daily rollups of `site` starting from hour `from` to hour `to`
    /// (both included), by their first hour.
    fn days(&self, t: TenantId, site: SiteId, from: u32, to: u32) -> Result<Vec<(u32, Day)>>;
    /// Hours `from` to `to` (both included) of `site`, as cheaply as they
    /// can be read: the whole UTC days among them as rollups, the rest as
    /// hourly buckets — also a whole day without a rollup (counted before
    /// rollups were kept, and not since), so nothing counted is left out.
    fn site_range(&self, t: TenantId, site: SiteId, from: u32, to: u32) -> Result<SiteRange>;
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

/// A site's hours as [`AnalyticsStore::site_range`] reads them; give both
/// to [`parley_engine::analytics::report_from`].
#[derive(Debug, Default)]
pub struct SiteRange {
    pub buckets: Vec<(u32, Bucket)>,
    pub days: Vec<(u32, Day)>,
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

    fn days(&self, t: TenantId, site: SiteId, from: u32, to: u32) -> Result<Vec<(u32, Day)>> {
        if from > to {
            return Ok(Vec::new());
        }
        let (start, end) = (keys::day(t, site, from), keys::day(t, site, to));
        let mut out = Vec::new();
        for kv in self.data().range(start..=end) {
            let (k, v) = kv?;
            if let Some(h) = hour_of_key(&k) {
                out.push((h, decode(&v)?));
            }
        }
        Ok(out)
    }

    fn site_range(&self, t: TenantId, site: SiteId, from: u32, to: u32) -> Result<SiteRange> {
        let mut out = SiteRange::default();
        if from > to {
            return Ok(out);
        }
        let who = Tally::Site(site);
        // Whole days: from the first day starting at or after `from` to the
        // last one ending at or before `to`.
        let first = if from % DAY_HOURS == 0 {
            from
        } else {
            day_of(from).saturating_add(DAY_HOURS)
        };
        // (The hour after `to`'s day, rounded down to a day's start.)
        let end =
            ((to as u64 + 1) / DAY_HOURS as u64 * DAY_HOURS as u64).min(u32::MAX as u64) as u32;
        if first >= end {
            out.buckets = self.buckets(t, who, from, to)?;
            return Ok(out);
        }
        if from < first {
            out.buckets.extend(self.buckets(t, who, from, first - 1)?);
        }
        out.days = self.days(t, site, first, end - DAY_HOURS)?;
        // Days with no rollup, a run at a time, from their hourly buckets.
        let mut have = out.days.iter().map(|(h, _)| *h).peekable();
        let mut run: Option<u32> = None;
        let mut d = first;
        while d < end {
            let present = have.next_if_eq(&d).is_some();
            match (present, run) {
                (false, None) => run = Some(d),
                (true, Some(a)) => {
                    out.buckets.extend(self.buckets(t, who, a, d - 1)?);
                    run = None;
                }
                _ => {}
            }
            d += DAY_HOURS;
        }
        if let Some(a) = run {
            out.buckets.extend(self.buckets(t, who, a, end - 1)?);
        }
        if end <= to {
            out.buckets.extend(self.buckets(t, who, end, to)?);
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
