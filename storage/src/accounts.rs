//! Accounts beyond the core records: sign-in sessions, single-use tokens,
//! the audit log, site settings, tenant state, listings
//! and per-tenant usage.

use crate::codec::{decode, encode};
use crate::stores::{get, pair};
use crate::{keys, Result, Store, WriteBatch};
use parley_engine::account::*;
use parley_engine::records::*;
use parley_engine::*;

/// What one tenant holds, for the instance operator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Usage {
    pub staff: u64,
    pub sites: u64,
    pub conversations: u64,
    pub messages: u64,
    pub visitors: u64,
    /// Keys and values under the tenant's prefix.
    pub storage_bytes: u64,
}

/// Sessions, tokens, audit, settings and listings.
pub trait AuthStore {
    fn sessions(&self, t: TenantId, s: StaffId) -> Result<Vec<SessionRecord>>;
    fn session(&self, t: TenantId, s: StaffId, id: SessionId) -> Result<Option<SessionRecord>>;
    fn put_session(&self, batch: &mut WriteBatch, r: &SessionRecord);
    fn one_time_token(&self, hash: &[u8]) -> Result<Option<OneTimeToken>>;
    fn put_one_time_token(&self, batch: &mut WriteBatch, hash: &[u8], tok: &OneTimeToken);
    fn delete_one_time_token(&self, batch: &mut WriteBatch, hash: &[u8]);
    fn pending_signup(&self, hash: &[u8]) -> Result<Option<PendingSignup>>;
    fn put_pending_signup(&self, batch: &mut WriteBatch, hash: &[u8], p: &PendingSignup);
    fn delete_pending_signup(&self, batch: &mut WriteBatch, hash: &[u8]);
    fn append_audit(&self, batch: &mut WriteBatch, r: &AuditRecord);
    /// Newest first, strictly older than `before`, those `keep` accepts, at most `limit`.
    fn audit(
        &self,
        t: TenantId,
        before: Option<AuditId>,
        limit: usize,
        keep: &dyn Fn(&AuditRecord) -> bool,
    ) -> Result<Vec<AuditRecord>>;
    fn put_contact(&self, batch: &mut WriteBatch, c: &ContactRecord);
    fn contact(&self, t: TenantId, id: ContactId) -> Result<Option<ContactRecord>>;
    fn put_contact_entry(&self, batch: &mut WriteBatch, t: TenantId, e: &ContactEntry);
    /// A contact message's replies and notes, oldest first.
    fn contact_entries(&self, t: TenantId, c: ContactId) -> Result<Vec<ContactEntry>>;
    /// Newest first, strictly older than `before`, those `keep` accepts, at most `limit`.
    fn contacts(
        &self,
        t: TenantId,
        before: Option<ContactId>,
        limit: usize,
        keep: &dyn Fn(&ContactRecord) -> bool,
    ) -> Result<Vec<ContactRecord>>;
    /// The site's settings, defaults when never set.
    fn site_settings(&self, t: TenantId, s: SiteId) -> Result<SiteSettings>;
    fn put_site_settings(&self, batch: &mut WriteBatch, t: TenantId, s: SiteId, v: &SiteSettings);
    /// When the site's widget was first loaded from a page not on this
    /// server (its snippet is installed on a real site); `None`: never.
    fn site_installed_at(&self, t: TenantId, s: SiteId) -> Result<Option<Timestamp>>;
    fn put_site_installed_at(&self, batch: &mut WriteBatch, t: TenantId, s: SiteId, at: Timestamp);
    fn tenant_state(&self, t: TenantId) -> Result<TenantState>;
    fn put_tenant_state(&self, batch: &mut WriteBatch, t: TenantId, v: &TenantState);
    /// The tenant's plan and subscription (free and active when never set).
    fn subscription(&self, t: TenantId) -> Result<parley_engine::plans::Subscription>;
    fn put_subscription(
        &self,
        batch: &mut WriteBatch,
        t: TenantId,
        s: &parley_engine::plans::Subscription,
    );
    /// Whether a billing event id was handled already.
    fn billing_event_seen(&self, id: &str) -> Result<bool>;
    fn put_billing_event(&self, batch: &mut WriteBatch, id: &str, at: Timestamp);
    /// The order the tenant's billing events apply in (nothing applied yet
    /// when never set).
    fn billing_order(&self, t: TenantId) -> Result<parley_engine::billing::BillingOrder>;
    fn put_billing_order(
        &self,
        batch: &mut WriteBatch,
        t: TenantId,
        o: &parley_engine::billing::BillingOrder,
    );
    /// How many conversations of the tenant were started since `since`.
    fn conversations_since(&self, t: TenantId, since: Timestamp) -> Result<u64>;
    /// Every staff member of a tenant, oldest first.
    fn staff_list(&self, t: TenantId) -> Result<Vec<StaffRecord>>;
    /// Every site of a tenant, oldest first.
    fn sites(&self, t: TenantId) -> Result<Vec<SiteRecord>>;
    /// Every tenant of the instance, oldest first.
    fn tenants(&self) -> Result<Vec<TenantRecord>>;
    /// Removes a staff member, their email index entry and their sessions.
    fn delete_staff(&self, batch: &mut WriteBatch, s: &StaffRecord) -> Result<()>;
    /// Removes a site, its key index entry and its settings.
    fn delete_site(&self, batch: &mut WriteBatch, s: &SiteRecord);
    /// Points the site at a new key; the old key stops working.
    fn rekey_site(&self, batch: &mut WriteBatch, old_key: &str, s: &SiteRecord);
    fn usage(&self, t: TenantId) -> Result<Usage>;
    /// Adds deletions of expired one-time tokens and of expired or revoked
    /// sessions to `batch`; returns how many.
    fn purge_expired(&self, batch: &mut WriteBatch, now: Timestamp) -> Result<usize>;
}

