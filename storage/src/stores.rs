//! The keyspaces behind small traits. Reads go straight to sled; writers
//! add operations to a [`WriteBatch`] for the group-commit writer, so a
//! message, its dedupe entry and its conversation's metadata land in one
//! atomic batch.
//!
//! [`Store`] is the sled implementation; a second backend implements the
//! same traits.

use crate::codec::{decode, encode};
use crate::{keys, Result, Store, WriteBatch};
use parley_engine::records::*;
use parley_engine::*;

/// A conversation's ordered message log and its `client_id` dedupe index.
pub trait MessageLog {
    /// Highest seq stored for the conversation (0 when empty).
    fn last_seq(&self, t: TenantId, c: ConversationId) -> Result<u64>;
    /// Messages with seq greater than `after`, in seq order, at most `limit`.
    fn messages_after(
        &self,
        t: TenantId,
        c: ConversationId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<MessageRecord>>;
    /// One message by seq.
    fn message(&self, t: TenantId, c: ConversationId, seq: u64) -> Result<Option<MessageRecord>>;
    /// Every stored message's `client_id` with its seq, in seq order: what
    /// a woken Conversation dedupes against (the log itself is the dedupe
    /// record, so a message is one write).
    fn client_ids(&self, t: TenantId, c: ConversationId) -> Result<Vec<(String, u64)>>;
    /// Adds the message to `batch`.
    fn append(&self, batch: &mut WriteBatch, t: TenantId, m: &MessageRecord);
}

/// Conversation metadata and the visitor → conversation index.
pub trait ConversationStore {
    fn conversation(&self, t: TenantId, c: ConversationId) -> Result<Option<ConversationRecord>>;
    /// Newest first, those `keep` accepts, at most `limit`.
    fn conversations(
        &self,
        t: TenantId,
        limit: usize,
        keep: &dyn Fn(&ConversationRecord) -> bool,
    ) -> Result<Vec<ConversationRecord>>;
    /// Every conversation waiting for staff, as stored (`last_seq` not
    /// read from the log: this is for ranking the waiting line).
    fn waiting_conversations(&self, t: TenantId) -> Result<Vec<ConversationRecord>>;
    fn visitor_conversation(&self, t: TenantId, v: VisitorId) -> Result<Option<ConversationId>>;
    fn put_conversation(&self, batch: &mut WriteBatch, c: &ConversationRecord);
    fn put_visitor_conversation(
        &self,
        batch: &mut WriteBatch,
        t: TenantId,
        v: VisitorId,
        c: ConversationId,
    );
}

/// Tenants, staff and sites, with the instance-wide email and site-key indexes.
pub trait AccountStore {
    fn tenant(&self, t: TenantId) -> Result<Option<TenantRecord>>;
    fn staff(&self, t: TenantId, s: StaffId) -> Result<Option<StaffRecord>>;
    fn staff_by_email(&self, email: &str) -> Result<Option<StaffRecord>>;
    fn site(&self, t: TenantId, s: SiteId) -> Result<Option<SiteRecord>>;
    fn site_by_key(&self, key: &str) -> Result<Option<SiteRecord>>;
    fn put_tenant(&self, batch: &mut WriteBatch, t: &TenantRecord);
    /// The record and its email index entry.
    fn put_staff(&self, batch: &mut WriteBatch, s: &StaffRecord);
    /// The record and its site-key index entry.
    fn put_site(&self, batch: &mut WriteBatch, s: &SiteRecord);
    fn superadmin_by_email(&self, email: &str) -> Result<Option<SuperadminRecord>>;
    fn put_superadmin(&self, batch: &mut WriteBatch, s: &SuperadminRecord);
}

/// Visitors and their page views.
pub trait VisitorStore {
    fn visitor(&self, t: TenantId, v: VisitorId) -> Result<Option<VisitorRecord>>;
    fn put_visitor(&self, batch: &mut WriteBatch, v: &VisitorRecord);
    fn add_page_view(&self, batch: &mut WriteBatch, t: TenantId, v: VisitorId, view: &PageView);
    /// The most recent page views, oldest first.
    fn page_views(&self, t: TenantId, v: VisitorId, limit: usize) -> Result<Vec<PageView>>;
    /// What a visitor's first tab needs, read at once (one round trip on
    /// PostgreSQL): their record, current conversation and device.
    fn visitor_arrival(&self, t: TenantId, v: VisitorId) -> Result<VisitorSnapshot>;
}

/// A visitor as their first tab finds them ([`VisitorStore::visitor_arrival`]).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct VisitorSnapshot {
    pub record: Option<VisitorRecord>,
    pub conversation: Option<ConversationId>,
    pub device: Option<parley_engine::account::VisitorDevice>,
}

