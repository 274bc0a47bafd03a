//! Typed identifiers. Every id is a ULID: 128 bits, time-ordered, so its
//! big-endian bytes sort by creation time in storage keys, and its
//! 26-character Crockford base32 form is what JSON clients see.
//!
//! Serialisation follows the format: human-readable formats (JSON) get the
//! string, binary ones (postcard) get the 16 raw bytes.

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use ulid::Ulid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Ulid);

        impl $name {
            /// A new id, ordered after every id made earlier on this clock.
            pub fn new() -> Self {
                Self(Ulid::new())
            }
            /// The 16 big-endian bytes used in storage keys.
            pub fn to_bytes(self) -> [u8; 16] {
                self.0.to_bytes()
            }
            /// Rebuilds an id from its 16 key bytes.
            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(Ulid::from_bytes(bytes))
            }
            /// Reads an id from the first 16 bytes of a key slice.
            pub fn from_slice(bytes: &[u8]) -> Option<Self> {
                let arr: [u8; 16] = bytes.get(..16)?.try_into().ok()?;
                Some(Self::from_bytes(arr))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = ParseIdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ulid::from_string(s).map(Self).map_err(|_| ParseIdError)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.collect_str(&self.0)
                } else {
                    self.0.to_bytes().serialize(s)
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                if d.is_human_readable() {
                    let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                    s.parse().map_err(|_| de::Error::custom(concat!("invalid ", stringify!($name))))
                } else {
                    <[u8; 16]>::deserialize(d).map(Self::from_bytes)
                }
            }
        }
    };
}

/// The text was not a valid 26-character id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a valid id")]
pub struct ParseIdError;

id_type!(
    /// A tenant: one business with its staff, sites and conversations.
    TenantId
);
id_type!(
    /// A site of a tenant, with its own widget key and settings.
    SiteId
);
id_type!(
    /// A staff member (owner, admin or agent) of one tenant.
    StaffId
);
id_type!(
    /// A visitor, recognised across page loads by a signed visitor token.
    VisitorId
);
id_type!(
    /// A conversation between a visitor and the tenant's staff.
    ConversationId
);
id_type!(
    /// One message of a conversation's log.
    MessageId
);
id_type!(
    /// A staff sign-in session: one refresh-token family on one device.
    SessionId
);
id_type!(
    /// One entry of a tenant's audit log.
    AuditId
);
id_type!(
    /// One mail in a tenant's outbox; also the left part of its `Message-ID`.
    MailId
);
id_type!(
    /// A message left with a site's offline contact form.
    ContactId
);
id_type!(
    /// A canned response: a saved reply staff insert by its shortcut.
    CannedId
);
id_type!(
    /// A consultation booked through a site.
    BookingId
);
id_type!(
    /// An address on a site's newsletter list.
    SubscriberId
);
id_type!(
    /// A newsletter sent (or to be sent) to a tenant's subscribers.
    CampaignId
);
id_type!(
    /// A tenant's webhook endpoint.
    WebhookId
);
id_type!(
    /// One event delivered (or to be delivered) to a webhook endpoint:
    /// its `webhook-id`, the same on every retry.
    DeliveryId
);
id_type!(
    /// One item of a staff member's notification bell.
    NotificationId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_a_string_and_round_trips() {
        let id = ConversationId::new();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json.len(), 28);
        let back: ConversationId = serde_json::from_str(&json).unwrap();
        assert_eq!(back, id);
    }

    #[test]
    fn bytes_sort_by_creation() {
        let a = TenantId::new();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = TenantId::new();
        assert!(a.to_bytes() < b.to_bytes());
        assert_eq!(TenantId::from_slice(&a.to_bytes()), Some(a));
    }

    #[test]
    fn rejects_garbage() {
        assert!("nope".parse::<StaffId>().is_err());
        assert!(serde_json::from_str::<StaffId>("\"!!\"").is_err());
    }
}
