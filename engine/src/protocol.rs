//! The WebSocket wire protocol: one JSON object per text frame, tagged by
//! `type`. [`ClientFrame`] is what clients send, [`ServerFrame`] what the
//! server sends. `engine/PROTOCOL.md` documents every frame.

use crate::codes::error;
use crate::conversation::Status;
use crate::ids::*;
use crate::permissions::Role;
use crate::records::*;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// A staff member's availability for new conversations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    Available,
    Away,
}

/// A frame sent by a client (visitor or staff). It serialises too, for
/// clients written in Rust (`parley-loadtest`, the bare relay's tests).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Visitor's first frame.
    Hello {
        #[serde(default)]
        visitor_token: Option<String>,
        #[serde(default)]
        page: PageInfo,
        /// The browser's IANA time zone, for the visitor's local time.
        #[serde(default)]
        tz: Option<String>,
    },
    /// Staff's first frame.
    Auth {
        token: String,
    },
    /// A message; a visitor's first `send` opens a conversation.
    Send {
        client_id: String,
        body: String,
        /// Required for staff; a visitor may leave it out.
        #[serde(default)]
        conversation_id: Option<ConversationId>,
        /// Staff only: a note never shown to the visitor.
        #[serde(default)]
        private: bool,
    },
    Typing {
        #[serde(default)]
        conversation_id: Option<ConversationId>,
        on: bool,
    },
    Read {
        #[serde(default)]
        conversation_id: Option<ConversationId>,
        seq: u64,
    },
    /// Replay every message after `after_seq`, then stay subscribed.
    Resume {
        conversation_id: ConversationId,
        #[serde(default)]
        after_seq: u64,
    },
    /// Visitor only: the page now open.
    Page {
        #[serde(default)]
        url: String,
        #[serde(default)]
        title: String,
        #[serde(default)]
        referrer: String,
    },
    /// Visitor only: who the visitor is. When the site turns identity
    /// verification on, `user_hash` must be the hex HMAC-SHA256 of
    /// `user_id` with the site's identity secret.
    Identify {
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        email: Option<String>,
        #[serde(default)]
        user_id: Option<String>,
        #[serde(default)]
        user_hash: Option<String>,
    },
    /// Visitor only, after close.
    Rate {
        #[serde(default)]
        conversation_id: Option<ConversationId>,
        score: u8,
        #[serde(default)]
        comment: String,
    },
    Claim {
        conversation_id: ConversationId,
    },
    Close {
        conversation_id: ConversationId,
    },
    Reopen {
        conversation_id: ConversationId,
    },
    Transfer {
        conversation_id: ConversationId,
        to_staff_id: StaffId,
    },
    Availability {
        status: Availability,
    },
    /// Staff only: a proactive message to a visitor. Opens the visitor's
    /// conversation if they have none (reopens a closed one), takes it when
    /// nobody holds it, then sends `body` like a `send`.
    Start {
        visitor_id: VisitorId,
        client_id: String,
        body: String,
    },
    /// Application-level keep-alive for clients that cannot send WebSocket pings.
    Ping,
}

/// Every `type` a client may send.
pub const CLIENT_TYPES: &[&str] = &[
    "hello",
    "auth",
    "send",
    "typing",
    "read",
    "resume",
    "page",
    "identify",
    "rate",
    "claim",
    "close",
    "reopen",
    "transfer",
    "availability",
    "start",
    "ping",
];

/// Why a client frame was refused, ready to become an `error` frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameError {
    pub code: &'static str,
    pub message: String,
    /// Echoed when the refused frame was a `send` that carried one.
    pub client_id: Option<String>,
}

#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "type")]
    ty: Option<String>,
    client_id: Option<serde_json::Value>,
}

/// Parses one client frame, telling malformed JSON (`bad_frame`) from an
/// unknown `type` (`unknown_type`).
pub fn parse_client(text: &str) -> Result<ClientFrame, FrameError> {
    match serde_json::from_str::<ClientFrame>(text) {
        Ok(f) => Ok(f),
        Err(e) => {
            let probe = serde_json::from_str::<Probe>(text).ok();
            let client_id = probe
                .as_ref()
                .and_then(|p| p.client_id.as_ref())
                .and_then(|v| v.as_str())
                .map(str::to_owned);
            let (code, message) = match probe.as_ref().and_then(|p| p.ty.as_deref()) {
                None if probe.is_none() => (error::BAD_FRAME, format!("not a JSON object: {e}")),
                None => (
                    error::BAD_FRAME,
                    "the frame has no string `type`".to_string(),
                ),
                Some(t) if !CLIENT_TYPES.contains(&t) => (
                    error::UNKNOWN_TYPE,
                    format!("unknown frame type `{}`", truncate(t, 40)),
                ),
                Some(t) => (error::BAD_FRAME, format!("bad `{t}` frame: {e}")),
            };
            Err(FrameError {
                code,
                message,
                client_id,
            })
        }
    }
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// A conversation as clients see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConversationView {
    pub id: ConversationId,
    pub site_id: SiteId,
    pub visitor_id: VisitorId,
    pub status: Status,
    pub assignee: Option<StaffId>,
    pub last_seq: u64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub visitor_read_seq: u64,
    pub staff_read_seq: u64,
    pub rating: Option<RatingView>,
}

