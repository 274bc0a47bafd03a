//! Webhooks: a tenant's endpoints, and their deliveries (`webhook ‖
//! delivery`, time order) with a global due index for the deliverer.

use crate::codec::{decode, encode};
use crate::stores::get;
use crate::{keys, Result, Store, WriteBatch};
use parley_engine::webhook::{DeliveryRecord, DeliveryStatus, WebhookEndpoint};
use parley_engine::*;

fn delivery_key(t: TenantId, w: WebhookId, d: DeliveryId) -> Vec<u8> {
    let mut k = keys::by_id(t, keys::ks::DELIVERY, w.to_bytes());
    k.extend_from_slice(&d.to_bytes());
    k
}

/// Endpoints and deliveries.
pub trait WebhookStore {
    fn put_webhook(&self, batch: &mut WriteBatch, w: &WebhookEndpoint);
    fn webhook(&self, t: TenantId, id: WebhookId) -> Result<Option<WebhookEndpoint>>;
    /// Every endpoint of a tenant, oldest first.
    fn webhooks(&self, t: TenantId) -> Result<Vec<WebhookEndpoint>>;
    /// Removes an endpoint and its delivery log.
    fn delete_webhook(&self, batch: &mut WriteBatch, w: &WebhookEndpoint) -> Result<()>;
    /// Writes a new delivery (indexed as due when pending).
    fn put_delivery(&self, batch: &mut WriteBatch, d: &DeliveryRecord);
    /// Replaces `old` with `new`, moving the due index entry.
    fn update_delivery(&self, batch: &mut WriteBatch, old: &DeliveryRecord, new: &DeliveryRecord);
    fn delivery(&self, t: TenantId, w: WebhookId, id: DeliveryId)
        -> Result<Option<DeliveryRecord>>;
    /// An endpoint's deliveries, newest first, at most `limit`.
    fn deliveries(&self, t: TenantId, w: WebhookId, limit: usize) -> Result<Vec<DeliveryRecord>>;
    /// Pending deliveries due by `now`, soonest first: `(due, tenant, webhook, id)`.
    fn deliveries_due(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<(Timestamp, TenantId, WebhookId, DeliveryId)>> {
        self.deliveries_due_except(now, limit, usize::MAX, &|_, _| false)
    }
    /// Like [`WebhookStore::deliveries_due`], passing over the deliveries
    /// `skip` names (a tenant at its in-flight cap, a delivery under way) and
    /// looking at no more than `scan` index entries.
    fn deliveries_due_except(
        &self,
        now: Timestamp,
        limit: usize,
        scan: usize,
        skip: &dyn Fn(TenantId, DeliveryId) -> bool,
    ) -> Result<Vec<(Timestamp, TenantId, WebhookId, DeliveryId)>>;
}

fn due_value(d: &DeliveryRecord) -> Vec<u8> {
    d.webhook_id.to_bytes().to_vec()
}

impl WebhookStore for Store {
    fn put_webhook(&self, batch: &mut WriteBatch, w: &WebhookEndpoint) {
        batch.put(
            keys::by_id(w.tenant_id, keys::ks::WEBHOOK, w.id.to_bytes()),
            encode(w),
        );
    }

    fn webhook(&self, t: TenantId, id: WebhookId) -> Result<Option<WebhookEndpoint>> {
        get(
            self.data(),
            &keys::by_id(t, keys::ks::WEBHOOK, id.to_bytes()),
        )
    }

    fn webhooks(&self, t: TenantId) -> Result<Vec<WebhookEndpoint>> {
        crate::accounts::scan(self, keys::keyspace(t, keys::ks::WEBHOOK))
    }

    fn delete_webhook(&self, batch: &mut WriteBatch, w: &WebhookEndpoint) -> Result<()> {
        batch.delete(keys::by_id(w.tenant_id, keys::ks::WEBHOOK, w.id.to_bytes()));
        for kv in self.data().scan_prefix(keys::by_id(
            w.tenant_id,
            keys::ks::DELIVERY,
            w.id.to_bytes(),
        )) {
            let (k, v) = kv?;
            let d: DeliveryRecord = decode(&v)?;
            if d.status == DeliveryStatus::Pending {
                batch.delete_global(keys::delivery_due(d.next_attempt_at, d.tenant_id, d.id));
            }
            batch.delete(k.to_vec());
        }
        Ok(())
    }

    fn put_delivery(&self, batch: &mut WriteBatch, d: &DeliveryRecord) {
        batch.put(delivery_key(d.tenant_id, d.webhook_id, d.id), encode(d));
        if d.status == DeliveryStatus::Pending {
            batch.put_global(
                keys::delivery_due(d.next_attempt_at, d.tenant_id, d.id),
                due_value(d),
            );
        }
    }

    fn update_delivery(&self, batch: &mut WriteBatch, old: &DeliveryRecord, new: &DeliveryRecord) {
        if old.status == DeliveryStatus::Pending {
            batch.delete_global(keys::delivery_due(
                old.next_attempt_at,
                old.tenant_id,
                old.id,
            ));
        }
        self.put_delivery(batch, new);
    }

    fn delivery(
        &self,
        t: TenantId,
        w: WebhookId,
        id: DeliveryId,
    ) -> Result<Option<DeliveryRecord>> {
        get(self.data(), &delivery_key(t, w, id))
    }

    fn deliveries(&self, t: TenantId, w: WebhookId, limit: usize) -> Result<Vec<DeliveryRecord>> {
        self.data()
            .scan_prefix(keys::by_id(t, keys::ks::DELIVERY, w.to_bytes()))
            .rev()
            .take(limit)
            .map(|kv| decode(&kv?.1))
            .collect()
    }

    fn deliveries_due_except(
        &self,
        now: Timestamp,
        limit: usize,
        scan: usize,
        skip: &dyn Fn(TenantId, DeliveryId) -> bool,
    ) -> Result<Vec<(Timestamp, TenantId, WebhookId, DeliveryId)>> {
        let prefix = keys::delivery_due_prefix();
        let mut out = Vec::new();
        for kv in self.global().scan_prefix(&prefix).take(scan) {
            let (k, v) = kv?;
            let rest = &k[prefix.len()..];
            let (Some(due), Some(t), Some(d), Some(w)) = (
                rest.get(..8)
                    .and_then(|d| d.try_into().ok())
                    .map(u64::from_be_bytes),
                rest.get(8..).and_then(TenantId::from_slice),
                rest.get(24..).and_then(DeliveryId::from_slice),
                WebhookId::from_slice(&v),
            ) else {
                continue;
            };
            if due > now.millis() || out.len() >= limit {
                break;
            }
            if !skip(t, d) {
                out.push((Timestamp(due), t, w, d));
            }
        }
        Ok(out)
    }
}
