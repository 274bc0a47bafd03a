//! What the staff dashboard reads beyond the live sockets: pages of
//! conversations and of a log (backwards, for infinite scroll), visitors,
//! their devices, the tenant's canned responses and each member's
//! notification bell.

use crate::accounts::{newest_first, scan};
use crate::codec::{decode, encode};
use crate::stores::get;
use crate::{keys, Result, Store, WriteBatch};
use parley_engine::account::{CannedResponse, Notice, StaffPrefs, StaffPrefsV1, VisitorDevice};
use parley_engine::records::*;
use parley_engine::*;

/// The dashboard's reads and the few records it owns.
pub trait DeskStore {
    /// Conversations newest first (by creation), strictly older than
    /// `before`, those `keep` accepts, at most `limit`.
    fn conversations_page(
        &self,
        t: TenantId,
        before: Option<ConversationId>,
        limit: usize,
        keep: &dyn Fn(&ConversationRecord) -> bool,
    ) -> Result<Vec<ConversationRecord>>;
    /// Up to `limit` messages with a seq below `before`, in seq order.
    fn messages_before(
        &self,
        t: TenantId,
        c: ConversationId,
        before: u64,
        limit: usize,
    ) -> Result<Vec<MessageRecord>>;
    /// Visitors newest first (by first sight), strictly older than `before`.
    fn visitors_page(
        &self,
        t: TenantId,
        before: Option<VisitorId>,
        limit: usize,
        keep: &dyn Fn(&VisitorRecord) -> bool,
    ) -> Result<Vec<VisitorRecord>>;
    fn visitor_device(&self, t: TenantId, v: VisitorId) -> Result<Option<VisitorDevice>>;
    /// A staff member's preferences, defaults when never set.
    fn staff_prefs(&self, t: TenantId, s: StaffId) -> Result<StaffPrefs>;
    fn put_staff_prefs(&self, batch: &mut WriteBatch, t: TenantId, s: StaffId, p: &StaffPrefs);
    fn put_visitor_device(
        &self,
        batch: &mut WriteBatch,
        t: TenantId,
        v: VisitorId,
        d: &VisitorDevice,
    );
    /// Every canned response of the tenant, oldest first.
    fn canned(&self, t: TenantId) -> Result<Vec<CannedResponse>>;
    fn canned_one(&self, t: TenantId, id: CannedId) -> Result<Option<CannedResponse>>;
    fn put_canned(&self, batch: &mut WriteBatch, c: &CannedResponse);
    fn delete_canned(&self, batch: &mut WriteBatch, t: TenantId, id: CannedId);
    fn put_notice(&self, batch: &mut WriteBatch, t: TenantId, s: StaffId, n: &Notice);
    /// A staff member's notifications, newest first, at most `limit`.
    fn notices(&self, t: TenantId, s: StaffId, limit: usize) -> Result<Vec<Notice>>;
}

impl DeskStore for Store {
    fn put_notice(&self, batch: &mut WriteBatch, t: TenantId, s: StaffId, n: &Notice) {
        batch.put(keys::notification(t, s, n.id), encode(n));
    }

    fn notices(&self, t: TenantId, s: StaffId, limit: usize) -> Result<Vec<Notice>> {
        self.data()
            .scan_prefix(keys::notifications(t, s))
            .rev()
            .take(limit)
            .map(|kv| decode(&kv?.1))
            .collect()
    }

    fn conversations_page(
        &self,
        t: TenantId,
        before: Option<ConversationId>,
        limit: usize,
        keep: &dyn Fn(&ConversationRecord) -> bool,
    ) -> Result<Vec<ConversationRecord>> {
        let before = before.map(|b| keys::conversation(t, b));
        let mut out = Vec::new();
        for rec in newest_first(self, t, keys::ks::CONVERSATION, before, limit, keep)? {
            out.push(self.with_log_position(rec)?);
        }
        Ok(out)
    }

    fn messages_before(
        &self,
        t: TenantId,
        c: ConversationId,
        before: u64,
        limit: usize,
    ) -> Result<Vec<MessageRecord>> {
        let start = keys::message(t, c, 0);
        let end = keys::message(t, c, before);
        let mut out = Vec::new();
        for kv in self.data().range(start..end).rev().take(limit) {
            out.push(decode(&kv?.1)?);
        }
        out.reverse();
        Ok(out)
    }

    fn visitors_page(
        &self,
        t: TenantId,
        before: Option<VisitorId>,
        limit: usize,
        keep: &dyn Fn(&VisitorRecord) -> bool,
    ) -> Result<Vec<VisitorRecord>> {
        let before = before.map(|b| keys::visitor(t, b));
        newest_first(self, t, keys::ks::VISITOR, before, limit, keep)
    }

    fn visitor_device(&self, t: TenantId, v: VisitorId) -> Result<Option<VisitorDevice>> {
        get(self.data(), &keys::visitor_device(t, v))
    }

    fn staff_prefs(&self, t: TenantId, s: StaffId) -> Result<StaffPrefs> {
        // Preferences written before the time zone existed are still read.
        Ok(self
            .data()
            .get(keys::staff_prefs(t, s))?
            .map(|v| {
                decode::<StaffPrefs>(&v)
                    .or_else(|e| decode::<StaffPrefsV1>(&v).map(Into::into).or(Err(e)))
            })
            .transpose()?
            .unwrap_or_default())
    }

    fn put_staff_prefs(&self, batch: &mut WriteBatch, t: TenantId, s: StaffId, p: &StaffPrefs) {
        batch.put(keys::staff_prefs(t, s), encode(p));
    }

    fn put_visitor_device(
        &self,
        batch: &mut WriteBatch,
        t: TenantId,
        v: VisitorId,
        d: &VisitorDevice,
    ) {
        batch.put(keys::visitor_device(t, v), encode(d));
    }

    fn canned(&self, t: TenantId) -> Result<Vec<CannedResponse>> {
        scan(self, keys::keyspace(t, keys::ks::CANNED))
    }

    fn canned_one(&self, t: TenantId, id: CannedId) -> Result<Option<CannedResponse>> {
        get(self.data(), &keys::canned(t, id))
    }

    fn put_canned(&self, batch: &mut WriteBatch, c: &CannedResponse) {
        batch.put(keys::canned(c.tenant_id, c.id), encode(c));
    }

    fn delete_canned(&self, batch: &mut WriteBatch, t: TenantId, id: CannedId) {
        batch.delete(keys::canned(t, id));
    }
}