/// A rating as clients see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RatingView {
    pub score: u8,
    pub comment: String,
}

impl From<&ConversationRecord> for ConversationView {
    fn from(r: &ConversationRecord) -> Self {
        Self {
            id: r.id,
            site_id: r.site_id,
            visitor_id: r.visitor_id,
            status: r.status,
            assignee: r.assignee,
            last_seq: r.last_seq,
            created_at: r.created_at,
            updated_at: r.updated_at,
            visitor_read_seq: r.visitor_read_seq,
            staff_read_seq: r.staff_read_seq,
            rating: r.rating.as_ref().map(|x| RatingView {
                score: x.score,
                comment: x.comment.clone(),
            }),
        }
    }
}

/// A visitor as staff see them in `visitor` and `ready` frames.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VisitorView {
    pub id: VisitorId,
    pub site_id: SiteId,
    pub online: bool,
    pub page: Option<PageInfo>,
    pub name: Option<String>,
    pub email: Option<String>,
    /// When the visitor's current visit (first open tab) began.
    pub since: Timestamp,
    /// When the current page was opened (time on page = now − this).
    #[serde(default)]
    pub page_since: Option<Timestamp>,
}

/// What a link back to the site carries to have the widget open the chat
/// (the missed-reply mail's "continue the conversation").
pub const REOPEN_MARK: &str = "#parley-chat";

/// How the widget's bubble looks, sent in `welcome` so the loader needs no
/// other request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SiteLook {
    pub color: String,
    pub position: crate::account::Position,
    /// `auto` follows the visitor's colour scheme; `light` or `dark` fix it.
    #[serde(default)]
    pub theme: crate::account::Theme,
}

/// A staff member as the `ready` frame shows them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StaffView {
    pub id: StaffId,
    pub tenant_id: TenantId,
    pub name: String,
    pub email: String,
    pub role: Role,
    /// The IANA zone they chose in Account for their dashboard's times;
    /// absent: the browser's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

impl From<&StaffRecord> for StaffView {
    fn from(s: &StaffRecord) -> Self {
        Self {
            id: s.id,
            tenant_id: s.tenant_id,
            name: s.name.clone(),
            email: s.email.clone(),
            role: s.role,
            timezone: None,
        }
    }
}

/// A frame sent by the server. Borrowing, so the hot path serialises
/// straight from the records it already holds.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame<'a> {
    Welcome {
        visitor_id: VisitorId,
        visitor_token: &'a str,
        conversation: Option<&'a ConversationView>,
        agents_online: bool,
        site: &'a SiteLook,
        /// The page was opened from a "continue the conversation" link
        /// ([`REOPEN_MARK`] in its URL): the widget opens the chat.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        open: bool,
    },
    /// Visitor only: their place in the line of conversations waiting for
    /// staff (1 = next), while their conversation waits.
    Queue {
        conversation_id: ConversationId,
        position: u32,
    },
    Ready {
        staff: &'a StaffView,
        conversations: &'a [ConversationView],
        visitors: &'a [VisitorView],
        /// Visitors online in all (`visitors` lists at most 500).
        visitors_online: usize,
    },
    Ack {
        client_id: &'a str,
        conversation_id: ConversationId,
        id: MessageId,
        seq: u64,
        ts: Timestamp,
    },
    Message {
        conversation_id: ConversationId,
        id: MessageId,
        seq: u64,
        from: &'a Participant,
        body: &'a str,
        private: bool,
        ts: Timestamp,
    },
    Typing {
        conversation_id: ConversationId,
        from: &'a Participant,
        on: bool,
    },
    Read {
        conversation_id: ConversationId,
        by: &'a Participant,
        seq: u64,
    },
    Conversation {
        conversation: &'a ConversationView,
    },
    Visitor {
        visitor: &'a VisitorView,
    },
    /// Staff only: a new item in their notification bell, and how many
    /// they have unread now.
    Notification {
        notification: &'a crate::account::Notice,
        unread: u32,
    },
    Error {
        code: &'a str,
        message: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        client_id: Option<&'a str>,
    },
    Pong,
}

