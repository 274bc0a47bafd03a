//! The newsletter: subscribers (by id, plus a per-site index of their
//! lower-cased address), campaigns, and a global index of campaigns being
//! sent so the sender carries on after a restart.

use crate::accounts::newest_first;
use crate::codec::{decode, encode};
use crate::stores::get;
use crate::{keys, Result, Store, WriteBatch};
use parley_engine::newsletter::{CampaignRecord, CampaignStatus, SubscriberRecord};
use parley_engine::*;

/// Subscribers and campaigns.
pub trait NewsletterStore {
    fn put_subscriber(&self, batch: &mut WriteBatch, s: &SubscriberRecord);
    fn subscriber(&self, t: TenantId, id: SubscriberId) -> Result<Option<SubscriberRecord>>;
    fn subscriber_by_email(
        &self,
        t: TenantId,
        site: SiteId,
        email: &str,
    ) -> Result<Option<SubscriberRecord>>;
    /// Newest first, strictly older than `before`, those `keep` accepts, at most `limit`.
    fn subscribers(
        &self,
        t: TenantId,
        before: Option<SubscriberId>,
        limit: usize,
        keep: &dyn Fn(&SubscriberRecord) -> bool,
    ) -> Result<Vec<SubscriberRecord>>;
    /// Oldest first, strictly after `after`, those `keep` accepts, at most `limit`.
    fn subscribers_after(
        &self,
        t: TenantId,
        after: Option<SubscriberId>,
        limit: usize,
        keep: &dyn Fn(&SubscriberRecord) -> bool,
    ) -> Result<Vec<SubscriberRecord>>;
    /// Writes a campaign and keeps the sending index in step with its status.
    fn put_campaign(&self, batch: &mut WriteBatch, c: &CampaignRecord);
    fn campaign(&self, t: TenantId, id: CampaignId) -> Result<Option<CampaignRecord>>;
    /// Newest first, at most `limit`.
    fn campaigns(&self, t: TenantId, limit: usize) -> Result<Vec<CampaignRecord>>;
    /// Every campaign being sent, on any tenant.
    fn campaigns_sending(&self) -> Result<Vec<(TenantId, CampaignId)>>;
}

use keys::sending as sending_key;

impl NewsletterStore for Store {
    fn put_subscriber(&self, batch: &mut WriteBatch, s: &SubscriberRecord) {
        batch.put(
            keys::by_id(s.tenant_id, keys::ks::SUBSCRIBER, s.id.to_bytes()),
            encode(s),
        );
        batch.put(
            keys::subscriber_email(s.tenant_id, s.site_id, &s.email),
            s.id.to_bytes().to_vec(),
        );
    }

    fn subscriber(&self, t: TenantId, id: SubscriberId) -> Result<Option<SubscriberRecord>> {
        get(
            self.data(),
            &keys::by_id(t, keys::ks::SUBSCRIBER, id.to_bytes()),
        )
    }

    fn subscriber_by_email(
        &self,
        t: TenantId,
        site: SiteId,
        email: &str,
    ) -> Result<Option<SubscriberRecord>> {
        match self.data().get(keys::subscriber_email(t, site, email))? {
            Some(id) => match SubscriberId::from_slice(&id) {
                Some(id) => self.subscriber(t, id),
                None => Ok(None),
            },
            None => Ok(None),
        }
    }

    fn subscribers(
        &self,
        t: TenantId,
        before: Option<SubscriberId>,
        limit: usize,
        keep: &dyn Fn(&SubscriberRecord) -> bool,
    ) -> Result<Vec<SubscriberRecord>> {
        let before = before.map(|b| keys::by_id(t, keys::ks::SUBSCRIBER, b.to_bytes()));
        newest_first(self, t, keys::ks::SUBSCRIBER, before, limit, keep)
    }

    fn subscribers_after(
        &self,
        t: TenantId,
        after: Option<SubscriberId>,
        limit: usize,
        keep: &dyn Fn(&SubscriberRecord) -> bool,
    ) -> Result<Vec<SubscriberRecord>> {
        let mut start = match after {
            Some(a) => keys::by_id(t, keys::ks::SUBSCRIBER, a.to_bytes()),
            None => keys::keyspace(t, keys::ks::SUBSCRIBER),
        };
        if after.is_some() {
            start.push(0);
        }
        let end = keys::keyspace(t, keys::ks::SUBSCRIBER + 1);
        let mut out = Vec::new();
        for kv in self.data().range(start..end) {
            let s: SubscriberRecord = decode(&kv?.1)?;
            if keep(&s) {
                out.push(s);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    fn put_campaign(&self, batch: &mut WriteBatch, c: &CampaignRecord) {
        batch.put(
            keys::by_id(c.tenant_id, keys::ks::CAMPAIGN, c.id.to_bytes()),
            encode(c),
        );
        if c.status == CampaignStatus::Sending {
            batch.put_global(sending_key(c.tenant_id, c.id), Vec::new());
        } else {
            batch.delete_global(sending_key(c.tenant_id, c.id));
        }
    }

    fn campaign(&self, t: TenantId, id: CampaignId) -> Result<Option<CampaignRecord>> {
        get(
            self.data(),
            &keys::by_id(t, keys::ks::CAMPAIGN, id.to_bytes()),
        )
    }

    fn campaigns(&self, t: TenantId, limit: usize) -> Result<Vec<CampaignRecord>> {
        newest_first(self, t, keys::ks::CAMPAIGN, None, limit, &|_| true)
    }

    fn campaigns_sending(&self) -> Result<Vec<(TenantId, CampaignId)>> {
        let mut out = Vec::new();
        let prefix = keys::sending_prefix();
        for kv in self.global().scan_prefix(&prefix) {
            let (k, _) = kv?;
            let rest = &k[prefix.len()..];
            if let (Some(t), Some(c)) = (
                TenantId::from_slice(rest),
                rest.get(16..).and_then(CampaignId::from_slice),
            ) {
                out.push((t, c));
            }
        }
        Ok(out)
    }
}
