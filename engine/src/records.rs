//! The records Parley stores and sends. Storage encodes them with postcard
//! (ids as bytes, times as integers); the wire protocol shows them as JSON
//! (ids as strings, times as RFC 3339).

use crate::conversation::Status;
use crate::ids::*;
use crate::permissions::Role;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// A tenant: one business using Parley.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TenantRecord {
    pub id: TenantId,
    pub name: String,
    pub created_at: Timestamp,
}

/// A site of a tenant; its public `key` identifies it to the widget.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SiteRecord {
    pub id: SiteId,
    pub tenant_id: TenantId,
    pub name: String,
    /// Public, unguessable key embedded in the widget snippet.
    pub key: String,
    pub created_at: Timestamp,
}

/// A staff member of a tenant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StaffRecord {
    pub id: StaffId,
    pub tenant_id: TenantId,
    /// Lower-cased; unique across the instance (login is by email alone).
    pub email: String,
    pub name: String,
    pub role: Role,
    /// PHC string of an argon2id hash.
    pub password_hash: String,
    /// Bumped to end every session of this staff member at once.
    pub token_version: u32,
    pub active: bool,
    pub created_at: Timestamp,
}

impl StaffRecord {
    /// Whether this member takes one of the plan's staff seats: an active
    /// member does, and so does a pending invitation (no password yet), so
    /// that accepting it never takes the tenant past its plan. A
    /// deactivated member frees their seat.
    pub fn holds_seat(&self) -> bool {
        self.active || self.password_hash.is_empty()
    }
}

/// Where a visitor is: the page they have open.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageInfo {
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub referrer: String,
}

/// A visitor as staff know them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VisitorRecord {
    pub id: VisitorId,
    pub tenant_id: TenantId,
    pub site_id: SiteId,
    pub name: Option<String>,
    pub email: Option<String>,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
}

/// One page view of a visitor, appended as it happens.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PageView {
    pub page: PageInfo,
    pub at: Timestamp,
}

/// Who wrote a message or did an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantKind {
    Visitor,
    Staff,
    System,
}

/// The `from` of a message: kind, id and display name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    pub kind: ParticipantKind,
    /// The visitor's or staff member's id; `None` for system messages.
    pub id: Option<String>,
    pub name: Option<String>,
}

impl Participant {
    /// A visitor participant.
    pub fn visitor(id: VisitorId, name: Option<String>) -> Self {
        Self {
            kind: ParticipantKind::Visitor,
            id: Some(id.to_string()),
            name,
        }
    }
    /// A staff participant.
    pub fn staff(id: StaffId, name: String) -> Self {
        Self {
            kind: ParticipantKind::Staff,
            id: Some(id.to_string()),
            name: Some(name),
        }
    }
    /// The system itself (status changes).
    pub fn system() -> Self {
        Self {
            kind: ParticipantKind::System,
            id: None,
            name: None,
        }
    }
}

/// A visitor's rating of a closed conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rating {
    pub score: u8,
    pub comment: String,
    pub at: Timestamp,
}

/// A conversation's metadata. Written in the same atomic batch as the
/// message that changed it, so it never disagrees with the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConversationRecord {
    pub id: ConversationId,
    pub tenant_id: TenantId,
    pub site_id: SiteId,
    pub visitor_id: VisitorId,
    pub status: Status,
    pub assignee: Option<StaffId>,
    /// The highest seq in the log.
    pub last_seq: u64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Highest seq the visitor has marked read.
    pub visitor_read_seq: u64,
    /// Highest seq any staff member has marked read.
    pub staff_read_seq: u64,
    pub rating: Option<Rating>,
}

impl ConversationRecord {
    /// A new, waiting conversation with an empty log.
    pub fn new(
        id: ConversationId,
        tenant_id: TenantId,
        site_id: SiteId,
        visitor_id: VisitorId,
    ) -> Self {
        let now = Timestamp::now();
        Self {
            id,
            tenant_id,
            site_id,
            visitor_id,
            status: Status::Waiting,
            assignee: None,
            last_seq: 0,
            created_at: now,
            updated_at: now,
            visitor_read_seq: 0,
            staff_read_seq: 0,
            rating: None,
        }
    }
}

/// One entry of a conversation's log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessageRecord {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub seq: u64,
    /// The sender's idempotency key; system messages have none.
    pub client_id: Option<String>,
    pub from: Participant,
    pub body: String,
    /// A staff-only note: never shown to the visitor.
    pub private: bool,
    pub ts: Timestamp,
}

/// The instance operator's account (not part of any tenant).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SuperadminRecord {
    pub id: StaffId,
    pub email: String,
    pub password_hash: String,
    pub created_at: Timestamp,
}
