//! Retention: deleting what a tenant's plan no longer keeps, a small batch
//! at a time — conversations (with their log, client ids and the
//! visitor's link to them) started and last active before a cutoff, page
//! views and audit entries older than one.

use crate::codec::decode;
use crate::{keys, Result, Store, WriteBatch};
use parley_engine::records::ConversationRecord;
use parley_engine::*;

/// A ULID-ordered key bound: the smallest id made at `t`.
fn id_at(t: Timestamp) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..6].copy_from_slice(&t.millis().to_be_bytes()[2..]);
    b
}

/// Deletions past retention.
pub trait RetentionStore {
    /// Adds the deletion of at most `limit` conversations of `t` started
    /// and last active before `cutoff`; returns how many.
    fn purge_conversations(
        &self,
        batch: &mut WriteBatch,
        t: TenantId,
        cutoff: Timestamp,
        limit: usize,
    ) -> Result<usize>;
    /// Adds the deletion of at most `limit` page views of `t` before `cutoff`.
    fn purge_page_views(
        &self,
        batch: &mut WriteBatch,
        t: TenantId,
        cutoff: Timestamp,
        limit: usize,
    ) -> Result<usize>;
    /// Adds the deletion of at most `limit` audit entries of `t` before `cutoff`.
    fn purge_audit(
        &self,
        batch: &mut WriteBatch,
        t: TenantId,
        cutoff: Timestamp,
        limit: usize,
    ) -> Result<usize>;
}

/// Adds the deletion of conversation `c`: its record, its log, its
/// `client_id` entries and the visitor's link to it.
pub(crate) fn delete_conversation(
    store: &Store,
    batch: &mut WriteBatch,
    c: &ConversationRecord,
) -> Result<()> {
    let t = c.tenant_id;
    batch.delete(keys::conversation(t, c.id));
    for m in store.data().scan_prefix(keys::messages(t, c.id)).keys() {
        batch.delete(m?.to_vec());
    }
    for m in store
        .data()
        .scan_prefix(keys::by_id(t, keys::ks::CLIENT_ID, c.id.to_bytes()))
        .keys()
    {
        batch.delete(m?.to_vec());
    }
    let link = keys::visitor_conversation(t, c.visitor_id);
    if store
        .data()
        .get(&link)?
        .is_some_and(|b| ConversationId::from_slice(&b) == Some(c.id))
    {
        batch.delete(link);
    }
    Ok(())
}

impl RetentionStore for Store {
    fn purge_conversations(
        &self,
        batch: &mut WriteBatch,
        t: TenantId,
        cutoff: Timestamp,
        limit: usize,
    ) -> Result<usize> {
        let start = keys::keyspace(t, keys::ks::CONVERSATION);
        let end = keys::conversation(t, ConversationId::from_bytes(id_at(cutoff)));
        let mut n = 0;
        for kv in self.data().range(start..end) {
            let (_, v) = kv?;
            let c: ConversationRecord = decode(&v)?;
            if c.updated_at >= cutoff {
                continue;
            }
            delete_conversation(self, batch, &c)?;
            n += 1;
            if n >= limit {
                break;
            }
        }
        Ok(n)
    }

    fn purge_page_views(
        &self,
        batch: &mut WriteBatch,
        t: TenantId,
        cutoff: Timestamp,
        limit: usize,
    ) -> Result<usize> {
        let mut n = 0;
        for k in self
            .data()
            .scan_prefix(keys::keyspace(t, keys::ks::PAGE_VIEW))
            .keys()
        {
            let k = k?;
            let at = k
                .get(k.len().saturating_sub(8)..)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes);
            if at.is_some_and(|ms| ms < cutoff.millis()) {
                batch.delete(k.to_vec());
                n += 1;
                if n >= limit {
                    break;
                }
            }
        }
        Ok(n)
    }

    fn purge_audit(
        &self,
        batch: &mut WriteBatch,
        t: TenantId,
        cutoff: Timestamp,
        limit: usize,
    ) -> Result<usize> {
        let start = keys::keyspace(t, keys::ks::AUDIT);
        let end = keys::audit(t, AuditId::from_bytes(id_at(cutoff)));
        let mut n = 0;
        for k in self.data().range(start..end).keys().take(limit) {
            batch.delete(k?.to_vec());
            n += 1;
        }
        Ok(n)
    }
}
