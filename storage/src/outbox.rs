//! The mail outbox: each tenant's mails under its prefix, and one global
//! index of pending mail ordered by when each is next due, so the mail
//! deliverer finds due work with a single ordered scan.
//!
//! Also each conversation's transcript log (who asked for a transcript
//! when, and which addresses were proven), the mail's own rate rules.
//!
//! A mail is written in the same batch as the change that caused it
//! (`put_mail`), and every attempt rewrites it with `update_mail`, which
//! moves its due-index entry in the same batch.

use crate::codec::{decode, encode};
use crate::{keys, Result, Store, WriteBatch};
use parley_engine::mail::{
    MailBody, MailRecord, MailRecordV1, MailRecordV2, MailStatus, ReplyWatch,
};
use parley_engine::transcript::TranscriptLog;
use parley_engine::{ConversationId, MailId, TenantId, Timestamp};

/// The outbox.
pub trait OutboxStore {
    /// Queues a new mail (record and, when pending, its due entry).
    fn put_mail(&self, batch: &mut WriteBatch, m: &MailRecord);
    /// Replaces `old` with `new` (the same mail after an attempt or a retry).
    fn update_mail(&self, batch: &mut WriteBatch, old: &MailRecord, new: &MailRecord);
    fn mail(&self, t: TenantId, id: MailId) -> Result<Option<MailRecord>>;
    /// Stores a body many mails share ([`MailRecord::shared`]) under `id`.
    fn put_mail_body(&self, batch: &mut WriteBatch, t: TenantId, id: MailId, body: &MailBody);
    /// Whether a shared body is stored under `id`.
    fn has_mail_body(&self, t: TenantId, id: MailId) -> Result<bool>;
    /// A mail's text and HTML bodies, its shared body filled in where it has one.
    fn mail_body(&self, m: &MailRecord) -> Result<(String, String)>;
    /// The bytes a tenant's mail created at or after `since` holds in the
    /// outbox (each shared body counted once), scanning newest first.
    fn mail_bytes_since(&self, t: TenantId, since: Timestamp) -> Result<u64>;
    /// Newest first, strictly older than `before`, those `keep` accepts, at most `limit`.
    fn mails(
        &self,
        t: TenantId,
        before: Option<MailId>,
        limit: usize,
        keep: &dyn Fn(&MailRecord) -> bool,
    ) -> Result<Vec<MailRecord>>;
    /// Pending mails due at or before `now`, soonest first, at most `limit`.
    fn mails_due(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<(Timestamp, TenantId, MailId)>> {
        self.mails_due_except(now, limit, usize::MAX, &|_, _| false)
    }
    /// Like [`OutboxStore::mails_due`], passing over the mails `skip` names (a
    /// tenant at its in-flight cap, a mail being sent) and looking at no more
    /// than `scan` index entries, so one tenant's backlog does not hide
    /// another tenant's mail that is due.
    fn mails_due_except(
        &self,
        now: Timestamp,
        limit: usize,
        scan: usize,
        skip: &dyn Fn(TenantId, MailId) -> bool,
    ) -> Result<Vec<(Timestamp, TenantId, MailId)>>;
    /// When the soonest pending mail is due, if any is.
    fn next_mail_due(&self) -> Result<Option<Timestamp>>;
    /// Watches `w` for missed replies, looked at next at `due`.
    fn put_reply_watch(&self, batch: &mut WriteBatch, due: Timestamp, w: &ReplyWatch);
    fn delete_reply_watch(&self, batch: &mut WriteBatch, due: Timestamp, w: &ReplyWatch);
    /// Reply watches due at or before `now`, soonest first, at most `limit`.
    fn reply_watches_due(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<(Timestamp, ReplyWatch)>>;
    /// A conversation's transcript requests and proven addresses.
    fn transcript_log(&self, t: TenantId, c: ConversationId) -> Result<Option<TranscriptLog>>;
    fn put_transcript_log(
        &self,
        batch: &mut WriteBatch,
        t: TenantId,
        c: ConversationId,
        log: &TranscriptLog,
    );
}

/// Reads a mail of either layout.
fn decode_mail(bytes: &[u8]) -> Result<MailRecord> {
    decode::<MailRecord>(bytes)
        .or_else(|e| decode::<MailRecordV2>(bytes).map(Into::into).or(Err(e)))
        .or_else(|e| decode::<MailRecordV1>(bytes).map(Into::into).or(Err(e)))
}

fn due_key(m: &MailRecord) -> Vec<u8> {
    keys::mail_due(m.next_attempt_at, m.tenant_id, m.id)
}

/// `(due, tenant, mail)` of a due-index key.
fn parse_due(key: &[u8]) -> Option<(Timestamp, TenantId, MailId)> {
    let rest = key.get(keys::mail_due_prefix().len()..)?;
    let at = u64::from_be_bytes(rest.get(..8)?.try_into().ok()?);
    Some((
        Timestamp(at),
        TenantId::from_slice(rest.get(8..24)?)?,
        MailId::from_slice(rest.get(24..40)?)?,
    ))
}

impl OutboxStore for Store {
    fn put_mail(&self, batch: &mut WriteBatch, m: &MailRecord) {
        batch.put(keys::mail(m.tenant_id, m.id), encode(m));
        if m.status == MailStatus::Pending {
            batch.put_global(due_key(m), Vec::new());
        }
    }

    fn update_mail(&self, batch: &mut WriteBatch, old: &MailRecord, new: &MailRecord) {
        if old.status == MailStatus::Pending {
            batch.delete_global(due_key(old));
        }
        self.put_mail(batch, new);
    }

    fn mail(&self, t: TenantId, id: MailId) -> Result<Option<MailRecord>> {
        self.data()
            .get(keys::mail(t, id))?
            .map(|v| decode_mail(&v))
            .transpose()
    }

    fn put_mail_body(&self, batch: &mut WriteBatch, t: TenantId, id: MailId, body: &MailBody) {
        batch.put(
            keys::by_id(t, keys::ks::MAIL_BODY, id.to_bytes()),
            encode(body),
        );
    }

    fn has_mail_body(&self, t: TenantId, id: MailId) -> Result<bool> {
        Ok(self
            .data()
            .get(keys::by_id(t, keys::ks::MAIL_BODY, id.to_bytes()))?
            .is_some())
    }

    fn mail_body(&self, m: &MailRecord) -> Result<(String, String)> {
        let Some(s) = &m.shared else {
            return Ok((m.body.clone(), m.html.clone()));
        };
        let key = keys::by_id(m.tenant_id, keys::ks::MAIL_BODY, s.id.to_bytes());
        match self.data().get(key)? {
            Some(v) => Ok(decode::<MailBody>(&v)?.fill(&s.vars)),
            None => Err(crate::StorageError::Decode(format!(
                "the shared body {} of mail {} is missing",
                s.id, m.id
            ))),
        }
    }

    fn mail_bytes_since(&self, t: TenantId, since: Timestamp) -> Result<u64> {
        let mut total = 0u64;
        for kv in self
            .data()
            .scan_prefix(keys::keyspace(t, keys::ks::MAIL))
            .rev()
        {
            let (_, v) = kv?;
            let m = decode_mail(&v)?;
            if m.created_at < since {
                break;
            }
            total += v.len() as u64;
        }
        for kv in self
            .data()
            .scan_prefix(keys::keyspace(t, keys::ks::MAIL_BODY))
            .rev()
        {
            let (k, v) = kv?;
            // A ULID starts with its 48-bit creation time in milliseconds.
            let made = k
                .len()
                .checked_sub(16)
                .and_then(|at| k.get(at..at + 6))
                .map(|b| b.iter().fold(0u64, |n, x| (n << 8) | u64::from(*x)));
            if made.is_some_and(|ms| ms < since.millis()) {
                break;
            }
            total += v.len() as u64;
        }
        Ok(total)
    }

    fn mails(
        &self,
        t: TenantId,
        before: Option<MailId>,
        limit: usize,
        keep: &dyn Fn(&MailRecord) -> bool,
    ) -> Result<Vec<MailRecord>> {
        let start = keys::keyspace(t, keys::ks::MAIL);
        let end = before
            .map(|b| keys::mail(t, b))
            .unwrap_or_else(|| keys::keyspace(t, keys::ks::MAIL + 1));
        let mut out = Vec::new();
        for kv in self.data().range(start..end).rev() {
            let m = decode_mail(&kv?.1)?;
            if keep(&m) {
                out.push(m);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    fn mails_due_except(
        &self,
        now: Timestamp,
        limit: usize,
        scan: usize,
        skip: &dyn Fn(TenantId, MailId) -> bool,
    ) -> Result<Vec<(Timestamp, TenantId, MailId)>> {
        let mut out = Vec::new();
        for kv in self
            .global()
            .scan_prefix(keys::mail_due_prefix())
            .take(scan)
        {
            let (k, _) = kv?;
            let Some((at, t, id)) = parse_due(&k) else {
                continue;
            };
            if at > now || out.len() >= limit {
                break;
            }
            if !skip(t, id) {
                out.push((at, t, id));
            }
        }
        Ok(out)
    }

    fn put_reply_watch(&self, batch: &mut WriteBatch, due: Timestamp, w: &ReplyWatch) {
        batch.put_global(keys::reply_watch(due, w.tenant_id, w.visitor_id), encode(w));
    }

    fn delete_reply_watch(&self, batch: &mut WriteBatch, due: Timestamp, w: &ReplyWatch) {
        batch.delete_global(keys::reply_watch(due, w.tenant_id, w.visitor_id));
    }

    fn reply_watches_due(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<(Timestamp, ReplyWatch)>> {
        let prefix = keys::reply_watch_prefix();
        let mut out = Vec::new();
        for kv in self.global().scan_prefix(&prefix) {
            let (k, v) = kv?;
            let Some(at) = k
                .get(prefix.len()..prefix.len() + 8)
                .and_then(|b| b.try_into().ok())
                .map(|b| Timestamp(u64::from_be_bytes(b)))
            else {
                continue;
            };
            if at > now || out.len() >= limit {
                break;
            }
            out.push((at, decode(&v)?));
        }
        Ok(out)
    }

    fn transcript_log(&self, t: TenantId, c: ConversationId) -> Result<Option<TranscriptLog>> {
        self.data()
            .get(keys::by_id(t, keys::ks::TRANSCRIPT, c.to_bytes()))?
            .map(|v| decode(&v))
            .transpose()
    }

    fn put_transcript_log(
        &self,
        batch: &mut WriteBatch,
        t: TenantId,
        c: ConversationId,
        log: &TranscriptLog,
    ) {
        batch.put(
            keys::by_id(t, keys::ks::TRANSCRIPT, c.to_bytes()),
            encode(log),
        );
    }

    fn next_mail_due(&self) -> Result<Option<Timestamp>> {
        match self.global().scan_prefix(keys::mail_due_prefix()).next() {
            Some(kv) => Ok(parse_due(&kv?.0).map(|(at, ..)| at)),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_queued_by_the_first_layout_is_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &Default::default()).unwrap();
        let old = MailRecordV1 {
            id: MailId::new(),
            tenant_id: TenantId::new(),
            to: "a@b.test".into(),
            subject: "hi".into(),
            body: "body".into(),
            created_at: Timestamp(5_000),
        };
        let mut b = crate::WriteBatch::new();
        b.put(keys::mail(old.tenant_id, old.id), encode(&old));
        store.write_now(b).unwrap();
        let m = store.mail(old.tenant_id, old.id).unwrap().unwrap();
        assert_eq!((m.body.as_str(), m.status), ("body", MailStatus::Pending));
    }
}
