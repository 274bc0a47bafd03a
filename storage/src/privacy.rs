//! A visitor's data as a whole, for their rights of access and erasure:
//! everything stored about one visitor (record, device, pages,
//! conversations with their logs, contact messages they sent), and its
//! deletion — gone from the data, not hidden — with a marker that makes
//! their old token start afresh.

use crate::accounts::decode_contact;
use crate::codec::decode;
use crate::retention::delete_conversation;
use crate::{keys, Result, Store, WriteBatch};
use parley_engine::account::{ContactRecord, VisitorDevice};
use parley_engine::mail::ReplyWatch;
use parley_engine::records::*;
use parley_engine::*;

/// Everything stored about one visitor.
#[derive(Debug)]
pub struct VisitorData {
    pub record: VisitorRecord,
    pub device: Option<VisitorDevice>,
    /// Oldest first.
    pub pages: Vec<PageView>,
    /// Each with its whole log, in seq order.
    pub conversations: Vec<(ConversationRecord, Vec<MessageRecord>)>,
    pub contacts: Vec<ContactRecord>,
}

/// Access to and erasure of one visitor's data.
pub trait PrivacyStore {
    /// Everything stored about `v`; `None` for an unknown visitor.
    fn visitor_data(&self, t: TenantId, v: VisitorId) -> Result<Option<VisitorData>>;
    /// Adds the deletion of everything stored about `v` and the marker that
    /// refuses their old token; returns how many records go.
    fn erase_visitor(&self, batch: &mut WriteBatch, t: TenantId, v: VisitorId) -> Result<usize>;
    /// Every erased visitor, to refuse their old tokens.
    fn erased_visitors(&self) -> Result<Vec<(TenantId, VisitorId)>>;
}

impl Store {
    /// Every conversation of visitor `v`, in id order: a scan of the
    /// tenant's conversations (for a visitor's history and their data, not
    /// for a hot path).
    pub fn conversations_of(&self, t: TenantId, v: VisitorId) -> Result<Vec<ConversationRecord>> {
        let mut out = Vec::new();
        for kv in self
            .data()
            .scan_prefix(keys::keyspace(t, keys::ks::CONVERSATION))
        {
            let c: ConversationRecord = decode(&kv?.1)?;
            if c.visitor_id == v {
                out.push(c);
            }
        }
        Ok(out)
    }

    fn contacts_of(&self, t: TenantId, v: VisitorId) -> Result<Vec<ContactRecord>> {
        let mut out = Vec::new();
        for kv in self
            .data()
            .scan_prefix(keys::keyspace(t, keys::ks::CONTACT))
        {
            let c = decode_contact(&kv?.1)?;
            if c.visitor_id == Some(v) {
                out.push(c);
            }
        }
        Ok(out)
    }
}

impl PrivacyStore for Store {
    fn visitor_data(&self, t: TenantId, v: VisitorId) -> Result<Option<VisitorData>> {
        let Some(record) = self
            .data()
            .get(keys::visitor(t, v))?
            .map(|b| decode::<VisitorRecord>(&b))
            .transpose()?
        else {
            return Ok(None);
        };
        let device = self
            .data()
            .get(keys::visitor_device(t, v))?
            .map(|b| decode::<VisitorDevice>(&b))
            .transpose()?;
        let mut pages = Vec::new();
        for kv in self.data().scan_prefix(keys::page_views(t, v)) {
            pages.push(decode::<PageView>(&kv?.1)?);
        }
        let mut conversations = Vec::new();
        for c in self.conversations_of(t, v)? {
            let mut log = Vec::new();
            for kv in self.data().scan_prefix(keys::messages(t, c.id)) {
                log.push(decode::<MessageRecord>(&kv?.1)?);
            }
            conversations.push((c, log));
        }
        Ok(Some(VisitorData {
            record,
            device,
            pages,
            conversations,
            contacts: self.contacts_of(t, v)?,
        }))
    }

    fn erase_visitor(&self, batch: &mut WriteBatch, t: TenantId, v: VisitorId) -> Result<usize> {
        let before = batch.ops.len();
        batch.delete(keys::visitor(t, v));
        batch.delete(keys::visitor_device(t, v));
        batch.delete(keys::visitor_conversation(t, v));
        for k in self.data().scan_prefix(keys::page_views(t, v)).keys() {
            batch.delete(k?.to_vec());
        }
        for c in self.conversations_of(t, v)? {
            delete_conversation(self, batch, &c)?;
        }
        for c in self.contacts_of(t, v)? {
            batch.delete(keys::contact(t, c.id));
            for k in self
                .data()
                .scan_prefix(keys::contact_entries(t, c.id))
                .keys()
            {
                batch.delete(k?.to_vec());
            }
        }
        for kv in self.global().scan_prefix(keys::reply_watch_prefix()) {
            let (k, b) = kv?;
            let w: ReplyWatch = decode(&b)?;
            if (w.tenant_id, w.visitor_id) == (t, v) {
                batch.delete_global(k.to_vec());
            }
        }
        let n = batch.ops.len() - before;
        batch.put_global(keys::erased(t, v), Vec::new());
        Ok(n)
    }

    fn erased_visitors(&self) -> Result<Vec<(TenantId, VisitorId)>> {
        let prefix = keys::erased_prefix();
        let mut out = Vec::new();
        for k in self.global().scan_prefix(&prefix).keys() {
            let k = k?;
            let rest = &k[prefix.len()..];
            if let (Some(t), Some(v)) = (
                rest.get(..16).and_then(TenantId::from_slice),
                rest.get(16..32).and_then(VisitorId::from_slice),
            ) {
                out.push((t, v));
            }
        }
        Ok(out)
    }
}