impl<'a> ServerFrame<'a> {
    /// The `message` frame for a log entry.
    pub fn message(m: &'a MessageRecord) -> Self {
        Self::Message {
            conversation_id: m.conversation_id,
            id: m.id,
            seq: m.seq,
            from: &m.from,
            body: &m.body,
            private: m.private,
            ts: m.ts,
        }
    }

    /// The `ack` frame for a durable log entry.
    pub fn ack(m: &'a MessageRecord, client_id: &'a str) -> Self {
        Self::Ack {
            client_id,
            conversation_id: m.conversation_id,
            id: m.id,
            seq: m.seq,
            ts: m.ts,
        }
    }

    /// Serialises the frame to its JSON text.
    pub fn to_json(&self) -> String {
        // Serialising these plain structs cannot fail: no maps with non-string keys.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{\"type\":\"error\"}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_send_and_hello() {
        let f = parse_client(r#"{"type":"send","client_id":"c1","body":"hi"}"#).unwrap();
        assert!(
            matches!(f, ClientFrame::Send { ref client_id, private: false, conversation_id: None, .. } if client_id == "c1")
        );
        let f = parse_client(
            r#"{"type":"hello","visitor_token":null,"page":{"url":"u","title":"t","referrer":""}}"#,
        )
        .unwrap();
        assert!(matches!(
            f,
            ClientFrame::Hello {
                visitor_token: None,
                ..
            }
        ));
        assert_eq!(
            parse_client(r#"{"type":"ping"}"#).unwrap(),
            ClientFrame::Ping
        );
    }

    #[test]
    fn classifies_errors() {
        assert_eq!(parse_client("{not json").unwrap_err().code, "bad_frame");
        assert_eq!(parse_client("[1,2]").unwrap_err().code, "bad_frame");
        assert_eq!(
            parse_client(r#"{"body":"x"}"#).unwrap_err().code,
            "bad_frame"
        );
        assert_eq!(
            parse_client(r#"{"type":"dance"}"#).unwrap_err().code,
            "unknown_type"
        );
        let e = parse_client(r#"{"type":"send","client_id":"c9"}"#).unwrap_err();
        assert_eq!(e.code, "bad_frame");
        assert_eq!(e.client_id.as_deref(), Some("c9"));
        let e = parse_client(r#"{"type":"claim","conversation_id":"nope"}"#).unwrap_err();
        assert_eq!(e.code, "bad_frame");
    }

    #[test]
    fn server_frames_have_contract_shape() {
        let m = MessageRecord {
            id: MessageId::new(),
            conversation_id: ConversationId::new(),
            seq: 7,
            client_id: Some("c1".into()),
            from: Participant::system(),
            body: "hello".into(),
            private: false,
            ts: Timestamp(0),
        };
        let v: serde_json::Value =
            serde_json::from_str(&ServerFrame::message(&m).to_json()).unwrap();
        assert_eq!(v["type"], "message");
        assert_eq!(v["seq"], 7);
        assert_eq!(v["from"]["kind"], "system");
        assert_eq!(v["ts"], "1970-01-01T00:00:00.000Z");
        let v: serde_json::Value =
            serde_json::from_str(&ServerFrame::ack(&m, "c1").to_json()).unwrap();
        assert_eq!(v["type"], "ack");
        assert_eq!(v["client_id"], "c1");
        let e = ServerFrame::Error {
            code: "x",
            message: "y",
            client_id: None,
        }
        .to_json();
        assert_eq!(e, r#"{"type":"error","code":"x","message":"y"}"#);
    }
}
#[cfg(test)]
mod more_tests {
    use super::*;
    #[test]
    fn typing_without_conversation() {
        let f = parse_client(r#"{"type":"typing","on":true}"#).unwrap();
        assert!(matches!(
            f,
            ClientFrame::Typing {
                conversation_id: None,
                on: true
            }
        ));
        let f = parse_client(
            r#"{"type":"read","conversation_id":"01ARZ3NDEKTSV4RRFFQ69G5FAV","seq":1}"#,
        )
        .unwrap();
        assert!(matches!(
            f,
            ClientFrame::Read {
                conversation_id: Some(_),
                seq: 1
            }
        ));
    }
}
