//! Consultations: a site's form settings (services, booking rules) and its
//! bookings, newest first by id.

use crate::codec::{decode, encode};
use crate::stores::get;
use crate::{keys, Result, Store, WriteBatch};
use parley_engine::account::SiteForms;
use parley_engine::booking::{BookingRecord, BookingRecordV1};
use parley_engine::*;

/// Site forms and bookings.
pub trait BookingStore {
    /// The site's form settings, defaults when never set.
    fn site_forms(&self, t: TenantId, s: SiteId) -> Result<SiteForms>;
    fn put_site_forms(&self, batch: &mut WriteBatch, t: TenantId, s: SiteId, f: &SiteForms);
    fn put_booking(&self, batch: &mut WriteBatch, b: &BookingRecord);
    fn booking(&self, t: TenantId, id: BookingId) -> Result<Option<BookingRecord>>;
    /// Newest first, strictly older than `before`, those `keep` accepts, at most `limit`.
    fn bookings(
        &self,
        t: TenantId,
        before: Option<BookingId>,
        limit: usize,
        keep: &dyn Fn(&BookingRecord) -> bool,
    ) -> Result<Vec<BookingRecord>>;
    /// Every booking that holds its slot and ends after `after`.
    fn bookings_holding(&self, t: TenantId, after: Timestamp) -> Result<Vec<BookingRecord>>;
    /// Schedules a reminder of booking `b` at `due`.
    fn put_reminder(&self, batch: &mut WriteBatch, due: Timestamp, t: TenantId, b: BookingId);
    fn delete_reminder(&self, batch: &mut WriteBatch, due: Timestamp, t: TenantId, b: BookingId);
    /// Reminders due by `now`, soonest first, at most `limit`.
    fn reminders_due(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<(Timestamp, TenantId, BookingId)>>;
}

/// A booking as stored, by this build or by one from before bookings kept
/// the visitor's time zone (read with an empty one).
pub(crate) fn decode_booking(bytes: &[u8]) -> Result<BookingRecord> {
    decode::<BookingRecord>(bytes)
        .or_else(|e| decode::<BookingRecordV1>(bytes).map(Into::into).or(Err(e)))
}

impl BookingStore for Store {
    fn site_forms(&self, t: TenantId, s: SiteId) -> Result<SiteForms> {
        Ok(get(
            self.data(),
            &keys::by_id(t, keys::ks::SITE_FORMS, s.to_bytes()),
        )?
        .unwrap_or_default())
    }

    fn put_site_forms(&self, batch: &mut WriteBatch, t: TenantId, s: SiteId, f: &SiteForms) {
        batch.put(
            keys::by_id(t, keys::ks::SITE_FORMS, s.to_bytes()),
            encode(f),
        );
    }

    fn put_booking(&self, batch: &mut WriteBatch, b: &BookingRecord) {
        batch.put(
            keys::by_id(b.tenant_id, keys::ks::BOOKING, b.id.to_bytes()),
            encode(b),
        );
    }

    fn booking(&self, t: TenantId, id: BookingId) -> Result<Option<BookingRecord>> {
        self.data()
            .get(keys::by_id(t, keys::ks::BOOKING, id.to_bytes()))?
            .map(|v| decode_booking(&v))
            .transpose()
    }

    fn bookings(
        &self,
        t: TenantId,
        before: Option<BookingId>,
        limit: usize,
        keep: &dyn Fn(&BookingRecord) -> bool,
    ) -> Result<Vec<BookingRecord>> {
        let start = keys::keyspace(t, keys::ks::BOOKING);
        let end = before.map_or_else(
            || keys::keyspace(t, keys::ks::BOOKING + 1),
            |b| keys::by_id(t, keys::ks::BOOKING, b.to_bytes()),
        );
        let mut out = Vec::new();
        for kv in self.data().range(start..end).rev() {
            let r = decode_booking(&kv?.1)?;
            if keep(&r) {
                out.push(r);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    fn bookings_holding(&self, t: TenantId, after: Timestamp) -> Result<Vec<BookingRecord>> {
        let mut out = Vec::new();
        for kv in self
            .data()
            .scan_prefix(keys::keyspace(t, keys::ks::BOOKING))
        {
            let b = decode_booking(&kv?.1)?;
            if b.status.holds_slot() && b.span.end > after {
                out.push(b);
            }
        }
        Ok(out)
    }

    fn put_reminder(&self, batch: &mut WriteBatch, due: Timestamp, t: TenantId, b: BookingId) {
        batch.put_global(keys::reminder(due, t, b), Vec::new());
    }

    fn delete_reminder(&self, batch: &mut WriteBatch, due: Timestamp, t: TenantId, b: BookingId) {
        batch.delete_global(keys::reminder(due, t, b));
    }

    fn reminders_due(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<(Timestamp, TenantId, BookingId)>> {
        let prefix = keys::reminder_prefix();
        let mut out = Vec::new();
        for kv in self.global().scan_prefix(&prefix).take(limit) {
            let (k, _) = kv?;
            let rest = &k[prefix.len()..];
            let (Some(due), Some(t), Some(b)) = (
                rest.get(..8)
                    .and_then(|d| d.try_into().ok())
                    .map(u64::from_be_bytes),
                rest.get(8..).and_then(TenantId::from_slice),
                rest.get(24..).and_then(BookingId::from_slice),
            ) else {
                continue;
            };
            if due > now.millis() {
                break;
            }
            out.push((Timestamp(due), t, b));
        }
        Ok(out)
    }
}