/// Reads a contact message of either layout.
pub(crate) fn decode_contact(bytes: &[u8]) -> Result<ContactRecord> {
    decode::<ContactRecord>(bytes)
        .or_else(|e| decode::<ContactRecordV1>(bytes).map(Into::into).or(Err(e)))
}

pub(crate) fn scan<T: serde::de::DeserializeOwned>(
    store: &Store,
    prefix: Vec<u8>,
) -> Result<Vec<T>> {
    store
        .data()
        .scan_prefix(prefix)
        .map(|kv| decode(&kv?.1))
        .collect()
}

/// Records of keyspace `ks`, newest first, below `before` (a full key),
/// those `keep` accepts, at most `limit`.
pub(crate) fn newest_first<T: serde::de::DeserializeOwned>(
    store: &Store,
    t: TenantId,
    ks: u8,
    before: Option<Vec<u8>>,
    limit: usize,
    keep: &dyn Fn(&T) -> bool,
) -> Result<Vec<T>> {
    let start = keys::keyspace(t, ks);
    let end = before.unwrap_or_else(|| keys::keyspace(t, ks + 1));
    let mut out = Vec::new();
    for kv in store.data().range(start..end).rev() {
        let r: T = decode(&kv?.1)?;
        if keep(&r) {
            out.push(r);
            if out.len() >= limit {
                break;
            }
        }
    }
    Ok(out)
}

impl AuthStore for Store {
    fn sessions(&self, t: TenantId, s: StaffId) -> Result<Vec<SessionRecord>> {
        scan(self, keys::sessions(t, s))
    }

    fn session(&self, t: TenantId, s: StaffId, id: SessionId) -> Result<Option<SessionRecord>> {
        get(self.data(), &keys::session(t, s, id))
    }

    fn put_session(&self, batch: &mut WriteBatch, r: &SessionRecord) {
        batch.put(keys::session(r.tenant_id, r.staff_id, r.id), encode(r));
    }

    fn one_time_token(&self, hash: &[u8]) -> Result<Option<OneTimeToken>> {
        get(self.global(), &keys::one_time_token(hash))
    }

    fn put_one_time_token(&self, batch: &mut WriteBatch, hash: &[u8], tok: &OneTimeToken) {
        batch.put_global(keys::one_time_token(hash), encode(tok));
    }

    fn delete_one_time_token(&self, batch: &mut WriteBatch, hash: &[u8]) {
        batch.delete_global(keys::one_time_token(hash));
    }

    fn pending_signup(&self, hash: &[u8]) -> Result<Option<PendingSignup>> {
        get(self.global(), &keys::pending_signup(hash))
    }

    fn put_pending_signup(&self, batch: &mut WriteBatch, hash: &[u8], p: &PendingSignup) {
        batch.put_global(keys::pending_signup(hash), encode(p));
    }

    fn delete_pending_signup(&self, batch: &mut WriteBatch, hash: &[u8]) {
        batch.delete_global(keys::pending_signup(hash));
    }

    fn append_audit(&self, batch: &mut WriteBatch, r: &AuditRecord) {
        batch.put(keys::audit(r.tenant_id, r.id), encode(r));
    }

    fn audit(
        &self,
        t: TenantId,
        before: Option<AuditId>,
        limit: usize,
        keep: &dyn Fn(&AuditRecord) -> bool,
    ) -> Result<Vec<AuditRecord>> {
        let before = before.map(|b| keys::audit(t, b));
        newest_first(self, t, keys::ks::AUDIT, before, limit, keep)
    }

