//! `.ics` invitations (RFC 5545, built with the `icalendar` crate) for
//! consultation mails: `METHOD:REQUEST` for a booked or moved consultation,
//! `METHOD:CANCEL` when it is off. The event's UID is the booking's id and
//! its SEQUENCE grows with every change, so calendars update the one
//! event instead of adding another.

use icalendar::{Calendar, Component, EventStatus, Property};
use parley_engine::booking::{BookingRecord, BookingStatus};
use parley_engine::mail::MailAttachment;
use parley_engine::Timestamp;

fn utc(t: Timestamp) -> String {
    jiff::Timestamp::from_millisecond(t.millis() as i64)
        .map(|t| t.strftime("%Y%m%dT%H%M%SZ").to_string())
        .unwrap_or_default()
}

/// A CAL-ADDRESS property (RFC 5545 3.3.3, 3.2.2): `mailto:` and the bare
/// address, with the display name as `CN` when there is one. A double
/// quote or control character, which a parameter value cannot hold, is
/// dropped from the name; the crate quotes one holding `:`, `;` or `,`.
fn cal_address(key: &str, name: &str, addr: &str) -> Property {
    let mut p = Property::new(key, format!("mailto:{}", addr.trim()));
    let cn: String = name
        .chars()
        .filter(|c| *c != '"' && !c.is_control())
        .collect();
    if !cn.trim().is_empty() {
        p.add_parameter("CN", cn.trim());
    }
    p.done()
}

/// `Name <addr>` (or a bare `addr`, as the config's sender may be) split
/// into its name and address; read by hand when it is not a strict RFC 5322
/// mailbox (an unquoted comma in the name).
fn mailbox(from: &str) -> (String, String) {
    if let Ok(m) = from.parse::<lettre::message::Mailbox>() {
        return (m.name.unwrap_or_default(), m.email.to_string());
    }
    let from = from.trim();
    match (from.rfind('<'), from.strip_suffix('>')) {
        (Some(i), Some(inner)) => (
            from[..i].trim().trim_matches('"').to_string(),
            inner[i + 1..].trim().to_string(),
        ),
        _ => (String::new(), from.to_string()),
    }
}

/// The invitation for `b` as a `text/calendar` attachment, organised by
/// `organizer` (the instance's sender address) for `site`.
pub fn invitation(b: &BookingRecord, site: &str, organizer: &str, host: &str) -> MailAttachment {
    let cancel = b.status == BookingStatus::Cancelled;
    let method = if cancel { "CANCEL" } else { "REQUEST" };
    let summary = if b.topic.is_empty() {
        format!("Consultation with {site}")
    } else {
        format!("{} — consultation with {site}", b.topic)
    };
    let (org_name, org_addr) = mailbox(organizer);
    let mut event = icalendar::Event::new();
    event
        .uid(&format!("{}@{host}", b.id))
        .summary(&summary)
        .sequence(b.history.len() as u32)
        .add_property("DTSTART", utc(b.span.start))
        .add_property("DTEND", utc(b.span.end))
        .add_property("DTSTAMP", utc(Timestamp::now()))
        .append_property(cal_address("ORGANIZER", &org_name, &org_addr))
        .append_property(cal_address("ATTENDEE", &b.name, &b.email))
        .status(match b.status {
            BookingStatus::Cancelled => EventStatus::Cancelled,
            BookingStatus::Requested => EventStatus::Tentative,
            _ => EventStatus::Confirmed,
        });
    if !b.message.is_empty() {
        event.description(&b.message);
    }
    let mut cal = Calendar::new();
    cal.append_property(("METHOD", method));
    cal.push(event.done());
    MailAttachment {
        filename: "invite.ics".into(),
        content_type: format!("text/calendar; charset=utf-8; method={method}"),
        data: cal.done().to_string().into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_engine::booking::Span;
    use parley_engine::*;

    #[test]
    fn an_invitation_names_the_slot_and_updates_by_uid() {
        let mut b = BookingRecord {
            id: BookingId::new(),
            tenant_id: TenantId::new(),
            site_id: SiteId::new(),
            name: "Vic".into(),
            email: "vic@example.test".into(),
            phone: String::new(),
            company: String::new(),
            topic: "SEO".into(),
            message: "About our shop; and more".into(),
            span: Span {
                start: Timestamp::parse_rfc3339("2026-12-01T09:00:00Z").unwrap(),
                end: Timestamp::parse_rfc3339("2026-12-01T09:30:00Z").unwrap(),
            },
            status: BookingStatus::Requested,
            assignee: None,
            notes: String::new(),
            link_version: 0,
            reminded: false,
            history: Vec::new(),
            created_at: Timestamp::now(),
            timezone: "Europe/Paris".into(),
        };
        let a = invitation(&b, "Acme", "desk@acme.test", "acme.test");
        let text = String::from_utf8(a.data).unwrap();
        assert!(text.contains("METHOD:REQUEST\r\n"), "{text}");
        assert!(text.contains("DTSTART:20261201T090000Z\r\n"));
        assert!(text.contains("DTEND:20261201T093000Z\r\n"));
        assert!(text.contains(&format!("UID:{}@acme.test", b.id)));
        assert!(text.contains("SUMMARY:SEO — consultation with Acme"));
        assert!(
            text.contains("DESCRIPTION:About our shop\\; and more"),
            "{text}"
        );
        assert!(a.content_type.starts_with("text/calendar"));
        assert!(
            text.contains("ORGANIZER:mailto:desk@acme.test\r\n"),
            "{text}"
        );
        assert!(
            text.contains("ATTENDEE;CN=Vic:mailto:vic@example.test\r\n"),
            "{text}"
        );
        let named = invitation(&b, "Acme", "Acme, Inc. <desk@acme.test>", "acme.test");
        let text = String::from_utf8(named.data).unwrap();
        assert!(
            text.contains("ORGANIZER;CN=\"Acme, Inc.\":mailto:desk@acme.test\r\n"),
            "{text}"
        );
        b.status = BookingStatus::Cancelled;
        let text = String::from_utf8(invitation(&b, "Acme", "d@a.test", "a.test").data).unwrap();
        assert!(text.contains("METHOD:CANCEL") && text.contains("STATUS:CANCELLED"));
    }
}
