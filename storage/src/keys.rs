//! Key layout. Data keys: `tenant(16) ‖ keyspace(1) ‖ …`, numbers big-endian,
//! so a prefix scan returns records in id (time) or seq order. Global keys:
//! `name ‖ 0 ‖ …`.

use parley_engine::*;

/// Keyspace bytes inside a tenant's prefix.
pub mod ks {
    pub const TENANT: u8 = 0x01;
    pub const SITE: u8 = 0x02;
    pub const STAFF: u8 = 0x03;
    pub const CONVERSATION: u8 = 0x04;
    pub const MESSAGE: u8 = 0x05;
    pub const CLIENT_ID: u8 = 0x06;
    pub const VISITOR: u8 = 0x07;
    pub const VISITOR_CONVERSATION: u8 = 0x08;
    pub const PAGE_VIEW: u8 = 0x09;
    pub const SESSION: u8 = 0x0A;
    pub const AUDIT: u8 = 0x0B;
    pub const MAIL: u8 = 0x0C;
    pub const SITE_SETTINGS: u8 = 0x0D;
    pub const TENANT_STATE: u8 = 0x0E;
    pub const CONTACT: u8 = 0x0F;
    pub const VISITOR_DEVICE: u8 = 0x10;
    pub const CANNED: u8 = 0x11;
    pub const STAFF_PREFS: u8 = 0x12;
    pub const CONTACT_ENTRY: u8 = 0x13;
    pub const SITE_FORMS: u8 = 0x14;
    pub const BOOKING: u8 = 0x15;
    pub const SUBSCRIBER: u8 = 0x16;
    pub const SUBSCRIBER_EMAIL: u8 = 0x17;
    pub const CAMPAIGN: u8 = 0x18;
    pub const WEBHOOK: u8 = 0x19;
    pub const DELIVERY: u8 = 0x1A;
    pub const NOTIFICATION: u8 = 0x1B;
    pub const SUBSCRIPTION: u8 = 0x1C;
    pub const BUCKET: u8 = 0x1D;
    pub const ONCE: u8 = 0x1E;
    /// A mail body stored once for many recipients (a campaign's).
    pub const MAIL_BODY: u8 = 0x2A;
    /// A conversation's transcript requests and proven addresses.
    pub const TRANSCRIPT: u8 = 0x2B;
    /// When a site's widget was first loaded from a page not on this server.
    pub const SITE_INSTALLED: u8 = 0x2C;
}

/// Whose analytics bucket: a site's or a staff member's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tally {
    Site(SiteId),
    Staff(StaffId),
}

impl Tally {
    fn prefix(self, t: TenantId) -> Vec<u8> {
        let mut k = tenant_ks(t, ks::BUCKET, 21);
        match self {
            Tally::Site(s) => {
                k.push(b's');
                k.extend_from_slice(&s.to_bytes());
            }
            Tally::Staff(s) => {
                k.push(b't');
                k.extend_from_slice(&s.to_bytes());
            }
        }
        k
    }
}

/// An analytics bucket, as counts name it: no allocation until the
/// writer turns it into its key, once per flush.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BucketKey {
    pub tenant: TenantId,
    pub who: Tally,
    pub hour: u32,
}

impl BucketKey {
    /// The stored key: `tenant ‖ BUCKET ‖ kind ‖ owner ‖ hour` (hours in order).
    pub fn to_bytes(self) -> Vec<u8> {
        let mut k = self.who.prefix(self.tenant);
        k.extend_from_slice(&self.hour.to_be_bytes());
        k
    }
}

/// An analytics bucket of `who` in `hour`.
pub fn bucket(tenant: TenantId, who: Tally, hour: u32) -> BucketKey {
    BucketKey { tenant, who, hour }
}

/// A site's daily rollup ([`parley_engine::analytics::Day`]) starting at
/// hour `start`: `tenant ‖ BUCKET ‖ 'd' ‖ site ‖ start`. It ends in an
/// hour like a bucket, so retention expires it with them.
pub fn day(tenant: TenantId, site: SiteId, start: u32) -> Vec<u8> {
    let mut k = tenant_ks(tenant, ks::BUCKET, 21);
    k.push(b'd');
    k.extend_from_slice(&site.to_bytes());
    k.extend_from_slice(&start.to_be_bytes());
    k
}

/// The prefix of one owner's buckets.
pub fn buckets(t: TenantId, who: Tally) -> Vec<u8> {
    who.prefix(t)
}

/// A count-once marker: `hour ‖ tag ‖ id` (hour first, so retention
/// deletes old ones by range).
pub fn once(t: TenantId, hour: u32, tag: u8, id: &[u8]) -> Vec<u8> {
    let mut k = tenant_ks(t, ks::ONCE, 5 + id.len());
    k.extend_from_slice(&hour.to_be_bytes());
    k.push(tag);
    k.extend_from_slice(id);
    k
}