pub(crate) fn get<T: serde::de::DeserializeOwned>(
    tree: &crate::Tree,
    key: &[u8],
) -> Result<Option<T>> {
    tree.get(key)?.map(|v| decode(&v)).transpose()
}

/// Two ids packed in a global index value.
pub(crate) fn pair(a: [u8; 16], b: [u8; 16]) -> Vec<u8> {
    let mut v = Vec::with_capacity(32);
    v.extend_from_slice(&a);
    v.extend_from_slice(&b);
    v
}

impl MessageLog for Store {
    fn last_seq(&self, t: TenantId, c: ConversationId) -> Result<u64> {
        Ok(
            match self.data().scan_prefix(keys::messages(t, c)).next_back() {
                Some(kv) => keys::message_seq(&kv?.0).unwrap_or(0),
                None => 0,
            },
        )
    }

    fn messages_after(
        &self,
        t: TenantId,
        c: ConversationId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<MessageRecord>> {
        let start = keys::message(t, c, after.saturating_add(1));
        let end = keys::message(t, c, u64::MAX);
        let mut out = Vec::new();
        for kv in self.data().range(start..=end).take(limit) {
            out.push(decode(&kv?.1)?);
        }
        Ok(out)
    }

    fn message(&self, t: TenantId, c: ConversationId, seq: u64) -> Result<Option<MessageRecord>> {
        get(self.data(), &keys::message(t, c, seq))
    }

    fn client_ids(&self, t: TenantId, c: ConversationId) -> Result<Vec<(String, u64)>> {
        /// A message's leading fields: enough to dedupe, without decoding
        /// the body (postcard reads fields in order and ignores the rest).
        #[derive(serde::Deserialize)]
        struct Head {
            _id: MessageId,
            _conversation_id: ConversationId,
            seq: u64,
            client_id: Option<String>,
        }
        let start = keys::message(t, c, 0);
        let end = keys::message(t, c, u64::MAX);
        let mut out = Vec::new();
        for kv in self.data().range(start..=end) {
            let h: Head = decode(&kv?.1)?;
            if let Some(cid) = h.client_id {
                out.push((cid, h.seq));
            }
        }
        Ok(out)
    }

    fn append(&self, batch: &mut WriteBatch, t: TenantId, m: &MessageRecord) {
        batch.put(keys::message(t, m.conversation_id, m.seq), encode(m));
    }
}

impl ConversationStore for Store {
    fn conversation(&self, t: TenantId, c: ConversationId) -> Result<Option<ConversationRecord>> {
        match get::<ConversationRecord>(self.data(), &keys::conversation(t, c))? {
            Some(rec) => Ok(Some(self.with_log_position(rec)?)),
            None => Ok(None),
        }
    }

