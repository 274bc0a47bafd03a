//! Parley's domain core: identifiers, records, the WebSocket wire protocol,
//! the conversation state machine, validation, permissions and the named
//! error and close codes.
//!
//! Pure code: no sockets, no disk, no async runtime. `storage` persists these
//! records, `actors` holds them live, `http` carries them over the wire, and
//! `loadtest` speaks the same protocol types as a client.
#![forbid(unsafe_code)]

pub mod account;
pub mod analytics;
pub mod billing;
pub mod booking;
pub mod codes;
pub mod conversation;
pub mod ids;
pub mod log;
pub mod mail;
pub mod newsletter;
pub mod permissions;
pub mod plans;
pub mod protocol;
pub mod records;
pub mod time;
pub mod transcript;
pub mod validate;
pub mod webhook;

pub use ids::{
    AuditId, BookingId, CampaignId, CannedId, ContactId, ConversationId, DeliveryId, MailId,
    MessageId, NotificationId, SessionId, SiteId, StaffId, SubscriberId, TenantId, VisitorId,
    WebhookId,
};
pub use time::Timestamp;