/// A record of keyspace `ks` by its 16-byte id (time-ordered ids scan in
/// creation order).
pub fn by_id(t: TenantId, ks: u8, id: [u8; 16]) -> Vec<u8> {
    let mut k = tenant_ks(t, ks, 16);
    k.extend_from_slice(&id);
    k
}

/// A staff member's notification: `staff ‖ notification` (time order).
pub fn notification(t: TenantId, s: StaffId, n: NotificationId) -> Vec<u8> {
    let mut k = tenant_ks(t, ks::NOTIFICATION, 32);
    k.extend_from_slice(&s.to_bytes());
    k.extend_from_slice(&n.to_bytes());
    k
}

/// The prefix of a staff member's notifications.
pub fn notifications(t: TenantId, s: StaffId) -> Vec<u8> {
    by_id(t, ks::NOTIFICATION, s.to_bytes())
}

/// A newsletter subscriber's id by site and lower-cased address.
pub fn subscriber_email(t: TenantId, site: SiteId, email: &str) -> Vec<u8> {
    let mut k = tenant_ks(t, ks::SUBSCRIBER_EMAIL, 16 + email.len());
    k.extend_from_slice(&site.to_bytes());
    k.extend_from_slice(email.as_bytes());
    k
}

/// Global: a pending webhook delivery's next attempt, `due ms ‖ tenant ‖ delivery`.
pub fn delivery_due(at: Timestamp, t: TenantId, id: DeliveryId) -> Vec<u8> {
    let mut rest = Vec::with_capacity(40);
    rest.extend_from_slice(&at.millis().to_be_bytes());
    rest.extend_from_slice(&t.to_bytes());
    rest.extend_from_slice(&id.to_bytes());
    global("hookdue", &rest)
}

/// Global: a consultation's reminder, `due ms ‖ tenant ‖ booking`.
pub fn reminder(at: Timestamp, t: TenantId, b: BookingId) -> Vec<u8> {
    let mut rest = Vec::with_capacity(40);
    rest.extend_from_slice(&at.millis().to_be_bytes());
    rest.extend_from_slice(&t.to_bytes());
    rest.extend_from_slice(&b.to_bytes());
    global("remind", &rest)
}

/// Global: the prefix of the reminder index.
pub fn reminder_prefix() -> Vec<u8> {
    global("remind", &[])
}

/// Global: a campaign being sent, `tenant ‖ campaign`.
pub fn sending(t: TenantId, c: CampaignId) -> Vec<u8> {
    let mut rest = Vec::with_capacity(32);
    rest.extend_from_slice(&t.to_bytes());
    rest.extend_from_slice(&c.to_bytes());
    global("sending", &rest)
}

/// Global: the prefix of the campaigns being sent.
pub fn sending_prefix() -> Vec<u8> {
    global("sending", &[])
}

/// A tenant's billing event order, beside its subscription (same
/// keyspace, so it goes wherever the subscription goes).
pub fn billing_order(t: TenantId) -> Vec<u8> {
    let mut k = keyspace(t, ks::SUBSCRIPTION);
    k.extend_from_slice(b"order");
    k
}

/// Global: a billing provider's event, by its id (seen once).
pub fn billing_event(id: &str) -> Vec<u8> {
    global("billingevent", id.as_bytes())
}

/// Global: the prefix of the delivery due index.
pub fn delivery_due_prefix() -> Vec<u8> {
    global("hookdue", &[])
}

fn tenant_ks(t: TenantId, ks: u8, extra: usize) -> Vec<u8> {
    let mut k = Vec::with_capacity(17 + extra);
    k.extend_from_slice(&t.to_bytes());
    k.push(ks);
    k
}

/// Every key of a tenant starts with this.
pub fn tenant_prefix(t: TenantId) -> Vec<u8> {
    t.to_bytes().to_vec()
}

/// The tenant's own record.
pub fn tenant(t: TenantId) -> Vec<u8> {
    tenant_ks(t, ks::TENANT, 0)
}

/// A keyspace's prefix within a tenant (for scans).
pub fn keyspace(t: TenantId, ks: u8) -> Vec<u8> {
    tenant_ks(t, ks, 0)
}

/// A site record.
pub fn site(t: TenantId, s: SiteId) -> Vec<u8> {
    let mut k = tenant_ks(t, ks::SITE, 16);
    k.extend_from_slice(&s.to_bytes());
    k
}

/// A staff record.
pub fn staff(t: TenantId, s: StaffId) -> Vec<u8> {
    let mut k = tenant_ks(t, ks::STAFF, 16);
    k.extend_from_slice(&s.to_bytes());
    k
}