    fn conversations(
        &self,
        t: TenantId,
        limit: usize,
        keep: &dyn Fn(&ConversationRecord) -> bool,
    ) -> Result<Vec<ConversationRecord>> {
        let mut out = Vec::new();
        for kv in self
            .data()
            .scan_prefix(keys::keyspace(t, keys::ks::CONVERSATION))
            .rev()
        {
            let rec = self.with_log_position(decode(&kv?.1)?)?;
            if keep(&rec) {
                out.push(rec);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    fn waiting_conversations(&self, t: TenantId) -> Result<Vec<ConversationRecord>> {
        let mut out = Vec::new();
        for kv in self
            .data()
            .scan_prefix(keys::keyspace(t, keys::ks::CONVERSATION))
        {
            let rec: ConversationRecord = decode(&kv?.1)?;
            if rec.status == parley_engine::conversation::Status::Waiting {
                out.push(rec);
            }
        }
        Ok(out)
    }

    fn visitor_conversation(&self, t: TenantId, v: VisitorId) -> Result<Option<ConversationId>> {
        Ok(self
            .data()
            .get(keys::visitor_conversation(t, v))?
            .and_then(|b| ConversationId::from_slice(&b)))
    }

    fn put_conversation(&self, batch: &mut WriteBatch, c: &ConversationRecord) {
        batch.put(keys::conversation(c.tenant_id, c.id), encode(c));
    }

    fn put_visitor_conversation(
        &self,
        batch: &mut WriteBatch,
        t: TenantId,
        v: VisitorId,
        c: ConversationId,
    ) {
        batch.put(keys::visitor_conversation(t, v), c.to_bytes().to_vec());
    }
}

impl AccountStore for Store {
    fn tenant(&self, t: TenantId) -> Result<Option<TenantRecord>> {
        get(self.data(), &keys::tenant(t))
    }

    fn staff(&self, t: TenantId, s: StaffId) -> Result<Option<StaffRecord>> {
        get(self.data(), &keys::staff(t, s))
    }

    fn staff_by_email(&self, email: &str) -> Result<Option<StaffRecord>> {
        match self.index(&keys::email(email))? {
            Some((t, s)) => self.staff(t, StaffId::from_bytes(s)),
            None => Ok(None),
        }
    }

    fn site(&self, t: TenantId, s: SiteId) -> Result<Option<SiteRecord>> {
        get(self.data(), &keys::site(t, s))
    }

    fn site_by_key(&self, key: &str) -> Result<Option<SiteRecord>> {
        match self.index(&keys::site_key(key))? {
            Some((t, s)) => self.site(t, SiteId::from_bytes(s)),
            None => Ok(None),
        }
    }

    fn put_tenant(&self, batch: &mut WriteBatch, t: &TenantRecord) {
        batch.put(keys::tenant(t.id), encode(t));
        batch.put_global(keys::tenant_index(t.id), Vec::new());
    }

    fn put_staff(&self, batch: &mut WriteBatch, s: &StaffRecord) {
        batch.put(keys::staff(s.tenant_id, s.id), encode(s));
        batch.put_global(
            keys::email(&s.email),
            pair(s.tenant_id.to_bytes(), s.id.to_bytes()),
        );
    }

    fn put_site(&self, batch: &mut WriteBatch, s: &SiteRecord) {
        batch.put(keys::site(s.tenant_id, s.id), encode(s));
        batch.put_global(
            keys::site_key(&s.key),
            pair(s.tenant_id.to_bytes(), s.id.to_bytes()),
        );
    }

    fn superadmin_by_email(&self, email: &str) -> Result<Option<SuperadminRecord>> {
        get(self.global(), &keys::superadmin(email))
    }

    fn put_superadmin(&self, batch: &mut WriteBatch, s: &SuperadminRecord) {
        batch.put_global(keys::superadmin(&s.email), encode(s));
    }
}

impl Store {
    /// A conversation record with `last_seq` taken from its log: a live
    /// conversation rewrites its metadata at most once a second while only
    /// the log moves, so the stored copy may lag the log.
    pub(crate) fn with_log_position(
        &self,
        mut rec: ConversationRecord,
    ) -> Result<ConversationRecord> {
        rec.last_seq = rec.last_seq.max(self.last_seq(rec.tenant_id, rec.id)?);
        Ok(rec)
    }

    /// Reads a global index entry written by [`pair`]: a tenant and the
    /// 16 bytes of the id it points at.
    fn index(&self, key: &[u8]) -> Result<Option<(TenantId, [u8; 16])>> {
        let Some(v) = self.global().get(key)? else {
            return Ok(None);
        };
        let other: Option<[u8; 16]> = v.get(16..32).and_then(|b| b.try_into().ok());
        Ok(TenantId::from_slice(&v).zip(other))
    }
}

impl VisitorStore for Store {
    fn visitor(&self, t: TenantId, v: VisitorId) -> Result<Option<VisitorRecord>> {
        get(self.data(), &keys::visitor(t, v))
    }

    fn put_visitor(&self, batch: &mut WriteBatch, v: &VisitorRecord) {
        batch.put(keys::visitor(v.tenant_id, v.id), encode(v));
    }

    fn add_page_view(&self, batch: &mut WriteBatch, t: TenantId, v: VisitorId, view: &PageView) {
        batch.put(keys::page_view(t, v, view.at), encode(view));
    }

    fn page_views(&self, t: TenantId, v: VisitorId, limit: usize) -> Result<Vec<PageView>> {
        let mut out: Vec<PageView> = self
            .data()
            .scan_prefix(keys::page_views(t, v))
            .rev()
            .take(limit)
            .map(|kv| decode(&kv?.1))
            .collect::<Result<_>>()?;
        out.reverse();
        Ok(out)
    }

    fn visitor_arrival(&self, t: TenantId, v: VisitorId) -> Result<VisitorSnapshot> {
        let (r, c, d) = (
            keys::visitor(t, v),
            keys::visitor_conversation(t, v),
            keys::visitor_device(t, v),
        );
        let mut got = self.data().get_many(&[&r, &c, &d])?.into_iter();
        let mut next = || got.next().flatten();
        Ok(VisitorSnapshot {
            record: next().map(|b| decode(&b)).transpose()?,
            conversation: next().and_then(|b| ConversationId::from_slice(&b)),
            device: next().map(|b| decode(&b)).transpose()?,
        })
    }
}