    fn put_contact(&self, batch: &mut WriteBatch, c: &ContactRecord) {
        batch.put(keys::contact(c.tenant_id, c.id), encode(c));
    }

    fn contacts(
        &self,
        t: TenantId,
        before: Option<ContactId>,
        limit: usize,
        keep: &dyn Fn(&ContactRecord) -> bool,
    ) -> Result<Vec<ContactRecord>> {
        let start = keys::keyspace(t, keys::ks::CONTACT);
        let end = before
            .map(|b| keys::contact(t, b))
            .unwrap_or_else(|| keys::keyspace(t, keys::ks::CONTACT + 1));
        let mut out = Vec::new();
        for kv in self.data().range(start..end).rev() {
            let c = decode_contact(&kv?.1)?;
            if keep(&c) {
                out.push(c);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    fn contact(&self, t: TenantId, id: ContactId) -> Result<Option<ContactRecord>> {
        self.data()
            .get(keys::contact(t, id))?
            .map(|v| decode_contact(&v))
            .transpose()
    }

    fn put_contact_entry(&self, batch: &mut WriteBatch, t: TenantId, e: &ContactEntry) {
        batch.put(keys::contact_entry(t, e.contact_id, e.id), encode(e));
    }

    fn contact_entries(&self, t: TenantId, c: ContactId) -> Result<Vec<ContactEntry>> {
        scan(self, keys::contact_entries(t, c))
    }

    fn site_settings(&self, t: TenantId, s: SiteId) -> Result<SiteSettings> {
        let Some(bytes) = self.data().get(keys::site_settings(t, s))? else {
            return Ok(SiteSettings::default());
        };
        // Settings written before a site had its own reopen window read as
        // the server's; before the widget had a theme, as `auto`.
        // Before chat's gate was its own setting, hours gated chat.
        decode::<SiteSettings>(&bytes).or_else(|e| {
            decode::<parley_engine::account::SiteSettingsV3>(&bytes)
                .map(Into::into)
                .or_else(|_| {
                    decode::<parley_engine::account::SiteSettingsV2>(&bytes).map(Into::into)
                })
                .or_else(|_| {
                    decode::<parley_engine::account::SiteSettingsV1>(&bytes).map(Into::into)
                })
                .or(Err(e))
        })
    }

    fn put_site_settings(&self, batch: &mut WriteBatch, t: TenantId, s: SiteId, v: &SiteSettings) {
        batch.put(keys::site_settings(t, s), encode(v));
    }

    fn site_installed_at(&self, t: TenantId, s: SiteId) -> Result<Option<Timestamp>> {
        get(
            self.data(),
            &keys::by_id(t, keys::ks::SITE_INSTALLED, s.to_bytes()),
        )
    }

    fn put_site_installed_at(&self, batch: &mut WriteBatch, t: TenantId, s: SiteId, at: Timestamp) {
        batch.put(
            keys::by_id(t, keys::ks::SITE_INSTALLED, s.to_bytes()),
            encode(&at),
        );
    }

    fn tenant_state(&self, t: TenantId) -> Result<TenantState> {
        Ok(get(self.data(), &keys::tenant_state(t))?.unwrap_or_default())
    }

    fn put_tenant_state(&self, batch: &mut WriteBatch, t: TenantId, v: &TenantState) {
        batch.put(keys::tenant_state(t), encode(v));
    }

    fn subscription(&self, t: TenantId) -> Result<parley_engine::plans::Subscription> {
        Ok(get(self.data(), &keys::keyspace(t, keys::ks::SUBSCRIPTION))?.unwrap_or_default())
    }

    fn put_subscription(
        &self,
        batch: &mut WriteBatch,
        t: TenantId,
        s: &parley_engine::plans::Subscription,
    ) {
        batch.put(keys::keyspace(t, keys::ks::SUBSCRIPTION), encode(s));
    }

    fn billing_event_seen(&self, id: &str) -> Result<bool> {
        self.global().contains_key(keys::billing_event(id))
    }

    fn put_billing_event(&self, batch: &mut WriteBatch, id: &str, at: Timestamp) {
        batch.put_global(keys::billing_event(id), at.millis().to_be_bytes().to_vec());
    }

    fn billing_order(&self, t: TenantId) -> Result<parley_engine::billing::BillingOrder> {
        Ok(get(self.data(), &keys::billing_order(t))?.unwrap_or_default())
    }

    fn put_billing_order(
        &self,
        batch: &mut WriteBatch,
        t: TenantId,
        o: &parley_engine::billing::BillingOrder,
    ) {
        batch.put(keys::billing_order(t), encode(o));
    }

    fn conversations_since(&self, t: TenantId, since: Timestamp) -> Result<u64> {
        // Ids are ULIDs: their first 48 bits are the creation time.
        let mut first = [0u8; 16];
        first[..6].copy_from_slice(&since.millis().to_be_bytes()[2..]);
        let start = keys::conversation(t, ConversationId::from_bytes(first));
        let end = keys::keyspace(t, keys::ks::CONVERSATION + 1);
        Ok(self.data().range(start..end).count() as u64)
    }

    fn staff_list(&self, t: TenantId) -> Result<Vec<StaffRecord>> {
        scan(self, keys::keyspace(t, keys::ks::STAFF))
    }

    fn sites(&self, t: TenantId) -> Result<Vec<SiteRecord>> {
        scan(self, keys::keyspace(t, keys::ks::SITE))
    }

    fn tenants(&self) -> Result<Vec<TenantRecord>> {
        let mut out = Vec::new();
        for kv in self.global().scan_prefix(keys::tenant_index_prefix()) {
            let (k, _) = kv?;
            let id = k
                .get(k.len().saturating_sub(16)..)
                .and_then(TenantId::from_slice);
            if let Some(rec) = match id {
                Some(id) => get::<TenantRecord>(self.data(), &keys::tenant(id))?,
                None => None,
            } {
                out.push(rec);
            }
        }
        Ok(out)
    }

    fn delete_staff(&self, batch: &mut WriteBatch, s: &StaffRecord) -> Result<()> {
        batch.delete(keys::staff(s.tenant_id, s.id));
        batch.delete(keys::staff_prefs(s.tenant_id, s.id));
        batch.delete_global(keys::email(&s.email));
        for kv in self.data().scan_prefix(keys::sessions(s.tenant_id, s.id)) {
            batch.delete(kv?.0.to_vec());
        }
        Ok(())
    }

    fn delete_site(&self, batch: &mut WriteBatch, s: &SiteRecord) {
        batch.delete(keys::site(s.tenant_id, s.id));
        batch.delete(keys::site_settings(s.tenant_id, s.id));
        batch.delete(keys::by_id(
            s.tenant_id,
            keys::ks::SITE_FORMS,
            s.id.to_bytes(),
        ));
        batch.delete(keys::by_id(
            s.tenant_id,
            keys::ks::SITE_INSTALLED,
            s.id.to_bytes(),
        ));
        batch.delete_global(keys::site_key(&s.key));
    }

    fn rekey_site(&self, batch: &mut WriteBatch, old_key: &str, s: &SiteRecord) {
        batch.delete_global(keys::site_key(old_key));
        batch.put(keys::site(s.tenant_id, s.id), encode(s));
        batch.put_global(
            keys::site_key(&s.key),
            pair(s.tenant_id.to_bytes(), s.id.to_bytes()),
        );
    }

    fn usage(&self, t: TenantId) -> Result<Usage> {
        let mut u = Usage::default();
        for kv in self.data().scan_prefix(keys::tenant_prefix(t)) {
            let (k, v) = kv?;
            u.storage_bytes += (k.len() + v.len()) as u64;
            match k.get(16) {
                Some(&keys::ks::STAFF) => u.staff += 1,
                Some(&keys::ks::SITE) => u.sites += 1,
                Some(&keys::ks::CONVERSATION) => u.conversations += 1,
                Some(&keys::ks::MESSAGE) => u.messages += 1,
                Some(&keys::ks::VISITOR) => u.visitors += 1,
                _ => {}
            }
        }
        Ok(u)
    }

    fn purge_expired(&self, batch: &mut WriteBatch, now: Timestamp) -> Result<usize> {
        let mut n = 0;
        for kv in self.global().scan_prefix(keys::pending_signup(&[])) {
            let (k, v) = kv?;
            // A record that no longer decodes is as good as expired.
            if decode::<PendingSignup>(&v).is_ok_and(|p| p.expires_at > now) {
                continue;
            }
            batch.delete_global(k.to_vec());
            n += 1;
        }
        for kv in self.global().scan_prefix(keys::one_time_token(&[])) {
            let (k, v) = kv?;
            let expired = decode::<OneTimeToken>(&v).map_or(true, |tok| tok.expires_at <= now);
            if expired {
                batch.delete_global(k.to_vec());
                n += 1;
            }
        }
        for t in self.tenants()? {
            for kv in self
                .data()
                .scan_prefix(keys::keyspace(t.id, keys::ks::SESSION))
            {
                let (k, v) = kv?;
                let s: SessionRecord = decode(&v)?;
                if !s.is_active(now) {
                    batch.delete(k.to_vec());
                    n += 1;
                }
            }
        }
        Ok(n)
    }
}