/// A conversation's metadata.
pub fn conversation(t: TenantId, c: ConversationId) -> Vec<u8> {
    let mut k = tenant_ks(t, ks::CONVERSATION, 16);
    k.extend_from_slice(&c.to_bytes());
    k
}

/// The prefix of a conversation's message log.
pub fn messages(t: TenantId, c: ConversationId) -> Vec<u8> {
    let mut k = tenant_ks(t, ks::MESSAGE, 24);
    k.extend_from_slice(&c.to_bytes());
    k
}

/// One message: `messages(t, c) ‖ seq`.
pub fn message(t: TenantId, c: ConversationId, seq: u64) -> Vec<u8> {
    let mut k = messages(t, c);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// Reads the seq back from a message key.
pub fn message_seq(key: &[u8]) -> Option<u64> {
    let tail: [u8; 8] = key.get(key.len().checked_sub(8)?..)?.try_into().ok()?;
    Some(u64::from_be_bytes(tail))
}

/// The dedupe entry of a `client_id` within a conversation → seq.
pub fn client_id(t: TenantId, c: ConversationId, client_id: &str) -> Vec<u8> {
    let mut k = tenant_ks(t, ks::CLIENT_ID, 16 + client_id.len());
    k.extend_from_slice(&c.to_bytes());
    k.extend_from_slice(client_id.as_bytes());
    k
}

/// A visitor record.
pub fn visitor(t: TenantId, v: VisitorId) -> Vec<u8> {
    let mut k = tenant_ks(t, ks::VISITOR, 16);
    k.extend_from_slice(&v.to_bytes());
    k
}

/// The visitor's current conversation id.
pub fn visitor_conversation(t: TenantId, v: VisitorId) -> Vec<u8> {
    let mut k = tenant_ks(t, ks::VISITOR_CONVERSATION, 16);
    k.extend_from_slice(&v.to_bytes());
    k
}

/// One page view of a visitor: `… ‖ visitor ‖ millis`.
pub fn page_view(t: TenantId, v: VisitorId, at: Timestamp) -> Vec<u8> {
    let mut k = tenant_ks(t, ks::PAGE_VIEW, 24);
    k.extend_from_slice(&v.to_bytes());
    k.extend_from_slice(&at.millis().to_be_bytes());
    k
}

/// The page-view prefix of a visitor.
pub fn page_views(t: TenantId, v: VisitorId) -> Vec<u8> {
    let mut k = tenant_ks(t, ks::PAGE_VIEW, 16);
    k.extend_from_slice(&v.to_bytes());
    k
}

/// A staff member's sessions: `… ‖ staff`.
pub fn sessions(t: TenantId, s: StaffId) -> Vec<u8> {
    let mut k = tenant_ks(t, ks::SESSION, 32);
    k.extend_from_slice(&s.to_bytes());
    k
}

/// One sign-in session: `sessions(t, s) ‖ session`.
pub fn session(t: TenantId, s: StaffId, id: SessionId) -> Vec<u8> {
    let mut k = sessions(t, s);
    k.extend_from_slice(&id.to_bytes());
    k
}

/// One audit entry (ids are time-ordered).
pub fn audit(t: TenantId, id: AuditId) -> Vec<u8> {
    let mut k = tenant_ks(t, ks::AUDIT, 16);
    k.extend_from_slice(&id.to_bytes());
    k
}

/// One outgoing mail.
pub fn mail(t: TenantId, id: MailId) -> Vec<u8> {
    let mut k = tenant_ks(t, ks::MAIL, 16);
    k.extend_from_slice(&id.to_bytes());
    k
}

/// A reply or note on a contact message: `contact ‖ entry` (time order).
pub fn contact_entry(t: TenantId, c: ContactId, e: AuditId) -> Vec<u8> {
    let mut k = tenant_ks(t, ks::CONTACT_ENTRY, 32);
    k.extend_from_slice(&c.to_bytes());
    k.extend_from_slice(&e.to_bytes());
    k
}

/// The prefix of a contact message's replies and notes.
pub fn contact_entries(t: TenantId, c: ContactId) -> Vec<u8> {
    let mut k = tenant_ks(t, ks::CONTACT_ENTRY, 16);
    k.extend_from_slice(&c.to_bytes());
    k
}

/// A staff member's own preferences (mail alerts, …).
pub fn staff_prefs(t: TenantId, s: StaffId) -> Vec<u8> {
    let mut k = tenant_ks(t, ks::STAFF_PREFS, 16);
    k.extend_from_slice(&s.to_bytes());
    k
}

/// Global: a pending mail's next attempt, `due ms ‖ tenant ‖ mail`, so the
/// deliverer finds what is due with one ordered scan and no tenant walk.
pub fn mail_due(at: Timestamp, t: TenantId, id: MailId) -> Vec<u8> {
    let mut rest = Vec::with_capacity(40);
    rest.extend_from_slice(&at.millis().to_be_bytes());
    rest.extend_from_slice(&t.to_bytes());
    rest.extend_from_slice(&id.to_bytes());
    global("maildue", &rest)
}

/// Global: a visitor's reply watch, `due ms ‖ tenant ‖ visitor`.
pub fn reply_watch(at: Timestamp, t: TenantId, v: VisitorId) -> Vec<u8> {
    let mut rest = Vec::with_capacity(40);
    rest.extend_from_slice(&at.millis().to_be_bytes());
    rest.extend_from_slice(&t.to_bytes());
    rest.extend_from_slice(&v.to_bytes());
    global("replywatch", &rest)
}

/// Global: a visitor whose data was erased; their old token starts afresh.
pub fn erased(t: TenantId, v: VisitorId) -> Vec<u8> {
    let mut rest = Vec::with_capacity(32);
    rest.extend_from_slice(&t.to_bytes());
    rest.extend_from_slice(&v.to_bytes());
    global("erased", &rest)
}

/// Global: the prefix of the erased visitors.
pub fn erased_prefix() -> Vec<u8> {
    global("erased", &[])
}

/// Global: the prefix of the reply-watch index.
pub fn reply_watch_prefix() -> Vec<u8> {
    global("replywatch", &[])
}

/// Global: the prefix of the mail due index.
pub fn mail_due_prefix() -> Vec<u8> {
    global("maildue", &[])
}

/// One contact-form message (ids are time-ordered).
pub fn contact(t: TenantId, id: ContactId) -> Vec<u8> {
    let mut k = tenant_ks(t, ks::CONTACT, 16);
    k.extend_from_slice(&id.to_bytes());
    k
}

/// What a visitor's browser said of itself.
pub fn visitor_device(t: TenantId, v: VisitorId) -> Vec<u8> {
    let mut k = tenant_ks(t, ks::VISITOR_DEVICE, 16);
    k.extend_from_slice(&v.to_bytes());
    k
}

/// A canned response.
pub fn canned(t: TenantId, id: CannedId) -> Vec<u8> {
    let mut k = tenant_ks(t, ks::CANNED, 16);
    k.extend_from_slice(&id.to_bytes());
    k
}

/// A site's widget settings.
pub fn site_settings(t: TenantId, s: SiteId) -> Vec<u8> {
    let mut k = tenant_ks(t, ks::SITE_SETTINGS, 16);
    k.extend_from_slice(&s.to_bytes());
    k
}

/// A tenant's operational state (suspension).
pub fn tenant_state(t: TenantId) -> Vec<u8> {
    tenant_ks(t, ks::TENANT_STATE, 0)
}

/// Global: a single-use token by the SHA-256 of its value.
pub fn one_time_token(hash: &[u8]) -> Vec<u8> {
    global("otk", hash)
}

/// Global: a sign-up waiting for its mailed confirmation, by token hash.
pub fn pending_signup(hash: &[u8]) -> Vec<u8> {
    global("signup", hash)
}

fn global(name: &str, rest: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(name.len() + 1 + rest.len());
    k.extend_from_slice(name.as_bytes());
    k.push(0);
    k.extend_from_slice(rest);
    k
}

/// Global: lower-cased email → (tenant, staff).
pub fn email(email: &str) -> Vec<u8> {
    global("email", email.as_bytes())
}

/// Global: site key → (tenant, site).
pub fn site_key(key: &str) -> Vec<u8> {
    global("sitekey", key.as_bytes())
}

/// Global: the tenant list.
pub fn tenant_index(t: TenantId) -> Vec<u8> {
    global("tenant", &t.to_bytes())
}

/// Global: the prefix of the tenant list.
pub fn tenant_index_prefix() -> Vec<u8> {
    global("tenant", &[])
}

/// Global: an instance operator account by email.
pub fn superadmin(email: &str) -> Vec<u8> {
    global("superadmin", email.as_bytes())
}

/// Global: instance metadata.
pub fn meta(name: &str) -> Vec<u8> {
    global("meta", name.as_bytes())
}

/// Global: the token-signing secret chosen at first start. Backups leave
/// it out (`crate::backup`).
pub fn instance_secret() -> Vec<u8> {
    meta("jwt_secret")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_keys_sort_by_seq_within_tenant() {
        let (t, c) = (TenantId::new(), ConversationId::new());
        let k9 = message(t, c, 9);
        let k10 = message(t, c, 10);
        let k256 = message(t, c, 256);
        assert!(k9 < k10 && k10 < k256);
        assert!(k9.starts_with(&tenant_prefix(t)));
        assert!(k9.starts_with(&messages(t, c)));
        assert_eq!(message_seq(&k256), Some(256));
    }
}
